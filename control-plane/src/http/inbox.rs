//! The instance's inboxes (`/inbox`, `/accounts/peertube/inbox`) (does I/O): a POST is checked
//! — body size, JSON that is an activity, the HTTP Signature (key fetched from the signer's actor
//! and cached, fetched again once when it fails, for key rotation), and, when the activity's
//! actor is not the signer (a forwarded activity), its Linked Data signature — then stored in
//! the database before the 204, to be processed after it. Failures answer 403 with the reason
//! and change nothing; activities from blocked hosts are accepted and dropped.

use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use super::error::ApiError;
use crate::activitypub::fetch::{host_of, parse_actor, Fetcher};
use crate::activitypub::http_signature::{check, parse_signature_header, verify, IncomingRequest};
use crate::library::timestamp_ms;
use crate::store::{RemoteActor, Store};

/// Largest inbox body accepted (PeerTube: 500 kB).
pub const MAX_BODY: usize = 500 * 1000;

/// What the inboxes need.
pub struct Inbox {
    pub store: Store,
    pub fetcher: Fetcher,
    /// Told when an activity was stored.
    pub engine: std::sync::Arc<crate::federation::Engine>,
}

fn answer(status: StatusCode, what: Option<&str>) -> Response<Full<Bytes>> {
    match what {
        Some(w) => ApiError::new(status, w).response(),
        None => {
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = status;
            res
        }
    }
}

/// An activity's actor: a string, or an object with an `id`.
fn actor_of(activity: &Value) -> Option<&str> {
    match activity.get("actor")? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id")?.as_str(),
        _ => None,
    }
}

impl Inbox {
    /// The public key of `actor_url`, from the cache or fetched (and cached); `refresh` skips
    /// the cache.
    async fn key_of(&self, actor_url: &str, refresh: bool) -> Result<String, String> {
        if !refresh {
            if let Ok(Some(a)) = self.store.remote_actor(actor_url).await {
                return Ok(a.public_key_pem);
            }
        }
        let doc = self.fetcher.get_json(actor_url).await.map_err(|e| format!("cannot fetch the signer's actor: {e}"))?;
        let a = parse_actor(&doc).map_err(|e| format!("the signer's actor is unusable: {e}"))?;
        if a.id != actor_url {
            return Err(format!("the actor document at {actor_url} is {}", a.id));
        }
        let record = RemoteActor {
            url: a.id.clone(),
            inbox: a.inbox,
            shared_inbox: a.shared_inbox,
            public_key_pem: a.public_key_pem.clone(),
            key_id: a.key_id,
            fetched_at_ms: timestamp_ms(),
        };
        if let Err(e) = self.store.put_remote_actor(&record).await {
            tracing::warn!("cannot cache actor {actor_url}: {e}");
        }
        Ok(a.public_key_pem)
    }

    /// Verifies with the cached key, then once more with a freshly fetched one.
    async fn verify_as(&self, actor_url: &str, ok: impl Fn(&str) -> bool) -> Result<(), String> {
        let cached = self.key_of(actor_url, false).await?;
        if ok(&cached) {
            return Ok(());
        }
        let fresh = self.key_of(actor_url, true).await?;
        if fresh != cached && ok(&fresh) {
            return Ok(());
        }
        Err("the signature does not verify with the actor's key".into())
    }

    /// Handles one POST to an inbox.
    pub async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return answer(StatusCode::PAYLOAD_TOO_LARGE, Some("the body is over 500 kB")),
        };
        let activity: Value = match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return answer(StatusCode::BAD_REQUEST, Some("the body is not a JSON object")),
            Err(e) => return answer(StatusCode::BAD_REQUEST, Some(&format!("the body is not JSON: {e}"))),
        };
        if activity.get("type").and_then(Value::as_str).is_none() {
            return answer(StatusCode::BAD_REQUEST, Some("not an activity: no \"type\""));
        }
        let Some(actor) = actor_of(&activity).map(str::to_owned) else {
            return answer(StatusCode::BAD_REQUEST, Some("not an activity: no \"actor\""));
        };
        // The HTTP Signature.
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let Some(sig) = parts.headers.get("signature").and_then(|v| v.to_str().ok()) else {
            return answer(StatusCode::FORBIDDEN, Some("no Signature header"));
        };
        let params = match parse_signature_header(sig) {
            Ok(p) => p,
            Err(e) => return answer(StatusCode::FORBIDDEN, Some(&e.to_string())),
        };
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let incoming = IncomingRequest { method: parts.method.as_str(), path_and_query, headers: &headers, body: Some(&body) };
        let checked = match check(&incoming, &params, SystemTime::now()) {
            Ok(c) => c,
            Err(e) => return answer(StatusCode::FORBIDDEN, Some(&e.to_string())),
        };
        let mut signer = checked.actor_url().to_owned();
        if signer.starts_with("acct:") {
            signer = match self.fetcher.webfinger(&signer).await {
                Ok(url) => url,
                Err(e) => return answer(StatusCode::FORBIDDEN, Some(&format!("cannot resolve the keyId {signer}: {e}"))),
            };
        }
        if let Err(e) = self.verify_as(&signer, |pem| verify(&checked, pem).is_ok()).await {
            return answer(StatusCode::FORBIDDEN, Some(&e));
        }
        // A forwarded activity: its own actor's Linked Data signature must hold.
        if actor != signer {
            let doc = activity.clone();
            if doc.get("signature").is_none() {
                return answer(StatusCode::FORBIDDEN, Some("a forwarded activity (its actor is not the signer) needs a Linked Data signature"));
            }
            if let Err(e) = self.verify_as(&actor, |pem| crate::activitypub::ld_signature::verify(&doc, pem).is_ok()).await {
                return answer(StatusCode::FORBIDDEN, Some(&format!("forwarded activity: {e}")));
            }
        }
        let blocked = match host_of(&actor) {
            Some(h) => self.store.is_blocked(&h).await.unwrap_or(false),
            None => return answer(StatusCode::BAD_REQUEST, Some("the actor is not a URL")),
        };
        if blocked {
            tracing::info!("dropped an activity from blocked {actor}");
            return answer(StatusCode::NO_CONTENT, None);
        }
        let id = activity.get("id").and_then(Value::as_str);
        match self.store.store_inbox(id, &actor, &String::from_utf8_lossy(&body), timestamp_ms()).await {
            Ok(_) => {
                self.engine.poke();
                answer(StatusCode::NO_CONTENT, None)
            }
            Err(e) => {
                tracing::error!("cannot store an incoming activity: {e}");
                answer(StatusCode::SERVICE_UNAVAILABLE, Some("cannot store the activity now; retry later"))
            }
        }
    }
}
