//! [`ToSocketAddrs`]: std's address forms, with host names resolved off the workers.
//!
//! std's trait resolves host names with a blocking `getaddrinfo` inside the call, and it
//! borrows its input, so it cannot be moved to the blocking pool. This trait is implemented
//! for the same types; it answers at once for anything that already is an address and
//! hands an owned copy of a host name to the blocking pool otherwise.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Values that are, or resolve to, socket addresses: the types std's
/// [`std::net::ToSocketAddrs`] accepts, such as `"127.0.0.1:8080"`, `"localhost:80"`,
/// `("example.com", 443)`, a [`SocketAddr`], or a slice of them.
///
/// Sealed: corio's resolution needs to know which values are host names.
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use super::*;

    /// What resolving a value takes.
    #[derive(Debug)]
    pub enum Query {
        /// Already addresses (or a parse error): no blocking needed.
        Ready(io::Result<Vec<SocketAddr>>),
        /// A host name, `"host:port"`, for the blocking pool.
        Lookup(String),
    }

    #[allow(unreachable_pub)] // reachable as the supertrait of the public, sealed trait
    pub trait ToSocketAddrsPriv {
        fn to_query(&self) -> Query;
    }
}

use sealed::{Query, ToSocketAddrsPriv};

/// Resolves `addr`, off the workers when it names a host. Never returns an empty list.
pub(crate) async fn resolve(addr: &(impl ToSocketAddrs + ?Sized)) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_query() {
        Query::Ready(res) => res?,
        Query::Lookup(host) => {
            crate::io::run_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&host).map(Iterator::collect)
            })
            .await?
        }
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        ));
    }
    Ok(addrs)
}

/// Tries `op` on each address in turn; the last error if none works.
pub(crate) async fn each_addr<T, F, Fut>(
    addr: &(impl ToSocketAddrs + ?Sized),
    mut op: F,
) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in resolve(addr).await? {
        match op(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("resolve returns at least one address"))
}

macro_rules! ready_impl {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl ToSocketAddrsPriv for $t {
            fn to_query(&self) -> Query {
                Query::Ready(std::net::ToSocketAddrs::to_socket_addrs(self).map(Iterator::collect))
            }
        }
    )*};
}

ready_impl!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl ToSocketAddrsPriv for [SocketAddr] {
    fn to_query(&self) -> Query {
        Query::Ready(Ok(self.to_vec()))
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn to_query(&self) -> Query {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Query::Ready(Ok(vec![addr])),
            Err(_) => Query::Lookup(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn to_query(&self) -> Query {
        self.as_str().to_query()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn to_query(&self) -> Query {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Query::Ready(Ok(vec![SocketAddr::new(ip, port)])),
            Err(_) => Query::Lookup(format!("{host}:{port}")),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn to_query(&self) -> Query {
        (self.0.as_str(), self.1).to_query()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrsPriv for &T {
    fn to_query(&self) -> Query {
        (**self).to_query()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_no_lookup_and_names_do() {
        let ready = |q: Query| match q {
            Query::Ready(r) => r.unwrap(),
            Query::Lookup(h) => panic!("needless lookup of {h}"),
        };
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(ready("127.0.0.1:80".to_query()), vec![a]);
        assert_eq!(ready(("127.0.0.1", 80).to_query()), vec![a]);
        assert_eq!(
            ready(<&SocketAddr as ToSocketAddrsPriv>::to_query(&&a)),
            vec![a]
        );
        assert_eq!(ready("[::1]:80".to_query()).len(), 1);
        assert!(matches!("localhost:80".to_query(), Query::Lookup(h) if h == "localhost:80"));
        assert!(matches!(("localhost", 8).to_query(), Query::Lookup(h) if h == "localhost:8"));
    }
}
