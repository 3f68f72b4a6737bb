#[corio::main(flavor = "multi_threaded")]
async fn close() {}

#[corio::main(flavor = "local")]
async fn far() {}

#[corio::main(flavor = current_thread)]
async fn unquoted() {}

#[corio::test(flavor = 1)]
async fn number() {}

fn main() {}
