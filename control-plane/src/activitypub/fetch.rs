//! Fetching remote ActivityPub documents (does network I/O): every GET is signed by the instance
//! actor, as PeerTube's `sign_federated_fetches` does; addresses are checked before connecting
//! (no private, loopback or link-local address unless the configuration allows it, and the
//! connection goes to the very address that was checked: `vidseed-outbound`, as the data
//! nodes' downloads); answers are size- and time-limited.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use vidseed_outbound::ResolveError;

use super::actor::Instance;
use super::http_signature::{date_header, signature_header, SignRequest};
use super::keys::InstanceKeys;

/// Largest remote document accepted (PeerTube: 3000 kB).
pub const MAX_DOCUMENT: usize = 3_000 * 1024;
/// Time allowed for one request (PeerTube: 7 s).
pub const TIMEOUT: Duration = Duration::from_secs(7);

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URL {0:?}")]
    BadUrl(String),
    #[error("{0} resolves to a private, loopback or link-local address ({1}); refused")]
    Forbidden(String, IpAddr),
    #[error("{0}: {1}")]
    Network(String, String),
    #[error("{0} answered {1}")]
    Status(String, StatusCode),
    #[error("{0}: the answer is not JSON: {1}")]
    NotJson(String, String),
}

pub use vidseed_outbound::{is_public, Target};

/// Splits a URL (pure): `http(s)://host[:port]/path?query`, no user info.
pub fn target(url: &str) -> Result<Target, FetchError> {
    vidseed_outbound::target(url).ok_or_else(|| FetchError::BadUrl(url.to_owned()))
}

/// The host of a URL (`host[:port]`), lower-cased: whose a document or an actor is.
pub fn host_of(url: &str) -> Option<String> {
    target(url).ok().map(|t| t.authority.to_ascii_lowercase())
}

/// Signed fetches on behalf of the instance actor.
#[derive(Clone)]
pub struct Fetcher {
    keys: Arc<InstanceKeys>,
    instance: Instance,
    /// Allow private, loopback and link-local addresses (tests, closed networks).
    pub allow_private: bool,
}

impl Fetcher {
    pub fn new(keys: Arc<InstanceKeys>, instance: Instance, allow_private: bool) -> Fetcher {
        Fetcher { keys, instance, allow_private }
    }

    /// The address to connect to for `t`, checked.
    async fn resolve(&self, t: &Target) -> Result<SocketAddr, FetchError> {
        vidseed_outbound::resolve(t, self.allow_private).await.map_err(|e| match e {
            ResolveError::Forbidden(ip) => FetchError::Forbidden(t.host.clone(), ip),
            other => FetchError::Network(t.authority.clone(), other.to_string()),
        })
    }

    /// GETs an ActivityPub document, signed.
    pub async fn get_json(&self, url: &str) -> Result<Value, FetchError> {
        let (status, body) = self.signed(http::Method::GET, url, None, None).await?;
        if !status.is_success() {
            return Err(FetchError::Status(url.to_owned(), status));
        }
        serde_json::from_slice(&body).map_err(|e| FetchError::NotJson(url.to_owned(), e.to_string()))
    }

    /// GETs any document (a torrent, a playlist), signed like every fetch, at most
    /// [`MAX_DOCUMENT`] bytes.
    pub async fn get_bytes(&self, url: &str) -> Result<Bytes, FetchError> {
        let (status, body) = self.signed(http::Method::GET, url, None, None).await?;
        if !status.is_success() {
            return Err(FetchError::Status(url.to_owned(), status));
        }
        Ok(body)
    }

    /// GETs the bytes `start..=end` of a file (a `Range` request): the answer's status and
    /// body, as sent (the caller checks them).
    pub async fn get_range(&self, url: &str, start: u64, end: u64) -> Result<(StatusCode, Bytes), FetchError> {
        self.signed(http::Method::GET, url, None, Some((start, end))).await
    }

    /// POSTs an activity to an inbox, signed with its digest; the answer's status.
    pub async fn post_activity(&self, url: &str, body: Bytes) -> Result<StatusCode, FetchError> {
        self.signed(http::Method::POST, url, Some(body), None).await.map(|(status, _)| status)
    }

    /// POSTs an activity signed by another of our actors (the account or the channel):
    /// `actor_url` is its keyId, as PeerTube signs.
    pub async fn post_activity_as(&self, url: &str, body: Bytes, keys: &InstanceKeys, actor_url: &str) -> Result<StatusCode, FetchError> {
        self.request(http::Method::POST, url, Some(body), None, Some((keys, actor_url))).await.map(|(status, _)| status)
    }

    /// One signed request to a checked address, within [`TIMEOUT`], its answer at most
    /// [`MAX_DOCUMENT`] bytes.
    async fn signed(&self, method: http::Method, url: &str, body: Option<Bytes>, range: Option<(u64, u64)>) -> Result<(StatusCode, Bytes), FetchError> {
        self.request(method, url, body, range, None).await
    }

    /// [`Fetcher::signed`], by `signer` (keys and keyId) instead of the instance actor.
    async fn request(
        &self,
        method: http::Method,
        url: &str,
        body: Option<Bytes>,
        range: Option<(u64, u64)>,
        signer: Option<(&InstanceKeys, &str)>,
    ) -> Result<(StatusCode, Bytes), FetchError> {
        let t = target(url)?;
        let addr = self.resolve(&t).await?;
        let net = |e: &dyn std::fmt::Display| FetchError::Network(url.to_owned(), e.to_string());
        let path = t.path_and_query.split('?').next().unwrap_or("/");
        let date = date_header(SystemTime::now());
        let digest = body.as_ref().map(|b| super::http_signature::digest(b));
        let me = self.instance.actor_url();
        let (keys, key_id) = signer.unwrap_or((&self.keys, &me));
        let signature = signature_header(
            keys,
            key_id,
            &SignRequest { method: method.as_str(), path, host: &t.authority, date: &date, digest: digest.as_deref() },
        );
        let mut builder = Request::builder()
            .method(method)
            .uri(t.path_and_query.as_str())
            .header(http::header::HOST, t.authority.as_str())
            .header(http::header::DATE, date.as_str())
            .header("signature", signature)
            .header(http::header::ACCEPT, "application/activity+json, application/ld+json")
            .header(http::header::USER_AGENT, concat!("vidseed/", env!("CARGO_PKG_VERSION")));
        if let Some(d) = &digest {
            builder = builder.header("digest", d.as_str()).header(http::header::CONTENT_TYPE, "application/activity+json");
        }
        if let Some((start, end)) = range {
            builder = builder.header(http::header::RANGE, format!("bytes={start}-{end}"));
        }
        let req = builder.body(Full::new(body.unwrap_or_default())).map_err(|e| net(&e))?;
        let work = async {
            let io = vidseed_outbound::open(&t, addr, None).await.map_err(|e| net(&e))?;
            let mut sender = vidseed_outbound::http1(io).await.map_err(|e| net(&e))?;
            let res = sender.send_request(req).await.map_err(|e| net(&e))?;
            let status = res.status();
            let body = Limited::new(res.into_body(), MAX_DOCUMENT).collect().await.map_err(|e| net(&e))?.to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(TIMEOUT, work).await.map_err(|_| net(&"timed out"))?
    }
}

impl Fetcher {
    /// The actor URL behind `acct:name@host`, from the host's WebFinger `self` link (over https;
    /// over http too when private addresses are allowed, as in tests on loopback).
    pub async fn webfinger(&self, acct: &str) -> Result<String, FetchError> {
        let handle = acct.strip_prefix("acct:").unwrap_or(acct);
        let (_, host) = handle.rsplit_once('@').ok_or_else(|| FetchError::BadUrl(acct.to_owned()))?;
        let resource = format!("acct:{handle}");
        let query: String = percent_encoding::utf8_percent_encode(&resource, percent_encoding::NON_ALPHANUMERIC).collect();
        let mut last = None;
        let schemes: &[&str] = if self.allow_private { &["https", "http"] } else { &["https"] };
        for scheme in schemes {
            match self.get_json(&format!("{scheme}://{host}/.well-known/webfinger?resource={query}")).await {
                Ok(doc) => {
                    let link = doc["links"].as_array().and_then(|l| {
                        l.iter().find(|x| x["rel"] == "self" && x["href"].is_string()).and_then(|x| x["href"].as_str())
                    });
                    return link.map(str::to_owned).ok_or_else(|| FetchError::NotJson(acct.to_owned(), "no self link".into()));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| FetchError::BadUrl(acct.to_owned())))
    }
}

/// What we keep of a remote actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorDoc {
    pub id: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub key_id: String,
    pub public_key_pem: String,
}

/// Reads an actor document (pure); the error says what is missing.
pub fn parse_actor(v: &Value) -> Result<ActorDoc, String> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let id = s(v, "id").ok_or("the actor has no id")?;
    let inbox = s(v, "inbox").ok_or("the actor has no inbox")?;
    let key = v.get("publicKey").ok_or("the actor has no publicKey")?;
    let key = if let Some(arr) = key.as_array() { arr.first().ok_or("empty publicKey")? } else { key };
    Ok(ActorDoc {
        shared_inbox: v.get("endpoints").and_then(|e| s(e, "sharedInbox")),
        key_id: s(key, "id").unwrap_or_else(|| id.clone()),
        public_key_pem: s(key, "publicKeyPem").ok_or("the actor's publicKey has no publicKeyPem")?,
        id,
        inbox,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.1.1", "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_split_into_targets() {
        let t = target("http://a.example:8080/accounts/peertube?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.authority.as_str(), t.path_and_query.as_str(), t.https), ("a.example", 8080, "a.example:8080", "/accounts/peertube?x=1", false));
        let t = target("https://[::1]/x").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.https), ("::1", 443, true));
        for bad in ["ftp://a/x", "a.example/x", "http://user@a.example/", ""] {
            assert!(target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn actor_documents() {
        let v = serde_json::json!({"id": "https://b/accounts/peertube", "inbox": "https://b/accounts/peertube/inbox",
            "endpoints": {"sharedInbox": "https://b/inbox"},
            "publicKey": {"id": "https://b/accounts/peertube#main-key", "owner": "https://b/accounts/peertube", "publicKeyPem": "PEM"}});
        let a = parse_actor(&v).unwrap();
        assert_eq!(a.shared_inbox.as_deref(), Some("https://b/inbox"));
        assert_eq!(a.key_id, "https://b/accounts/peertube#main-key");
        assert!(parse_actor(&serde_json::json!({"id": "x"})).unwrap_err().contains("inbox"));
    }
}
