//! Each `#[corio::main]` flavor on corio's own runtime, and `crate = "..."` with a renamed
//! crate. Non-`main` functions become blocking functions, called one after another (a runtime
//! cannot be started from inside another).

extern crate corio as my_corio;

use std::io;

#[corio::main(flavor = "current_thread")]
async fn current_thread() -> std::thread::ThreadId {
    corio::spawn(async { std::thread::current().id() })
        .await
        .unwrap()
}

#[corio::main(worker_threads = 2)]
async fn two_workers() -> io::Result<u32> {
    let tasks: Vec<_> = (0..8u32).map(|i| corio::spawn(async move { i })).collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    Ok(sum)
}

#[corio::main(crate = "my_corio", flavor = "multi_thread")]
async fn renamed() -> &'static str {
    my_corio::spawn(async { "renamed" }).await.unwrap()
}

fn main() {
    // The current-thread flavor runs its tasks on the thread that called it.
    assert_eq!(current_thread(), std::thread::current().id());
    assert_eq!(two_workers().unwrap(), 28);
    assert_eq!(renamed(), "renamed");
}
