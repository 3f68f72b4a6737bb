// Errors inside the body point at the user's code, not at the attribute.
#[path = "../support/fake_corio.rs"]
mod fake_corio;

#[corio::main(crate = "crate::fake_corio")]
async fn answer() -> u32 {
    let half: u32 = "twenty-one";
    half * 2
}

#[corio::main(crate = "crate::fake_corio")]
async fn tail() -> u32 {
    "forty-two"
}

fn main() {
    answer();
    tail();
}
