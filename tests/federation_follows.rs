//! Follows between two real instances over loopback (both `vidseed serve`, each with its own
//! database and keys): Follow → Accept, both sides' state and collections, auto follow-back,
//! Undo, and refusal when followers are rejected — every activity signed, delivered by the
//! persistent queue and verified by the receiving instance. And redundancy with a
//! PeerTube-shaped instance served from the test (`common/peertube.rs`): its videos learned
//! from its outbox and activities, copies and their fetch orders, a copy announced to it once a
//! node serves it, extended and undone; the shapes of PeerTube after 6.3.3 (split audio,
//! captions over HLS); a cache killed (SIGKILL) mid-import that resumes from
//! what it verified; a data node that deletes the copies removed while it was away; failed copies tried again, then given up; another cache as a second
//! source of bad parts; and vidseed as the origin of a copy it checks, advertises, forwards to its
//! followers and forgets.

mod common;
#[path = "common/cluster.rs"]
mod cluster;
#[path = "common/peertube.rs"]
mod peertube;
#[path = "federation_follows/peertube7.rs"]
mod peertube7;
#[path = "federation_follows/redundancy.rs"]
mod redundancy;
#[path = "federation_follows/forwarding.rs"]
mod forwarding;
#[path = "federation_follows/node_restart.rs"]
mod node_restart;
#[path = "federation_follows/origin.rs"]
mod origin;
#[path = "federation_follows/resume.rs"]
mod resume;
#[path = "federation_follows/retries.rs"]
mod retries;
#[path = "federation_follows/sources.rs"]
mod sources;

use std::time::Duration;

use common::{admin_json, admin_token, eventually, get, Node};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

struct Instance {
    node: Node,
    token: String,
}

impl Instance {
    fn start() -> Instance {
        Instance::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Instance {
        let mut args = vec!["--allow-private-federation"];
        args.extend_from_slice(extra);
        let node = Node::start(&[("v.mp4", b"video")], &args);
        let token = admin_token(&node);
        Instance { node, token }
    }

    fn base(&self) -> String {
        format!("http://{}", self.node.control)
    }

    fn actor(&self) -> String {
        format!("{}/accounts/peertube", self.base())
    }

    fn admin(&self, method: &str, target: &str, body: Option<Value>) -> Value {
        admin_json(self.node.control, &self.token, method, target, body.as_ref())
    }

    /// The state of our follow of (or by) `actor`, if any.
    fn state(&self, list: &str, actor: &str) -> Option<String> {
        let v = self.admin("GET", &format!("/api/v1/admin/{list}"), None);
        v[list].as_array()?.iter().find(|f| f["actor"] == actor).and_then(|f| f["state"].as_str()).map(str::to_owned)
    }

    /// Runs `vidseed admin …` against this instance: exit code and stdout.
    fn cli(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidseed"))
            .args(["admin", "--control-url", &self.base(), "--token", &self.token])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    }

    fn collection_total(&self, which: &str) -> u64 {
        let r = get(self.node.control, &format!("/accounts/peertube/{which}"), &[("Accept", "application/activity+json")]).unwrap();
        serde_json::from_slice::<Value>(&r.body).unwrap()["totalItems"].as_u64().unwrap()
    }
}

#[test]
fn instances_follow_accept_follow_back_and_undo() {
    let a = Instance::start();
    let b = Instance::start();
    let (code, out) = b.cli(&["federation", "--auto-follow-back", "true"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("autoFollowBack: true"), "{out}");

    // A bare host:port, as an admin types it (https first; http since private addresses are
    // allowed here).
    let (code, out) = a.cli(&["follow", &b.node.control.to_string()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&b.actor()), "{out}");
    eventually(WAIT, "A's follow of B accepted", || (a.state("following", &b.actor()).as_deref() == Some("accepted")).then_some(()));
    assert_eq!(b.state("followers", &a.actor()).as_deref(), Some("accepted"));
    let (code, table) = a.cli(&["following"]);
    assert_eq!(code, Some(0));
    assert!(table.lines().any(|l| l.contains(&b.actor()) && l.contains("accepted")), "{table}");
    assert_eq!(b.collection_total("followers"), 1);
    let page = get(b.node.control, "/accounts/peertube/followers?page=1", &[("Accept", "application/activity+json")]).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&page.body).unwrap()["orderedItems"][0], a.actor());

    // B follows back on its own, and A accepts.
    eventually(WAIT, "B's follow-back accepted", || (b.state("following", &a.actor()).as_deref() == Some("accepted")).then_some(()));
    assert_eq!(a.state("followers", &b.actor()).as_deref(), Some("accepted"));
    assert_eq!(a.collection_total("following"), 1);

    // Undo: A stops following B; B forgets the follower.
    a.admin("DELETE", &format!("/api/v1/admin/following?host={}", b.base()), None);
    assert_eq!(a.state("following", &b.actor()), None);
    eventually(WAIT, "B to forget its follower A", || b.state("followers", &a.actor()).is_none().then_some(()));
    assert_eq!(b.collection_total("followers"), 0);
}

#[test]
fn followers_can_be_refused_and_hosts_blocked() {
    let a = Instance::start();
    let b = Instance::start();
    b.admin("PUT", "/api/v1/admin/federation", Some(json!({ "rejectFollowers": true })));
    a.admin("POST", "/api/v1/admin/following", Some(json!({ "host": b.base() })));
    eventually(WAIT, "A's follow rejected", || (a.state("following", &b.actor()).as_deref() == Some("rejected")).then_some(()));
    assert_eq!(b.collection_total("followers"), 0);

    // Manual approval: the follow waits for B's admin.
    let c = Instance::start();
    b.admin("PUT", "/api/v1/admin/federation", Some(json!({ "rejectFollowers": false, "manualApproval": true })));
    c.admin("POST", "/api/v1/admin/following", Some(json!({ "host": b.base() })));
    eventually(WAIT, "C pending at B", || (b.state("followers", &c.actor()).as_deref() == Some("pending")).then_some(()));
    assert_eq!(c.state("following", &b.actor()).as_deref(), Some("pending"));
    b.admin("POST", "/api/v1/admin/followers/accept", Some(json!({ "actor": c.actor() })));
    eventually(WAIT, "C accepted", || (c.state("following", &b.actor()).as_deref() == Some("accepted")).then_some(()));

    // Blocking C's host drops it as a follower, and C's further follows are refused.
    let c_host = c.node.control.to_string();
    b.admin("POST", "/api/v1/admin/blocklist", Some(json!({ "host": c_host })));
    assert_eq!(b.state("followers", &c.actor()), None);
    eventually(WAIT, "C told it is rejected", || (c.state("following", &b.actor()).as_deref() == Some("rejected")).then_some(()));
}
