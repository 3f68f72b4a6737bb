#[corio::main(crate = corio)]
async fn a() {}

#[corio::main(crate = "not a path")]
async fn b() {}

fn main() {}
