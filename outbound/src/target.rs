//! Where a plane may fetch from, pure: an `http(s)` URL split into what a request needs, and
//! whether an address is public (no private, loopback, link-local or otherwise internal
//! address is fetched unless the admin allows it). Both planes fetch from URLs other instances
//! give: the control plane ActivityPub documents, the data nodes video files.

use std::net::IpAddr;

/// Whether an address may be fetched from without the private-network switch.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64/10, shared
                || v4.octets()[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || v6.is_multicast())
        }
    }
}

/// The parts of an `http://host[:port]/path?query` URL a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// `host[:port]` as the Host header carries it.
    pub authority: String,
    pub path_and_query: String,
    pub https: bool,
}

/// Splits an `http(s)` URL; `None` for anything else (another scheme, user info, no host).
pub fn target(url: &str) -> Option<Target> {
    let uri: http::Uri = url.parse().ok()?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    Some(Target {
        host,
        port,
        authority: authority.as_str().to_owned(),
        path_and_query: uri.path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned()),
        https,
    })
}

/// The fuzz target's body: any text either splits into a target whose parts agree, or is
/// refused; never a panic.
pub fn fuzz_one(data: &[u8]) {
    let Ok(url) = std::str::from_utf8(data) else { return };
    if let Some(t) = target(url) {
        assert!(!t.host.is_empty() && t.authority.contains(t.host.as_str()), "{url:?} gave {t:?}");
        assert!(!t.authority.contains('@'), "{url:?} gave {t:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_addresses() {
        let t = target("https://a.example:8443/x/y?z=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.https, t.path_and_query.as_str(), t.authority.as_str()), ("a.example", 8443, true, "/x/y?z=1", "a.example:8443"));
        assert_eq!(target("http://[::1]/").unwrap().host, "::1");
        assert_eq!(target("http://b.example").unwrap().port, 80);
        assert!(target("ftp://a.example/").is_none());
        assert!(target("http://user@a.example/").is_none());
        assert!(target("not a url").is_none());
        assert!(is_public("93.184.216.34".parse().unwrap()));
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "0.0.0.0"] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for url in ["http://[::1]:80/a?b", "https://a.example", "http://@/", "http://a:99999/", "\u{0}"] {
            fuzz_one(url.as_bytes());
        }
    }
}
