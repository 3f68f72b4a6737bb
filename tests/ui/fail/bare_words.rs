#[corio::main(current_thread)]
async fn a() {}

#[corio::main(worker_threads)]
async fn b() {}

fn main() {}
