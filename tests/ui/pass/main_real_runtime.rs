//! `#[corio::main]` on corio's own runtime, with the default `::corio` path, on `main` itself
//! and returning `Result<(), Box<dyn Error>>` with `?`.

use std::error::Error;

#[corio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: u32 = "41".parse()?;
    // Spawning needs a running runtime: this proves the body runs on one.
    let answer = corio::spawn(async move { n + 1 }).await.unwrap();
    assert_eq!(answer, 42);
    Ok(())
}
