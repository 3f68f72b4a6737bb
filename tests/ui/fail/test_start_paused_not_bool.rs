#[corio::test(start_paused = "true")]
async fn a() {}

#[corio::test(start_paused = 1)]
async fn b() {}

fn main() {}
