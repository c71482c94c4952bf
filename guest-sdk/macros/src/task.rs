//! `#[task]`: keeps the function as written and adds, in an anonymous const
//! block, the signature record (a `static` in the `weft_tasks` custom section
//! on wasm) and the `weft_task.NAME` export that decodes the arguments, calls
//! the function and hands its outcome to the host.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, LitStr, Pat, PathArguments, ReturnType, Type};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let export_name = parse_name_attr(attr)?;
    let func: ItemFn = syn::parse2(item)?;
    check_plain_function(&func)?;
    let fn_name = &func.sig.ident;
    let task_name = export_name.unwrap_or_else(|| fn_name.to_string());
    check_task_name(&task_name, func.sig.ident.span())?;

    let mut param_names = Vec::new();
    let mut param_types = Vec::new();
    for input in &func.sig.inputs {
        let FnArg::Typed(typed) = input else {
            return Err(syn::Error::new(input.span(), "a task cannot take `self`"));
        };
        let Pat::Ident(ident) = &*typed.pat else {
            return Err(syn::Error::new(
                typed.pat.span(),
                "task parameters must be plain names (`x: T`), not patterns",
            ));
        };
        if let Type::Reference(r) = &*typed.ty {
            return Err(syn::Error::new(
                r.span(),
                "task parameters must be owned values (`String`, `Vec<T>`), not references",
            ));
        }
        param_names.push(ident.ident.clone());
        param_types.push((*typed.ty).clone());
    }

    let (ret_type, fallible) = match &func.sig.output {
        ReturnType::Default => (syn::parse_quote!(()), false),
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(ok) => (ok, true),
            None => ((**ty).clone(), false),
        },
    };

    let param_strs: Vec<String> = param_names.iter().map(|n| n.to_string()).collect();
    let rust_signature = format!(
        "{task_name}({})",
        param_names
            .iter()
            .zip(&param_types)
            .map(|(n, t)| format!("{n}: {}", quote!(#t).to_string().replace(' ', "")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let export = format!("weft_task.{task_name}");
    let export_fn = format_ident!("__weft_task_{}", fn_name);
    let vars: Vec<_> = (0..param_names.len())
        .map(|i| format_ident!("__arg{}", i))
        .collect();
    // Numeric vectors are encoded and decoded by one copy, anything else
    // through serde: `weft_sdk`'s `fast.rs` (autoref specialization).
    let finish = if fallible {
        quote!(match #fn_name(#(#vars),*) {
            ::core::result::Result::Ok(value) => (&::weft_sdk::__private::Encode(&value)).weft_encode(),
            ::core::result::Result::Err(error) => ::weft_sdk::__private::Outcome::Error(
                ::std::string::ToString::to_string(&error),
            ),
        })
    } else {
        quote!({
            let value = #fn_name(#(#vars),*);
            (&::weft_sdk::__private::Encode(&value)).weft_encode()
        })
    };

    Ok(quote! {
        #func

        #[doc(hidden)]
        const _: () = {
            const SIG: ::weft_sdk::__private::TaskSig = ::weft_sdk::__private::TaskSig {
                name: #task_name,
                params: &[#(::weft_sdk::__private::Param {
                    name: #param_strs,
                    ty: <#param_types as ::weft_sdk::Schema>::TYPE,
                }),*],
                ret: <#ret_type as ::weft_sdk::Schema>::TYPE,
            };

            #[cfg_attr(target_family = "wasm", unsafe(link_section = "weft_tasks"))]
            #[used]
            static RECORD: [u8; ::weft_sdk::__private::record_len(&SIG)] =
                ::weft_sdk::__private::record(&SIG);

            #[cfg(target_family = "wasm")]
            #[unsafe(export_name = #export)]
            #[allow(clippy::needless_borrow)]
            extern "C" fn #export_fn(args_ptr: *const u8, args_len: usize) -> i32 {
                // SAFETY: the host passes a valid range of our memory (ABI.md).
                unsafe {
                    ::weft_sdk::__private::run_task(args_ptr, args_len, #rust_signature, |args| {
                        #[allow(unused_imports)]
                        use ::weft_sdk::__private::{
                            DecodeFast as _, DecodeSerde as _, EncodeFast as _, EncodeSerde as _,
                        };
                        #(let #vars: #param_types =
                            (&::weft_sdk::__private::Decode::<#param_types>::new())
                                .weft_decode(args, #param_strs)?;)*
                        args.finish()?;
                        Ok(#finish)
                    })
                }
            }
        };
    })
}

fn parse_name_attr(attr: TokenStream) -> syn::Result<Option<String>> {
    if attr.is_empty() {
        return Ok(None);
    }
    let mut name = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let value: LitStr = meta.value()?.parse()?;
            name = Some(value.value());
            Ok(())
        } else {
            Err(meta.error("unknown #[task] option; the only option is `name = \"...\"`"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(name)
}

fn check_plain_function(func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    if let Some(token) = &sig.asyncness {
        return Err(syn::Error::new(token.span(), "a task cannot be `async`"));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a task cannot be generic: its types are recorded in the module",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(v.span(), "a task cannot be variadic"));
    }
    Ok(())
}

fn check_task_name(name: &str, span: proc_macro2::Span) -> syn::Result<()> {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if valid_start && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && name.len() <= 256 {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!("task name `{name}` must be an ASCII identifier of at most 256 bytes"),
        ))
    }
}

/// `T` when `ty` is written `Result<T, E>` or `Result<T>` (any path ending
/// in `Result`).
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    // `Result<T, E>`, or an alias such as `anyhow::Result<T>`.
    types.next()
}
