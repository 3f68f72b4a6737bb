//! Running out of file descriptors: `accept` fails with an error (no panic, no hang), and
//! the listener works again once descriptors are free. A dedicated test binary, because it
//! lowers the process's `RLIMIT_NOFILE`.

use std::fs::File;
use std::io::{ErrorKind, Write};

use corio::io::AsyncReadExt;
use corio::net::TcpListener;

#[test]
fn accept_reports_emfile_and_recovers() {
    let rt = corio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        // A low limit, so that hogging every descriptor is quick.
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid struct pointer.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
            let low = libc::rlimit {
                rlim_cur: 256,
                rlim_max: lim.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &low), 0);
        }

        let mut hogs = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(f) => hogs.push(f),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("unexpected error while hogging fds: {e}"),
            }
        }
        // One fd for the client; the pending connection then waits in the backlog while the
        // server has none left to accept it with.
        hogs.pop();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let err = listener.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        assert_ne!(err.kind(), ErrorKind::WouldBlock);
        // Still failing while nothing was freed: an error again, not a hang.
        assert!(listener.accept().await.is_err());

        drop(hogs);
        let (mut server_side, _) = listener.accept().await.expect("accept works again");
        client.write_all(b"alive").unwrap();
        let mut buf = [0u8; 5];
        server_side.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"alive");

        // SAFETY: restoring the limit read above.
        unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0) };
    });
}
