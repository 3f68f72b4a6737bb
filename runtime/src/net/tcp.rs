//! TCP: [`TcpListener`], [`TcpStream`] and the stream's halves.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_lite::future::poll_fn;

use super::addr::{each_addr, ToSocketAddrs};
use crate::io::Async;
use crate::loom::sync::Arc;

/// A TCP socket server, listening for connections.
///
/// ```no_run
/// # corio::run(async {
/// let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stream, peer) = listener.accept().await?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct TcpListener {
    inner: Async<std::net::TcpListener>,
}

/// How many connections may wait to be accepted.
pub(crate) const LISTEN_BACKLOG: i32 = 1024;

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works) and listens, with a backlog
    /// of 1024 pending connections (as Tokio; std's `bind` uses 128, which a
    /// burst of connects overflows, and with SYN cookies an overflow resets connections).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(&addr, |a| async move {
            let listener = std::net::TcpListener::bind(a)?;
            super::socket::set_backlog(&listener, LISTEN_BACKLOG)?;
            TcpListener::from_std(listener)
        })
        .await
    }

    /// Wraps a std listener (made non-blocking). Must be called inside a runtime.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }

    /// Accepts a connection. Errors (such as running out of file descriptors) are returned
    /// and leave the listener usable: accept again once the cause is gone.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for one incoming connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.inner
            .poll_read_with(cx, &mut |l| l.accept())
            .map(|res| {
                let (stream, addr) = res?;
                Ok((TcpStream::from_std(stream)?, addr))
            })
    }

    /// A stream of incoming connections: `accept` in a loop.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

/// The [`Stream`] of [`TcpListener::incoming`]; never ends by itself.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|res| Some(res.map(|(s, _)| s)))
    }
}

/// A TCP connection. Reads and writes through [`AsyncRead`](futures_io::AsyncRead) and
/// [`AsyncWrite`](futures_io::AsyncWrite) (see [`crate::io::AsyncReadExt`]), also on
/// `&TcpStream`, so one task may read while another writes.
pub struct TcpStream {
    inner: Async<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each of its addresses in turn. The connect itself never
    /// blocks a worker: it is started non-blocking and completed when the socket becomes
    /// writable; a refused connection fails with [`io::ErrorKind::ConnectionRefused`].
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(&addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let (socket, in_progress) = super::socket::start_connect(addr)?;
        let stream = TcpStream {
            inner: Async::new(socket)?,
        };
        if in_progress {
            // The connect completes with the next writable (or error) edge. Until then
            // "not connected yet" counts as WouldBlock, so the optimistic readiness of a new
            // registration is cleared and the task waits for that edge.
            stream
                .inner
                .write_with(|s| {
                    if let Some(e) = s.take_error()? {
                        return Err(e);
                    }
                    match s.peer_addr() {
                        Ok(_) => Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(e) => Err(e),
                    }
                })
                .await?;
        }
        Ok(stream)
    }

    /// Wraps a connected std stream (made non-blocking). Must be called inside a runtime.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Async::new(stream)?,
        })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Disables (true) or enables Nagle's algorithm.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is disabled.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Shuts down the read half, the write half (the peer then reads EOF) or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Waits until the stream may be readable.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Waits until the stream may be writable.
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }

    /// Reads some bytes without blocking the worker; `Ok(0)` at end of stream.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.peek(buf)).await
    }

    /// Borrowed halves, for reading and writing from two places at once.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Owned halves, movable into separate tasks. Dropping the write half shuts the write
    /// direction down, so the peer reads EOF.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let shared = Arc::new(self);
        (OwnedReadHalf(shared.clone()), OwnedWriteHalf(shared))
    }
}

macro_rules! stream_io {
    ($($t:ty => |$s:ident| $inner:expr;)*) => {$(
        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                let len = buf.len();
                $inner.poll_stream_io(cx, crate::driver::io::Direction::Read, len, &mut |mut s| s.read(buf))
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                let len = bufs.iter().map(|b| b.len()).sum();
                $inner.poll_stream_io(cx, crate::driver::io::Direction::Read, len, &mut |mut s| s.read_vectored(bufs))
            }
        }

        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $inner.poll_stream_io(cx, crate::driver::io::Direction::Write, buf.len(), &mut |mut s| s.write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                let len = bufs.iter().map(|b| b.len()).sum();
                $inner.poll_stream_io(cx, crate::driver::io::Direction::Write, len, &mut |mut s| s.write_vectored(bufs))
            }

            /// A socket has no user-space buffer to flush.
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Shuts the write direction down: the peer reads EOF.
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $s = &*self;
                Poll::Ready(shutdown_write($inner.get_ref()))
            }
        }
    )*};
}
pub(crate) use stream_io;

/// `shutdown(Write)` that tolerates a peer that already went away.
pub(crate) fn shutdown_write<S: ShutdownWrite>(s: &S) -> io::Result<()> {
    match s.shutdown_write() {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        res => res,
    }
}

/// The std stream types that can shut their write direction down.
pub(crate) trait ShutdownWrite {
    fn shutdown_write(&self) -> io::Result<()>;
}

impl ShutdownWrite for std::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

stream_io! {
    TcpStream => |s| s.inner;
    &TcpStream => |s| s.inner;
    ReadHalf<'_> => |s| s.0.inner;
    WriteHalf<'_> => |s| s.0.inner;
    OwnedReadHalf => |s| s.0.inner;
    OwnedWriteHalf => |s| s.0.inner;
}

/// The read half of [`TcpStream::split`]. (It implements `AsyncWrite` too, as a plain
/// `&TcpStream` would; use the halves as their names say.)
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The write half of [`TcpStream::split`].
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a TcpStream);

/// The read half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf(Arc<TcpStream>);

/// The write half of [`TcpStream::into_split`]; dropping it shuts the write direction down.
#[derive(Debug)]
pub struct OwnedWriteHalf(Arc<TcpStream>);

impl OwnedReadHalf {
    /// The stream's remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl OwnedWriteHalf {
    /// The stream's remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        // Like Tokio: the peer learns that nothing more will be written. Errors mean the
        // connection is already gone, which is what the shutdown would have said.
        let _ = shutdown_write(self.0.inner.get_ref());
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpStream")
            .field(self.inner.get_ref())
            .finish()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpListener")
            .field(self.inner.get_ref())
            .finish()
    }
}
