//! The admin status page, pure: a static page and its script (`web/status.html`,
//! `web/status.js`, compiled in), served by the control plane itself with a strict Content
//! Security Policy: nothing but this origin, no inline script, no framing. The token is asked
//! once and kept in the tab's sessionStorage; the data comes from the admin API.

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body_util::Full;

const PAGE: &str = include_str!("../../web/status.html");
const SCRIPT: &str = include_str!("../../web/status.js");

const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn static_response(body: &'static str, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// `/admin`.
pub fn page() -> Response<Full<Bytes>> {
    static_response(PAGE, "text/html; charset=utf-8")
}

/// `/admin/status.js`.
pub fn script() -> Response<Full<Bytes>> {
    static_response(SCRIPT, "text/javascript; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_script() {
        assert!(PAGE.contains("<script src=\"/admin/status.js\" defer></script>"));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"), "no external resource");
        assert!(!SCRIPT.contains("innerHTML"), "values are set as text");
        assert!(SCRIPT.contains("sessionStorage"));
        let res = page();
        assert!(res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
    }
}
