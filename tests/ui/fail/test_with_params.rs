#[corio::test]
async fn takes(n: u32, m: u32) {
    assert_eq!(n, m);
}

fn main() {}
