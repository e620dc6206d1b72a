//! The control plane's health answers, pure: `/healthz` says the process answers, `/readyz`
//! whether its database does (the caller pings it, bounded by [`READY_TIMEOUT`]).

use std::time::Duration;

/// How long `/readyz` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz`.
pub fn alive() -> (http::StatusCode, String) {
    (http::StatusCode::OK, "ok\n".into())
}

/// `/readyz`, from the database ping's outcome.
pub fn ready(database: Result<(), String>) -> (http::StatusCode, String) {
    match database {
        Ok(()) => (http::StatusCode::OK, "ready\n".into()),
        Err(why) => (http::StatusCode::SERVICE_UNAVAILABLE, format!("not ready: the database does not answer: {why}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_with_the_database() {
        assert_eq!(alive().0, http::StatusCode::OK);
        assert_eq!(ready(Ok(())).0, http::StatusCode::OK);
        let (status, body) = ready(Err("timed out".into()));
        assert_eq!(status, http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("timed out"));
    }
}
