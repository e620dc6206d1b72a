//! The activities the instance authors between instances — Follow, Accept, Reject, Undo — in
//! PeerTube's shapes, and the decision a received Follow gets. Pure.

use serde_json::{json, Value};

use super::actor::context;

/// A Follow from `actor` to `object` (PeerTube: id `<actor>/follows/<n>`, no to/cc).
pub fn follow(id: &str, actor: &str, object: &str) -> Value {
    json!({ "@context": context(), "type": "Follow", "id": id, "actor": actor, "object": object })
}

/// The Follow as embedded in Accept, Reject and Undo: its type, id, actor and object only.
pub fn embedded_follow(follow_id: &str, follower: &str, followed: &str) -> Value {
    json!({ "type": "Follow", "id": follow_id, "actor": follower, "object": followed })
}

pub fn accept(id: &str, actor: &str, follow: Value) -> Value {
    json!({ "@context": context(), "type": "Accept", "id": id, "actor": actor, "object": follow })
}

pub fn reject(id: &str, actor: &str, follow: Value) -> Value {
    json!({ "@context": context(), "type": "Reject", "id": id, "actor": actor, "object": follow })
}

/// Undo of our Follow (PeerTube: id `<follow id>/undo`, to Public, cc our followers).
pub fn undo_follow(actor: &str, follow: Value) -> Value {
    let id = format!("{}/undo", follow["id"].as_str().unwrap_or_default());
    json!({
        "@context": context(), "type": "Undo", "id": id, "actor": actor, "object": follow,
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [format!("{actor}/followers")]
    })
}

/// The `id` of an object that is either a URL or an object with an `id`.
pub fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id")?.as_str(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let f = follow("https://a/accounts/peertube/follows/7", "https://a/accounts/peertube", "https://b/accounts/peertube");
        assert_eq!(f["type"], "Follow");
        assert!(f.get("to").is_none());
        let e = embedded_follow("https://a/accounts/peertube/follows/7", "https://a/accounts/peertube", "https://b/accounts/peertube");
        assert!(e.get("@context").is_none());
        let a = accept("https://b/accepts/follows/1", "https://b/accounts/peertube", e.clone());
        assert_eq!(a["object"]["id"], "https://a/accounts/peertube/follows/7");
        let u = undo_follow("https://a/accounts/peertube", e);
        assert_eq!(u["id"], "https://a/accounts/peertube/follows/7/undo");
        assert_eq!(u["cc"][0], "https://a/accounts/peertube/followers");
        assert_eq!(id_of(&serde_json::json!({"id": "x"})), Some("x"));
        assert_eq!(id_of(&serde_json::json!("y")), Some("y"));
    }
}
