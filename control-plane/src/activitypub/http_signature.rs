//! HTTP Signatures (draft-cavage) as PeerTube makes and checks them: the `Signature:` header of
//! server-to-server requests. Sans-I/O: the caller gives the request's parts and the clock, and
//! fetches the signer's key itself between [`check`] and [`verify`].
//!
//! PeerTube's rules, followed here:
//! * Signing: `rsa-sha256` over `(request-target) host date digest` for requests with a body
//!   (POST to an inbox) and `(request-target) host date` for signed GETs; `(request-target)` is
//!   the lower-case method and the URL's path without its query; `keyId` is the bare actor URL.
//!   The header value has no `Signature ` scheme prefix and its parameters come in the order
//!   keyId, algorithm, headers, signature.
//! * Checking: a leading `Signature ` is stripped; the signature must cover `(request-target)`
//!   and `host` (and `digest` on POST), and `date` or `(created)`; `(request-target)` is the
//!   lower-case method and the path *with* the query as received; `rsa-sha256` and `hs2019`
//!   are accepted (both mean RSASSA-PKCS1-v1_5 SHA-256 for RSA keys); the Date may be at most
//!   1800 s from now, `(created)` at most 1800 s in the future, `(expires)` at most 1800 s in
//!   the past; the Digest header must equal `SHA-256=<base64 of the body's SHA-256>` exactly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::keys::{self, InstanceKeys, KeyError};

#[cfg(test)]
mod tests;

/// How far the Date may be from now, `(created)` in the future or `(expires)` in the past
/// (PeerTube's `HTTP_SIGNATURE.CLOCK_SKEW_SECONDS`).
pub const CLOCK_SKEW_SECS: u64 = 1800;

/// The headers PeerTube signs on a request with a body.
pub const SIGNED_HEADERS_WITH_BODY: &str = "(request-target) host date digest";

/// The headers PeerTube signs on a request without a body (signed GET fetches).
pub const SIGNED_HEADERS_WITHOUT_BODY: &str = "(request-target) host date";

/// Why a signature is refused. Each message can be sent as a 403's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("malformed Signature header: {0}")]
    Malformed(String),
    #[error("the Signature header has {0} twice")]
    DuplicateParam(String),
    #[error("the Signature header has no {0}")]
    MissingParam(&'static str),
    #[error("the Signature header's {0} is not a Unix time")]
    BadTimestamp(&'static str),
    #[error("algorithm {0:?} is not supported (rsa-sha256 or hs2019)")]
    UnsupportedAlgorithm(String),
    #[error("the signature does not cover {0}")]
    NotCovered(&'static str),
    #[error("the signature covers neither date nor (created)")]
    NoDate,
    #[error("the signed header {0} is not in the request")]
    MissingHeader(String),
    #[error("the signed pseudo-header {0} is not supported")]
    UnsupportedPseudoHeader(String),
    #[error("Date {0:?} is not an HTTP date")]
    BadDate(String),
    #[error("Date is {0} s away from now (at most {CLOCK_SKEW_SECS})")]
    ClockSkew(u64),
    #[error("(created) is {0} s in the future (at most {CLOCK_SKEW_SECS})")]
    CreatedInFuture(u64),
    #[error("the signature expired {0} s ago (at most {CLOCK_SKEW_SECS})")]
    Expired(u64),
    #[error("the Digest header does not match the body")]
    DigestMismatch,
    #[error("the signature is not valid base64")]
    BadBase64,
    #[error("the signer's key is unusable: {0}")]
    BadKey(KeyError),
    #[error("the signature does not verify with the signer's key")]
    BadSignature,
}

/// `SHA-256=<base64 of the body's SHA-256>`, the Digest header PeerTube sends and expects.
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body)))
}

/// A Date header value (IMF-fixdate, e.g. `Fri, 27 Nov 2026 02:07:25 GMT`) for `now`.
pub fn date_header(now: SystemTime) -> String {
    httpdate::fmt_http_date(now)
}

// ---------------------------------------------------------------------------------------------
// Signing

/// What an outgoing signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignRequest<'a> {
    /// The HTTP method, any case (`POST`).
    pub method: &'a str,
    /// The URL's path without its query (`/accounts/peertube/inbox`); PeerTube signs the
    /// pathname only, so anything from a `?` on is left out of the signature.
    pub path: &'a str,
    /// The Host header: `host[:port]`, the port only when not the scheme's default.
    pub host: &'a str,
    /// The Date header, an HTTP date (see [`date_header`]).
    pub date: &'a str,
    /// The Digest header (see [`digest`]) for a request with a body, `None` for a GET.
    pub digest: Option<&'a str>,
}

impl SignRequest<'_> {
    /// The `headers` parameter for this request.
    pub fn signed_headers(&self) -> &'static str {
        if self.digest.is_some() {
            SIGNED_HEADERS_WITH_BODY
        } else {
            SIGNED_HEADERS_WITHOUT_BODY
        }
    }
}

/// The text that is signed: one `name: value` line per signed header, joined by `\n`.
pub fn signing_string(req: &SignRequest<'_>) -> String {
    let path = req.path.split_once('?').map_or(req.path, |(p, _)| p);
    let mut s = format!(
        "(request-target): {} {}\nhost: {}\ndate: {}",
        req.method.to_ascii_lowercase(),
        path,
        req.host,
        req.date
    );
    if let Some(d) = req.digest {
        s.push_str("\ndigest: ");
        s.push_str(d);
    }
    s
}

/// The `Signature:` header value for a request signed by `keys` under `key_id` (PeerTube uses
/// the bare actor URL):
/// `keyId="…",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="…"`.
pub fn signature_header(keys: &InstanceKeys, key_id: &str, req: &SignRequest<'_>) -> String {
    let sig = keys.sign_sha256(signing_string(req).as_bytes());
    format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
        req.signed_headers(),
        base64::engine::general_purpose::STANDARD.encode(sig)
    )
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// A Unix time from the `created` or `expires` parameter: its value and its text as sent (the
/// text is what the signing string carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    pub secs: i64,
    pub text: String,
}

/// The parameters of a `Signature:` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    pub key_id: String,
    /// As sent; [`check`] requires it and accepts `rsa-sha256` and `hs2019`.
    pub algorithm: Option<String>,
    /// The signed header names, lower-cased, in order (`["date"]` when the parameter is absent
    /// or empty, as the draft says).
    pub headers: Vec<String>,
    /// The base64 signature, as sent.
    pub signature: String,
    pub created: Option<Timestamp>,
    pub expires: Option<Timestamp>,
}

/// Parses a `Signature:` header value: comma-separated `name="value"` parameters (the quoted
/// value runs to the next `"`, as PeerTube's parser reads it; `created` and `expires` may also
/// be bare integers), optionally after a `Signature ` scheme. Whitespace around names, `=` and
/// commas is allowed. Unknown parameters are ignored; a parameter given twice, a missing
/// `keyId` or `signature`, or anything unparsable is an error.
pub fn parse_signature_header(value: &str) -> Result<SignatureParams, SigError> {
    let mut rest = value.trim_matches(is_ows);
    if let Some(r) = rest.strip_prefix("Signature ") {
        rest = r.trim_start_matches(is_ows);
    }
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;
    let mut created = None;
    let mut expires = None;
    let mut seen: Vec<&str> = Vec::new();

    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| SigError::Malformed("a parameter has no value".into()))?;
        let name = rest[..eq].trim_matches(is_ows);
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(SigError::Malformed(format!("bad parameter name {name:?}")));
        }
        let after = rest[eq + 1..].trim_start_matches(is_ows);
        let (val, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').ok_or_else(|| SigError::Malformed(format!("{name} has no closing quote")))?;
            (&q[..end], &q[end + 1..])
        } else {
            // A bare value: only integers (`created`, `expires`) are sent this way.
            let end = after.find(|c: char| c == ',' || is_ows(c)).unwrap_or(after.len());
            let v = &after[..end];
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(SigError::Malformed(format!("{name}'s value is neither quoted nor a number")));
            }
            (v, &after[end..])
        };
        let tail = tail.trim_start_matches(is_ows);
        rest = match tail.strip_prefix(',') {
            Some(t) => t.trim_start_matches(is_ows),
            None if tail.is_empty() => tail,
            None => return Err(SigError::Malformed(format!("no comma after {name}"))),
        };
        if seen.contains(&name) {
            return Err(SigError::DuplicateParam(name.to_owned()));
        }
        seen.push(name);
        match name {
            "keyId" => key_id = Some(val),
            "algorithm" => algorithm = Some(val),
            "headers" => headers = Some(val),
            "signature" => signature = Some(val),
            "created" => created = Some(timestamp(val, "created")?),
            "expires" => expires = Some(timestamp(val, "expires")?),
            _ => {}
        }
    }

    let key_id = key_id.filter(|k| !k.is_empty()).ok_or(SigError::MissingParam("keyId"))?;
    let signature = signature.filter(|s| !s.is_empty()).ok_or(SigError::MissingParam("signature"))?;
    let mut headers: Vec<String> =
        headers.unwrap_or_default().split_ascii_whitespace().map(str::to_ascii_lowercase).collect();
    if headers.is_empty() {
        headers.push("date".to_owned());
    }
    Ok(SignatureParams {
        key_id: key_id.to_owned(),
        algorithm: algorithm.map(str::to_owned),
        headers,
        signature: signature.to_owned(),
        created,
        expires,
    })
}

/// A Unix time: an integer, or (as the draft allows for `expires`) a decimal, rounded down.
fn timestamp(text: &str, name: &'static str) -> Result<Timestamp, SigError> {
    let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return Err(SigError::BadTimestamp(name));
    }
    let secs = int.parse::<i64>().map_err(|_| SigError::BadTimestamp(name))?;
    Ok(Timestamp { secs, text: text.to_owned() })
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

// ---------------------------------------------------------------------------------------------
// Checking

/// An incoming request, as received.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// The HTTP method, any case.
    pub method: &'a str,
    /// The request target's path and query, exactly as received (`/inbox?x=1`).
    pub path_and_query: &'a str,
    /// The headers, names in lower case (matched case-insensitively all the same); a header
    /// sent several times is signed as its values joined by `", "`, in order. Over HTTP/2 the
    /// caller passes `:authority` as `host`.
    pub headers: &'a [(String, String)],
    /// The raw body, `None` when the request has none.
    pub body: Option<&'a [u8]>,
}

impl IncomingRequest<'_> {
    /// A header's value (several values joined by `", "`), `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim_matches(is_ows));
        let first = values.next()?;
        Some(values.fold(first.to_owned(), |mut acc, v| {
            acc.push_str(", ");
            acc.push_str(v);
            acc
        }))
    }

    fn is_post(&self) -> bool {
        self.method.eq_ignore_ascii_case("POST")
    }
}

/// A signature that passed every check but the cryptographic one: what [`verify`] needs once
/// the signer's key is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'p> {
    /// The text the signer signed.
    pub signing_string: String,
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// The `keyId` parameter.
    pub key_id: &'p str,
}

impl<'p> Verified<'p> {
    /// The signer's actor URL: `keyId` up to a `#` (PeerTube sends the bare actor URL; others
    /// send `<actor>#main-key`). A `keyId` starting with `acct:` needs a WebFinger look-up.
    pub fn actor_url(&self) -> &'p str {
        self.key_id.split_once('#').map_or(self.key_id, |(a, _)| a)
    }
}

/// Checks everything about a signature except the signature itself: algorithm, the signed
/// header list, the clock, the Digest, and builds the signing string. The caller then fetches
/// the key of [`Verified::actor_url`] and calls [`verify`].
///
/// The Date header is checked against `now` whenever it is present and parses, as PeerTube
/// does; a signed Date that does not parse is refused. A Digest header, signed or not, must
/// match the body (an absent body counts as empty).
pub fn check<'p>(
    req: &IncomingRequest<'_>,
    params: &'p SignatureParams,
    now: SystemTime,
) -> Result<Verified<'p>, SigError> {
    let algorithm = params.algorithm.as_deref().ok_or(SigError::MissingParam("algorithm"))?;
    if !algorithm.eq_ignore_ascii_case("rsa-sha256") && !algorithm.eq_ignore_ascii_case("hs2019") {
        return Err(SigError::UnsupportedAlgorithm(algorithm.to_owned()));
    }

    let covers = |h: &str| params.headers.iter().any(|x| x == h);
    let has_body = req.body.is_some_and(|b| !b.is_empty());
    for required in ["(request-target)", "host", "digest"] {
        if required == "digest" && !(req.is_post() || has_body) {
            continue;
        }
        if !covers(required) {
            return Err(SigError::NotCovered(required));
        }
    }
    if !covers("date") && !covers("(created)") {
        return Err(SigError::NoDate);
    }

    let mut signing_string = String::new();
    for (i, name) in params.headers.iter().enumerate() {
        if i > 0 {
            signing_string.push('\n');
        }
        let value = match name.as_str() {
            "(request-target)" => format!("{} {}", req.method.to_ascii_lowercase(), req.path_and_query),
            "(created)" => params.created.as_ref().ok_or(SigError::MissingParam("created"))?.text.clone(),
            "(expires)" => params.expires.as_ref().ok_or(SigError::MissingParam("expires"))?.text.clone(),
            pseudo if pseudo.starts_with('(') => return Err(SigError::UnsupportedPseudoHeader(pseudo.to_owned())),
            header => req.header(header).ok_or_else(|| SigError::MissingHeader(header.to_owned()))?,
        };
        signing_string.push_str(name);
        signing_string.push_str(": ");
        signing_string.push_str(&value);
    }

    if let Some(date) = req.header("date") {
        match httpdate::parse_http_date(&date) {
            Ok(t) => {
                let skew = distance(now, t);
                if skew > Duration::from_secs(CLOCK_SKEW_SECS) {
                    return Err(SigError::ClockSkew(skew.as_secs()));
                }
            }
            Err(_) if covers("date") => return Err(SigError::BadDate(date)),
            Err(_) => {}
        }
    }
    let now_ms = unix_millis(now);
    let skew_ms = i128::from(CLOCK_SKEW_SECS) * 1000;
    if let Some(created) = &params.created {
        let ahead = i128::from(created.secs) * 1000 - now_ms;
        if ahead > skew_ms {
            return Err(SigError::CreatedInFuture(whole_secs(ahead)));
        }
    }
    if let Some(expires) = &params.expires {
        let ago = now_ms - i128::from(expires.secs) * 1000;
        if ago > skew_ms {
            return Err(SigError::Expired(whole_secs(ago)));
        }
    }

    if let Some(sent) = req.header("digest") {
        if sent != digest(req.body.unwrap_or_default()) {
            return Err(SigError::DigestMismatch);
        }
    }

    let signature = super::encoding::lenient_base64().decode(params.signature.trim()).map_err(|_| SigError::BadBase64)?;
    if signature.is_empty() {
        return Err(SigError::BadBase64);
    }
    Ok(Verified { signing_string, signature, key_id: &params.key_id })
}

/// Checks the signature of a [`check`]ed request with the signer's SPKI PEM public key.
pub fn verify(verified: &Verified<'_>, public_spki_pem: &str) -> Result<(), SigError> {
    let data = verified.signing_string.as_bytes();
    keys::verify_sha256(public_spki_pem, data, &verified.signature).map_err(|e| match e {
        KeyError::BadSignature => SigError::BadSignature,
        other => SigError::BadKey(other),
    })
}

fn distance(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b).or_else(|_| b.duration_since(a)).unwrap_or_default()
}

fn unix_millis(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

fn whole_secs(ms: i128) -> u64 {
    u64::try_from(ms / 1000).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

/// Fuzz entry: parses `data` as a `Signature:` header and checks it against a fixed signed POST;
/// must never panic, whatever the input.
pub fn fuzz_one(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let Ok(params) = parse_signature_header(&value) else { return };
    let body: &[u8] = br#"{"type":"Follow"}"#;
    let headers = [
        ("host".to_owned(), "b.example".to_owned()),
        ("date".to_owned(), "Fri, 27 Nov 2026 02:07:25 GMT".to_owned()),
        ("digest".to_owned(), digest(body)),
        ("content-type".to_owned(), "application/activity+json".to_owned()),
    ];
    let req = IncomingRequest {
        method: "POST",
        path_and_query: "/accounts/peertube/inbox",
        headers: &headers,
        body: Some(body),
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_795_745_245);
    if let Ok(v) = check(&req, &params, now) {
        let _ = v.actor_url();
    }
}
