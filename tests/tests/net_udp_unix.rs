//! UDP and Unix-domain sockets through the reactor.

use std::io::ErrorKind;

use corio::io::{AsyncReadExt, AsyncWriteExt};
use corio::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};
use corio::runtime::{Builder, Runtime};

fn current() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("corio-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn udp_send_to_recv_from_and_connected_send_recv() {
    current().block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // The receiver waits first, so the datagram arrives while it is parked.
        let receiver = corio::spawn(async move {
            let mut buf = [0u8; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ping");
            assert_eq!(from, a_addr);
            b.connect(from).await.unwrap();
            assert_eq!(b.peer_addr().unwrap(), a_addr);
            b.send(b"pong").await.unwrap();
            b
        });
        corio::task::yield_now().await;
        assert_eq!(a.send_to(b"ping", b_addr).await.unwrap(), 4);
        let _b = receiver.await.unwrap();
        a.connect(b_addr).await.unwrap();
        let mut buf = [0u8; 64];
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
    });
}

#[test]
fn udp_to_a_closed_port_reports_refused_and_keeps_working() {
    current().block_on(async {
        let closed = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(closed).await.unwrap();
        s.send(b"anyone?").await.unwrap();
        let mut buf = [0u8; 16];
        // The ICMP port-unreachable comes back as an error on the connected socket.
        let err = s.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        // The socket is still usable: talk to a live peer now.
        let live = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(live.local_addr().unwrap()).await.unwrap();
        s.send(b"hi").await.unwrap();
        let (n, _) = live.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hi");
    });
}

#[test]
fn unix_stream_listener_connect_echo_and_eof() {
    let path = temp_path("stream.sock");
    current().block_on(async {
        let listener = UnixListener::bind(&path).unwrap();
        let server = corio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            s.write_all(&all).await.unwrap();
        });
        let c = UnixStream::connect(&path).await.unwrap();
        let data: Vec<u8> = (0..500_000u32).map(|i| (i % 253) as u8).collect();
        let (w, r) = futures_lite::future::zip(
            async {
                (&c).write_all(&data).await?;
                c.shutdown(std::net::Shutdown::Write)
            },
            async {
                let mut got = Vec::new();
                (&c).read_to_end(&mut got).await.map(|_| got)
            },
        )
        .await;
        w.unwrap();
        assert!(r.unwrap() == data);
        server.await.unwrap();
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_stream_pair_and_drop_gives_eof() {
    current().block_on(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        let reader = corio::spawn(async move {
            let mut a2 = [0u8; 5];
            a.read_exact(&mut a2).await.unwrap();
            let mut rest = Vec::new();
            a.read_to_end(&mut rest).await.unwrap();
            (a2, rest.len())
        });
        (&b).write_all(b"hello").await.unwrap();
        drop(b);
        assert_eq!(reader.await.unwrap(), (*b"hello", 0));
    });
}

/// The last bytes and the peer's shutdown arrive before the first read: the short read of
/// the bytes must not put the reader to sleep past end of file (see `net_tcp.rs`).
#[test]
fn unix_stream_short_read_of_the_last_bytes_still_sees_eof() {
    for settle in [false, true] {
        current().block_on(async {
            let (mut a, b) = UnixStream::pair().unwrap();
            (&b).write_all(b"last bytes").await.unwrap();
            b.shutdown(std::net::Shutdown::Write).unwrap();
            if settle {
                corio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            // In a task of its own: only a wake-up can get it polled again, where a time-out
            // wrapped around the reads would re-poll them at its deadline and hide a lost one.
            let reads = corio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = a.read(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], b"last bytes");
                a.read(&mut buf).await.unwrap()
            });
            let eof = corio::time::timeout(std::time::Duration::from_secs(10), reads)
                .await
                .expect("the read after the last short read never saw end of file")
                .unwrap();
            assert_eq!(eof, 0, "settle = {settle}");
        });
    }
}

#[test]
fn unix_stream_connect_to_a_missing_path_fails() {
    current().block_on(async {
        let err = UnixStream::connect(temp_path("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    });
}

#[test]
fn unix_datagram_bind_unbound_and_pair() {
    let path = temp_path("dgram.sock");
    current().block_on(async {
        let server = UnixDatagram::bind(&path).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        let recv = corio::spawn(async move {
            let mut buf = [0u8; 32];
            let (n, _) = server.recv_from(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        corio::task::yield_now().await;
        client.send_to(b"datagram", &path).await.unwrap();
        assert_eq!(recv.await.unwrap(), b"datagram");

        let (x, y) = UnixDatagram::pair().unwrap();
        x.send(b"one").await.unwrap();
        x.send(b"two").await.unwrap();
        let mut buf = [0u8; 8];
        let n = y.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        let n = y.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"two");
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn async_wraps_any_fd_and_gives_it_back() {
    use corio::io::Async;
    current().block_on(async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (a, mut b) = (Async::new(a).unwrap(), Async::new(b).unwrap());
        let waiter = async {
            b.readable().await.unwrap();
            let mut buf = [0u8; 3];
            b.read_with_mut(|s| std::io::Read::read(s, &mut buf))
                .await
                .unwrap();
            buf
        };
        let writer = async {
            corio::task::yield_now().await;
            a.writable().await.unwrap();
            a.write_with(|s| std::io::Write::write(&mut &*s, b"abc"))
                .await
                .unwrap()
        };
        let (buf, n) = futures_lite::future::zip(waiter, writer).await;
        assert_eq!((&buf, n), (b"abc", 3));
        let std_a = a.into_inner().unwrap();
        // Still a working socket after leaving the reactor.
        std::io::Write::write_all(&mut &std_a, b"z").unwrap();
        let mut one = [0u8; 1];
        b.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"z");
    });
}
