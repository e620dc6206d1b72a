//! Federation interop with PeerTube's own signature library: a peer built from
//! `@peertube/http-signature` (tests/interop/federation_peer.mjs) posts signed activities to our
//! inboxes — valid ones must be accepted, tampered, stale, wrongly keyed and unsigned ones refused
//! with a reason — and checks the signature of every fetch our instance makes of its actor.


use std::process::Command;

use crate::common::Node;
use serde_json::Value;

#[test]
fn peertube_signed_activities_are_accepted_and_bad_ones_refused() {
    let node = Node::start(&[("v.mp4", b"video")], &["--allow-private-federation"]);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    let out = Command::new("node")
        .arg(format!("{dir}/federation_peer.mjs"))
        .arg(format!("http://{}", node.control))
        .current_dir(dir)
        .output()
        .expect("node runs (scripts/test installs the npm peers)");
    assert!(out.status.success(), "peer failed: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let status = |k: &str| r[k]["status"].as_u64().unwrap_or(0);
    let reason = |k: &str| r[k]["body"].as_str().unwrap_or("").to_owned();
    assert_eq!(status("valid"), 204, "{r}");
    assert_eq!(status("duplicate"), 204, "a duplicate delivery is acknowledged: {r}");
    assert_eq!(status("sharedInbox"), 204, "{r}");
    assert_eq!(status("keyIdWithFragment"), 204, "{r}");
    assert_eq!(status("acctKeyId"), 204, "an acct: keyId is resolved by WebFinger: {r}");
    assert_eq!(status("tamperedBody"), 403);
    assert!(reason("tamperedBody").to_lowercase().contains("digest"), "{}", reason("tamperedBody"));
    assert_eq!(status("wrongKey"), 403);
    assert!(reason("wrongKey").contains("does not verify"), "{}", reason("wrongKey"));
    assert_eq!(status("staleDate"), 403);
    assert!(reason("staleDate").to_lowercase().contains("date"), "{}", reason("staleDate"));
    assert_eq!(status("unsigned"), 403);
    assert_eq!(status("digestNotSigned"), 403);
    assert_eq!(status("notJson"), 400);
    assert_eq!(status("forwarded"), 403, "an activity whose actor is not the signer needs its own signature");
    assert_eq!(status("forwardedSigned"), 204, "a forwarded activity with a valid Linked Data signature (jsonld): {r}");
    assert_eq!(status("forwardedTampered"), 403, "{r}");
    // The accepted Follow was answered with an Accept to the follower's own inbox, signed as
    // PeerTube requires (HTTP Signature over (request-target) host date digest, Digest exact).
    let received = r["received"].as_array().unwrap();
    let accept = received.iter().find(|x| x["activity"]["type"] == "Accept").unwrap_or_else(|| panic!("no Accept delivered: {r}"));
    assert_eq!(accept["httpVerified"], true, "{accept}");
    assert_eq!(accept["digestOk"], true, "{accept}");
    assert_eq!(accept["ldVerified"], true, "the Accept's RsaSignature2017 verifies with jsonld: {accept}");
    assert_eq!(accept["activity"]["signature"]["type"], "RsaSignature2017");
    assert_eq!(accept["signedHeaders"], "(request-target) host date digest");
    assert_eq!(accept["keyId"], format!("http://{}/accounts/peertube", node.control));
    assert_eq!(accept["activity"]["object"]["type"], "Follow");
    let accepts_of_first = received
        .iter()
        .filter(|x| x["activity"]["type"] == "Accept" && x["activity"]["object"]["id"].as_str().is_some_and(|id| id.ends_with("/follows/1")))
        .count();
    assert_eq!(accepts_of_first, 1, "the Follow delivered twice was applied once: {r}");
    // Every activity we delivered arrived once.
    let ids: Vec<&str> = received.iter().filter_map(|x| x["activity"]["id"].as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "an activity was delivered twice: {ids:?}");
    // Out of order: a Follow whose Undo came first stays undone; a later one is accepted.
    assert_eq!((status("undoFirst"), status("followAfterUndo"), status("followFresh")), (204, 204, 204), "{r}");
    let accepted = |suffix: &str| {
        received.iter().any(|x| x["activity"]["type"] == "Accept" && x["activity"]["object"]["id"].as_str().is_some_and(|id| id.ends_with(suffix)))
    };
    assert!(accepted("/second/follows/10"), "{r}");
    assert!(!accepted("/second/follows/9"), "an undone Follow is not accepted when it arrives late: {r}");
    assert_eq!(accept["activity"]["actor"], format!("http://{}/accounts/peertube", node.control));
    // Our fetches of the peer's actor were signed, and PeerTube's library verified them.
    let fetches = r["fetches"].as_array().unwrap();
    assert!(!fetches.is_empty(), "vidseed fetched the signer's actor");
    for f in fetches {
        assert_eq!(f["verified"], true, "{f}");
        assert_eq!(f["keyId"], format!("http://{}/accounts/peertube", node.control));
    }
}

/// Our account's and channel's deliveries checked with PeerTube's libraries: a follower of both
/// (tests/interop/origin_peer.mjs) gets each one's Accept, then, once a video is published, the
/// account's Create and the channel's Announce — every one signed by the actor it names (HTTP
/// Signature by its keyId, Digest, RsaSignature2017 verified by jsonld in safe mode).
#[test]
fn our_account_and_channel_deliveries_verify_with_peertube_libraries() {
    use std::io::BufRead;
    let node = Node::start(&[], &["--allow-private-federation", "--rescan-interval", "1"]);
    let base = format!("http://{}", node.control);
    let (account, channel) = (format!("{base}/accounts/vidseed"), format!("{base}/video-channels/vidseed_channel"));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    let mut peer = Command::new("node")
        .arg(format!("{dir}/origin_peer.mjs"))
        .args([&base, &account, &channel])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (scripts/test installs the npm peers)");
    let mut err = std::io::BufReader::new(peer.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "followed", "the peer could not follow");
    // Now a video lands in the media folder.
    let clip = include_bytes!("../../control-plane/tests-data/media/clip-320x180-25fps-3s.mp4");
    std::fs::write(node.media.join("clip.mp4"), clip).unwrap();
    let out = peer.wait_with_output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!((r["followAccount"].as_u64(), r["followChannel"].as_u64()), (Some(204), Some(204)), "{r}");
    let received = r["received"].as_array().unwrap();
    let find = |kind: &str, actor: &str| {
        received.iter().find(|x| x["activity"]["type"] == kind && x["activity"]["actor"] == actor).unwrap_or_else(|| panic!("no {kind} by {actor}: {r}")).clone()
    };
    for (kind, actor) in [("Accept", &account), ("Accept", &channel), ("Create", &account), ("Announce", &channel)] {
        let x = find(kind, actor);
        assert_eq!(x["keyId"], actor.as_str(), "{kind} signed by its actor: {x}");
        assert_eq!((x["httpVerified"].as_bool(), x["digestOk"].as_bool(), x["ldVerified"].as_bool()), (Some(true), Some(true), Some(true)), "{kind} by {actor}: {x}");
    }
    let create = find("Create", &account);
    assert_eq!(create["activity"]["object"]["type"], "Video");
    assert_eq!(create["activity"]["object"]["duration"], "PT3S");
}
