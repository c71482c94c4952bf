//! `#[derive(Schema)]`: describes a struct or enum as a `const` type
//! description, field by field, in the order serde encodes them.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

pub(crate) fn expand(item: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(item)?;
    reject_serde_attrs(&input.attrs)?;
    let name = &input.ident;
    let name_str = name.to_string();

    let body = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => {
                let fields = field_list(named.named.iter())?;
                quote!(&::weft_sdk::__private::Ty::Struct { name: #name_str, fields: &[#fields] })
            }
            // serde encodes a newtype struct as its inner value.
            Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => {
                reject_serde_attrs(&unnamed.unnamed[0].attrs)?;
                let ty = &unnamed.unnamed[0].ty;
                quote!(<#ty as ::weft_sdk::Schema>::TYPE)
            }
            Fields::Unnamed(unnamed) => {
                let items = type_list(unnamed.unnamed.iter())?;
                quote!(&::weft_sdk::__private::Ty::Tuple { items: &[#items] })
            }
            Fields::Unit => quote!(&::weft_sdk::__private::Ty::Unit),
        },
        Data::Enum(data) => {
            if data.variants.is_empty() {
                return Err(syn::Error::new(
                    input.span(),
                    "an enum without variants has no values to pass to a task",
                ));
            }
            let mut variants = Vec::new();
            for variant in &data.variants {
                reject_serde_attrs(&variant.attrs)?;
                let vname = variant.ident.to_string();
                let kind = match &variant.fields {
                    Fields::Unit => quote!(::weft_sdk::__private::VariantKind::Unit),
                    Fields::Unnamed(unnamed) => {
                        let items = type_list(unnamed.unnamed.iter())?;
                        quote!(::weft_sdk::__private::VariantKind::Tuple { items: &[#items] })
                    }
                    Fields::Named(named) => {
                        let fields = field_list(named.named.iter())?;
                        quote!(::weft_sdk::__private::VariantKind::Struct { fields: &[#fields] })
                    }
                };
                variants.push(quote!(::weft_sdk::__private::Variant { name: #vname, kind: #kind }));
            }
            quote!(&::weft_sdk::__private::Ty::Enum { name: #name_str, variants: &[#(#variants),*] })
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "unions cannot cross the task boundary",
            ));
        }
    };

    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(::weft_sdk::Schema));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::weft_sdk::Schema for #name #ty_generics #where_clause {
            const TYPE: &'static ::weft_sdk::__private::Ty = #body;
        }
    })
}

fn field_list<'a>(fields: impl Iterator<Item = &'a syn::Field>) -> syn::Result<TokenStream> {
    let mut out = Vec::new();
    for field in fields {
        reject_serde_attrs(&field.attrs)?;
        let name = field
            .ident
            .as_ref()
            .map(|i| i.to_string().trim_start_matches("r#").to_string())
            .unwrap_or_default();
        let ty = &field.ty;
        out.push(quote!(::weft_sdk::__private::Field {
            name: #name,
            ty: <#ty as ::weft_sdk::Schema>::TYPE,
        }));
    }
    Ok(quote!(#(#out),*))
}

fn type_list<'a>(fields: impl Iterator<Item = &'a syn::Field>) -> syn::Result<TokenStream> {
    let mut out = Vec::new();
    for field in fields {
        reject_serde_attrs(&field.attrs)?;
        let ty = &field.ty;
        out.push(quote!(<#ty as ::weft_sdk::Schema>::TYPE));
    }
    Ok(quote!(#(#out),*))
}

/// serde attributes change the encoding (renames, skips, flattening, tags),
/// which would make the recorded signature lie; refuse them rather than
/// record something wrong.
fn reject_serde_attrs(attrs: &[syn::Attribute]) -> syn::Result<()> {
    match attrs.iter().find(|a| a.path().is_ident("serde")) {
        Some(attr) => Err(syn::Error::new(
            attr.span(),
            "weft_sdk::Schema does not support #[serde(...)] attributes: they change the \
             encoding, and the recorded signature would not match it",
        )),
        None => Ok(()),
    }
}
