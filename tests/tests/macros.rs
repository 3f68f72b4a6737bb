//! `#[corio::main]` and `#[corio::test]`: the trybuild suite (compile errors and accepted
//! forms) and the attributes used for real.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
