#[corio::main]
struct Main;

#[corio::test]
const X: u32 = 1;

fn main() {}
