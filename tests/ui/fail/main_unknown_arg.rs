// A typo gets the closest valid argument as a suggestion.
#[corio::main(flavour = "current_thread")]
async fn main() {}
