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

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use oxjsonld::{JsonLdParser, JsonLdRemoteDocument};
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, RsaKeyPair, UnparsedPublicKey};
use rsa::pkcs8::der::{Decode, SecretDocument};
use rsa::pkcs8::{Document, SubjectPublicKeyInfoRef};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

#[cfg(test)]
mod tests;

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

const ACTIVITYSTREAMS_CONTEXT: &str = include_str!("contexts/activitystreams.jsonld");
const SECURITY_V1_CONTEXT: &str = include_str!("contexts/security-v1.jsonld");
const IDENTITY_V1_CONTEXT: &str = include_str!("contexts/identity-v1.jsonld");
const PEERTUBE_CONTEXTS: &str = include_str!("contexts/peertube.json");

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
    let raw = lenient_base64().decode(value.trim()).map_err(|_| LdError::SignatureEncoding)?;
    let public_key = spki_to_pkcs1(public_spki_pem)?;
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
    let text = normalise_pem(pem);
    let (label, der) = SecretDocument::from_pem(&text).map_err(|e| LdError::PrivateKey(e.to_string()))?;
    match label {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der.as_bytes()),
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(der.as_bytes()),
        other => return Err(LdError::PrivateKey(format!("a {other:?} PEM is not an RSA private key"))),
    }
    .map_err(|e| LdError::PrivateKey(e.to_string()))
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

/// The document for the safe-mode probe: every `"@vocab": "_:"` replaced by the undefined-term
/// vocabulary, which is also put first in the top-level context (for documents without a
/// vocabulary, where jsonld.js drops undefined terms with an "invalid property" event).
fn safe_mode_probe(doc: &Value) -> Value {
    fn rewrite_vocab(value: &mut Value, in_context: bool) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if in_context && key == "@vocab" && v.as_str().is_some_and(|s| s.starts_with("_:")) {
                        *v = UNDEFINED_TERM_VOCAB.into();
                    } else {
                        rewrite_vocab(v, in_context || key == "@context");
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| rewrite_vocab(v, in_context)),
            _ => {}
        }
    }
    fn prepend_vocab(value: &mut Value) {
        if let Value::Object(map) = value {
            let mut context = vec![serde_json::json!({ "@vocab": UNDEFINED_TERM_VOCAB })];
            match map.remove("@context") {
                Some(Value::Array(items)) => context.extend(items),
                Some(other) => context.push(other),
                None => {}
            }
            map.insert("@context".into(), Value::Array(context));
        }
    }
    let mut probe = doc.clone();
    rewrite_vocab(&mut probe, false);
    match &mut probe {
        Value::Array(items) => items.iter_mut().for_each(prepend_vocab),
        other => prepend_vocab(other),
    }
    probe
}

/// Refuses what jsonld.js safe mode refuses (or what the strict conversion would silently
/// leave out), as seen in a quad of the lenient probe.
fn check_probe_quad(quad: &Quad) -> Result<(), LdError> {
    if let Some(term) = quad.predicate.as_str().strip_prefix(UNDEFINED_TERM_VOCAB) {
        return Err(LdError::UndefinedTerm(term.to_owned()));
    }
    let mut iris = vec![quad.predicate.as_str()];
    let mut blank_nodes = Vec::new();
    match &quad.subject {
        NamedOrBlankNode::NamedNode(n) => iris.push(n.as_str()),
        NamedOrBlankNode::BlankNode(b) => blank_nodes.push(b.as_str()),
    }
    match &quad.object {
        Term::NamedNode(n) => iris.push(n.as_str()),
        Term::BlankNode(b) => blank_nodes.push(b.as_str()),
        Term::Literal(literal) => {
            iris.push(literal.datatype().as_str());
            if let Some(language) = literal.language() {
                if !is_language_tag(language) {
                    return Err(LdError::InvalidLanguage(language.to_owned()));
                }
            }
        }
    }
    match &quad.graph_name {
        GraphName::NamedNode(n) => iris.push(n.as_str()),
        GraphName::BlankNode(b) => blank_nodes.push(b.as_str()),
        GraphName::DefaultGraph => {}
    }
    for iri in iris {
        if let Some(rest) = iri.strip_prefix(RELATIVE_SCHEME) {
            return Err(LdError::RelativeIri(rest.strip_prefix('/').unwrap_or(rest).to_owned()));
        }
        // jsonld.js takes an IRI with whitespace for a relative reference.
        if iri.chars().any(char::is_whitespace) {
            return Err(LdError::RelativeIri(iri.to_owned()));
        }
        if NamedNode::new(iri).is_err() {
            return Err(LdError::InvalidIri(iri.to_owned()));
        }
    }
    match blank_nodes.into_iter().find(|id| BlankNode::new(*id).is_err()) {
        Some(id) => Err(LdError::JsonLd(format!("invalid blank node identifier _:{id}"))),
        None => Ok(()),
    }
}

/// A language tag both jsonld.js (`[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`) and BCP 47 accept.
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let first_ok =
        subtags.next().is_some_and(|t| (1..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags.all(|t| (1..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        && Literal::new_language_tagged_literal("", tag).is_ok()
}

/// What jsonld.js safe mode refuses whatever the context: explicit blank-node predicates
/// (`_:size`, as PeerTube < 6.1 emitted), property names no IRI can hold (whitespace, control
/// characters, `<>"{}|\^``), `{"@value": null}` and objects with only `@language`.
fn check_json_shape(value: &Value) -> Result<(), LdError> {
    match value {
        Value::Object(map) => {
            if map.get("@value").is_some_and(Value::is_null) {
                return Err(LdError::JsonLd("null @value".into()));
            }
            if map.contains_key("@language") && map.keys().all(|k| k == "@language" || k == "@context") {
                return Err(LdError::JsonLd("object with only @language".into()));
            }
            for (key, v) in map {
                if key == "@context" {
                    continue;
                }
                let unusable = key.starts_with("_:")
                    || key.chars().any(|c| c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(c));
                if unusable && !key.starts_with('@') {
                    return Err(LdError::UndefinedTerm(key.clone()));
                }
                check_json_shape(v)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_json_shape),
        _ => Ok(()),
    }
}

/// JSON text for the JSON-LD parser, with every number (outside contexts) rewritten to the
/// lexical form jsonld.js would give its RDF literal.
fn write_json(value: &Value, in_context: bool, out: &mut String) -> Result<(), LdError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if in_context => out.push_str(&n.to_string()),
        Value::Number(n) => out.push_str(&js_number_lexical(n)?),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, in_context, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_json(item, in_context || key == "@context", out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The JSON number lexical whose RDF conversion (by the JSON-LD parser) equals jsonld.js's:
/// the value as an IEEE double; "double" when JavaScript's `String(v)` has a `.` or |v| ≥ 1e21,
/// written as `toExponential(15)` with trailing zeros trimmed (`1.25E1`); otherwise an integer,
/// `toFixed(0)`. Refuses the few values the parser would classify differently.
fn js_number_lexical(n: &serde_json::Number) -> Result<String, LdError> {
    let v = n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| LdError::UnsupportedNumber(n.to_string()))?;
    let unsupported = || LdError::UnsupportedNumber(n.to_string());
    let abs = v.abs();
    // Shortest round-trip digits, as JavaScript's Number::toString picks them.
    let shortest = format!("{abs:e}");
    let (mantissa, exponent) = shortest.split_once('e').ok_or_else(unsupported)?;
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    let exponent: i32 = exponent.parse().map_err(|_| unsupported())?;
    let point_position = exponent + 1; // value = 0.d1d2... × 10^point_position
    let plain = v == 0.0 || (-6 < point_position && point_position <= 21);
    let has_dot = if plain { v != 0.0 && (point_position <= 0 || digits as i32 > point_position) } else { digits > 1 };
    if has_dot || abs >= 1e21 {
        let exact = format!("{v:.15e}");
        let (m, e) = exact.split_once('e').ok_or_else(unsupported)?;
        let m = m.trim_end_matches('0');
        let m = if m.ends_with('.') { format!("{m}0") } else { m.to_owned() };
        let significant = m.trim_start_matches('-').trim_end_matches(".0").chars().filter(char::is_ascii_digit).count();
        let e: i32 = e.parse().map_err(|_| unsupported())?;
        // The parser takes mantissas that fit in an integer below 1e21 for integers.
        if e + 1 >= significant as i32 && e + 1 < 21 {
            return Err(unsupported());
        }
        Ok(format!("{m}E{e}"))
    } else if abs < 1e-6 && v != 0.0 {
        // `toFixed(0)` of a tiny value: "0", or "-0", which the parser would turn into "0".
        if v < 0.0 {
            Err(unsupported())
        } else {
            Ok("0".into())
        }
    } else if abs >= 1e20 {
        // 21 digits: the parser would make it a double.
        Err(unsupported())
    } else if v == 0.0 {
        Ok("0".into())
    } else {
        Ok(format!("{v:.0}"))
    }
}

// ---------------------------------------------------------------------------------------------
// URDNA2015 with rdf-canonize 3.x's legacy serialisation
// ---------------------------------------------------------------------------------------------

/// Canonical N-Quads: blank nodes relabelled `_:c14nN`, lines sorted as JavaScript sorts.
fn canonical_nquads(quads: &[Quad]) -> Result<String, LdError> {
    let labels = Canonicaliser::new(quads).labels()?;
    let mut lines: Vec<String> = quads
        .iter()
        .map(|q| nquad(q, &|b: &str| labels.get(b).map_or_else(|| format!("_:{b}"), Clone::clone)))
        .collect();
    lines.sort_by(|a, b| cmp_utf16(a, b));
    Ok(lines.concat())
}

/// JavaScript's string order (UTF-16 code units).
fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// One N-Quads line as rdf-canonize 3.x writes it; `label` gives a blank node's written form
/// (with its `_:`).
fn nquad(quad: &Quad, label: &dyn Fn(&str) -> String) -> String {
    let mut line = String::new();
    match &quad.subject {
        NamedOrBlankNode::NamedNode(n) => {
            let _ = write!(line, "<{}>", n.as_str());
        }
        NamedOrBlankNode::BlankNode(b) => line.push_str(&label(b.as_str())),
    }
    let _ = write!(line, " <{}> ", quad.predicate.as_str());
    match &quad.object {
        Term::NamedNode(n) => {
            let _ = write!(line, "<{}>", n.as_str());
        }
        Term::BlankNode(b) => line.push_str(&label(b.as_str())),
        Term::Literal(literal) => {
            line.push('"');
            escape_literal(literal.value(), &mut line);
            line.push('"');
            if let Some(language) = literal.language() {
                line.push('@');
                line.push_str(language);
            } else if literal.datatype() != xsd::STRING && literal.datatype() != rdf::LANG_STRING {
                let _ = write!(line, "^^<{}>", literal.datatype().as_str());
            }
        }
    }
    match &quad.graph_name {
        GraphName::DefaultGraph => {}
        GraphName::NamedNode(n) => {
            let _ = write!(line, " <{}>", n.as_str());
        }
        GraphName::BlankNode(b) => {
            line.push(' ');
            line.push_str(&label(b.as_str()));
        }
    }
    line.push_str(" .\n");
    line
}

/// rdf-canonize 3.x literal escaping: `"`, `\`, LF and CR only.
fn escape_literal(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Blank node ids → issued identifiers (with `_:`), in issue order.
#[derive(Clone)]
struct Issuer {
    prefix: &'static str,
    issued: HashMap<String, String>,
    order: Vec<String>,
}

impl Issuer {
    fn new(prefix: &'static str) -> Issuer {
        Issuer { prefix, issued: HashMap::new(), order: Vec::new() }
    }

    fn get(&self, id: &str) -> Option<&str> {
        self.issued.get(id).map(String::as_str)
    }

    fn issue(&mut self, id: &str) -> String {
        if let Some(existing) = self.issued.get(id) {
            return existing.clone();
        }
        let new = format!("{}{}", self.prefix, self.order.len());
        self.issued.insert(id.to_owned(), new.clone());
        self.order.push(id.to_owned());
        new
    }
}

fn blank_nodes_of(quad: &Quad) -> [Option<(&str, &'static str)>; 3] {
    [
        match &quad.subject {
            NamedOrBlankNode::BlankNode(b) => Some((b.as_str(), "s")),
            NamedOrBlankNode::NamedNode(_) => None,
        },
        match &quad.object {
            Term::BlankNode(b) => Some((b.as_str(), "o")),
            _ => None,
        },
        match &quad.graph_name {
            GraphName::BlankNode(b) => Some((b.as_str(), "g")),
            _ => None,
        },
    ]
}

/// The URDNA2015 / RDFC-1.0 blank node labelling, hashing with the legacy serialisation.
struct Canonicaliser<'a> {
    quads: &'a [Quad],
    /// Blank node → indices of the quads it occurs in, blank nodes in order of appearance.
    mentions: Vec<(&'a str, Vec<usize>)>,
    index: HashMap<&'a str, usize>,
    first_degree: Vec<String>,
    canonical: Issuer,
    budget: u64,
}

impl<'a> Canonicaliser<'a> {
    fn new(quads: &'a [Quad]) -> Canonicaliser<'a> {
        let mut mentions: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut index = HashMap::new();
        for (i, quad) in quads.iter().enumerate() {
            for (id, _) in blank_nodes_of(quad).into_iter().flatten() {
                let slot = *index.entry(id).or_insert_with(|| {
                    mentions.push((id, Vec::new()));
                    mentions.len() - 1
                });
                if mentions[slot].1.last() != Some(&i) {
                    mentions[slot].1.push(i);
                }
            }
        }
        let mut canonicaliser = Canonicaliser {
            quads,
            mentions,
            index,
            first_degree: Vec::new(),
            canonical: Issuer::new("_:c14n"),
            budget: CANONICALISATION_BUDGET,
        };
        canonicaliser.first_degree =
            (0..canonicaliser.mentions.len()).map(|slot| canonicaliser.hash_first_degree(slot)).collect();
        canonicaliser
    }

    fn spend(&mut self) -> Result<(), LdError> {
        self.budget = self.budget.checked_sub(1).ok_or(LdError::TooComplex)?;
        Ok(())
    }

    fn hash_first_degree(&self, slot: usize) -> String {
        let (id, quads) = &self.mentions[slot];
        let label = |b: &str| if b == *id { "_:a".to_owned() } else { "_:z".to_owned() };
        let mut lines: Vec<String> = quads.iter().map(|&i| nquad(&self.quads[i], &label)).collect();
        lines.sort_by(|a, b| cmp_utf16(a, b));
        sha256_hex(lines.concat().as_bytes())
    }

    fn labels(mut self) -> Result<HashMap<String, String>, LdError> {
        let mut by_hash: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (slot, hash) in self.first_degree.iter().enumerate() {
            by_hash.entry(hash.as_str()).or_default().push(slot);
        }
        let mut shared = Vec::new();
        for slots in by_hash.into_values() {
            if let [only] = slots[..] {
                self.canonical.issue(self.mentions[only].0);
            } else {
                shared.push(slots);
            }
        }
        for slots in shared {
            let mut results = Vec::new();
            for slot in slots {
                let id = self.mentions[slot].0;
                if self.canonical.get(id).is_some() {
                    continue;
                }
                let mut temporary = Issuer::new("_:b");
                temporary.issue(id);
                results.push(self.hash_n_degree(slot, &temporary)?);
            }
            results.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, issuer) in results {
                for id in &issuer.order {
                    self.canonical.issue(id);
                }
            }
        }
        Ok(self.canonical.issued)
    }

    fn hash_related(&self, related: &str, quad: &Quad, issuer: &Issuer, position: &str) -> String {
        let mut input = position.to_owned();
        if position != "g" {
            let _ = write!(input, "<{}>", quad.predicate.as_str());
        }
        match self.canonical.get(related).or_else(|| issuer.get(related)) {
            Some(id) => input.push_str(id),
            None => input.push_str(&self.first_degree[self.index[related]]),
        }
        sha256_hex(input.as_bytes())
    }

    fn hash_n_degree(&mut self, slot: usize, issuer: &Issuer) -> Result<(String, Issuer), LdError> {
        self.spend()?;
        let id = self.mentions[slot].0;
        let mut related_by_hash: BTreeMap<String, Vec<&'a str>> = BTreeMap::new();
        for &i in &self.mentions[slot].1 {
            let quad = &self.quads[i];
            for (related, position) in blank_nodes_of(quad).into_iter().flatten() {
                if related != id {
                    let hash = self.hash_related(related, quad, issuer, position);
                    related_by_hash.entry(hash).or_default().push(related);
                }
            }
        }
        let mut issuer = issuer.clone();
        let mut data = String::new();
        for (hash, mut related) in related_by_hash {
            data.push_str(&hash);
            let mut chosen: Option<(String, Issuer)> = None;
            let mut permutations = Permutations::new(related.len());
            while let Some(swap) = permutations.next_swap() {
                self.spend()?;
                if let Some((i, j)) = swap {
                    related.swap(i, j);
                }
                if let Some(candidate) = self.try_path(&related, &issuer, chosen.as_ref().map(|c| c.0.as_str()))? {
                    if chosen.as_ref().is_none_or(|c| candidate.0 < c.0) {
                        chosen = Some(candidate);
                    }
                }
            }
            if let Some((path, chosen_issuer)) = chosen {
                data.push_str(&path);
                issuer = chosen_issuer;
            }
        }
        Ok((sha256_hex(data.as_bytes()), issuer))
    }

    /// The path for one order of related blank nodes, or `None` once it exceeds `best`.
    fn try_path(
        &mut self,
        related: &[&'a str],
        issuer: &Issuer,
        best: Option<&str>,
    ) -> Result<Option<(String, Issuer)>, LdError> {
        let worse = |path: &str| best.is_some_and(|best| path > best);
        let mut issuer = issuer.clone();
        let mut path = String::new();
        let mut recursion = Vec::new();
        for &node in related {
            if let Some(id) = self.canonical.get(node) {
                path.push_str(id);
            } else {
                if issuer.get(node).is_none() {
                    recursion.push(node);
                }
                path.push_str(&issuer.issue(node));
            }
            if worse(&path) {
                return Ok(None);
            }
        }
        for node in recursion {
            let (hash, result_issuer) = self.hash_n_degree(self.index[node], &issuer)?;
            path.push_str(&issuer.issue(node));
            let _ = write!(path, "<{hash}>");
            issuer = result_issuer;
            if worse(&path) {
                return Ok(None);
            }
        }
        Ok(Some((path, issuer)))
    }
}

/// All orders of `n` items by Heap's algorithm: each order is the previous one with one swap.
struct Permutations {
    counters: Vec<usize>,
    level: usize,
    started: bool,
}

impl Permutations {
    fn new(n: usize) -> Permutations {
        Permutations { counters: vec![0; n], level: 1, started: false }
    }

    /// `Some(None)` for the first order (as given), then `Some(Some((i, j)))`: swap items `i`
    /// and `j` for the next order; `None` when all orders were given.
    fn next_swap(&mut self) -> Option<Option<(usize, usize)>> {
        if !self.started {
            self.started = true;
            return Some(None);
        }
        while self.level < self.counters.len() {
            let level = self.level;
            if self.counters[level] < level {
                let other = if level.is_multiple_of(2) { 0 } else { self.counters[level] };
                self.counters[level] += 1;
                self.level = 1;
                return Some(Some((other, level)));
            }
            self.counters[level] = 0;
            self.level += 1;
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and dates
// ---------------------------------------------------------------------------------------------

/// The PKCS#1 `RSAPublicKey` DER inside an SPKI PEM.
fn spki_to_pkcs1(pem: &str) -> Result<Vec<u8>, LdError> {
    let text = normalise_pem(pem);
    if text.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        return Err(LdError::PublicKey(
            "PKCS#1 public keys are refused: an SPKI key (BEGIN PUBLIC KEY) is needed".into(),
        ));
    }
    let (label, der) = Document::from_pem(&text).map_err(|e| LdError::PublicKey(e.to_string()))?;
    if label != "PUBLIC KEY" {
        return Err(LdError::PublicKey(format!("a {label:?} PEM is not a public key")));
    }
    let spki = SubjectPublicKeyInfoRef::from_der(der.as_bytes()).map_err(|e| LdError::PublicKey(e.to_string()))?;
    if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(LdError::PublicKey("not an RSA key".into()));
    }
    spki.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| LdError::PublicKey("the key's bit string has unused bits".into()))
}

fn normalise_pem(pem: &str) -> String {
    let mut text = pem.trim().replace("\r\n", "\n");
    text.push('\n');
    text
}

/// Base64 as Node's decoder takes it: padding optional.
fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
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
