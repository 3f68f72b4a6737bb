//! Parsing and checking the attribute's arguments: `flavor`, `worker_threads`, `start_paused`,
//! `crate`.
//!
//! Steps:
//! 1. [`Arg`] parses each comma-separated `name = value` pair as plain syntax, with `value` any
//!    expression, so that a wrong value (a string where an integer belongs, an identifier where
//!    a string belongs) reaches step 2 and gets a message that says the fix instead of syn's
//!    generic "expected literal".
//! 2. [`Config::from_args`] checks each argument on its own (known name, right value type,
//!    given once) and then the combinations (`worker_threads` or `start_paused` against the
//!    flavor). Every problem is collected, each spanned on the offending token, so one build
//!    reports all of them.

use std::fmt;

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitInt, Token};

use crate::suggest;
use crate::Errors;

/// Which attribute is being expanded; decides the defaults and the accepted arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[corio::main]`: multi-thread by default.
    Main,
    /// `#[corio::test]`: current-thread by default, may start with time paused.
    Test,
}

impl Kind {
    /// The attribute as the user writes it, for messages.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[corio::main]",
            Kind::Test => "#[corio::test]",
        }
    }

    fn valid_args(self) -> &'static [&'static str] {
        match self {
            Kind::Main => &["flavor", "worker_threads", "crate"],
            Kind::Test => &["flavor", "worker_threads", "start_paused", "crate"],
        }
    }

    fn default_flavor(self) -> Flavor {
        match self {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        }
    }
}

/// The runtime flavor, i.e. which `Builder` constructor the expansion calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `Builder::new_current_thread()`: everything runs on the thread that calls `block_on`.
    CurrentThread,
    /// `Builder::new_multi_thread()`: a pool of work-stealing workers.
    MultiThread,
}

const FLAVORS: &[&str] = &["multi_thread", "current_thread"];

/// One `name = value` argument, before its value is checked.
pub(crate) struct Arg {
    name: Ident,
    value: Expr,
}

impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arg")
            .field("name", &self.name)
            .field("value", &self.value.to_token_stream().to_string())
            .finish()
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `parse_any` so that the keyword `crate` is accepted as an argument name.
        let name = input.call(Ident::parse_any)?;
        if !input.peek(Token![=]) {
            let shown = name.to_string();
            let msg = if FLAVORS.contains(&shown.as_str()) {
                format!("a flavor is an argument value: write `flavor = \"{shown}\"`")
            } else {
                format!(
                    "arguments are written `name = value`: add a value to `{shown}`, \
                     e.g. `worker_threads = 4`"
                )
            };
            return Err(syn::Error::new(name.span(), msg));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Arg { name, value })
    }
}

/// The parsed argument list of the attribute.
pub(crate) type Args = Punctuated<Arg, Token![,]>;

/// A checked configuration: everything the expansion needs to build the runtime.
pub(crate) struct Config {
    pub(crate) flavor: Flavor,
    /// The literal given by the user; its span is reused in the expansion.
    pub(crate) worker_threads: Option<LitInt>,
    pub(crate) start_paused: Option<syn::LitBool>,
    /// The path to the corio crate: `::corio` unless `crate = "..."` says otherwise.
    pub(crate) krate: syn::Path,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("flavor", &self.flavor)
            .field(
                "worker_threads",
                &self.worker_threads.as_ref().map(LitInt::base10_digits),
            )
            .field(
                "start_paused",
                &self.start_paused.as_ref().map(syn::LitBool::value),
            )
            .field("krate", &self.krate.to_token_stream().to_string())
            .finish()
    }
}

impl Config {
    /// The configuration used when there are no arguments.
    pub(crate) fn default_for(kind: Kind) -> Config {
        Config {
            flavor: kind.default_flavor(),
            worker_threads: None,
            start_paused: None,
            krate: syn::parse_quote!(::corio),
        }
    }

    /// Checks `args` for `kind`, adding every problem to `errors`. The returned configuration
    /// is only meaningful if no error was added.
    pub(crate) fn from_args(kind: Kind, args: Args, errors: &mut Errors) -> Config {
        let mut config = Config::default_for(kind);
        let mut flavor: Option<Span> = None;
        let mut worker_threads: Option<Span> = None;
        let mut start_paused: Option<Span> = None;
        let mut seen: Vec<String> = Vec::new();

        for Arg { name, value } in args {
            let shown = name.to_string();
            if seen.contains(&shown) {
                errors.push(syn::Error::new(
                    name.span(),
                    format!("duplicate argument `{shown}`: give it once"),
                ));
                continue;
            }
            seen.push(shown.clone());
            match shown.as_str() {
                "flavor" => {
                    flavor = Some(name.span());
                    if let Some(parsed) = parse_flavor(&value, errors) {
                        config.flavor = parsed;
                    }
                }
                "worker_threads" => {
                    worker_threads = Some(name.span());
                    config.worker_threads = parse_worker_threads(&value, errors);
                }
                "start_paused" if kind == Kind::Test => {
                    start_paused = Some(name.span());
                    config.start_paused = parse_bool(&shown, &value, errors);
                }
                "start_paused" => errors.push(syn::Error::new(
                    name.span(),
                    "`start_paused` is only accepted by `#[corio::test]`: virtual time is for \
                     tests; remove it here",
                )),
                "crate" => {
                    if let Some(path) = parse_crate_path(&value, errors) {
                        config.krate = path;
                    }
                }
                _ => errors.push(unknown_arg(kind, &name)),
            }
        }

        if config.flavor == Flavor::CurrentThread {
            if let Some(span) = worker_threads {
                let msg = if flavor.is_some() {
                    "`worker_threads` cannot be used with `flavor = \"current_thread\"`, which runs \
                     everything on the calling thread: remove `worker_threads`, or use \
                     `flavor = \"multi_thread\"`"
                } else {
                    "`#[corio::test]` uses the current_thread flavor by default, which has no \
                     worker threads: add `flavor = \"multi_thread\"` to use `worker_threads`"
                };
                errors.push(syn::Error::new(span, msg));
            }
        }
        if config.flavor == Flavor::MultiThread {
            if let Some(span) = start_paused {
                errors.push(syn::Error::new(
                    span,
                    "`start_paused` needs `flavor = \"current_thread\"`, since virtual time only \
                     runs on one thread: remove `flavor = \"multi_thread\"` or `start_paused`",
                ));
            }
        }
        config
    }
}

fn unknown_arg(kind: Kind, name: &Ident) -> syn::Error {
    let shown = name.to_string();
    let valid = kind.valid_args();
    let hint = match suggest::closest(&shown, valid) {
        Some(best) => format!("; did you mean `{best}`?"),
        None => String::new(),
    };
    syn::Error::new(
        name.span(),
        format!(
            "unknown argument `{shown}` for `{}`{hint} (arguments: {})",
            kind.attr(),
            suggest::list(valid),
        ),
    )
}

fn parse_flavor(value: &Expr, errors: &mut Errors) -> Option<Flavor> {
    let lit = match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit,
        Expr::Path(path) if path.path.get_ident().is_some() => {
            let ident = path
                .path
                .get_ident()
                .map(Ident::to_string)
                .unwrap_or_default();
            errors.push(syn::Error::new_spanned(
                value,
                format!("the flavor is a string: write `flavor = \"{ident}\"`"),
            ));
            return None;
        }
        _ => {
            errors.push(syn::Error::new_spanned(
                value,
                "the flavor is a string: write `flavor = \"multi_thread\"` or \
                 `flavor = \"current_thread\"`",
            ));
            return None;
        }
    };
    match lit.value().as_str() {
        "multi_thread" => Some(Flavor::MultiThread),
        "current_thread" => Some(Flavor::CurrentThread),
        other => {
            let hint = match suggest::closest(other, FLAVORS) {
                Some(best) => format!("; did you mean `\"{best}\"`?"),
                None => String::new(),
            };
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "unknown flavor `\"{other}\"`{hint} (flavors: `\"multi_thread\"`, \
                     `\"current_thread\"`)"
                ),
            ));
            None
        }
    }
}

fn parse_worker_threads(value: &Expr, errors: &mut Errors) -> Option<LitInt> {
    let fix = "`worker_threads` takes a positive integer literal, e.g. `worker_threads = 4`";
    let lit = match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) if lit.value().trim().parse::<usize>().is_ok() => {
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "`worker_threads` takes an integer, not a string: write \
                     `worker_threads = {}`",
                    lit.value().trim()
                ),
            ));
            return None;
        }
        _ => {
            errors.push(syn::Error::new_spanned(value, fix));
            return None;
        }
    };
    match lit.base10_parse::<usize>() {
        Ok(0) => {
            errors.push(syn::Error::new(
                lit.span(),
                "`worker_threads` must be at least 1; leave it out to get one worker per core",
            ));
            None
        }
        Ok(n) => Some(LitInt::new(&n.to_string(), lit.span())),
        Err(_) => {
            errors.push(syn::Error::new(lit.span(), fix));
            None
        }
    }
}

fn parse_bool(name: &str, value: &Expr, errors: &mut Errors) -> Option<syn::LitBool> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(lit),
            ..
        }) => Some(lit.clone()),
        _ => {
            errors.push(syn::Error::new_spanned(
                value,
                format!("`{name}` takes `true` or `false`, e.g. `{name} = true`"),
            ));
            None
        }
    }
}

fn parse_crate_path(value: &Expr, errors: &mut Errors) -> Option<syn::Path> {
    let fix = "`crate` takes the path to corio in a string, e.g. `crate = \"my_corio\"`";
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => match lit.parse::<syn::Path>() {
            Ok(path) => Some(path),
            Err(_) => {
                errors.push(syn::Error::new(lit.span(), fix));
                None
            }
        },
        _ => {
            errors.push(syn::Error::new_spanned(value, fix));
            None
        }
    }
}
