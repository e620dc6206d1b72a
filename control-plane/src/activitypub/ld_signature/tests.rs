use super::*;
use super::canonical::{cmp_utf16, nquad, Permutations};
use crate::activitypub::encoding::lenient_base64;
use oxrdf::dataset::{CanonicalizationAlgorithm, CanonicalizationHashAlgorithm};
use oxrdf::Dataset;
use proptest::prelude::*;
use serde_json::json;

const VECTOR: &str = include_str!("../../../tests-data/rsasig2017-cachefile.json");

fn vector() -> Value {
    serde_json::from_str(VECTOR).unwrap()
}

fn vector_key() -> RsaKeyPair {
    private_key_from_pem(vector()["privateKeyPem"].as_str().unwrap()).unwrap()
}

fn vector_public_pem() -> String {
    vector()["publicKeyPem"].as_str().unwrap().to_owned()
}

fn signed_activity() -> Value {
    vector()["signedActivity"].clone()
}

fn unsigned_activity() -> Value {
    let mut doc = signed_activity();
    doc.as_object_mut().unwrap().remove("signature");
    doc
}

/// A one-statement document: `<https://x.example/a> as:<property> <value>`.
fn as_doc(property: &str, value: Value) -> Value {
    json!({ "@context": ACTIVITYSTREAMS_CONTEXT_URL, "id": "https://x.example/a", property: value })
}

/// The same quads canonicalised by oxrdf's RDFC-1.0, written with the legacy serialisation.
fn oxrdf_canonical(quads: &[Quad]) -> String {
    let mut dataset = Dataset::new();
    for quad in quads {
        dataset.insert(quad);
    }
    dataset.canonicalize(CanonicalizationAlgorithm::Rdfc10 { hash_algorithm: CanonicalizationHashAlgorithm::Sha256 });
    let mut lines: Vec<String> = dataset.iter().map(|q| nquad(&q.into_owned(), &|b: &str| format!("_:{b}"))).collect();
    lines.sort_by(|a, b| cmp_utf16(a, b));
    lines.concat()
}

// ---------------------------------------------------------------------------------------------
// The vector (jsonld 8.3.3 / rdf-canonize 3.4.0), byte for byte
// ---------------------------------------------------------------------------------------------

#[test]
fn vector_options_nquads() {
    let v = vector();
    assert_eq!(canonicalize(&v["optionsDocument"]).unwrap(), v["optionsNQuads"].as_str().unwrap());
    let signature = &v["signedActivity"]["signature"];
    assert_eq!(options_document(signature).unwrap(), v["optionsDocument"]);
}

#[test]
fn vector_document_nquads() {
    let v = vector();
    assert_eq!(canonicalize(&unsigned_activity()).unwrap(), v["documentNQuads"].as_str().unwrap());
}

#[test]
fn vector_hashes_and_to_sign() {
    let v = vector();
    assert_eq!(sha256_hex(v["optionsNQuads"].as_str().unwrap().as_bytes()), v["optionsHash"].as_str().unwrap());
    assert_eq!(sha256_hex(v["documentNQuads"].as_str().unwrap().as_bytes()), v["documentHash"].as_str().unwrap());
    let to_sign = create_hash(&v["signedActivity"], &v["signedActivity"]["signature"]).unwrap();
    assert_eq!(to_sign, v["toSign"].as_str().unwrap());
    assert_eq!(&to_sign[..64], v["optionsHash"].as_str().unwrap());
    assert_eq!(&to_sign[64..], v["documentHash"].as_str().unwrap());
}

#[test]
fn vector_signature_reproduced() {
    let v = vector();
    let signature = &v["signedActivity"]["signature"];
    let signed = sign(
        &unsigned_activity(),
        signature["creator"].as_str().unwrap(),
        signature["created"].as_str().unwrap(),
        &vector_key(),
    )
    .unwrap();
    assert_eq!(signed["signature"]["signatureValue"], signature["signatureValue"]);
    assert_eq!(signed, v["signedActivity"]);
}

#[test]
fn vector_verifies() {
    assert_eq!(verify(&signed_activity(), &vector_public_pem()), Ok(()));
    assert_eq!(signature_creator(&signed_activity()), Some("https://redundancy.example/accounts/peertube"));
    assert_eq!(signature_creator(&unsigned_activity()), None);
}

#[test]
fn vector_tab_literal() {
    let v = vector();
    let doc = json!({ "@context": { "name": "http://schema.org/name" }, "@id": "https://x.example/a", "name": "a\tb" });
    assert_eq!(canonicalize(&doc).unwrap(), v["tabLiteralNQuads"].as_str().unwrap());
}

#[test]
fn peertube_cachefile_context_matches_vector() {
    assert_eq!(peertube_context("CacheFile").unwrap(), signed_activity()["@context"]);
    assert_eq!(peertube_context("Follow").unwrap(), json!(signed_activity()["@context"].as_array().unwrap()[..3]));
    assert!(peertube_context("Video").unwrap()[3]["aspectRatio"].is_object());
    assert_eq!(peertube_context("Nope"), None);
}

// ---------------------------------------------------------------------------------------------
// Verification failures
// ---------------------------------------------------------------------------------------------

/// Every leaf (and every array) of `value`, as a JSON pointer.
fn leaf_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaf_pointers(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            out.push(at.clone());
            for (i, v) in items.iter().enumerate() {
                leaf_pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

#[test]
fn tampering_any_field_fails() {
    let original = signed_activity();
    let key = vector_public_pem();
    let mut pointers = Vec::new();
    leaf_pointers(&original, String::new(), &mut pointers);
    assert!(pointers.len() > 30);
    for pointer in pointers {
        if pointer == "/@context/2/RsaSignature2017" {
            continue; // defines a term the document does not use: no statement changes
        }
        let mut doc = original.clone();
        let target = doc.pointer_mut(&pointer).unwrap();
        match target {
            Value::String(s) => s.push('x'),
            Value::Number(n) => *target = json!(n.as_f64().unwrap() + 1.0),
            Value::Bool(b) => *b = !*b,
            Value::Array(items) => items.push(json!("https://other.example/x")),
            Value::Null | Value::Object(_) => unreachable!(),
        }
        assert!(verify(&doc, &key).is_err(), "tampered {pointer} still verifies");
    }
}

#[test]
fn removing_or_adding_statements_fails() {
    let original = signed_activity();
    let key = vector_public_pem();
    for pointer in ["/to", "/type", "/actor", "/object/url", "/object/expires", "/object/url/fps", "/signature/created"]
    {
        let mut doc = original.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let removed = doc.pointer_mut(parent).and_then(Value::as_object_mut).and_then(|o| o.remove(field));
        assert!(removed.is_some(), "{pointer}");
        assert!(verify(&doc, &key).is_err(), "without {pointer} still verifies");
    }
    let mut doc = original.clone();
    doc["object"]["url"]["width"] = json!(1280);
    assert!(verify(&doc, &key).is_err());
    let mut doc = original.clone();
    doc["cc"] = json!(["https://www.w3.org/ns/activitystreams#Public"]);
    assert!(verify(&doc, &key).is_err());
}

#[test]
fn verification_errors_are_specific() {
    let key = vector_public_pem();
    let mut doc = signed_activity();
    doc["signature"]["type"] = json!("Ed25519Signature2018");
    assert_eq!(verify(&doc, &key), Err(LdError::SignatureType("Ed25519Signature2018".into())));
    let mut doc = signed_activity();
    doc["signature"].as_object_mut().unwrap().remove("signatureValue");
    assert_eq!(verify(&doc, &key), Err(LdError::SignatureField("signatureValue")));
    let mut doc = signed_activity();
    doc["signature"]["signatureValue"] = json!("not base64!");
    assert_eq!(verify(&doc, &key), Err(LdError::SignatureEncoding));
    assert_eq!(verify(&unsigned_activity(), &key), Err(LdError::MissingSignature));
    assert_eq!(verify(&json!([]), &key), Err(LdError::NotAnObject));
    // A valid signature from another key.
    let mut doc = signed_activity();
    let mut raw = lenient_base64().decode(doc["signature"]["signatureValue"].as_str().unwrap()).unwrap();
    raw[10] ^= 1;
    doc["signature"]["signatureValue"] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
    assert_eq!(verify(&doc, &key), Err(LdError::BadSignature));
    // Unpadded base64 is taken, as Node takes it.
    let mut doc = signed_activity();
    let unpadded = doc["signature"]["signatureValue"].as_str().unwrap().trim_end_matches('=').to_owned();
    doc["signature"]["signatureValue"] = json!(unpadded);
    assert_eq!(verify(&doc, &key), Ok(()));
}

#[test]
fn public_key_forms() {
    let doc = signed_activity();
    let crlf = vector_public_pem().replace('\n', "\r\n");
    assert_eq!(verify(&doc, &crlf), Ok(()));
    let pkcs1 = vector_public_pem().replace("PUBLIC KEY", "RSA PUBLIC KEY");
    assert!(matches!(verify(&doc, &pkcs1), Err(LdError::PublicKey(_))));
    assert!(matches!(verify(&doc, "garbage"), Err(LdError::PublicKey(_))));
}

#[test]
fn private_key_forms() {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let v = vector();
    let pkcs1_pem = v["privateKeyPem"].as_str().unwrap();
    let pkcs8_pem = rsa::PrivateKey::from_pkcs1_pem(pkcs1_pem).unwrap().to_pkcs8_pem(LineEnding::CRLF).unwrap();
    let signature = &v["signedActivity"]["signature"];
    let creator = signature["creator"].as_str().unwrap();
    let created = signature["created"].as_str().unwrap();
    let from_pkcs8 = private_key_from_pem(&pkcs8_pem).unwrap();
    let signed = sign(&unsigned_activity(), creator, created, &from_pkcs8).unwrap();
    assert_eq!(signed, v["signedActivity"]);
    assert!(matches!(private_key_from_pem(&vector_public_pem()), Err(LdError::PrivateKey(_))));
}

#[test]
fn sign_checks_its_inputs() {
    let key = vector_key();
    let doc = unsigned_activity();
    let creator = "https://redundancy.example/accounts/peertube";
    for bad in ["", "2024-09-24", "2024-09-24 10:00:00Z", "2024-09-24T10:00:00", "2024-09-24T10:00:00.Z", "yesterday"] {
        assert_eq!(sign(&doc, creator, bad, &key), Err(LdError::Created(bad.into())));
    }
    for good in ["2024-09-24T10:00:00Z", "2024-09-24T10:00:00.123456Z", "2024-09-24T10:00:00+02:00"] {
        let signed = sign(&doc, creator, good, &key).unwrap();
        assert_eq!(verify(&signed, &vector_public_pem()), Ok(()));
    }
    assert_eq!(sign(&json!("x"), creator, "2024-09-24T10:00:00Z", &key), Err(LdError::NotAnObject));
    // A relative creator cannot be canonicalised.
    assert!(matches!(sign(&doc, "accounts/peertube", "2024-09-24T10:00:00Z", &key), Err(LdError::RelativeIri(_))));
    // Re-signing replaces the signature; Mastodon-style key ids work too.
    let resigned =
        sign(&signed_activity(), "https://redundancy.example/accounts/peertube#main-key", "2024-09-24T10:00:00Z", &key)
            .unwrap();
    assert_eq!(verify(&resigned, &vector_public_pem()), Ok(()));
    assert_eq!(signature_creator(&resigned), Some("https://redundancy.example/accounts/peertube#main-key"));
}

#[test]
fn mastodon_identity_context_options_hash_the_same() {
    // Mastodon hashes its options under identity v1: the same statements as PeerTube's.
    let signature = &signed_activity()["signature"];
    let mastodon = json!({
        "@context": IDENTITY_V1_CONTEXT_URL,
        "creator": signature["creator"],
        "created": signature["created"],
    });
    assert_eq!(canonicalize(&mastodon).unwrap(), vector()["optionsNQuads"].as_str().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Safe mode and bundled contexts
// ---------------------------------------------------------------------------------------------

#[test]
fn undefined_terms_are_refused() {
    let mut doc = unsigned_activity();
    doc["foo"] = json!("bar");
    assert_eq!(canonicalize(&doc), Err(LdError::UndefinedTerm("foo".into())));
    let mut doc = unsigned_activity();
    doc["object"]["url"]["bitrate"] = json!(1000);
    assert_eq!(canonicalize(&doc), Err(LdError::UndefinedTerm("bitrate".into())));
    // PeerTube < 6.1 emitted `_:size` where its context lacked `size`.
    let mut doc = unsigned_activity();
    doc["object"]["url"]["_:size"] = json!(1000);
    assert_eq!(canonicalize(&doc), Err(LdError::UndefinedTerm("_:size".into())));
    // `size` without PeerTube's context is undefined too.
    let mut doc = unsigned_activity();
    doc["@context"] = json!([ACTIVITYSTREAMS_CONTEXT_URL, SECURITY_V1_CONTEXT_URL]);
    assert!(
        matches!(canonicalize(&doc), Err(LdError::UndefinedTerm(t)) if ["expires", "size", "fps"].contains(&t.as_str()))
    );
    // Without any vocabulary (security v1 only), as jsonld.js's "invalid property".
    let options = json!({ "@context": SECURITY_V1_CONTEXT_URL, "creator": "https://x.example/a", "nonce2": "1" });
    assert_eq!(canonicalize(&options), Err(LdError::UndefinedTerm("nonce2".into())));
    // Keys no IRI can hold.
    assert_eq!(canonicalize(&as_doc("a b", json!("x"))), Err(LdError::UndefinedTerm("a b".into())));
    // And a signed document with an extra undefined term does not verify.
    let mut doc = signed_activity();
    doc["foo"] = json!("bar");
    assert_eq!(verify(&doc, &vector_public_pem()), Err(LdError::UndefinedTerm("foo".into())));
}

#[test]
fn defined_terms_and_types_pass() {
    // An undefined *type* is a blank node under "@vocab": "_:", which jsonld.js accepts.
    let doc =
        json!({ "@context": ACTIVITYSTREAMS_CONTEXT_URL, "id": "https://x.example/a", "type": "Hashtag", "name": "n" });
    assert_eq!(
        canonicalize(&doc).unwrap(),
        "<https://x.example/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> _:c14n0 .\n\
         <https://x.example/a> <https://www.w3.org/ns/activitystreams#name> \"n\" .\n"
    );
    // Absolute IRIs and compact IRIs with defined prefixes are properties in their own right.
    let doc = json!({
        "@context": [ACTIVITYSTREAMS_CONTEXT_URL, { "x": "http://e.example/x#" }],
        "id": "https://x.example/a", "x:y": "z", "http://e.example/p": "q"
    });
    assert_eq!(
        canonicalize(&doc).unwrap(),
        "<https://x.example/a> <http://e.example/p> \"q\" .\n<https://x.example/a> <http://e.example/x#y> \"z\" .\n"
    );
    // A document's own vocabulary defines everything.
    let doc = json!({
        "@context": [ACTIVITYSTREAMS_CONTEXT_URL, { "@vocab": "http://v.example/" }],
        "id": "https://x.example/a", "foo": "x", "type": "Bar"
    });
    assert_eq!(
        canonicalize(&doc).unwrap(),
        "<https://x.example/a> <http://v.example/foo> \"x\" .\n\
         <https://x.example/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://v.example/Bar> .\n"
    );
}

#[test]
fn unbundled_contexts_are_refused() {
    let doc = json!({ "@context": "https://example.com/ctx", "id": "https://x.example/a", "name": "x" });
    assert_eq!(canonicalize(&doc), Err(LdError::ContextNotBundled("https://example.com/ctx".into())));
    let doc = json!({
        "@context": ACTIVITYSTREAMS_CONTEXT_URL,
        "id": "https://x.example/a",
        "object": { "@context": "https://w3id.org/security/v2", "name": "x" }
    });
    assert_eq!(canonicalize(&doc), Err(LdError::ContextNotBundled("https://w3id.org/security/v2".into())));
}

#[test]
fn malformed_documents_are_refused() {
    assert_eq!(canonicalize(&as_doc("url", json!("relative/path"))), Err(LdError::RelativeIri("relative/path".into())));
    let doc = json!({ "@context": ACTIVITYSTREAMS_CONTEXT_URL, "id": "rel/a", "name": "x" });
    assert_eq!(canonicalize(&doc), Err(LdError::RelativeIri("rel/a".into())));
    assert_eq!(
        canonicalize(&as_doc("href", json!("https://x.example/a b"))),
        Err(LdError::RelativeIri("https://x.example/a b".into()))
    );
    assert_eq!(
        canonicalize(&as_doc("href", json!("https://x.example/a<b"))),
        Err(LdError::InvalidIri("https://x.example/a<b".into()))
    );
    let tagged = json!({ "@value": "x", "@language": "not a tag" });
    assert_eq!(canonicalize(&as_doc("name", tagged)), Err(LdError::InvalidLanguage("not a tag".into())));
    assert!(matches!(canonicalize(&as_doc("name", json!({ "@value": null }))), Err(LdError::JsonLd(_))));
    assert!(matches!(canonicalize(&as_doc("name", json!({ "@language": "en" }))), Err(LdError::JsonLd(_))));
    // Nothing stated: jsonld.js's "empty object" / "object with only @id".
    assert!(matches!(canonicalize(&json!({})), Err(LdError::JsonLd(_))));
    assert!(matches!(
        canonicalize(&json!({ "@context": ACTIVITYSTREAMS_CONTEXT_URL, "id": "https://x.example/a" })),
        Err(LdError::JsonLd(_))
    ));
    assert_eq!(canonicalize(&json!("https://x.example/a")), Err(LdError::NotADocument));
}

// ---------------------------------------------------------------------------------------------
// Literals: legacy escaping, numbers, languages
// ---------------------------------------------------------------------------------------------

fn name_line(literal: &str) -> String {
    format!("<https://x.example/a> <https://www.w3.org/ns/activitystreams#name> \"{literal}\" .\n")
}

#[test]
fn tricky_literals_use_legacy_escaping() {
    // (value, how rdf-canonize 3.4 writes it), checked against jsonld 8.3.3.
    let cases = [
        ("plain", "plain"),
        ("say \"hi\"", "say \\\"hi\\\""),
        ("back\\slash", "back\\\\slash"),
        ("line1\nline2", "line1\\nline2"),
        ("cr\r\nlf", "cr\\r\\nlf"),
        ("tab\there", "tab\there"),
        ("nul\u{0}us\u{1f}vt\u{b}ff\u{c}bs\u{8}del\u{7f}", "nul\u{0}us\u{1f}vt\u{b}ff\u{c}bs\u{8}del\u{7f}"),
        ("nel\u{85}ls\u{2028}\u{fffe}\u{ffff}", "nel\u{85}ls\u{2028}\u{fffe}\u{ffff}"),
        ("e\u{301}é😀", "e\u{301}é😀"),
        ("\\\"\\n", "\\\\\\\"\\\\n"),
        ("", ""),
    ];
    for (value, written) in cases {
        assert_eq!(canonicalize(&as_doc("name", json!(value))).unwrap(), name_line(written), "{value:?}");
    }
}

#[test]
fn lines_sort_in_utf16_order() {
    // JavaScript sorts U+1F600 (surrogates D83D DE00) before U+E000; byte order would not.
    let doc = as_doc("name", json!(["\u{e000}", "😀", "z"]));
    assert_eq!(canonicalize(&doc).unwrap(), [name_line("z"), name_line("😀"), name_line("\u{e000}")].concat());
}

#[test]
fn numbers_as_javascript_converts_them() {
    // (JSON text, lexical form, XSD datatype), checked against jsonld 8.3.3.
    let cases = [
        ("0", "0", "integer"),
        ("-0.0", "0", "integer"),
        ("-1", "-1", "integer"),
        ("12.0", "12", "integer"),
        ("1.5", "1.5E0", "double"),
        ("0.1", "1.0E-1", "double"),
        ("0.30000000000000004", "3.0E-1", "double"),
        ("1.7777777777777777", "1.777777777777778E0", "double"),
        ("1e21", "1.0E21", "double"),
        ("1.5e21", "1.5E21", "double"),
        ("123456789012345678", "123456789012345680", "integer"),
        ("12345678901234567890", "12345678901234567168", "integer"),
        ("99999999999999980000", "99999999999999983616", "integer"),
        ("9007199254740993", "9007199254740992", "integer"),
        ("1e-7", "0", "integer"),
        ("5e-324", "0", "integer"),
        ("1.5e-7", "1.5E-7", "double"),
        ("-2.5e-7", "-2.5E-7", "double"),
        ("1e300", "1.0E300", "double"),
        ("-2.5", "-2.5E0", "double"),
        ("1234.5678", "1.2345678E3", "double"),
        ("0.000001", "1.0E-6", "double"),
        ("-1e-6", "-1.0E-6", "double"),
    ];
    for (text, lexical, datatype) in cases {
        let doc = as_doc("content", serde_json::from_str(text).unwrap());
        let expected = format!(
            "<https://x.example/a> <https://www.w3.org/ns/activitystreams#content> \"{lexical}\"^^<http://www.w3.org/2001/XMLSchema#{datatype}> .\n"
        );
        assert_eq!(canonicalize(&doc).unwrap(), expected, "{text}");
    }
    // Coerced datatypes keep the lexical form.
    let doc = as_doc("width", json!(1.5));
    assert!(canonicalize(&doc).unwrap().contains("\"1.5E0\"^^<http://www.w3.org/2001/XMLSchema#nonNegativeInteger>"));
    // The few values without a shared RDF form are refused rather than hashed differently.
    // (jsonld.js: 1e20 → "100000000000000000000", -1e-7 → "-0", both xsd:integer.)
    for text in ["1e20", "5e20", "-1e-7"] {
        let doc = as_doc("content", serde_json::from_str(text).unwrap());
        assert!(matches!(canonicalize(&doc), Err(LdError::UnsupportedNumber(_))), "{text}");
    }
    // Numbers inside contexts are left alone.
    let doc = json!({ "@context": [ACTIVITYSTREAMS_CONTEXT_URL, { "@version": 1.1 }], "id": "https://x.example/a", "name": "x" });
    assert_eq!(canonicalize(&doc).unwrap(), name_line("x"));
}

#[test]
fn languages_and_booleans() {
    let doc = as_doc("contentMap", json!({ "EN-us": "hi" }));
    assert_eq!(
        canonicalize(&doc).unwrap(),
        "<https://x.example/a> <https://www.w3.org/ns/activitystreams#content> \"hi\"@en-us .\n"
    );
    let doc = as_doc("name", json!(true));
    assert_eq!(
        canonicalize(&doc).unwrap(),
        "<https://x.example/a> <https://www.w3.org/ns/activitystreams#name> \"true\"^^<http://www.w3.org/2001/XMLSchema#boolean> .\n"
    );
}

/// rdf-canonize 3.4's escaping, written independently of the module's.
fn reference_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r")
}

fn tricky_string() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{8}', '\u{b}', '\u{c}', '\u{1f}', '\u{7f}', '\u{85}', '\u{2028}',
        '\u{e000}', '\u{fffd}', '\u{fffe}', '\u{ffff}', '😀', 'é', 'a', ' ',
    ]);
    prop::collection::vec(prop_oneof![3 => special, 1 => any::<char>()], 0..24)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn literal_escaping(value in tricky_string()) {
        prop_assert_eq!(canonicalize(&as_doc("name", json!(value))).unwrap(), name_line(&reference_escape(&value)));
    }

    #[test]
    fn fuzz_one_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_one(&bytes);
    }

    #[test]
    fn fuzz_one_on_json_ld_shapes(doc in json_ld_shape()) {
        fuzz_one(doc.to_string().as_bytes());
        let mut signed = doc.clone();
        if let Some(o) = signed.as_object_mut() {
            o.insert("signature".into(), json!({ "type": SIGNATURE_TYPE, "creator": "https://x.example/a", "created": "2024-01-01T00:00:00Z", "signatureValue": "AAAA" }));
        }
        fuzz_one(signed.to_string().as_bytes());
    }
}

/// Random JSON-LD-looking documents: AS terms, keywords, odd ids and values.
fn json_ld_shape() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "id",
        "type",
        "name",
        "content",
        "url",
        "href",
        "tag",
        "to",
        "height",
        "orderedItems",
        "contentMap",
        "@id",
        "@type",
        "@value",
        "@language",
        "@list",
        "@set",
        "@graph",
        "@context",
        "@reverse",
        "@included",
        "@json",
        "foo",
        "_:x",
        "x:y",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop::sample::select(vec![
            "https://x.example/a",
            "_:b0",
            "rel",
            "",
            "@id",
            "@vocab",
            "https://www.w3.org/ns/activitystreams",
            "en",
            "Note",
            "as:Public",
            "http://[::1",
            "_:",
        ])
        .prop_map(Value::from),
        tricky_string().prop_map(Value::from),
    ];
    let tree = leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    });
    tree.prop_map(|mut v| {
        if let Value::Object(o) = &mut v {
            o.entry("@context").or_insert_with(|| json!(ACTIVITYSTREAMS_CONTEXT_URL));
        }
        v
    })
}

// ---------------------------------------------------------------------------------------------
// Blank nodes: URDNA2015 with the legacy serialisation
// ---------------------------------------------------------------------------------------------

#[test]
fn symmetric_blank_nodes() {
    // Two identical hashtags (and their shared `_:Hashtag` type): checked against jsonld 8.3.3.
    let doc = as_doc("tag", json!([{ "type": "Hashtag", "name": "#a" }, { "type": "Hashtag", "name": "#a" }]));
    assert_eq!(
        canonicalize(&doc).unwrap(),
        "<https://x.example/a> <https://www.w3.org/ns/activitystreams#tag> _:c14n1 .\n\
         <https://x.example/a> <https://www.w3.org/ns/activitystreams#tag> _:c14n2 .\n\
         _:c14n1 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> _:c14n0 .\n\
         _:c14n1 <https://www.w3.org/ns/activitystreams#name> \"#a\" .\n\
         _:c14n2 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> _:c14n0 .\n\
         _:c14n2 <https://www.w3.org/ns/activitystreams#name> \"#a\" .\n"
    );
    // A triangle with a tail: needs the N-degree hashes.
    let doc = json!({ "@context": ACTIVITYSTREAMS_CONTEXT_URL, "@graph": [
        { "id": "_:a", "attributedTo": ["_:b", "_:c"] },
        { "id": "_:b", "attributedTo": ["_:a", "_:c"] },
        { "id": "_:c", "attributedTo": ["_:a", "_:b"] },
        { "id": "_:d", "attributedTo": "_:a" },
    ]});
    let p = "<https://www.w3.org/ns/activitystreams#attributedTo>";
    assert_eq!(
        canonicalize(&doc).unwrap(),
        format!(
            "_:c14n0 {p} _:c14n2 .\n_:c14n0 {p} _:c14n3 .\n_:c14n1 {p} _:c14n0 .\n_:c14n2 {p} _:c14n0 .\n\
             _:c14n2 {p} _:c14n3 .\n_:c14n3 {p} _:c14n0 .\n_:c14n3 {p} _:c14n2 .\n"
        )
    );
}

#[test]
fn control_characters_steer_blank_node_labels_as_in_rdf_canonize() {
    // rdf-canonize 3.4 hashes `"x<TAB>y"` raw where RDFC-1.0 hashes `"x\ty"`: the labels differ.
    let doc = as_doc("tag", json!([{ "name": "x\ty" }, { "name": "x\u{1}y" }, { "name": "x\u{8}y" }, { "name": "q" }]));
    let tag = "<https://x.example/a> <https://www.w3.org/ns/activitystreams#tag>";
    let name = "<https://www.w3.org/ns/activitystreams#name>";
    let expected = format!(
        "{tag} _:c14n0 .\n{tag} _:c14n1 .\n{tag} _:c14n2 .\n{tag} _:c14n3 .\n\
         _:c14n0 {name} \"x\u{1}y\" .\n_:c14n1 {name} \"x\ty\" .\n_:c14n2 {name} \"x\u{8}y\" .\n_:c14n3 {name} \"q\" .\n"
    );
    assert_eq!(canonicalize(&doc).unwrap(), expected);
    let mut json = String::new();
    write_json(&doc, false, &mut json).unwrap();
    let quads = to_quads(json.as_bytes(), false).unwrap();
    assert_ne!(oxrdf_canonical(&quads), expected, "RDFC-1.0 labels these differently");
}

#[test]
fn poisoned_graphs_are_refused_quickly() {
    // Ten blank nodes all linked to each other: factorially many paths.
    let nodes: Vec<Value> = (0..10)
        .map(|i| {
            let others: Vec<String> = (0..10).filter(|j| *j != i).map(|j| format!("_:n{j}")).collect();
            json!({ "id": format!("_:n{i}"), "attributedTo": others })
        })
        .collect();
    let doc = json!({ "@context": ACTIVITYSTREAMS_CONTEXT_URL, "@graph": nodes });
    let start = std::time::Instant::now();
    assert_eq!(canonicalize(&doc), Err(LdError::TooComplex));
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

/// Random small graphs over a few blank nodes, IRIs and plain literals (nothing whose legacy
/// and RDFC-1.0 serialisations differ).
fn random_quads() -> impl Strategy<Value = Vec<Quad>> {
    use oxrdf::{BlankNode, Literal, NamedNode};
    let node = prop_oneof![
        3 => (0..6u8).prop_map(|i| NamedOrBlankNode::from(BlankNode::new_unchecked(format!("n{i}")))),
        1 => (0..3u8).prop_map(|i| NamedOrBlankNode::from(NamedNode::new_unchecked(format!("https://x.example/{i}")))),
    ];
    let object = prop_oneof![
        3 => node.clone().prop_map(Term::from),
        1 => prop::sample::select(vec!["a", "b", "é", "say \"x\""]).prop_map(|s| Term::from(Literal::new_simple_literal(s))),
    ];
    let predicate = (0..2u8).prop_map(|i| NamedNode::new_unchecked(format!("https://p.example/{i}")));
    prop::collection::vec((node, predicate, object), 1..14).prop_map(|triples| {
        let mut seen = HashSet::new();
        triples
            .into_iter()
            .map(|(s, p, o)| Quad::new(s, p, o, GraphName::DefaultGraph))
            .filter(|q| seen.insert(q.clone()))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn same_labels_as_oxrdf_rdfc10(quads in random_quads()) {
        prop_assert_eq!(canonical_nquads(&quads).unwrap(), oxrdf_canonical(&quads));
    }

    #[test]
    fn blank_node_names_do_not_matter(quads in random_quads(), salt in 0u32..1000) {
        use oxrdf::BlankNode;
        let rename = |b: &BlankNode| BlankNode::new_unchecked(format!("r{salt}x{}", b.as_str()));
        let renamed: Vec<Quad> = quads.iter().rev().map(|q| {
            let subject = match &q.subject {
                NamedOrBlankNode::BlankNode(b) => NamedOrBlankNode::from(rename(b)),
                other => other.clone(),
            };
            let object = match &q.object {
                Term::BlankNode(b) => Term::from(rename(b)),
                other => other.clone(),
            };
            Quad::new(subject, q.predicate.clone(), object, GraphName::DefaultGraph)
        }).collect();
        prop_assert_eq!(canonical_nquads(&quads).unwrap(), canonical_nquads(&renamed).unwrap());
    }
}

#[test]
fn permutations_cover_every_order() {
    for n in 0..6 {
        let mut items: Vec<usize> = (0..n).collect();
        let mut seen = HashSet::new();
        let mut permutations = Permutations::new(n);
        while let Some(swap) = permutations.next_swap() {
            if let Some((i, j)) = swap {
                items.swap(i, j);
            }
            assert!(seen.insert(items.clone()));
        }
        assert_eq!(seen.len(), (1..=n).product::<usize>());
    }
}

#[test]
fn sign_and_verify_round_trip_on_a_peertube_video_shape() {
    let key = vector_key();
    let mut doc = json!({
        "type": "Create",
        "id": "https://r.example/videos/watch/u/activity",
        "actor": "https://r.example/accounts/peertube",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://r.example/accounts/peertube/followers"],
        "object": {
            "type": "Video", "id": "https://r.example/videos/watch/u", "name": "Tabs\tand \"quotes\"\nnew line",
            "uuid": "9c9de5e8-0a1e-484a-b099-e80766180a6d", "views": 12, "sensitive": false, "aspectRatio": 1.7777777777777777,
            "duration": "PT120S", "published": "2024-09-24T10:00:00.000Z",
            "tag": [{ "type": "Hashtag", "name": "#a" }, { "type": "Hashtag", "name": "#a" }, { "type": "Hashtag", "name": "#b\tc" }],
            "url": [
                { "type": "Link", "mediaType": "text/html", "href": "https://r.example/w/u" },
                { "type": "Link", "mediaType": "video/mp4", "href": "https://r.example/f-720.mp4", "height": 720, "size": 123, "fps": 30 },
                { "type": "Link", "mediaType": "application/x-mpegURL", "href": "https://r.example/m.m3u8",
                  "tag": [{ "type": "Infohash", "name": "abc" }, { "type": "Link", "mediaType": "video/mp4", "href": "https://r.example/f.mp4", "height": 480 }] }
            ],
            "attachment": [{ "type": "PropertyValue", "name": "k", "value": "v" }]
        }
    });
    doc["@context"] = peertube_context("Video").unwrap();
    let signed = sign(&doc, "https://r.example/accounts/peertube", "2024-09-24T10:00:00.000Z", &key).unwrap();
    assert_eq!(verify(&signed, &vector_public_pem()), Ok(()));
    let mut tampered = signed.clone();
    tampered["object"]["tag"][2]["name"] = json!("#b c");
    assert_eq!(verify(&tampered, &vector_public_pem()), Err(LdError::BadSignature));
}
