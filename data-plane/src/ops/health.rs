//! The data node's health answers, pure: `/healthz` says the process answers; `/readyz` says
//! whether it serves a catalog from its control plane yet (a load balancer sends viewers only to
//! a ready node). Both are a few bytes, no lock, no allocation beyond the response.

/// `/healthz`: always 200 while the node answers at all.
pub fn alive() -> (http::StatusCode, &'static str) {
    (http::StatusCode::OK, "ok\n")
}

/// `/readyz`: 200 once a catalog was received and applied, else 503 with the reason.
pub fn ready(catalog_received: bool) -> (http::StatusCode, &'static str) {
    if catalog_received {
        (http::StatusCode::OK, "ready\n")
    } else {
        (http::StatusCode::SERVICE_UNAVAILABLE, "not ready: no catalog received from the control plane yet\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_with_a_catalog() {
        assert_eq!(alive().0, http::StatusCode::OK);
        assert_eq!(ready(true).0, http::StatusCode::OK);
        let (status, why) = ready(false);
        assert_eq!(status, http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(why.contains("no catalog"));
    }
}
