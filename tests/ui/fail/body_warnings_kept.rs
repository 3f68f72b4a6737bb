// Lints still see the user's body: its unreachable code is reported, at the user's code.
#![deny(unreachable_code)]

#[path = "../support/fake_corio.rs"]
mod fake_corio;

#[corio::main(crate = "crate::fake_corio")]
async fn main() {
    return;
    println!("never");
}
