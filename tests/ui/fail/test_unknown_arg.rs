#[corio::test(start_pause = true)]
async fn a() {}

#[corio::test(threads = 2)]
async fn b() {}

// Nothing close: list the valid arguments instead of guessing.
#[corio::test(unhandled_panic = "shutdown_runtime")]
async fn c() {}

fn main() {}
