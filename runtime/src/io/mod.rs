//! Asynchronous I/O: [`Async`] for any file descriptor, and the futures-io traits.
