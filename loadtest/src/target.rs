//! Parsing a load generator's target URL (after its scheme) and refusing anything but loopback:
//! these tools measure a server on this machine and must never send load elsewhere. Does I/O
//! only to resolve a host name (the system resolver).

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{bail, ensure, Context, Result};

/// Where to send load.
#[derive(Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// Value of the `Host` header (the authority as written in the URL).
    pub host: String,
    /// The host alone, without port or brackets (TLS server name).
    pub server_name: String,
    /// Request target, sent verbatim.
    pub path: String,
}

/// Parses `authority[/path]` (what follows `scheme://`), with `default_port` when none is given.
pub fn parse_loopback(rest: &str, default_port: u16) -> Result<Target> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    ensure!(!authority.is_empty(), "URL has no host");
    ensure!(!authority.contains('@'), "user info in the URL is not supported");
    ensure!(
        !path.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#'),
        "the path must be percent-encoded (no spaces, control characters or fragment)"
    );
    let has_port = if authority.starts_with('[') { authority.contains("]:") } else { authority.contains(':') };
    let host_port = if has_port { authority.to_string() } else { format!("{authority}:{default_port}") };
    let server_name = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default().to_string()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_string()
    };
    let addrs: Vec<SocketAddr> =
        host_port.to_socket_addrs().with_context(|| format!("cannot resolve {authority}"))?.collect();
    let Some(addr) = addrs.iter().copied().find(|a| a.ip().is_loopback()) else {
        bail!("refusing {authority}: only loopback targets (127.0.0.0/8, ::1) are allowed");
    };
    Ok(Target { addr, host: authority.to_string(), server_name, path: path.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_with_default_ports() {
        let t = parse_loopback("127.0.0.1:9001/static/a%20b.mp4", 80).unwrap();
        assert_eq!((t.addr.port(), t.host.as_str(), t.path.as_str()), (9001, "127.0.0.1:9001", "/static/a%20b.mp4"));
        let t = parse_loopback("localhost", 443).unwrap();
        assert_eq!((t.addr.port(), t.server_name.as_str(), t.path.as_str()), (443, "localhost", "/"));
        assert_eq!(parse_loopback("[::1]:9/x", 80).unwrap().server_name, "::1");
        assert!(parse_loopback("192.0.2.1:80/", 80).is_err());
        assert!(parse_loopback("user@127.0.0.1/", 80).is_err());
        assert!(parse_loopback("127.0.0.1/a b", 80).is_err());
        assert!(parse_loopback("", 80).is_err());
    }
}
