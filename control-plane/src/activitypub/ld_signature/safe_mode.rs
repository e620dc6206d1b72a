//! Safe mode (PeerTube ≥ 6.1), pure: what jsonld.js would refuse or drop — terms the contexts do
//! not define, explicit `_:` properties, relative IRIs, invalid language tags, documents that
//! state nothing — found by a probe document and refused as errors.

use super::*;

/// The document for the safe-mode probe: every `"@vocab": "_:"` replaced by the undefined-term
/// vocabulary, which is also put first in the top-level context (for documents without a
/// vocabulary, where jsonld.js drops undefined terms with an "invalid property" event).
pub(super) fn safe_mode_probe(doc: &Value) -> Value {
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
pub(super) fn check_probe_quad(quad: &Quad) -> Result<(), LdError> {
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
pub(super) fn is_language_tag(tag: &str) -> bool {
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
pub(super) fn check_json_shape(value: &Value) -> Result<(), LdError> {
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
