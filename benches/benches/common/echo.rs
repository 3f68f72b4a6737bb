//! The tcp_echo workload body for corio and Tokio, shared by `benches/tcp_echo.rs` (criterion)
//! and `examples/tcp_echo_ab.rs` (interleaved A/B), so both measure the same code.

pub(crate) const CONNS: usize = 64;
pub(crate) const BYTES: usize = 1 << 20;
pub(crate) const CHUNK: usize = 16 * 1024;

/// The same echo workload for corio and Tokio (their APIs agree on every name used here).
macro_rules! echo {
    ($krate:ident, $rt:expr) => {{
        use $krate::io::{AsyncReadExt, AsyncWriteExt};
        $rt.block_on(async {
            let listener = $krate::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = $krate::spawn(async move {
                for _ in 0..CONNS {
                    let (mut s, _) = listener.accept().await.unwrap();
                    $krate::spawn(async move {
                        let mut buf = vec![0u8; CHUNK];
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                break;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                        }
                    });
                }
            });
            let clients: Vec<_> = (0..CONNS)
                .map(|_| {
                    $krate::spawn(async move {
                        let s = $krate::net::TcpStream::connect(addr).await.unwrap();
                        let (mut rd, mut wr) = s.into_split();
                        let writer = $krate::spawn(async move {
                            let chunk = vec![7u8; CHUNK];
                            for _ in 0..BYTES / CHUNK {
                                wr.write_all(&chunk).await.unwrap();
                            }
                        });
                        let mut buf = vec![0u8; CHUNK];
                        let mut got = 0;
                        while got < BYTES {
                            let n = rd.read(&mut buf).await.unwrap();
                            assert!(n > 0, "early EOF");
                            got += n;
                        }
                        writer.await.unwrap();
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            server.await.unwrap();
        })
    }};
}

pub(crate) fn corio_echo(rt: &corio::runtime::Runtime) {
    echo!(corio, rt)
}

pub(crate) fn tokio_echo(rt: &tokio::runtime::Runtime) {
    echo!(tokio, rt)
}
