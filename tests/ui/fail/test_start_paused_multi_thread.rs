#[corio::test(flavor = "multi_thread", start_paused = true)]
async fn a() {}

fn main() {}
