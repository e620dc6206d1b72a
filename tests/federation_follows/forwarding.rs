//! As an origin, vidseed forwards the CacheFiles it takes for its videos to its followers, as
//! PeerTube does (its inbox processing of Create, Update and Undo of a CacheFile on an owned
//! video): the activity exactly as the cache sent it, Linked Data signature included,
//! HTTP-signed by vidseed's instance actor, to every follower's shared inbox but the sender's.

use serde_json::{json, Value};

use super::Instance;
use crate::common::{eventually, pseudo_random, Node};
use crate::peertube::FakePeerTube;

const UUID: &str = "0a1b2c3d-0000-4000-8000-0000000000a4";

/// The activities `instance` received on its shared inbox of this `type` and object `type`.
fn forwarded(instance: &FakePeerTube, kind: &str) -> Vec<(Value, String)> {
    instance.received().into_iter().filter(|(path, v, _)| path == "/inbox" && v["type"] == kind).map(|(_, v, sig)| (v, sig)).collect()
}

#[test]
fn cache_files_taken_for_our_videos_are_forwarded_to_our_followers() {
    let bytes = pseudo_random(400_000, 11);
    let node = Node::start(&[("v.mp4", bytes.as_slice())], &["--allow-private-federation"]);
    let token = crate::common::admin_token(&node);
    let a = Instance { node, token };
    let watch = a.node.videos()[0]["watchUrl"].as_str().unwrap().to_owned();
    // A cache keeps a copy; another instance merely follows this one. Both follow it.
    let cache = FakePeerTube::start();
    cache.serve("/static/redundancy/v.mp4", "video/mp4", bytes.clone());
    let follower = FakePeerTube::start();
    for f in [&cache, &follower] {
        assert_eq!(f.follow(&a.actor()).0, 204);
    }
    eventually(super::WAIT, "both followers accepted", || {
        [&cache, &follower].iter().all(|f| a.state("followers", &f.actor()).as_deref() == Some("accepted")).then_some(())
    });

    let inbox = format!("{}/inbox", a.base());
    let id = format!("{}/redundancy/videos/{UUID}/0", cache.base);
    let object = json!({ "id": id, "type": "CacheFile", "object": watch, "expires": null,
        "url": { "type": "Link", "mediaType": "video/mp4", "href": format!("{}/static/redundancy/v.mp4", cache.base), "height": 0, "size": bytes.len() } });
    let create = cache.ld_signed("CacheFile", &json!({ "type": "Create", "id": format!("{id}/activity"), "actor": cache.actor(), "to": [], "cc": [], "object": object }));
    assert_eq!(cache.post(&inbox, &create).0, 204);

    // Taken (its bytes read back), then forwarded to the follower as it was sent.
    let (got, signature) = eventually(super::WAIT, "the Create forwarded", || forwarded(&follower, "Create").into_iter().next());
    assert_eq!(got, create, "the body as the cache sent it, its Linked Data signature included");
    assert!(signature.contains(&format!("keyId=\"{}\"", a.actor())) && signature.contains("digest"), "HTTP-signed by the origin: {signature}");
    assert_eq!(a.admin("GET", "/api/v1/admin/redundancy/received", None)["received"].as_array().unwrap().len(), 1);

    // A copy without a Linked Data signature is taken but not forwarded (no receiver could
    // check it); a signed Update is.
    let other = format!("{}/redundancy/videos/{UUID}/1", cache.base);
    let unsigned = json!({ "@context": "https://www.w3.org/ns/activitystreams", "type": "Create", "id": format!("{other}/activity"), "actor": cache.actor(), "to": [], "cc": [],
        "object": { "id": other, "type": "CacheFile", "object": watch, "expires": null,
            "url": { "type": "Link", "mediaType": "video/mp4", "href": format!("{}/static/redundancy/v.mp4", cache.base), "height": 0, "size": bytes.len() } } });
    assert_eq!(cache.post(&inbox, &unsigned).0, 204);
    eventually(super::WAIT, "the unsigned copy taken", || (a.admin("GET", "/api/v1/admin/redundancy/received", None)["received"].as_array()?.len() == 2).then_some(()));
    let mut object2 = create["object"].clone();
    object2["expires"] = json!("2099-01-01T00:00:00.000Z");
    let update = cache.ld_signed("CacheFile", &json!({ "type": "Update", "id": format!("{id}/updates/1"), "actor": cache.actor(), "to": [], "cc": [], "object": object2 }));
    assert_eq!(cache.post(&inbox, &update).0, 204);
    let (got, _) = eventually(super::WAIT, "the Update forwarded", || forwarded(&follower, "Update").into_iter().next());
    assert_eq!(got, update);
    assert_eq!(forwarded(&follower, "Create").len(), 1, "the unsigned Create was not forwarded");

    // The Undo of the copy is forwarded once the copy is forgotten.
    let mut undone = create["object"].clone();
    undone.as_object_mut().unwrap().remove("@context");
    let undo = cache.ld_signed("CacheFile", &json!({ "type": "Undo", "id": format!("{id}/undo"), "actor": cache.actor(), "to": [], "cc": [],
        "object": { "type": "Create", "id": format!("{id}/activity"), "actor": cache.actor(), "object": undone } }));
    assert_eq!(cache.post(&inbox, &undo).0, 204);
    let (got, _) = eventually(super::WAIT, "the Undo forwarded", || forwarded(&follower, "Undo").into_iter().next());
    assert_eq!(got, undo);
    // Never back to the cache that sent them.
    assert!(cache.received().iter().all(|(_, v, _)| !matches!(v["type"].as_str(), Some("Create" | "Update" | "Undo"))), "{:?}", cache.received());
}
