//! TCP, UDP and Unix-domain sockets on the corio reactor.
//!
//! Every type wraps its `std` counterpart in [`crate::io::Async`], so an operation that
//! would block parks the task until the reactor reports the socket ready, and each completed
//! operation spends one unit of the task's cooperative budget.
//!
//! Addresses are [`ToSocketAddrs`]: a value that already is an address is used at once; a
//! host name is resolved on the runtime's blocking pool, never on a worker.
//!
//! ```no_run
//! use corio::io::{AsyncReadExt, AsyncWriteExt};
//! use corio::net::TcpListener;
//!
//! # fn main() -> std::io::Result<()> {
//! corio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     loop {
//!         let (mut stream, _) = listener.accept().await?;
//!         corio::spawn(async move {
//!             let mut buf = vec![0u8; 4096];
//!             while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                 if stream.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! })
//! # }
//! ```

mod addr;
mod socket;
mod tcp;
mod udp;
mod unix;

pub use self::addr::ToSocketAddrs;
pub use self::tcp::{
    Incoming, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener, TcpStream, WriteHalf,
};
pub use self::udp::UdpSocket;
pub use self::unix::{UnixDatagram, UnixListener, UnixStream};
