//! A stand-in for the `corio` crate's `runtime` module, selected with
//! `crate = "crate::fake_corio"`. It records every builder call the attribute generates, so a
//! test can check the expansion's exact shape, and runs the body with a minimal `block_on`.
//! It has exactly the surface the expansion may use; anything else is a compile error.

#![allow(dead_code)]

pub(crate) mod runtime {
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};

    thread_local! {
        static CALLS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn record(call: String) {
        CALLS.with(|calls| calls.borrow_mut().push(call));
    }

    /// Takes the calls recorded on this thread so far. `block_on` runs the body on the calling
    /// thread, so inside the body this returns the calls that built the runtime.
    pub(crate) fn take_calls() -> Vec<String> {
        CALLS.with(RefCell::take)
    }

    #[derive(Debug)]
    pub(crate) struct Builder {
        _private: (),
    }

    impl Builder {
        pub(crate) fn new_current_thread() -> Builder {
            record("new_current_thread".to_owned());
            Builder { _private: () }
        }

        pub(crate) fn new_multi_thread() -> Builder {
            record("new_multi_thread".to_owned());
            Builder { _private: () }
        }

        pub(crate) fn worker_threads(&mut self, n: usize) -> &mut Self {
            record(format!("worker_threads({n})"));
            self
        }

        pub(crate) fn start_paused(&mut self, paused: bool) -> &mut Self {
            record(format!("start_paused({paused})"));
            self
        }

        pub(crate) fn build(&mut self) -> std::io::Result<Runtime> {
            record("build".to_owned());
            Ok(Runtime { _private: () })
        }
    }

    #[derive(Debug)]
    pub(crate) struct Runtime {
        _private: (),
    }

    impl Runtime {
        pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
            record("block_on".to_owned());
            struct Unpark(Thread);
            impl Wake for Unpark {
                fn wake(self: Arc<Self>) {
                    self.0.unpark();
                }
            }
            let waker = Waker::from(Arc::new(Unpark(thread::current())));
            let mut cx = Context::from_waker(&waker);
            let mut future = pin!(future);
            loop {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
                thread::park();
            }
        }
    }
}
