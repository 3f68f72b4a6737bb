//! Process signals: [`ctrl_c`].
//!
//! How a signal reaches a future: the handler may only do async-signal-safe things, so it
//! bumps a counter and writes one byte into a socket pair. A thread of its own
//! (`corio-signal`, started with the handler) blocks reading the other end and, for each
//! read, calls [`Notify::notify_waiters`]. Each [`CtrlC`] remembers the counter's value when
//! it was created and completes once the counter has moved past it. The counter, not the
//! byte, is the truth: a full socket buffer only drops bytes the reader would have merged
//! anyway, and a wake-up meant for an older signal finds the counter unchanged and waits
//! again. No lost wake-up: a future registers with the `Notify` and only then reads the
//! counter, while the reader thread calls `notify_waiters` only after the handler bumped the
//! counter.
//!
//! The handler does not depend on any runtime, so one signal completes every `CtrlC` in the
//! process, whichever runtime (or none) polls it.
//!
//! The loom build leaves the module out: real signals cannot be modelled. Its atomics and
//! thread still come through the `loom` shim (outside loom, std's lock-free `AtomicU64`, as
//! the handler needs); its `OnceLock` is std's. What it waits with, `Notify`, has its own
//! loom models.

use std::future::Future;
use std::io::{self, Read};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use crate::loom::StaticAtomicU64;
use crate::sync::{Notified, Notify};

/// SIGINTs received since the handler was installed.
static RECEIVED: StaticAtomicU64 = StaticAtomicU64::new(0);

/// The write end of the socket pair, for the handler (`u64::MAX`: not open).
static WRITE_FD: StaticAtomicU64 = StaticAtomicU64::new(u64::MAX);

/// Installed once per process, on the first [`ctrl_c`] call.
struct Installed {
    notify: Notify,
    /// Why installing failed, if it did: every `CtrlC` reports it.
    error: Option<(io::ErrorKind, String)>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Completes when the process receives SIGINT (Ctrl-C in a terminal) after this call.
///
/// The handler is installed by this call, not by the first poll, so a Ctrl-C that comes
/// between the call and the first `.await` is not missed. Once installed it stays for the
/// life of the process, as in Tokio: Ctrl-C no longer ends the process by default, so a
/// program that waits for it should exit (or shut down) once it completes. Every pending
/// `CtrlC` completes on each SIGINT; one created after a signal waits for the next.
///
/// Fails (resolves to `Err`) only if the handler could not be installed; then every call
/// reports the same error.
///
/// ```no_run
/// #[corio::main]
/// async fn main() -> std::io::Result<()> {
///     let server = corio::spawn(async { /* serve */ });
///     corio::signal::ctrl_c().await?;
///     println!("Ctrl-C: shutting down");
///     server.abort();
///     Ok(())
/// }
/// ```
pub fn ctrl_c() -> CtrlC {
    let installed = INSTALLED.get_or_init(install);
    CtrlC {
        seen: RECEIVED.load(SeqCst),
        notified: Box::pin(installed.notify.notified()),
        installed,
    }
}

/// The future [`ctrl_c`] returns.
#[must_use = "futures do nothing unless polled; the handler is installed already"]
pub struct CtrlC {
    /// `RECEIVED` when the future was created.
    seen: u64,
    /// Boxed: `Notified` is `!Unpin` (an intrusive waiter), and this keeps `CtrlC` `Unpin`.
    notified: Pin<Box<Notified<'static>>>,
    installed: &'static Installed,
}

impl std::fmt::Debug for CtrlC {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtrlC").field("seen", &self.seen).finish()
    }
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((kind, message)) = &self.installed.error {
            return Poll::Ready(Err(io::Error::new(*kind, message.clone())));
        }
        loop {
            // Register first, then read the counter (module doc: no lost wake-up).
            let woken = self.notified.as_mut().poll(cx).is_ready();
            if RECEIVED.load(SeqCst) != self.seen {
                return Poll::Ready(Ok(()));
            }
            if !woken {
                return Poll::Pending;
            }
            // Woken for a signal from before this future was created: wait for the next.
            let notified = self.installed.notify.notified();
            self.notified.set(notified);
        }
    }
}

fn install() -> Installed {
    let notify = Notify::new();
    let error = install_handler().err().map(|e| {
        (
            e.kind(),
            format!("corio: installing the SIGINT handler failed: {e}"),
        )
    });
    Installed { notify, error }
}

fn install_handler() -> io::Result<()> {
    let (mut reader, writer) = UnixStream::pair()?;
    // A handler must never block: with the buffer full, the byte is dropped and the counter
    // still counts the signal.
    writer.set_nonblocking(true)?;
    WRITE_FD.store(writer.into_raw_fd() as u64, SeqCst);
    crate::loom::thread::Builder::new()
        .name("corio-signal".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                match reader.read(&mut buf) {
                    // Only once the process closed the write end, which it never does.
                    Ok(0) => return,
                    Ok(_) => {
                        if let Some(installed) = INSTALLED.get() {
                            installed.notify.notify_waiters();
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    // SAFETY: `action` is zeroed (an empty mask, no flags) and then given a handler of the
    // type `sa_sigaction` expects without SA_SIGINFO; `sigaction` only reads it.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // The reader thread may have seen an early byte before `INSTALLED` was set: harmless,
    // the counter keeps the signal.
    Ok(())
}

/// The SIGINT handler: async-signal-safe only (an atomic add, `write`, errno kept).
extern "C" fn on_sigint(_: libc::c_int) {
    RECEIVED.fetch_add(1, SeqCst);
    let fd = WRITE_FD.load(Relaxed);
    if fd == u64::MAX {
        return;
    }
    // SAFETY: `__errno_location` returns this thread's errno slot; `write` gets a valid
    // one-byte buffer and the socket's fd, which stays open for the life of the process.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd as libc::c_int, [1u8].as_ptr().cast(), 1);
        *libc::__errno_location() = errno;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ctrl_c;
    use crate::time::timeout;

    fn raise_sigint() {
        // SAFETY: `raise` has no memory preconditions; a `ctrl_c` call installed the
        // handler before every call here, so the signal does not end the process.
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
    }

    /// One test for everything: a signal reaches every test thread of the process, so two
    /// tests raising it could complete each other's futures.
    #[test]
    fn ctrl_c_completes_on_each_later_sigint_only() {
        let rt = crate::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            // Created before the signal, awaited after it: completes.
            let first = ctrl_c();
            let second = ctrl_c();
            raise_sigint();
            timeout(Duration::from_secs(30), first)
                .await
                .expect("a ctrl_c future created before SIGINT never completed")
                .unwrap();
            // Every pending future sees the same signal, also from another task.
            corio_spawn_and_await(second).await;

            // Created after that signal: waits for the next one. In a task of its own, so
            // that only its waker (not a time-out's re-poll) can get it polled again.
            let mut third = crate::spawn(ctrl_c());
            assert!(
                timeout(Duration::from_millis(200), &mut third)
                    .await
                    .is_err(),
                "a ctrl_c future completed for a SIGINT from before it was created"
            );
            raise_sigint();
            timeout(Duration::from_secs(30), third)
                .await
                .expect("a pending ctrl_c future was never woken by the next SIGINT")
                .unwrap()
                .unwrap();
        });
        drop(rt);

        // A current-thread runtime: the reader thread's wake-up comes from outside it, while
        // `block_on` sleeps in the driver (the future waits before the signal is raised).
        let rt = crate::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let waiting = crate::spawn(ctrl_c());
            crate::time::sleep(Duration::from_millis(20)).await;
            std::thread::spawn(raise_sigint).join().unwrap();
            timeout(Duration::from_secs(30), waiting)
                .await
                .expect("a ctrl_c future on a current-thread runtime was never woken by SIGINT")
                .unwrap()
                .unwrap();
        });
    }

    async fn corio_spawn_and_await(f: super::CtrlC) {
        crate::spawn(async move {
            timeout(Duration::from_secs(30), f)
                .await
                .expect("a second ctrl_c future missed the SIGINT that completed the first")
                .unwrap();
        })
        .await
        .unwrap();
    }
}
