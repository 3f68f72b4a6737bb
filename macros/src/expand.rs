//! Turning `async fn` into a `fn` that builds a runtime and `block_on`s the body.
//!
//! Steps:
//! 1. Parse the item as a function; check it is `async`, takes no parameters and (for tests)
//!    does not already carry `#[test]`. Parse and check the arguments ([`crate::config`]).
//! 2. On success, emit the user's attributes, visibility and signature unchanged except for
//!    `async`, with a body that wraps the user's block in an `async` block and runs it on
//!    `<crate>::runtime::Builder::new_*()...build().expect(..).block_on(body)`.
//! 3. On any error, emit the errors plus a stand-in function with the same name and signature
//!    that names nothing from corio. That keeps the error output to exactly our messages: no
//!    "`main` function not found", no "`main` is not allowed to be `async`", and nothing that
//!    depends on corio's internals.
//!
//! The user's tokens keep their spans throughout, so type errors in the body point at the
//! user's code. The body's return type is pinned with `let ret: T = { body }; ret` so that a
//! mismatch is reported on the offending expression, and so that `?` in the body knows which
//! error type to convert into.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{Attribute, Ident, ItemFn, ReturnType};

use crate::config::{Args, Config, Flavor, Kind};
use crate::Errors;

/// Expands `#[corio::main(args)]` or `#[corio::test(args)]` applied to `item`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let example = match kind {
                Kind::Main => "async fn main() { ... }",
                Kind::Test => "async fn my_test() { ... }",
            };
            let err = syn::Error::new(
                item_start(&item),
                format!("`{}` goes on an async function: `{example}`", kind.attr()),
            );
            let err = err.to_compile_error();
            return quote!(#err #item);
        }
    };

    let mut errors = Errors::default();
    let config = match syn::parse::Parser::parse2(Args::parse_terminated, args) {
        Ok(args) => Config::from_args(kind, args, &mut errors),
        Err(err) => {
            errors.push(err);
            Config::default_for(kind)
        }
    };
    if func.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            func.sig.fn_token,
            format!(
                "`{}` needs an async function: add `async` before `fn`, as in `async fn {}()`",
                kind.attr(),
                func.sig.ident
            ),
        ));
    }
    let has_params = !func.sig.inputs.is_empty();
    if has_params {
        let fix = match kind {
            Kind::Main => {
                "remove them; read command-line arguments with `std::env::args()` in the body"
            }
            Kind::Test => "remove them; a test is called with no arguments",
        };
        errors.push(syn::Error::new_spanned(
            &func.sig.inputs,
            format!("`{}` functions cannot take parameters: {fix}", kind.attr()),
        ));
    }
    if kind == Kind::Test {
        if let Some(index) = func.attrs.iter().position(is_test_attr) {
            let attr = func.attrs.remove(index);
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[corio::test]` already makes this function a test: remove this `#[test]`",
            ));
        }
    }

    match errors.into_error() {
        None => expand_ok(kind, func, &config),
        Some(err) => {
            let err = err.to_compile_error();
            let stand_in = stand_in(kind, func, has_params);
            quote!(#err #stand_in)
        }
    }
}

fn expand_ok(kind: Kind, func: ItemFn, config: &Config) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    sig.asyncness = None;
    let body = typed_body(&sig.output, block.into_token_stream());
    let test_attr = test_attr(kind);
    let krate = &config.krate;
    let constructor = match config.flavor {
        Flavor::CurrentThread => quote!(new_current_thread),
        Flavor::MultiThread => quote!(new_multi_thread),
    };
    let worker_threads = config
        .worker_threads
        .as_ref()
        .map(|n| quote!(.worker_threads(#n)));
    let start_paused = config
        .start_paused
        .as_ref()
        .map(|b| quote!(.start_paused(#b)));
    let body_ident = Ident::new("body", Span::mixed_site());
    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            let #body_ident = async #body;
            #krate::runtime::Builder::#constructor()
                #worker_threads
                #start_paused
                .build()
                .expect("corio: failed to build the runtime")
                .block_on(#body_ident)
        }
    }
}

/// The function emitted next to compile errors: same name, attributes and signature minus
/// `async` (and minus parameters, whose presence is itself the error), so that no follow-up
/// error appears. The body is still type-checked, but never run and never names corio.
fn stand_in(kind: Kind, func: ItemFn, has_params: bool) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    sig.asyncness = None;
    let test_attr = test_attr(kind);
    let body = if has_params {
        // The body refers to the parameters; with them gone it would only add errors.
        sig.inputs.clear();
        quote!({ ::core::unreachable!() })
    } else {
        let body = typed_body(&sig.output, block.into_token_stream());
        quote!({
            let _ = async #body;
            ::core::unreachable!()
        })
    };
    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig #body
    }
}

/// The span of the first token of `item` after its outer attributes: `struct`, `pub`, `impl`.
fn item_start(item: &TokenStream) -> Span {
    let mut tokens = item.clone().into_iter();
    while let Some(token) = tokens.next() {
        match token {
            // `#` then `[...]`: an attribute (a doc comment arrives in this form too).
            TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
            }
            other => return other.span(),
        }
    }
    Span::call_site()
}

fn test_attr(kind: Kind) -> Option<TokenStream> {
    match kind {
        Kind::Main => None,
        Kind::Test => Some(quote!(#[::core::prelude::v1::test])),
    }
}

/// `{ let ret: T = { body }; ret }` when `T` can be written in a `let`, else the block as is.
fn typed_body(output: &ReturnType, block: TokenStream) -> TokenStream {
    let ret = Ident::new("ret", Span::mixed_site());
    let ty = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if nameable_in_let(ty.to_token_stream()) => ty.to_token_stream(),
        ReturnType::Type(..) => return block,
    };
    // If the body diverges (a test ending in `panic!`), everything after it is unreachable;
    // rustc warns only at the first unreachable statement, so that one is allowed. The user's
    // own unreachable code, inside `#block`, is still reported.
    quote!({
        #[allow(clippy::let_unit_value)]
        let #ret: #ty = #block;
        #[allow(unreachable_code, clippy::let_unit_value, clippy::redundant_locals)]
        let #ret = #ret;
        #ret
    })
}

/// `impl Trait` and `!` are allowed in return position but not in a `let`; for those the
/// body's type is left to inference.
fn nameable_in_let(ty: TokenStream) -> bool {
    let mut tokens = ty.into_iter().peekable();
    if matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '!') {
        return false;
    }
    tokens.all(|token| match token {
        TokenTree::Ident(ident) => ident != "impl",
        TokenTree::Group(group) => nameable_in_let(group.stream()),
        _ => true,
    })
}

/// Whether `attr` is the built-in `#[test]` (written `test` or `::core::prelude::v1::test`).
fn is_test_attr(attr: &Attribute) -> bool {
    let syn::Meta::Path(path) = &attr.meta else {
        return false;
    };
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] => only == "test" && path.leading_colon.is_none(),
        [root, prelude, _, test] => {
            (root == "core" || root == "std") && prelude == "prelude" && test == "test"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impl_and_never_are_not_nameable() {
        assert!(nameable_in_let(quote!(())));
        assert!(nameable_in_let(quote!(std::io::Result<()>)));
        assert!(nameable_in_let(
            quote!(Result<(), Box<dyn std::error::Error>>)
        ));
        assert!(!nameable_in_let(quote!(!)));
        assert!(!nameable_in_let(quote!(impl std::fmt::Debug)));
        assert!(!nameable_in_let(quote!(Result<impl Sized, ()>)));
        assert!(!nameable_in_let(quote!((u8, Box<impl Sized>))));
    }

    #[test]
    fn recognises_builtin_test_attribute() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[test]),
            syn::parse_quote!(#[::core::prelude::v1::test]),
            syn::parse_quote!(#[std::prelude::rust_2021::test]),
            syn::parse_quote!(#[should_panic]),
            syn::parse_quote!(#[corio::test]),
            syn::parse_quote!(#[::test]),
        ];
        let found: Vec<bool> = attrs.iter().map(is_test_attr).collect();
        assert_eq!(found, [true, true, true, false, false, false]);
    }
}
