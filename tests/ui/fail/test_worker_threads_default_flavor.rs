// Tests default to current_thread, so worker_threads needs an explicit multi_thread flavor.
#[corio::test(worker_threads = 2)]
async fn a() {}

fn main() {}
