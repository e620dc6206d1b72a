//! How the fediverse finds the instance, against the real binary over loopback: WebFinger,
//! host-meta, NodeInfo, the `Application` actor with its public key (content-negotiated) and its
//! paged collections; and every URL those documents advertise answers (PeerTube fetches them
//! when it meets us, and records a failed job for each that does not).


use crate::common::{get, Node};
use serde_json::Value;

fn json_of(node: &Node, target: &str, accept: &str) -> (u16, Option<String>, Value) {
    let r = get(node.control, target, &[("Accept", accept)]).unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, r.header("content-type").map(str::to_owned), v)
}

#[test]
fn webfinger_nodeinfo_and_the_instance_actor() {
    let node = Node::start(&[("v.mp4", b"video")], &[]);
    let host = node.control.to_string();
    let actor_url = format!("http://{host}/accounts/peertube");

    let (status, ctype, w) = json_of(&node, &format!("/.well-known/webfinger?resource=acct:peertube@{host}"), "*/*");
    assert_eq!(status, 200);
    assert!(ctype.unwrap().starts_with("application/jrd+json"));
    assert_eq!(w["subject"], format!("acct:peertube@{host}"));
    let self_link = w["links"].as_array().unwrap().iter().find(|l| l["rel"] == "self").unwrap();
    assert_eq!(self_link["href"], actor_url);
    assert_eq!(json_of(&node, "/.well-known/webfinger?resource=acct:someone@elsewhere.example", "*/*").0, 404);
    assert_eq!(json_of(&node, "/.well-known/webfinger", "*/*").0, 400);

    let hm = get(node.control, "/.well-known/host-meta", &[]).unwrap();
    assert!(String::from_utf8_lossy(&hm.body).contains(&format!("http://{host}/.well-known/webfinger?resource={{uri}}")));

    let (_, _, links) = json_of(&node, "/.well-known/nodeinfo", "*/*");
    assert_eq!(links["links"][0]["href"], format!("http://{host}/nodeinfo/2.0.json"));
    let (status, _, ni) = json_of(&node, "/nodeinfo/2.0.json", "*/*");
    assert_eq!(status, 200);
    assert_eq!(ni["version"], "2.0");
    assert_eq!(ni["protocols"][0], "activitypub");
    assert_eq!(ni["usage"]["localPosts"], 1);

    for accept in ["application/activity+json", "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""] {
        let (status, ctype, a) = json_of(&node, "/accounts/peertube", accept);
        assert_eq!(status, 200, "{accept}");
        assert!(ctype.unwrap().starts_with("application/activity+json"));
        assert_eq!(a["type"], "Application");
        assert_eq!(a["id"], actor_url);
        assert_eq!(a["endpoints"]["sharedInbox"], format!("http://{host}/inbox"));
        let pem = a["publicKey"]["publicKeyPem"].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "an SPKI public key: {pem}");
        assert!(pem.len() > 400, "RSA-2048");
        assert_eq!(a["publicKey"]["id"], format!("{actor_url}#main-key"));
    }
    let browser = get(node.control, "/accounts/peertube", &[("Accept", "text/html")]).unwrap();
    assert_eq!(browser.status, 302);

    for c in ["followers", "following", "outbox", "video-playlists"] {
        let (status, ctype, col) = json_of(&node, &format!("/accounts/peertube/{c}"), "application/activity+json");
        assert_eq!(status, 200, "{c}");
        assert_eq!(ctype.as_deref(), Some("application/activity+json; charset=utf-8"), "{c}");
        assert_eq!(col["type"], "OrderedCollection");
        assert_eq!(col["id"], format!("{actor_url}/{c}"));
        assert_eq!(col["totalItems"], 0, "{c}");
        assert_eq!(col["first"], format!("{actor_url}/{c}?page=1"));
        let (status, ctype, page) = json_of(&node, &format!("/accounts/peertube/{c}?page=1"), "application/activity+json");
        assert_eq!(status, 200, "{c}");
        assert_eq!(ctype.as_deref(), Some("application/activity+json; charset=utf-8"), "{c}");
        assert_eq!(page["type"], "OrderedCollectionPage");
        assert_eq!(page["id"], format!("{actor_url}/{c}?page=1"));
        assert_eq!(page["partOf"], format!("{actor_url}/{c}"));
        assert_eq!(page["orderedItems"], serde_json::json!([]), "{c}");
        assert!(page.get("next").is_none(), "{c}");
    }
}

/// Every string in `v` that is a URL of this instance (`base`...), with `{uri}` templates filled.
fn our_urls(v: &Value, base: &str, acct: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with(base) => out.push(s.replace("{uri}", acct)),
        Value::Array(items) => items.iter().for_each(|i| our_urls(i, base, acct, out)),
        Value::Object(fields) => fields.values().for_each(|f| our_urls(f, base, acct, out)),
        _ => {}
    }
}

/// The URLs in an XML document (host-meta's `template="…"`).
fn xml_urls(text: &str, base: &str, acct: &str, out: &mut Vec<String>) {
    for part in text.split('"').filter(|p| p.starts_with(base)) {
        out.push(part.replace("{uri}", acct));
    }
}

#[test]
fn every_advertised_url_answers() {
    let node = Node::start(&[("v.mp4", b"video")], &[]);
    let host = node.control.to_string();
    let base = format!("http://{host}");
    let acct = format!("acct:peertube@{host}");
    // What a remote instance starts from: WebFinger, host-meta, NodeInfo, the actor.
    let mut queue: Vec<String> = [
        format!("{base}/.well-known/webfinger?resource={acct}"),
        format!("{base}/.well-known/host-meta"),
        format!("{base}/.well-known/nodeinfo"),
        format!("{base}/accounts/peertube"),
    ]
    .into();
    let mut seen = std::collections::BTreeSet::new();
    let mut inboxes = Vec::new();
    while let Some(url) = queue.pop() {
        // A fragment (the key's id) is not sent: its document is the one before the '#'.
        let url = url.split('#').next().unwrap().to_owned();
        if !seen.insert(url.clone()) {
            continue;
        }
        assert!(seen.len() < 100, "the walk does not end: {seen:?}");
        let target = &url[base.len()..];
        let r = get(node.control, target, &[("Accept", "application/activity+json")]).unwrap();
        let is_inbox = target == "/inbox" || target == "/accounts/peertube/inbox";
        if is_inbox {
            // Inboxes take POSTs; a GET is told so, not "not found".
            assert_eq!(r.status, 405, "GET {url}");
            assert_eq!(r.header("allow"), Some("POST"), "GET {url}");
            inboxes.push(target.to_owned());
            continue;
        }
        assert_eq!(r.status, 200, "GET {url}: {}", String::from_utf8_lossy(&r.body));
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let mut found = Vec::new();
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => our_urls(&v, &base, &acct, &mut found),
            Err(_) => xml_urls(&text, &base, &acct, &mut found),
        }
        queue.extend(found);
    }
    inboxes.sort();
    assert_eq!(inboxes, ["/accounts/peertube/inbox", "/inbox"]);
    for must in [
        "/accounts/peertube/followers?page=1",
        "/accounts/peertube/following?page=1",
        "/accounts/peertube/outbox?page=1",
        "/accounts/peertube/video-playlists",
        "/accounts/peertube/video-playlists?page=1",
        "/nodeinfo/2.0.json",
        "/.well-known/webfinger?resource=acct:peertube@",
    ] {
        assert!(seen.iter().any(|u| u[base.len()..].starts_with(must)), "{must} was not reached: {seen:?}");
    }
    // A browser following the actor's `url` is sent to the instance's page.
    let page = get(node.control, "/accounts/peertube", &[("Accept", "text/html")]).unwrap();
    assert_eq!((page.status, page.header("location")), (302, Some("/")));
    assert_eq!(get(node.control, "/", &[]).unwrap().status, 200);
}

#[test]
fn the_actor_key_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (media, state) = (dir.path().join("media"), dir.path().join("state"));
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("v.mp4"), b"video").unwrap();
    let key = |n: &Node| json_of(n, "/accounts/peertube", "application/activity+json").2["publicKey"]["publicKeyPem"].clone();
    let node = Node::start_in(&media, &state, &[]);
    node.wait_for_videos(1);
    let first = key(&node);
    assert!(first.is_string());
    node.interrupt();
    let again = Node::start_in(&media, &state, &[]);
    again.wait_for_videos(1);
    assert_eq!(key(&again), first, "the same state keeps the same key");
}
