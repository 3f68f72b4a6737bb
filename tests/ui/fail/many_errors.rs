// Every problem is reported in one build, each at its own token.
#[corio::test(flavour = "multi_thread", worker_threads = 0, start_paused = yes)]
fn all_wrong(x: u8) {}

fn main() {}
