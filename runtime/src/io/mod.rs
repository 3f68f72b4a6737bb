//! Asynchronous I/O: [`Async`] for any file descriptor, and the futures-io traits.
//!
//! The traits and helpers are futures-io's and futures-lite's, re-exported rather than
//! rewritten, so corio's sockets work with every crate of that ecosystem:
//!
//! ```no_run
//! use corio::io::{AsyncReadExt, AsyncWriteExt};
//! use corio::net::TcpStream;
//!
//! # fn main() -> std::io::Result<()> {
//! corio::run(async {
//!     let mut stream = TcpStream::connect("127.0.0.1:8080").await?;
//!     stream.write_all(b"ping").await?;
//!     let mut reply = [0u8; 4];
//!     stream.read_exact(&mut reply).await?;
//!     Ok(())
//! })
//! # }
//! ```

mod async_fd;

pub use self::async_fd::Async;
pub use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
pub use futures_lite::io::{
    copy, split, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter, ReadHalf,
    WriteHalf,
};

/// The reactor of the runtime this thread is in.
///
/// # Panics
///
/// Outside a corio runtime, with a message that says how to get into one.
#[track_caller]
pub(crate) fn current_reactor() -> crate::driver::io::Handle {
    match crate::runtime::Handle::try_current() {
        Ok(handle) => handle.driver().io.clone(),
        Err(_) => panic!(
            "corio I/O sources must be created inside a corio runtime: call this from a task \
             (corio::spawn), inside Runtime::block_on / corio::run, or after Runtime::enter()"
        ),
    }
}

/// Runs `f` on the blocking pool of the current runtime and waits for it.
pub(crate) async fn run_blocking<R, F>(f: F) -> std::io::Result<R>
where
    F: FnOnce() -> std::io::Result<R> + Send + 'static,
    R: Send + 'static,
{
    let handle = crate::runtime::Handle::try_current().map_err(|e| {
        std::io::Error::other(format!("name resolution needs a corio runtime: {e}"))
    })?;
    match handle.spawn_blocking(f).await {
        Ok(res) => res,
        Err(e) => Err(std::io::Error::other(format!("blocking task failed: {e}"))),
    }
}
