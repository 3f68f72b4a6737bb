// Virtual time is a test feature.
#[corio::main(flavor = "current_thread", start_paused = true)]
async fn main() {}
