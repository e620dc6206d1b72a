//! RsaSignature2017 Linked Data Signatures, as PeerTube (and Mastodon) make and check them.
//!
//! Pure: no I/O, no clock. The JSON-LD contexts a document may name are bundled in the binary
//! (`contexts/`); any other remote context is refused, never fetched.
//!
//! The algorithm (PeerTube `peertube-jsonld.ts`, symmetric for signing and verifying):
//! * `options` = the signature object minus `type`, `id` and `signatureValue`, with
//!   `@context: ["https://w3id.org/security/v1", {"RsaSignature2017": ...}]`;
//! * `document` = the activity minus `signature`;
//! * each is turned into RDF and canonicalised (URDNA2015), as N-Quads;
//! * `toSign = hex(sha256(options)) + hex(sha256(document))`, signed with RSASSA-PKCS1-v1_5
//!   SHA-256, base64.
//!
//! Interop details that decide the hashes, matching jsonld.js 8.3 / rdf-canonize 3.4:
//! * **Legacy N-Quads escaping**: only `"`, `\`, LF and CR are escaped in literals; TAB and the
//!   other control characters stay raw. rdf-canonize uses this serialisation for the blank-node
//!   hashes too, so blank-node labels (not only the output bytes) can differ from RDFC-1.0 when a
//!   literal next to a blank node holds such a character. That is why the canonicalisation
//!   below is our own URDNA2015 over `oxrdf` quads; `oxrdf`'s RDFC-1.0 gives the same labels
//!   whenever no such character is involved (the tests check both agree), but it has no work
//!   bound either. Lines are sorted in UTF-16 code-unit order, as JavaScript sorts strings.
//! * **Numbers** are converted as JavaScript does: a JSON number becomes an IEEE double first,
//!   then `xsd:integer` via `toFixed(0)` or `xsd:double` via `toExponential(15)`.
//! * **Safe mode** (`safe: true`, PeerTube ≥ 6.1): a property that the contexts do not define
//!   (the ActivityStreams context maps it to a blank-node predicate through `"@vocab": "_:"`,
//!   which jsonld.js would silently drop otherwise), an explicit `_:` property, or a relative
//!   IRI reference is an error, not a silent omission. So are what the JSON-LD parser would
//!   leave out where jsonld.js would not (IRIs or language tags it finds invalid), a document
//!   stating nothing, and the rare numbers whose RDF form the two would write differently.
//!
//! Verification hashes the received document as it is. PeerTube first compacts it against its
//! own contexts; compaction preserves the RDF (apart from the undefined terms refused here), so
//! the canonical N-Quads, hence the hashes, are the same.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use oxjsonld::{JsonLdParser, JsonLdRemoteDocument};
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

mod canonical;
mod numbers;
mod safe_mode;
#[cfg(test)]
mod tests;

use canonical::{canonical_nquads, sha256_hex};
use numbers::write_json;
use safe_mode::{check_json_shape, check_probe_quad, safe_mode_probe};

/// The `type` of the signatures made and checked here.
pub const SIGNATURE_TYPE: &str = "RsaSignature2017";
/// The ActivityStreams 2.0 context.
pub const ACTIVITYSTREAMS_CONTEXT_URL: &str = "https://www.w3.org/ns/activitystreams";
/// The security v1 context (signature options, `publicKey`, `publicKeyPem`).
pub const SECURITY_V1_CONTEXT_URL: &str = "https://w3id.org/security/v1";
/// The identity v1 context (Mastodon's signature options use it).
pub const IDENTITY_V1_CONTEXT_URL: &str = "https://w3id.org/identity/v1";
/// The IRI of the signature type, as PeerTube's contexts define the `RsaSignature2017` term.
pub const RSA_SIGNATURE_2017_IRI: &str = "https://w3id.org/security#RsaSignature2017";

const ACTIVITYSTREAMS_CONTEXT: &str = include_str!("../contexts/activitystreams.jsonld");
const SECURITY_V1_CONTEXT: &str = include_str!("../contexts/security-v1.jsonld");
const IDENTITY_V1_CONTEXT: &str = include_str!("../contexts/identity-v1.jsonld");
const PEERTUBE_CONTEXTS: &str = include_str!("../contexts/peertube.json");

/// Where undefined terms land in the safe-mode check (it replaces the `"_:"` vocabulary).
const UNDEFINED_TERM_VOCAB: &str = "urn:x-vidseed:undefined-term:";
/// The base IRI of the safe-mode check: a relative reference resolves into this scheme.
const RELATIVE_BASE: &str = "x-vidseed-relative:/";
const RELATIVE_SCHEME: &str = "x-vidseed-relative:";

/// Work allowed to the blank-node canonicalisation (calls plus permutations) before a document
/// is refused as too complex: ordinary activities need a handful; poisoned graphs need
/// factorially many.
const CANONICALISATION_BUDGET: u64 = 50_000;

/// Why a document cannot be canonicalised, signed or verified. Messages are fit for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("a JSON-LD document must be a JSON object or array")]
    NotADocument,
    #[error("a signed document must be a JSON object")]
    NotAnObject,
    #[error("context not bundled: {0}")]
    ContextNotBundled(String),
    #[error("term not defined by the document's contexts: {0}")]
    UndefinedTerm(String),
    #[error("relative IRI reference: {0:?}")]
    RelativeIri(String),
    #[error("invalid IRI: {0:?}")]
    InvalidIri(String),
    #[error("invalid language tag: {0:?}")]
    InvalidLanguage(String),
    #[error("invalid JSON-LD: {0}")]
    JsonLd(String),
    #[error("the number {0} has no RDF form shared with jsonld.js")]
    UnsupportedNumber(String),
    #[error("the blank nodes are too intricate to canonicalise")]
    TooComplex,
    #[error("created must be an ISO 8601 date-time: {0:?}")]
    Created(String),
    #[error("the document has no signature object")]
    MissingSignature,
    #[error("unsupported signature type {0:?}")]
    SignatureType(String),
    #[error("the signature has no {0} string")]
    SignatureField(&'static str),
    #[error("signatureValue is not base64")]
    SignatureEncoding,
    #[error("the private key is unusable: {0}")]
    PrivateKey(String),
    #[error("the public key is unusable: {0}")]
    PublicKey(String),
    #[error("the signature does not verify")]
    BadSignature,
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// The canonical N-Quads of a JSON-LD document, byte for byte as jsonld.js 8.3
/// `normalize(doc, {algorithm: 'URDNA2015', format: 'application/n-quads', safe: true})`
/// with the bundled contexts makes them.
pub fn canonicalize(doc: &Value) -> Result<String, LdError> {
    if !matches!(doc, Value::Object(_) | Value::Array(_)) {
        return Err(LdError::NotADocument);
    }
    check_json_shape(doc)?;
    let mut json = String::new();
    write_json(doc, false, &mut json)?;
    let quads = to_quads(json.as_bytes(), false)?;

    // Safe mode: run again with undefined terms and relative references made visible.
    let probe = safe_mode_probe(doc);
    let mut probe_json = String::new();
    write_json(&probe, false, &mut probe_json)?;
    for quad in to_quads(probe_json.as_bytes(), true)? {
        check_probe_quad(&quad)?;
    }
    if quads.is_empty() {
        // jsonld.js refuses empty and id-only top-level objects ("empty object", "object with
        // only @id"); a signature over no statement at all would vouch for nothing either.
        return Err(LdError::JsonLd("the document states nothing".into()));
    }

    canonical_nquads(&quads)
}

/// The options document hashed for a signature: the signature object minus `type`, `id` and
/// `signatureValue`, under PeerTube's options context.
pub fn options_document(signature: &Value) -> Result<Value, LdError> {
    let sig = signature.as_object().ok_or(LdError::MissingSignature)?;
    let mut options = Map::new();
    options.insert(
        "@context".into(),
        serde_json::json!([SECURITY_V1_CONTEXT_URL, { SIGNATURE_TYPE: RSA_SIGNATURE_2017_IRI }]),
    );
    for (key, value) in sig {
        if !matches!(key.as_str(), "type" | "id" | "signatureValue" | "@context") {
            options.insert(key.clone(), value.clone());
        }
    }
    Ok(Value::Object(options))
}

/// The string that is signed: `hex(sha256(canonical(options))) + hex(sha256(canonical(doc
/// without signature)))`, 128 lowercase hex digits. `signature` is the signature object (its
/// `type`, `id` and `signatureValue` are ignored).
pub fn create_hash(doc: &Value, signature: &Value) -> Result<String, LdError> {
    let mut document = doc.as_object().ok_or(LdError::NotAnObject)?.clone();
    document.remove("signature");
    let options_nquads = canonicalize(&options_document(signature)?)?;
    let document_nquads = canonicalize(&Value::Object(document))?;
    Ok(format!("{}{}", sha256_hex(options_nquads.as_bytes()), sha256_hex(document_nquads.as_bytes())))
}

/// Signs `doc` as PeerTube does: returns it with `signature: {type: "RsaSignature2017", creator,
/// created, signatureValue}` (replacing any previous signature). `created` is an ISO 8601
/// date-time such as `2024-09-24T10:00:00.000Z`; `creator` is the signer's key id (PeerTube puts
/// the actor URL there, Mastodon `<actor>#main-key`).
pub fn sign(doc: &Value, creator_key_id: &str, created: &str, private_key: &RsaKeyPair) -> Result<Value, LdError> {
    let mut signed = doc.as_object().ok_or(LdError::NotAnObject)?.clone();
    if !is_iso8601_date_time(created) {
        return Err(LdError::Created(created.to_owned()));
    }
    let mut signature = Map::new();
    signature.insert("type".into(), SIGNATURE_TYPE.into());
    signature.insert("creator".into(), creator_key_id.into());
    signature.insert("created".into(), created.into());
    signed.remove("signature");
    let to_sign = create_hash(&Value::Object(signed.clone()), &Value::Object(signature.clone()))?;

    let mut raw = vec![0; private_key.public().modulus_len()];
    private_key
        .sign(&ring_sig::RSA_PKCS1_SHA256, &SystemRandom::new(), to_sign.as_bytes(), &mut raw)
        .map_err(|_| LdError::PrivateKey("signing failed".into()))?;
    signature.insert("signatureValue".into(), base64::engine::general_purpose::STANDARD.encode(raw).into());
    signed.insert("signature".into(), Value::Object(signature));
    Ok(Value::Object(signed))
}

/// Checks the RsaSignature2017 signature of `doc` with the signer's SPKI PEM public key
/// (`BEGIN PUBLIC KEY`; `BEGIN RSA PUBLIC KEY` is refused, as PeerTube does).
pub fn verify(doc: &Value, public_spki_pem: &str) -> Result<(), LdError> {
    let signature = doc.as_object().ok_or(LdError::NotAnObject)?.get("signature").ok_or(LdError::MissingSignature)?;
    let sig = signature.as_object().ok_or(LdError::MissingSignature)?;
    match sig.get("type") {
        Some(Value::String(t)) if t == SIGNATURE_TYPE => {}
        Some(Value::String(t)) => return Err(LdError::SignatureType(t.clone())),
        _ => return Err(LdError::SignatureField("type")),
    }
    let value = sig.get("signatureValue").and_then(Value::as_str).ok_or(LdError::SignatureField("signatureValue"))?;
    if sig.get("creator").and_then(Value::as_str).is_none() {
        return Err(LdError::SignatureField("creator"));
    }
    if sig.get("created").and_then(Value::as_str).is_none() {
        return Err(LdError::SignatureField("created"));
    }
    let raw = super::encoding::lenient_base64().decode(value.trim()).map_err(|_| LdError::SignatureEncoding)?;
    let public_key = super::keys::spki_to_pkcs1(public_spki_pem).map_err(|e| LdError::PublicKey(e.to_string()))?;
    let to_verify = create_hash(doc, signature)?;
    UnparsedPublicKey::new(&ring_sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, &public_key)
        .verify(to_verify.as_bytes(), &raw)
        .map_err(|_| LdError::BadSignature)
}

/// The key id that signed `doc` (`signature.creator`), to find the key to verify with. The
/// actor is the part before any `#`.
pub fn signature_creator(doc: &Value) -> Option<&str> {
    doc.get("signature")?.get("creator")?.as_str()
}

/// A `ring` signing key from a private key PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what PeerTube
/// stores) or unencrypted PKCS#8 (`BEGIN PRIVATE KEY`).
pub fn private_key_from_pem(pem: &str) -> Result<RsaKeyPair, LdError> {
    super::keys::key_pair_from_pem(pem).map_err(|e| LdError::PrivateKey(e.to_string()))
}

/// The `@context` PeerTube puts on an activity or object of `kind` (`"CacheFile"`, `"Follow"`,
/// `"Video"`, `"Actor"`, ...: PeerTube's context types): ActivityStreams, security v1, the
/// `RsaSignature2017` term, then for most kinds an object with the `pt`/`sc` prefixes and the
/// kind's terms. `None` for an unknown kind.
pub fn peertube_context(kind: &str) -> Option<Value> {
    static TABLE: OnceLock<Value> = OnceLock::new();
    let table = TABLE.get_or_init(|| serde_json::from_str(PEERTUBE_CONTEXTS).unwrap_or(Value::Null));
    let terms = table.get("types")?.get(kind)?;
    let mut context = table.get("base")?.as_array()?.clone();
    if let Some(terms) = terms.as_object() {
        let mut extra = table.get("prefixes")?.as_object()?.clone();
        extra.extend(terms.iter().map(|(k, v)| (k.clone(), v.clone())));
        context.push(Value::Object(extra));
    }
    Some(Value::Array(context))
}

/// Fuzz entry: any bytes; JSON is canonicalised and, when it carries a signature, verified
/// against a fixed key. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMRGLlXg1jmhHzCjxq3QNALaRExmPTrY\nOmOQbzyrZZqsdRDxo9nvBVYIjkgLZOzJ3Cvu8K2Ibx1/1K+FfV3pcQ8CAwEAAQ==\n-----END PUBLIC KEY-----\n";
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = canonicalize(&doc);
    if signature_creator(&doc).is_some() {
        let _ = verify(&doc, KEY);
    }
}

// ---------------------------------------------------------------------------------------------
// JSON-LD to RDF
// ---------------------------------------------------------------------------------------------

/// The bundled document for a context URL; in the safe-mode probe, ActivityStreams' `"_:"`
/// vocabulary is replaced by the undefined-term one.
fn bundled_context(url: &str, probe: bool) -> Option<&'static str> {
    static AS_PROBE: OnceLock<String> = OnceLock::new();
    match url {
        "https://www.w3.org/ns/activitystreams" | "http://www.w3.org/ns/activitystreams" => Some(if probe {
            AS_PROBE.get_or_init(|| {
                ACTIVITYSTREAMS_CONTEXT.replacen(
                    "\"@vocab\": \"_:\"",
                    &format!("\"@vocab\": \"{UNDEFINED_TERM_VOCAB}\""),
                    1,
                )
            })
        } else {
            ACTIVITYSTREAMS_CONTEXT
        }),
        SECURITY_V1_CONTEXT_URL => Some(SECURITY_V1_CONTEXT),
        IDENTITY_V1_CONTEXT_URL => Some(IDENTITY_V1_CONTEXT),
        _ => None,
    }
}

/// JSON-LD text to RDF quads (deduplicated, in document order). `probe` selects the safe-mode
/// probe: bundled AS context with the undefined-term vocabulary, and the sentinel base IRI.
fn to_quads(json: &[u8], probe: bool) -> Result<Vec<Quad>, LdError> {
    let missing: Arc<Mutex<Option<String>>> = Arc::default();
    let record = Arc::clone(&missing);
    let mut parser = JsonLdParser::new();
    if probe {
        // Lenient: IRIs, blank node ids and language tags come out unchecked, so that the
        // probe sees (and refuses) what the strict run silently leaves out.
        parser = parser.lenient().with_base_iri(RELATIVE_BASE).map_err(|e| LdError::JsonLd(e.to_string()))?;
    }
    let quads =
        parser.for_slice(json).with_load_document_callback(move |url, _options| match bundled_context(url, probe) {
            Some(doc) => Ok(JsonLdRemoteDocument { document: doc.as_bytes().to_vec(), document_url: url.to_owned() }),
            None => {
                *record.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.to_owned());
                Err(format!("context not bundled: {url}").into())
            }
        });
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for quad in quads {
        match quad {
            Ok(quad) => {
                if seen.insert(quad.clone()) {
                    out.push(quad);
                }
            }
            Err(e) => {
                if let Some(url) = missing.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    return Err(LdError::ContextNotBundled(url));
                }
                return Err(LdError::JsonLd(e.to_string()));
            }
        }
    }
    Ok(out)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, what `Date.toISOString()` and other servers emit.
fn is_iso8601_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}
