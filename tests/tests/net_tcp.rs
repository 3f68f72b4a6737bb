//! TCP through the reactor: round trips, many connections, half-close, big transfers, and
//! the errors a network program must see.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};

use corio::io::{AsyncReadExt, AsyncWriteExt};
use corio::net::{TcpListener, TcpStream};
use corio::runtime::{Builder, Runtime};

fn current() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn multi() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// A byte pattern that differs per connection and per offset, so a misrouted or reordered
/// byte is caught.
fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(131)) as u8)
        .collect()
}

async fn echo_server() -> (SocketAddr, corio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = corio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            corio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => stream.write_all(&buf[..n]).await.unwrap(),
                        Err(e) => panic!("server read: {e}"),
                    }
                }
            });
        }
    });
    (addr, server)
}

#[test]
fn echo_round_trip() {
    current().block_on(async {
        let (addr, server) = echo_server().await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.write_all(b"hello corio").await.unwrap();
        let mut buf = [0u8; 11];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello corio");
        server.abort();
    });
}

#[test]
fn connect_resolves_a_host_name_on_the_blocking_pool() {
    current().block_on(async {
        let (addr, server) = echo_server().await;
        let mut client = TcpStream::connect(("localhost", addr.port())).await;
        // "localhost" may resolve to ::1 first on some hosts; each address is tried in turn.
        let client = client
            .as_mut()
            .expect("localhost resolves to the loopback listener");
        client.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        client.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"x");
        server.abort();
    });
}

fn thousand_connections(rt: Runtime) {
    const CONNS: usize = 1000;
    const LEN: usize = 64 * 1024;
    rt.block_on(async {
        let (addr, server) = echo_server().await;
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                corio::spawn(async move {
                    let stream = TcpStream::connect(addr).await.unwrap();
                    let (mut rd, mut wr) = stream.into_split();
                    let data = pattern(i, LEN);
                    let expect = data.clone();
                    let writer = corio::spawn(async move { wr.write_all(&data).await.unwrap() });
                    let mut got = vec![0u8; LEN];
                    rd.read_exact(&mut got).await.unwrap();
                    writer.await.unwrap();
                    assert!(got == expect, "connection {i}: echoed bytes differ");
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.abort();
    });
}

#[test]
fn thousand_concurrent_connections_echo_64k_each_current_thread() {
    thousand_connections(current());
}

#[test]
fn thousand_concurrent_connections_echo_64k_each_multi_thread() {
    thousand_connections(multi());
}

#[test]
fn half_close_lets_the_peer_finish_and_reply() {
    current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            // Our read side saw EOF; our write side still works.
            s.write_all(format!("got {} bytes", all.len()).as_bytes())
                .await
                .unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&[7u8; 1000]).await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply, "got 1000 bytes");
        server.await.unwrap();
    });
}

fn transfer_16mib(rt: Runtime) {
    const LEN: usize = 16 * 1024 * 1024;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = corio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut offset = 0usize;
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                for (i, b) in buf[..n].iter().enumerate() {
                    assert_eq!(*b, ((offset + i) % 251) as u8, "byte {}", offset + i);
                }
                offset += n;
            }
            offset
        });
        let mut s = TcpStream::connect(addr).await.unwrap();
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(100_003) {
            s.write_all(chunk).await.unwrap();
        }
        drop(s);
        assert_eq!(reader.await.unwrap(), LEN);
    });
}

#[test]
fn transfer_16_mib_with_concurrent_reader_and_writer() {
    transfer_16mib(current());
    transfer_16mib(multi());
}

#[test]
fn split_halves_read_and_write_at_once() {
    current().block_on(async {
        let (addr, server) = echo_server().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = s.split();
        let data = pattern(9, 300_000);
        let (w, r) = futures_lite::future::zip(wr.write_all(&data), async {
            let mut got = vec![0u8; data.len()];
            rd.read_exact(&mut got).await.map(|()| got)
        })
        .await;
        w.unwrap();
        assert!(r.unwrap() == data);
        // &TcpStream reads and writes too.
        (&s).write_all(b"ref").await.unwrap();
        let mut b = [0u8; 3];
        (&s).read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ref");
        server.abort();
    });
}

#[test]
fn dropping_a_stream_ends_the_peer_read_with_eof() {
    current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server_side, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let reader = corio::spawn(async move {
            let mut buf = [0u8; 16];
            server_side.read(&mut buf).await
        });
        corio::task::yield_now().await;
        drop(client);
        assert_eq!(reader.await.unwrap().unwrap(), 0);
    });
}

/// A read shorter than its buffer makes corio skip the next `read` system call (the queue is
/// empty; the next edge wakes the reader). If the peer's shutdown came with the data, there
/// is no next edge: the reader must still see end of file, and must see it whether the
/// driver had already reported the shutdown (`settle`) or not.
#[test]
fn short_read_of_the_last_bytes_still_sees_eof() {
    for settle in [false, true] {
        for rt in [current(), multi()] {
            rt.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut peer = std::net::TcpStream::connect(addr).unwrap();
                let (mut stream, _) = listener.accept().await.unwrap();
                std::io::Write::write_all(&mut peer, b"last bytes").unwrap();
                peer.shutdown(Shutdown::Write).unwrap();
                if settle {
                    // Parks the runtime, so the driver takes in the data and the shutdown.
                    corio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                // In a task of its own: only a wake-up can get it polled again, where a time-out
                // wrapped around the reads would re-poll them at its deadline and hide a lost one.
                let reads = corio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let n = stream.read(&mut buf).await.unwrap();
                    assert_eq!(&buf[..n], b"last bytes");
                    stream.read(&mut buf).await.unwrap()
                });
                let eof = corio::time::timeout(std::time::Duration::from_secs(10), reads)
                    .await
                    .expect("the read after the last short read never saw end of file")
                    .unwrap();
                assert_eq!(eof, 0, "settle = {settle}");
            });
        }
    }
}

/// After a short read the reader sleeps without a system call; the next bytes must wake it.
#[test]
fn short_reads_then_more_data_wake_the_reader() {
    multi().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server_side, _) = listener.accept().await.unwrap();
        let reader = corio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while got.len() < 100 * 7 {
                let n = server_side.read(&mut buf).await.unwrap();
                assert!(n > 0, "early end of file after {} bytes", got.len());
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        for i in 0..100u8 {
            client.write_all(&[i; 7]).await.unwrap();
            if i % 10 == 0 {
                corio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        let got = corio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .expect("a reader asleep after a short read missed the next bytes")
            .unwrap();
        let want: Vec<u8> = (0..100u8).flat_map(|i| [i; 7]).collect();
        assert_eq!(got, want);
    });
}

#[test]
fn dropping_the_owned_write_half_sends_eof() {
    current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server_side, _) = listener.accept().await.unwrap();
        let (_rd, wr) = client.into_split();
        drop(wr);
        let mut buf = Vec::new();
        assert_eq!(server_side.read_to_end(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    current().block_on(async {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn binding_a_used_address_fails_with_addr_in_use() {
    current().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = TcpListener::bind(l.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    });
}

#[test]
fn peer_reset_surfaces_as_connection_reset() {
    current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (mut server_side, _) = listener.accept().await.unwrap();
        // SO_LINGER with a zero time-out makes close send RST instead of FIN.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket fd and a correctly sized linger struct.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&client),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(client);
        let mut buf = [0u8; 8];
        let err = server_side.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        // Writing to a reset connection is an error, not a panic or a hang.
        let mut failed = false;
        for _ in 0..4 {
            if server_side.write_all(&[0u8; 1024]).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    });
}

#[test]
fn incoming_yields_connections() {
    use futures_lite::StreamExt;
    current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = corio::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(TcpStream::connect(addr).await.unwrap());
            }
            v
        });
        let got: Vec<_> = listener.incoming().take(3).collect().await;
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|s| s.is_ok()));
        assert_eq!(clients.await.unwrap().len(), 3);
    });
}

#[test]
fn a_source_outside_a_runtime_panics_with_the_fix() {
    let err = std::panic::catch_unwind(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        corio::net::TcpListener::from_std(l)
    })
    .unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(msg.contains("inside a corio runtime"), "{msg}");
}

#[test]
fn an_always_ready_socket_does_not_starve_other_tasks() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // A reader that always has data never returns Pending on its own; without the coop
    // budget the task spawned after it would not run until the reader gave up.
    current().block_on(async {
        let (a, b) = corio::net::UnixStream::pair().unwrap();
        (&a).write_all(&vec![1u8; 100_000]).await.unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let reader = corio::spawn(async move {
            let mut buf = [0u8; 1];
            let mut reads = 0;
            while !flag.load(Ordering::SeqCst) {
                (&b).read_exact(&mut buf).await.unwrap();
                reads += 1;
                assert!(
                    reads < 50_000,
                    "the other task never ran: the budget does not apply"
                );
            }
            reads
        });
        let other = corio::spawn(async move { f2.store(true, Ordering::SeqCst) });
        let reads = reader.await.unwrap();
        other.await.unwrap();
        assert!(reads > 0);
        drop(a);
    });
}
