//! The instance's ActivityPub identity and how the fediverse discovers it: the `Application`
//! actor at `/accounts/peertube` (as PeerTube names its server actor), WebFinger, host-meta,
//! NodeInfo 2.0 and paged `OrderedCollection`s. Pure: documents built from the instance's base
//! URL, its public key and counts passed in.

use serde_json::{json, Value};

/// The server actor's name, as PeerTube's (`SERVER_ACTOR_NAME`).
pub const ACTOR_NAME: &str = "peertube";

/// Items per collection page.
pub const PAGE_SIZE: usize = 50;

/// The contexts every document we author starts with (ActivityStreams, security, and the
/// RsaSignature2017 term PeerTube adds).
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" }
    ])
}

/// The instance's URLs, from its public base URL (`https://host[:port]`, no trailing slash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub base: String,
}

impl Instance {
    pub fn new(base: &str) -> Instance {
        Instance { base: base.trim_end_matches('/').to_owned() }
    }

    /// `host[:port]`, as WebFinger's `acct:` resource and HTTP's `Host` carry it.
    pub fn host(&self) -> &str {
        let rest = self.base.split_once("://").map_or(self.base.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    pub fn actor_url(&self) -> String {
        format!("{}/accounts/{ACTOR_NAME}", self.base)
    }

    pub fn key_id(&self) -> String {
        format!("{}#main-key", self.actor_url())
    }

    pub fn shared_inbox(&self) -> String {
        format!("{}/inbox", self.base)
    }

    /// The actor document.
    pub fn actor(&self, public_key_pem: &str, published: &str) -> Value {
        let url = self.actor_url();
        json!({
            "@context": context(),
            "type": "Application",
            "id": url,
            "following": format!("{url}/following"),
            "followers": format!("{url}/followers"),
            "playlists": format!("{url}/video-playlists"),
            "inbox": format!("{url}/inbox"),
            "outbox": format!("{url}/outbox"),
            "preferredUsername": ACTOR_NAME,
            "url": url,
            "name": ACTOR_NAME,
            "endpoints": { "sharedInbox": self.shared_inbox() },
            "publicKey": { "id": self.key_id(), "owner": url, "publicKeyPem": public_key_pem },
            "published": published,
            "summary": null,
        })
    }

    /// WebFinger's answer for `resource`, or `None` when it names nothing of ours
    /// (`acct:peertube@HOST`, with or without `acct:`, or the actor's URL).
    pub fn webfinger(&self, resource: &str) -> Option<Value> {
        let actor = self.actor_url();
        let ours = match resource.strip_prefix("acct:").unwrap_or(resource) {
            r if r == actor => true,
            r => r.rsplit_once('@').is_some_and(|(name, host)| name == ACTOR_NAME && host.eq_ignore_ascii_case(self.host())),
        };
        ours.then(|| {
            json!({
                "subject": resource,
                "aliases": [actor],
                // No remote-interaction (ostatus subscribe) template: there is nothing here to
                // follow or interact with from another instance's page.
                "links": [
                    { "rel": "self", "type": "application/activity+json", "href": actor }
                ]
            })
        })
    }

    /// `/.well-known/host-meta` (XRD).
    pub fn host_meta(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  <Link rel=\"lrdd\" type=\"application/xrd+xml\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
            xml_escape(&self.base)
        )
    }

    /// `/.well-known/nodeinfo`: where NodeInfo 2.0 and the server actor are.
    pub fn nodeinfo_links(&self) -> Value {
        json!({
            "links": [
                { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{}/nodeinfo/2.0.json", self.base) },
                { "rel": "https://www.w3.org/ns/activitystreams#Application", "href": self.actor_url() }
            ]
        })
    }

    /// NodeInfo 2.0.
    pub fn nodeinfo(&self, videos: usize) -> Value {
        json!({
            "version": "2.0",
            "software": { "name": "vidseed", "version": env!("CARGO_PKG_VERSION") },
            "protocols": ["activitypub"],
            "services": { "inbound": [], "outbound": [] },
            "openRegistrations": false,
            "usage": { "users": { "total": 0, "activeMonth": 0, "activeHalfyear": 0 }, "localPosts": videos },
            "metadata": { "nodeName": self.host(), "software": "vidseed" }
        })
    }
}

/// A paged `OrderedCollection`: without `page`, the collection with its size and first page;
/// with `page` (from 1), that page's items and the link to the next one.
pub fn collection(id: &str, total: usize, page: Option<usize>, items: &[String]) -> Value {
    collection_of(id, total, page, items.iter().map(|s| Value::String(s.clone())).collect())
}

/// [`collection`] with any items (activities, for outboxes).
pub fn collection_of(id: &str, total: usize, page: Option<usize>, items: Vec<Value>) -> Value {
    match page {
        None => json!({
            "@context": context(),
            "id": id,
            "type": "OrderedCollection",
            "totalItems": total,
            "first": format!("{id}?page=1"),
        }),
        Some(p) => {
            let mut v = json!({
                "@context": context(),
                "id": format!("{id}?page={p}"),
                "type": "OrderedCollectionPage",
                "partOf": id,
                "totalItems": total,
                "orderedItems": items,
            });
            if p.saturating_mul(PAGE_SIZE) < total {
                v["next"] = Value::from(format!("{id}?page={}", p + 1));
            }
            if p > 1 {
                v["prev"] = Value::from(format!("{id}?page={}", p - 1));
            }
            v
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Whether an `Accept` header asks for ActivityPub JSON (`application/activity+json`, or
/// `application/ld+json` with the ActivityStreams profile, or plain `ld+json`).
pub fn wants_activity_json(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        media == "application/activity+json" || media == "application/ld+json"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_is_peertube_shaped() {
        let i = Instance::new("https://seed.example.org/");
        let a = i.actor("-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n", "2026-11-27T00:00:00.000Z");
        assert_eq!(a["type"], "Application");
        assert_eq!(a["id"], "https://seed.example.org/accounts/peertube");
        assert_eq!(a["inbox"], "https://seed.example.org/accounts/peertube/inbox");
        assert_eq!(a["endpoints"]["sharedInbox"], "https://seed.example.org/inbox");
        assert_eq!(a["publicKey"]["id"], "https://seed.example.org/accounts/peertube#main-key");
        assert_eq!(a["publicKey"]["owner"], a["id"]);
        assert_eq!(a["preferredUsername"], "peertube");
        assert_eq!(a["@context"][0], "https://www.w3.org/ns/activitystreams");
    }

    #[test]
    fn webfinger_answers_only_for_our_actor() {
        let i = Instance::new("http://127.0.0.1:8081");
        assert_eq!(i.host(), "127.0.0.1:8081");
        let w = i.webfinger("acct:peertube@127.0.0.1:8081").unwrap();
        assert_eq!(w["subject"], "acct:peertube@127.0.0.1:8081");
        assert_eq!(w["links"][0]["href"], "http://127.0.0.1:8081/accounts/peertube");
        assert_eq!(w["links"][0]["type"], "application/activity+json");
        // Only links that answer: nothing advertised that this instance does not serve.
        assert_eq!(w["links"].as_array().map(Vec::len), Some(1));
        assert!(i.webfinger("peertube@127.0.0.1:8081").is_some());
        assert!(i.webfinger("http://127.0.0.1:8081/accounts/peertube").is_some());
        for other in ["acct:root@127.0.0.1:8081", "acct:peertube@other.example", "acct:peertube", ""] {
            assert!(i.webfinger(other).is_none(), "{other}");
        }
    }

    #[test]
    fn discovery_documents() {
        let i = Instance::new("https://a.example");
        assert!(i.host_meta().contains("template=\"https://a.example/.well-known/webfinger?resource={uri}\""));
        let links = i.nodeinfo_links();
        assert_eq!(links["links"][0]["href"], "https://a.example/nodeinfo/2.0.json");
        assert_eq!(links["links"][1]["href"], "https://a.example/accounts/peertube");
        let n = i.nodeinfo(3);
        assert_eq!(n["version"], "2.0");
        assert_eq!(n["software"]["name"], "vidseed");
        assert_eq!(n["usage"]["localPosts"], 3);
    }

    #[test]
    fn collections_are_paged() {
        let id = "https://a.example/accounts/peertube/followers";
        let c = collection(id, 120, None, &[]);
        assert_eq!((c["type"].as_str(), c["totalItems"].as_u64()), (Some("OrderedCollection"), Some(120)));
        assert_eq!(c["first"], format!("{id}?page=1"));
        let items: Vec<String> = (0..50).map(|i| format!("https://f{i}.example/accounts/peertube")).collect();
        let p1 = collection(id, 120, Some(1), &items);
        assert_eq!(p1["type"], "OrderedCollectionPage");
        assert_eq!(p1["next"], format!("{id}?page=2"));
        assert!(p1.get("prev").is_none());
        let p3 = collection(id, 120, Some(3), &items[..20]);
        assert!(p3.get("next").is_none());
        assert_eq!(p3["prev"], format!("{id}?page=2"));
    }

    #[test]
    fn accept_negotiation() {
        assert!(wants_activity_json("application/activity+json"));
        assert!(wants_activity_json("application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""));
        assert!(wants_activity_json("text/html, application/activity+json;q=0.9"));
        assert!(!wants_activity_json("text/html,application/xhtml+xml"));
        assert!(!wants_activity_json("application/json"));
    }
}
