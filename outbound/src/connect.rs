//! Opening a connection to a [`Target`] (does network I/O): its name resolved and every address
//! checked against the public-address rule, TCP to the first address (the one checked), TLS for
//! `https` with the web's root certificates (one configuration, built once), and an HTTP/1.1
//! connection driven by a task of its own. No pooling: each connection goes to an address
//! checked for it.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use crate::target::{is_public, Target};

/// A connection: plain TCP for `http`, TLS over it for `https`.
pub type Stream = Either<TcpStream, TlsStream<TcpStream>>;

/// Why a name gave no address to connect to.
#[derive(Debug)]
pub enum ResolveError {
    Lookup(std::io::Error),
    NoAddress,
    /// One of its addresses is not public (and private ones are not allowed).
    Forbidden(IpAddr),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::Lookup(e) => e.fmt(f),
            ResolveError::NoAddress => f.write_str("no address"),
            ResolveError::Forbidden(ip) => write!(f, "resolves to {ip}, a private address"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// The TCP connection failed.
    Connect(std::io::Error),
    /// The TCP connection took longer than allowed.
    TimedOut,
    /// The host is no name a TLS certificate can be checked against.
    ServerName(String),
    /// The TLS configuration could not be built.
    Config(String),
    /// The TLS handshake failed (a certificate not trusted included).
    Handshake(std::io::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Connect(e) | ConnectError::Handshake(e) => e.fmt(f),
            ConnectError::TimedOut => f.write_str("connect timed out"),
            ConnectError::ServerName(e) | ConnectError::Config(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for ConnectError {}

/// The address to connect to for `t`: the first its name resolves to, when every one is public
/// (or `allow_private`).
pub async fn resolve(t: &Target, allow_private: bool) -> Result<SocketAddr, ResolveError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port)).await.map_err(ResolveError::Lookup)?.collect();
    let first = *addrs.first().ok_or(ResolveError::NoAddress)?;
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(ResolveError::Forbidden(bad.ip()));
        }
    }
    Ok(first)
}

/// A connection to `t` at `addr` (from [`resolve`]), TLS for `https`; the TCP connection within
/// `connect_timeout` when one is given.
pub async fn open(t: &Target, addr: SocketAddr, connect_timeout: Option<Duration>) -> Result<TokioIo<Stream>, ConnectError> {
    let connecting = TcpStream::connect(addr);
    let tcp = match connect_timeout {
        Some(limit) => tokio::time::timeout(limit, connecting).await.map_err(|_| ConnectError::TimedOut)?,
        None => connecting.await,
    }
    .map_err(ConnectError::Connect)?;
    let _ = tcp.set_nodelay(true);
    if !t.https {
        return Ok(TokioIo::new(Either::Left(tcp)));
    }
    let name = rustls::pki_types::ServerName::try_from(t.host.clone()).map_err(|e| ConnectError::ServerName(e.to_string()))?;
    let tls = web_tls().map_err(ConnectError::Config)?.connect(name, tcp).await.map_err(ConnectError::Handshake)?;
    Ok(TokioIo::new(Either::Right(tls)))
}

/// An HTTP/1.1 client connection over `io`, driven by a task of its own until it closes.
pub async fn http1<B>(io: TokioIo<Stream>) -> Result<SendRequest<B>, hyper::Error>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// TLS with the web's root certificates (ring, TLS 1.3 and 1.2), built once.
fn web_tls() -> Result<tokio_rustls::TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    });
    config.as_ref().map(|c| tokio_rustls::TlsConnector::from(Arc::clone(c))).map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::target;

    #[test]
    fn the_web_tls_configuration_builds() {
        assert!(web_tls().is_ok());
    }

    #[tokio::test]
    async fn private_addresses_are_refused_unless_allowed() {
        let t = target("http://127.0.0.1:9/").unwrap();
        match resolve(&t, false).await {
            Err(ResolveError::Forbidden(ip)) => assert_eq!(ip.to_string(), "127.0.0.1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(resolve(&t, true).await.unwrap(), "127.0.0.1:9".parse().unwrap());
    }

    #[tokio::test]
    async fn a_plain_connection_speaks_http1_to_the_checked_address() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 1024];
            let n = s.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"GET /x HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(&buf[..n]));
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
        });
        let t = target(&format!("http://{addr}/x")).unwrap();
        let io = open(&t, resolve(&t, true).await.unwrap(), Some(Duration::from_secs(5))).await.unwrap();
        let mut sender = http1::<http_body_util::Empty<bytes::Bytes>>(io).await.unwrap();
        let req = http::Request::get("/x").header(http::header::HOST, t.authority.as_str()).body(http_body_util::Empty::new()).unwrap();
        assert_eq!(sender.send_request(req).await.unwrap().status(), http::StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn a_host_that_is_no_tls_name_is_said_so() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let t = crate::target::Target { host: "a b".into(), port: addr.port(), authority: "a b".into(), path_and_query: "/".into(), https: true };
        assert!(matches!(open(&t, addr, None).await, Err(ConnectError::ServerName(_))));
    }
}
