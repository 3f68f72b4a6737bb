//! [`Async`]: any file descriptor, registered with the runtime's reactor.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::future::poll_fn;

use crate::driver::io::{Direction, Registration};

/// An I/O object (anything with a file descriptor) driven by the corio reactor.
///
/// [`Async::new`] puts the fd in non-blocking mode and registers it with the reactor of the
/// current runtime. The `*_with` methods run a non-blocking operation and, when it would
/// block, wait until the reactor reports the fd ready again and retry it:
///
/// ```no_run
/// use std::os::unix::net::UnixStream;
/// use corio::io::Async;
///
/// corio::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (a, b) = (Async::new(a).unwrap(), Async::new(b).unwrap());
///     a.write_with(|s| std::io::Write::write(&mut &*s, b"hi")).await.unwrap();
///     let mut buf = [0u8; 2];
///     b.read_with(|s| std::io::Read::read(&mut &*s, &mut buf)).await.unwrap();
///     assert_eq!(&buf, b"hi");
/// });
/// ```
///
/// It implements [`AsyncRead`](futures_io::AsyncRead) and
/// [`AsyncWrite`](futures_io::AsyncWrite) when `T` implements [`Read`] and [`Write`], and so
/// does `&Async<T>` when `&T` does. Dropping it removes the fd from the reactor, then closes
/// it (drops `T`).
pub struct Async<T> {
    /// Declared first, and deregistered explicitly in `Drop` anyway: the fd must leave the
    /// poller before `io` closes it.
    reg: Registration,
    /// `None` only after `into_inner`.
    io: Option<T>,
}

// Nothing inside `Async` is pinned structurally: `T` is only ever used through `&`/`&mut`.
impl<T> Unpin for Async<T> {}

impl<T: AsRawFd> Async<T> {
    /// Sets `io` non-blocking and registers it with the current runtime's reactor.
    ///
    /// # Panics
    ///
    /// Outside a corio runtime (see [`crate::runtime::Handle::current`]).
    #[track_caller]
    pub fn new(io: T) -> io::Result<Async<T>> {
        let reactor = crate::io::current_reactor();
        let fd = io.as_raw_fd();
        set_nonblocking(fd)?;
        // SAFETY: `io` owns or borrows `fd` for as long as `Async` holds it, and `Async`
        // deregisters before it gives `io` up (`into_inner`) or drops it (`Drop`).
        let reg = unsafe { Registration::new(&reactor, fd)? };
        Ok(Async { reg, io: Some(io) })
    }
}

impl<T> Async<T> {
    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async used after into_inner")
    }

    /// The inner I/O object, mutably. Do not replace its fd: the reactor watches the old one.
    pub fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("Async used after into_inner")
    }

    /// Removes the fd from the reactor and gives the I/O object back (still non-blocking).
    pub fn into_inner(mut self) -> io::Result<T> {
        let res = self.reg.deregister();
        let io = self.io.take().expect("Async used after into_inner");
        res.map(|()| io)
    }

    /// Waits until the fd may be readable. The readiness stays set until an operation of a
    /// `*_with` method (or a read through the futures-io traits) gets `WouldBlock`, so prefer
    /// [`read_with`](Self::read_with) to a loop over `readable` and raw reads.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.reg.poll_ready(cx, Direction::Read).map_ok(drop)).await
    }

    /// Waits until the fd may be writable; see [`readable`](Self::readable).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.reg.poll_ready(cx, Direction::Write).map_ok(drop)).await
    }

    /// Runs the non-blocking read `op` until it does not return `WouldBlock`.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_with(cx, &mut op)).await
    }

    /// Like [`read_with`](Self::read_with), with `&mut T`.
    pub async fn read_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_with_mut(cx, &mut op)).await
    }

    /// Runs the non-blocking write `op` until it does not return `WouldBlock`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_with(cx, &mut op)).await
    }

    /// Like [`write_with`](Self::write_with), with `&mut T`.
    pub async fn write_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_with_mut(cx, &mut op)).await
    }

    /// One poll of a read operation: what every read path of corio's sockets goes through.
    pub(crate) fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.reg.poll_io(cx, Direction::Read, || op(io))
    }

    /// One poll of a write operation.
    pub(crate) fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.reg.poll_io(cx, Direction::Write, || op(io))
    }

    /// One poll of a byte stream's read or write of `len` bytes in all: a shorter transfer
    /// means the receive queue is empty or the send buffer full (see
    /// `Registration::poll_stream_io`).
    pub(crate) fn poll_stream_io(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        len: usize,
        op: &mut impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let io = self.get_ref();
        self.reg.poll_stream_io(cx, dir, len, || op(io))
    }

    fn poll_read_with_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.io.as_mut().expect("Async used after into_inner");
        self.reg.poll_io(cx, Direction::Read, || op(io))
    }

    fn poll_write_with_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.io.as_mut().expect("Async used after into_inner");
        self.reg.poll_io(cx, Direction::Write, || op(io))
    }
}

impl<T> Drop for Async<T> {
    fn drop(&mut self) {
        // Protocol step 4 of the reactor: out of the poller while the fd is still open.
        let _ = self.reg.deregister();
    }
}

/// `O_NONBLOCK` on `fd`, the one flag corio needs on every source.
fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd the caller owns or borrows; F_GETFL reads flags only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above; F_SETFL changes only the status flags of this open file.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl<T: AsRawFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async")
            .field("io", &self.io)
            .field("reg", &self.reg)
            .finish()
    }
}

impl<T: Read> futures_io::AsyncRead for Async<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_read_with_mut(cx, &mut |io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_read_with_mut(cx, &mut |io| io.read_vectored(bufs))
    }
}

impl<T: Write> futures_io::AsyncWrite for Async<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with_mut(cx, &mut |io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with_mut(cx, &mut |io| io.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_with_mut(cx, &mut |io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T> futures_io::AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, &mut |mut io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, &mut |mut io| io.read_vectored(bufs))
    }
}

impl<T> futures_io::AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, &mut |mut io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, &mut |mut io| io.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_with(cx, &mut |mut io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
