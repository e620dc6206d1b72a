use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;

/// Made with PeerTube's own HTTP Signature library: the header (its signature value cut short),
/// the signing string and the verification result.
const SAMPLE: &str = include_str!("../../../tests-data/http-signature-sample.txt");
/// Holds a PeerTube-made key pair (and an RsaSignature2017 signature, see the keys tests).
const VECTOR: &str = include_str!("../../../tests-data/rsasig2017-cachefile.json");

/// The sample's body: its digest is the sample's Digest.
const BODY: &[u8] = br#"{"type":"Follow"}"#;
const DATE: &str = "Fri, 27 Nov 2026 02:07:25 GMT";
const DATE_UNIX: u64 = 1_795_745_245;
const ACTOR: &str = "https://a.example/accounts/peertube";
/// The sample's signing string signed with the vector's key, made by a separate RSA
/// implementation (PKCS#1 v1.5 is deterministic, so ours must be byte-identical). The sample
/// itself was signed with a key that is not among the vectors, and its signature value is cut
/// short, so it cannot be checked.
const SAMPLE_SIGNED_WITH_VECTOR_KEY: &str = "vkhWnH7ruIKnV2dykcFAhKLSzreR23Sxly6uZxZ+Vmkd9oIZkqUbyU+JRTiz6g4\
    Bir+uFhtDy66Bd4rdS+B6QXp0m5cMcutSO+k40fZuPREKjMDj9duN3W0REXHqhpyuiPBIGgYtmtdoIsZbJVtJmMajNRpKTyZ69mU90lE\
    TdBi5CnN7BxKo4GuxAoqHhPH4YXyzwCteBEPHaJTlUINYQTfuFTV3V7a1iF5ZxPwdVEHQRttRGeH5D666wrI505u5OGpF8AztzE07iJ8\
    uyvMGO+nj8YvsRQQLq2kdX3OMc1BcTlXWTpvRaolgLX8tq2B0BUXtkZwD5o37R9zSuNpKMQ==";

fn vector_json() -> &'static serde_json::Value {
    static V: OnceLock<serde_json::Value> = OnceLock::new();
    V.get_or_init(|| serde_json::from_str(VECTOR).unwrap())
}

fn keys() -> &'static InstanceKeys {
    static K: OnceLock<InstanceKeys> = OnceLock::new();
    K.get_or_init(|| InstanceKeys::from_pem(vector_json()["privateKeyPem"].as_str().unwrap()).unwrap())
}

fn public_pem() -> &'static str {
    vector_json()["publicKeyPem"].as_str().unwrap()
}

/// The sample file's parts: the header line and the signing string.
fn sample() -> (&'static str, String) {
    let mut lines = SAMPLE.lines();
    let header = lines.next().unwrap().strip_prefix("signature header: ").unwrap();
    assert_eq!(lines.next(), Some("string to sign:"));
    let signing: Vec<&str> = lines.by_ref().take(4).collect();
    assert_eq!(lines.next(), Some("verify: true"));
    (header, signing.join("\n"))
}

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

fn now() -> SystemTime {
    at(DATE_UNIX + 3)
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

/// A signed POST of [`BODY`] to b.example, as PeerTube sends it: its headers and signature.
fn signed_post() -> Vec<(String, String)> {
    let d = digest(BODY);
    let req = SignRequest {
        method: "POST",
        path: "/accounts/peertube/inbox",
        host: "b.example",
        date: DATE,
        digest: Some(&d),
    };
    let sig = signature_header(keys(), ACTOR, &req);
    headers(&[
        ("host", "b.example"),
        ("date", DATE),
        ("digest", &d),
        ("content-type", "application/activity+json"),
        ("signature", &sig),
    ])
}

fn post<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> IncomingRequest<'a> {
    IncomingRequest { method: "POST", path_and_query: "/accounts/peertube/inbox", headers, body: Some(body) }
}

fn signature_of(headers: &[(String, String)]) -> SignatureParams {
    let value = &headers.iter().find(|(n, _)| n == "signature").unwrap().1;
    parse_signature_header(value).unwrap()
}

/// Parses, checks and verifies with the vector's key.
fn full_check(req: &IncomingRequest<'_>, at: SystemTime) -> Result<(), SigError> {
    let params = parse_signature_header(&req.header("signature").unwrap())?;
    let v = check(req, &params, at)?;
    verify(&v, public_pem())
}

/// A header value signed by the vector's key over the given lines (`(created)` etc. included as
/// the caller writes them).
fn hand_signed(params: &str, lines: &[String]) -> String {
    let sig = keys().sign_sha256(lines.join("\n").as_bytes());
    format!("{params},signature=\"{}\"", base64::engine::general_purpose::STANDARD.encode(sig))
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_owned(), value.to_owned()));
}

// ---------------------------------------------------------------------------------------------
// The PeerTube sample

#[test]
fn sample_digest_signing_string_and_header() {
    let (header, signing) = sample();
    let d = digest(BODY);
    assert_eq!(d, "SHA-256=GYwYnH3BiO6aICFt0ThC5bUIJ4byvqdpWtR8m5fNkww=");
    let req = SignRequest {
        method: "POST",
        path: "/accounts/peertube/inbox",
        host: "b.example",
        date: DATE,
        digest: Some(&d),
    };
    assert_eq!(signing_string(&req), signing);
    let ours = signature_header(keys(), ACTOR, &req);
    let prefix = &header[..header.find("signature=\"").unwrap() + "signature=\"".len()];
    assert_eq!(
        prefix,
        "keyId=\"https://a.example/accounts/peertube\",algorithm=\"rsa-sha256\",\
         headers=\"(request-target) host date digest\",signature=\""
    );
    assert_eq!(ours, format!("{prefix}{SAMPLE_SIGNED_WITH_VECTOR_KEY}\""));
}

#[test]
fn sample_header_parses() {
    let (header, _) = sample();
    // The sample's value is cut short ("…" and no closing quote).
    assert_eq!(parse_signature_header(header), Err(SigError::Malformed("signature has no closing quote".into())));
    let p = parse_signature_header(&format!("{header}\"")).unwrap();
    assert_eq!(p.key_id, ACTOR);
    assert_eq!(p.algorithm.as_deref(), Some("rsa-sha256"));
    assert_eq!(p.headers, ["(request-target)", "host", "date", "digest"]);
    assert!(p.signature.starts_with("jU9rOYdDTNP3UbGahrHfuAE3FBCTvrs+5nbQev"));
    assert_eq!((&p.created, &p.expires), (&None, &None));
    // Everything else checks, then the base64 fails.
    let h = signed_post();
    assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::BadBase64));
}

#[test]
fn sample_request_checks_to_the_sample_signing_string_and_verifies() {
    let (_, signing) = sample();
    let h = signed_post();
    let params = signature_of(&h);
    let v = check(&post(&h, BODY), &params, now()).unwrap();
    assert_eq!(v.signing_string, signing);
    assert_eq!(v.key_id, ACTOR);
    assert_eq!(v.actor_url(), ACTOR);
    assert_eq!(v.signature.len(), 256);
    assert_eq!(verify(&v, public_pem()), Ok(()));
}

#[test]
fn get_signs_three_headers() {
    let req = SignRequest {
        method: "GET",
        path: "/accounts/peertube?page=2",
        host: "b.example:8443",
        date: DATE,
        digest: None,
    };
    assert_eq!(
        signing_string(&req),
        format!("(request-target): get /accounts/peertube\nhost: b.example:8443\ndate: {DATE}")
    );
    let header = signature_header(keys(), ACTOR, &req);
    assert!(header.contains(",headers=\"(request-target) host date\","), "{header}");
    let h = headers(&[("host", "b.example:8443"), ("date", DATE), ("signature", &header)]);
    let get = IncomingRequest { method: "GET", path_and_query: "/accounts/peertube", headers: &h, body: None };
    assert_eq!(full_check(&get, now()), Ok(()));
    // The receiver signs the path with its query: a signed query that was not in the signature fails.
    let with_query = IncomingRequest { path_and_query: "/accounts/peertube?page=2", ..get };
    assert_eq!(full_check(&with_query, now()), Err(SigError::BadSignature));
}

#[test]
fn date_header_is_imf_fixdate() {
    assert_eq!(date_header(at(DATE_UNIX)), DATE);
}

// ---------------------------------------------------------------------------------------------
// What is accepted

#[test]
fn signature_scheme_prefix_is_stripped() {
    let mut h = signed_post();
    let value = format!("Signature {}", h.last().unwrap().1);
    set(&mut h, "signature", &value);
    assert_eq!(full_check(&post(&h, BODY), now()), Ok(()));
}

#[test]
fn hs2019_with_created_and_no_date_is_accepted() {
    let d = digest(BODY);
    let created = DATE_UNIX - 10;
    let expires = DATE_UNIX + 600;
    let lines = [
        "(request-target): post /inbox".to_owned(),
        format!("(created): {created}"),
        format!("(expires): {expires}"),
        "host: b.example".to_owned(),
        format!("digest: {d}"),
    ];
    let sig = hand_signed(
        &format!(
            "keyId=\"https://m.example/users/x#main-key\",algorithm=\"hs2019\",created={created},\
             expires={expires},headers=\"(request-target) (created) (expires) host digest\""
        ),
        &lines,
    );
    let h = headers(&[("host", "b.example"), ("digest", &d), ("signature", &sig)]);
    let req = IncomingRequest { method: "POST", path_and_query: "/inbox", headers: &h, body: Some(BODY) };
    let params = parse_signature_header(&sig).unwrap();
    let v = check(&req, &params, now()).unwrap();
    assert_eq!(v.signing_string, lines.join("\n"));
    assert_eq!(v.actor_url(), "https://m.example/users/x");
    assert_eq!(verify(&v, public_pem()), Ok(()));
}

#[test]
fn algorithm_and_header_names_are_case_insensitive() {
    let d = digest(BODY);
    let lines = [
        "(request-target): post /inbox".to_owned(),
        "host: b.example".to_owned(),
        format!("date: {DATE}"),
        format!("digest: {d}"),
    ];
    let sig = hand_signed(
        &format!("keyId=\"{ACTOR}\",algorithm=\"RSA-SHA256\",headers=\"(Request-Target) Host Date Digest\""),
        &lines,
    );
    let h = headers(&[("Host", "b.example"), ("DATE", DATE), ("Digest", &d), ("signature", &sig)]);
    let req = IncomingRequest { method: "post", path_and_query: "/inbox", headers: &h, body: Some(BODY) };
    assert_eq!(full_check(&req, now()), Ok(()));
}

#[test]
fn repeated_headers_are_joined_with_comma_space() {
    let d = digest(BODY);
    let lines = [
        "(request-target): post /inbox".to_owned(),
        "host: b.example".to_owned(),
        format!("date: {DATE}"),
        format!("digest: {d}"),
        "x-extra: one, two".to_owned(),
    ];
    let sig = hand_signed(
        &format!("keyId=\"{ACTOR}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest x-extra\""),
        &lines,
    );
    let h = headers(&[
        ("host", "b.example"),
        ("x-extra", "one"),
        ("date", DATE),
        ("x-extra", " two "),
        ("digest", &d),
        ("signature", &sig),
    ]);
    let req = IncomingRequest { method: "POST", path_and_query: "/inbox", headers: &h, body: Some(BODY) };
    assert_eq!(full_check(&req, now()), Ok(()));
}

#[test]
fn clock_skew_limits_are_inclusive() {
    let h = signed_post();
    let req = post(&h, BODY);
    assert_eq!(full_check(&req, at(DATE_UNIX + 1800)), Ok(()));
    assert_eq!(full_check(&req, at(DATE_UNIX - 1800)), Ok(()));
    assert_eq!(full_check(&req, at(DATE_UNIX + 1801)), Err(SigError::ClockSkew(1801)));
    assert_eq!(full_check(&req, at(DATE_UNIX - 1801)), Err(SigError::ClockSkew(1801)));
}

#[test]
fn actor_url_drops_the_fragment() {
    let p = SignatureParams {
        key_id: "https://m.example/users/x#main-key".into(),
        algorithm: None,
        headers: vec![],
        signature: String::new(),
        created: None,
        expires: None,
    };
    let v = Verified { signing_string: String::new(), signature: vec![], key_id: &p.key_id };
    assert_eq!(v.actor_url(), "https://m.example/users/x");
}

// ---------------------------------------------------------------------------------------------
// What is refused

/// The signed POST with its signature's `headers` list (and the signing string) changed.
fn post_signing(list: &str, with: &[(&str, &str)]) -> (Vec<(String, String)>, SignatureParams) {
    let d = digest(BODY);
    let mut lines = Vec::new();
    for name in list.split(' ') {
        lines.push(match name {
            "(request-target)" => "(request-target): post /accounts/peertube/inbox".to_owned(),
            "host" => "host: b.example".to_owned(),
            "date" => format!("date: {DATE}"),
            "digest" => format!("digest: {d}"),
            other => format!("{other}: {}", with.iter().find(|(n, _)| *n == other).unwrap().1),
        });
    }
    let sig = hand_signed(&format!("keyId=\"{ACTOR}\",algorithm=\"rsa-sha256\",headers=\"{list}\""), &lines);
    let mut h = headers(&[("host", "b.example"), ("date", DATE), ("digest", &d)]);
    h.extend(headers(with));
    let params = parse_signature_header(&sig).unwrap();
    (h, params)
}

#[test]
fn required_headers_must_be_signed() {
    for (list, missing) in [
        ("host date digest", "(request-target)"),
        ("(request-target) date digest", "host"),
        ("(request-target) host date", "digest"),
    ] {
        let (h, p) = post_signing(list, &[]);
        let err = check(&post(&h, BODY), &p, now()).unwrap_err();
        assert_eq!(err, SigError::NotCovered(missing), "{list}");
        assert_eq!(err.to_string(), format!("the signature does not cover {missing}"));
    }
    let (h, p) = post_signing("(request-target) host digest", &[]);
    assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::NoDate));
}

#[test]
fn digest_is_required_for_a_post_even_without_a_body_and_for_any_body() {
    let (h, p) = post_signing("(request-target) host date", &[]);
    let h: Vec<_> = h.into_iter().filter(|(n, _)| n != "digest").collect();
    let empty = IncomingRequest { body: None, ..post(&h, BODY) };
    assert_eq!(check(&empty, &p, now()), Err(SigError::NotCovered("digest")));
    let get_with_body =
        IncomingRequest { method: "GET", path_and_query: "/accounts/peertube/inbox", headers: &h, body: Some(b"x") };
    assert_eq!(check(&get_with_body, &p, now()), Err(SigError::NotCovered("digest")));
}

#[test]
fn signed_headers_must_be_in_the_request() {
    let (h, p) = post_signing("(request-target) host date digest", &[]);
    let without_date: Vec<_> = h.iter().filter(|(n, _)| n != "date").cloned().collect();
    assert_eq!(check(&post(&without_date, BODY), &p, now()), Err(SigError::MissingHeader("date".into())));
    let without_digest: Vec<_> = h.iter().filter(|(n, _)| n != "digest").cloned().collect();
    assert_eq!(check(&post(&without_digest, BODY), &p, now()), Err(SigError::MissingHeader("digest".into())));
}

#[test]
fn pseudo_headers_need_their_parameter() {
    let (h, mut p) = post_signing("(request-target) host date digest", &[]);
    p.headers.push("(created)".into());
    assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::MissingParam("created")));
    p.headers.pop();
    p.headers.push("(expires)".into());
    assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::MissingParam("expires")));
    p.headers.pop();
    p.headers.push("(keyid)".into());
    assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::UnsupportedPseudoHeader("(keyid)".into())));
}

#[test]
fn wrong_digest_is_refused() {
    let mut h = signed_post();
    set(&mut h, "digest", &digest(b"something else"));
    let err = full_check(&post(&h, BODY), now()).unwrap_err();
    assert_eq!(err, SigError::DigestMismatch);
    assert_eq!(err.to_string(), "the Digest header does not match the body");
    // String equality: another case or a second value does not do.
    let right = digest(BODY);
    set(&mut h, "digest", &right.replace("SHA-256", "sha-256"));
    assert_eq!(full_check(&post(&h, BODY), now()), Err(SigError::DigestMismatch));
    set(&mut h, "digest", &format!("{right}, {right}"));
    assert_eq!(full_check(&post(&h, BODY), now()), Err(SigError::DigestMismatch));
}

#[test]
fn tampered_body_is_refused() {
    let h = signed_post();
    let tampered = br#"{"type":"Undo"}"#;
    assert_eq!(full_check(&post(&h, tampered), now()), Err(SigError::DigestMismatch));
    // Changing the Digest along with the body breaks the signature instead.
    let mut h = h;
    set(&mut h, "digest", &digest(tampered));
    assert_eq!(full_check(&post(&h, tampered), now()), Err(SigError::BadSignature));
}

#[test]
fn stale_and_future_dates_are_refused() {
    let h = signed_post();
    let req = post(&h, BODY);
    let err = full_check(&req, at(DATE_UNIX + 2400)).unwrap_err();
    assert_eq!(err, SigError::ClockSkew(2400));
    assert_eq!(err.to_string(), "Date is 2400 s away from now (at most 1800)");
    assert_eq!(full_check(&req, at(DATE_UNIX - 86_400)), Err(SigError::ClockSkew(86_400)));
}

#[test]
fn unsigned_date_is_still_checked_and_signed_bad_date_refused() {
    // (created) stands in for Date, but a Date that is there must still be near now.
    let created = DATE_UNIX;
    let d = digest(BODY);
    let lines = [
        "(request-target): post /inbox".to_owned(),
        format!("(created): {created}"),
        "host: b.example".to_owned(),
        format!("digest: {d}"),
    ];
    let sig = hand_signed(
        &format!(
            "keyId=\"{ACTOR}\",algorithm=\"hs2019\",created=\"{created}\",\
             headers=\"(request-target) (created) host digest\""
        ),
        &lines,
    );
    let stale = date_header(at(DATE_UNIX - 4000));
    let h = headers(&[("host", "b.example"), ("digest", &d), ("date", &stale), ("signature", &sig)]);
    let req = IncomingRequest { method: "POST", path_and_query: "/inbox", headers: &h, body: Some(BODY) };
    assert_eq!(full_check(&req, now()), Err(SigError::ClockSkew(4003)));
    // An unsigned Date that does not parse is ignored, as PeerTube's parser does.
    let mut h2 = h.clone();
    set(&mut h2, "date", "yesterday");
    assert_eq!(full_check(&IncomingRequest { headers: &h2, ..req }, now()), Ok(()));
    // A signed one is refused.
    let (mut h3, p) = post_signing("(request-target) host date digest", &[]);
    set(&mut h3, "date", "yesterday");
    assert_eq!(check(&post(&h3, BODY), &p, now()), Err(SigError::BadDate("yesterday".into())));
}

#[test]
fn created_in_the_future_and_expired_are_refused() {
    let (h, mut p) = post_signing("(request-target) host date digest", &[]);
    let now_s = DATE_UNIX + 3;
    p.created = Some(Timestamp { secs: (now_s + 1800) as i64, text: String::new() });
    assert!(check(&post(&h, BODY), &p, at(now_s)).is_ok());
    p.created = Some(Timestamp { secs: (now_s + 1801) as i64, text: String::new() });
    let err = check(&post(&h, BODY), &p, at(now_s)).unwrap_err();
    assert_eq!(err, SigError::CreatedInFuture(1801));
    assert_eq!(err.to_string(), "(created) is 1801 s in the future (at most 1800)");
    p.created = None;
    p.expires = Some(Timestamp { secs: (now_s - 1800) as i64, text: String::new() });
    assert!(check(&post(&h, BODY), &p, at(now_s)).is_ok());
    p.expires = Some(Timestamp { secs: (now_s - 1801) as i64, text: String::new() });
    let err = check(&post(&h, BODY), &p, at(now_s)).unwrap_err();
    assert_eq!(err, SigError::Expired(1801));
    assert_eq!(err.to_string(), "the signature expired 1801 s ago (at most 1800)");
}

#[test]
fn algorithms_other_than_rsa_sha256_and_hs2019_are_refused() {
    let (h, mut p) = post_signing("(request-target) host date digest", &[]);
    for alg in ["rsa-sha512", "ed25519", "hmac-sha256", ""] {
        p.algorithm = Some(alg.into());
        assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::UnsupportedAlgorithm(alg.into())));
    }
    p.algorithm = None;
    assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::MissingParam("algorithm")));
}

#[test]
fn bad_base64_is_refused() {
    let (h, mut p) = post_signing("(request-target) host date digest", &[]);
    for bad in ["not base64!", "QUJD*", "===="] {
        p.signature = bad.into();
        assert_eq!(check(&post(&h, BODY), &p, now()), Err(SigError::BadBase64), "{bad}");
    }
    // Padding is optional.
    let good = signature_of(&signed_post()).signature;
    p.signature = good.trim_end_matches('=').to_owned();
    assert!(check(&post(&h, BODY), &p, now()).is_ok());
}

#[test]
fn wrong_or_unusable_key_is_refused() {
    let h = signed_post();
    let params = signature_of(&h);
    let v = check(&post(&h, BODY), &params, now()).unwrap();
    let small_public = "-----BEGIN PUBLIC KEY-----\n\
        MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCxfGMnNDOM7+inMe9ewBWCAxXN\n\
        MOFHjB64xi5ojCQlxPA6AX9B60hqD1ZPh2s3KleOIk2UhyxqUtzgLKUtQTnh6At4\n\
        JMS8RDVyU7XGKRg3OIl6nJMNCUMqaMTkKe/tAyN2tWw+I4ikOuFCIi3Wy9OLAHM/\n\
        ZBke29kZYIWvLd1i8wIDAQAB\n\
        -----END PUBLIC KEY-----\n";
    assert_eq!(verify(&v, small_public), Err(SigError::BadSignature));
    let pkcs1 = public_pem().replace("PUBLIC KEY", "RSA PUBLIC KEY");
    assert_eq!(verify(&v, &pkcs1), Err(SigError::BadKey(KeyError::Pkcs1PublicKey)));
    let mut bad = v.clone();
    bad.signature[0] ^= 0x80;
    assert_eq!(verify(&bad, public_pem()), Err(SigError::BadSignature));
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn parse_defaults_and_leniency() {
    let p = parse_signature_header("keyId=\"k\",signature=\"c2ln\"").unwrap();
    assert_eq!(p.headers, ["date"]);
    assert_eq!(p.algorithm, None);
    let p = parse_signature_header("keyId=\"k\",headers=\"\",signature=\"c2ln\"").unwrap();
    assert_eq!(p.headers, ["date"]);
    let p = parse_signature_header(
        "  Signature  keyId = \"k\" ,\talgorithm=\"hs2019\", headers=\"(Request-Target)  Host\",\
         signature=\"c2ln\",created=1402170695,expires=\"1402170699.5\",opaque=\"x,y= z\",",
    )
    .unwrap();
    assert_eq!(p.key_id, "k");
    assert_eq!(p.algorithm.as_deref(), Some("hs2019"));
    assert_eq!(p.headers, ["(request-target)", "host"]);
    assert_eq!(p.signature, "c2ln");
    assert_eq!(p.created, Some(Timestamp { secs: 1_402_170_695, text: "1402170695".into() }));
    assert_eq!(p.expires, Some(Timestamp { secs: 1_402_170_699, text: "1402170699.5".into() }));
}

#[test]
fn parse_errors() {
    let cases: &[(&str, SigError)] = &[
        ("", SigError::MissingParam("keyId")),
        ("signature=\"c2ln\"", SigError::MissingParam("keyId")),
        ("keyId=\"\",signature=\"c2ln\"", SigError::MissingParam("keyId")),
        ("keyId=\"k\"", SigError::MissingParam("signature")),
        ("keyId=\"k\",signature=\"\"", SigError::MissingParam("signature")),
        ("keyId=\"k\",keyId=\"j\",signature=\"c2ln\"", SigError::DuplicateParam("keyId".into())),
        ("keyId=\"k\",foo=\"1\",foo=\"2\",signature=\"c2ln\"", SigError::DuplicateParam("foo".into())),
        ("keyId=\"k\",created=\"soon\",signature=\"c2ln\"", SigError::BadTimestamp("created")),
        ("keyId=\"k\",expires=\"-5\",signature=\"c2ln\"", SigError::BadTimestamp("expires")),
        ("keyId=\"k\",created=\"1.\",signature=\"c2ln\"", SigError::BadTimestamp("created")),
        ("keyId=\"k\",created=\"99999999999999999999\",signature=\"c2ln\"", SigError::BadTimestamp("created")),
    ];
    for (input, want) in cases {
        assert_eq!(parse_signature_header(input).as_ref(), Err(want), "{input}");
    }
    for malformed in [
        "keyId",
        "keyId=\"k",
        "keyId=\"k\" algorithm=\"rsa-sha256\"",
        "keyId=k,signature=\"c2ln\"",
        "=\"k\"",
        "key Id=\"k\"",
        "keyId=\"k\",,signature=\"c2ln\"",
        "keyId=\"k\"signature=\"c2ln\"",
        "Signature",
        "keyId=,signature=\"c2ln\"",
    ] {
        assert!(
            matches!(parse_signature_header(malformed), Err(SigError::Malformed(_))),
            "{malformed}: {:?}",
            parse_signature_header(malformed)
        );
    }
}

#[test]
fn fuzz_one_takes_the_sample_and_junk() {
    let (header, _) = sample();
    fuzz_one(header.as_bytes());
    fuzz_one(signed_post().last().unwrap().1.as_bytes());
    fuzz_one(b"");
    fuzz_one(&[0xff, 0xfe, b'=', b'"']);
    fuzz_one(
        b"keyId=\"k\",algorithm=\"hs2019\",headers=\"(created) (expires) (x)\",\
          created=0,expires=0,signature=\"AA\"",
    );
}

fn header_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("keyId".to_owned()),
        Just("algorithm".to_owned()),
        Just("headers".to_owned()),
        Just("signature".to_owned()),
        Just("created".to_owned()),
        Just("expires".to_owned()),
        Just("Signature ".to_owned()),
        Just("=".to_owned()),
        Just("\"".to_owned()),
        Just(",".to_owned()),
        Just(" ".to_owned()),
        Just("(request-target) host date digest".to_owned()),
        Just("rsa-sha256".to_owned()),
        Just("hs2019".to_owned()),
        "[0-9.]{0,25}",
        "[A-Za-z0-9+/=]{0,12}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = parse_signature_header(&s);
    }

    #[test]
    fn parse_and_check_never_panic_on_header_like_input(s in header_like()) {
        if let Ok(p) = parse_signature_header(&s) {
            prop_assert!(!p.key_id.is_empty() && !p.signature.is_empty() && !p.headers.is_empty());
        }
        fuzz_one(s.as_bytes());
    }

    #[test]
    fn fuzz_one_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz_one(&data);
    }

    #[test]
    fn well_formed_headers_round_trip(
        key_id in "[!#-~&&[^\"]]{1,40}",
        alg in "[a-z0-9-]{0,12}",
        names in proptest::collection::vec("[a-z(][a-z0-9-]{0,10}[)]?", 1..6),
        sig in "[A-Za-z0-9+/]{1,40}={0,2}",
        created in proptest::option::of(0i64..4_000_000_000),
    ) {
        let list = names.join(" ");
        let mut value = format!("keyId=\"{key_id}\",algorithm=\"{alg}\",headers=\"{list}\",signature=\"{sig}\"");
        if let Some(c) = created {
            value.push_str(&format!(",created={c}"));
        }
        let p = parse_signature_header(&value).unwrap();
        prop_assert_eq!(p.key_id, key_id);
        prop_assert_eq!(p.algorithm, Some(alg));
        prop_assert_eq!(p.headers, names);
        prop_assert_eq!(p.signature, sig);
        prop_assert_eq!(p.created.map(|t| t.secs), created);
    }
}
