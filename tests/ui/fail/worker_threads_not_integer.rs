#[corio::main(worker_threads = "4")]
async fn quoted() {}

#[corio::main(worker_threads = "four")]
async fn word() {}

const N: usize = 4;

#[corio::main(worker_threads = N)]
async fn constant() {}

#[corio::main(worker_threads = -1)]
async fn negative() {}

#[corio::main(worker_threads = 1.5)]
async fn float() {}

fn main() {}
