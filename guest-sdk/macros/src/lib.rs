//! Procedural macros of `weft-sdk`: `#[task]`, which turns a function into a
//! Weft task export and records its signature, and `#[derive(Schema)]`, which
//! describes a user struct or enum for those signatures. Use them through
//! `weft_sdk`, which documents them.

use proc_macro::TokenStream;

mod derive_schema;
mod task;

/// Makes a function a Weft task. See the `weft_sdk` crate docs.
///
/// `#[task(name = "other")]` exports the task under another name.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Describes a struct or enum so it can be a task's parameter or result.
#[proc_macro_derive(Schema)]
pub fn derive_schema(item: TokenStream) -> TokenStream {
    derive_schema::expand(item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
