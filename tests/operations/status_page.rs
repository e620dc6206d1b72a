//! The admin status page in Debian's Chromium (tests/interop/status_page.mjs, playwright-core):
//! the numbers it shows are the admin API's, the token is asked once and kept in the tab, a wrong
//! one is said to be refused. On a failure its screenshot is under
//! `target/tmp/status-page-screenshots/`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{admin_json, admin_token, eventually, file_path, get, pseudo_random, Node};

fn browser(config: Value) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci --ignore-scripts --prefix tests/interop` (.ci/run does)"
    );
    let out = Command::new("node").current_dir(&dir).args(["status_page.mjs", &config.to_string()]).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let found: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("the status page harness said no JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success() && found["ok"] == true, "the status page failed: {found}\n{}", String::from_utf8_lossy(&out.stderr));
    found
}

#[test]
fn the_status_page_shows_the_apis_numbers() {
    let a = pseudo_random(200_000, 3);
    let node = Node::start(&[("a.mp4", &a), ("films/b.mp4", b"0123456789")], &[]);
    let token = admin_token(&node);
    let path = file_path(&node.videos()[0]);
    for _ in 0..5 {
        assert_eq!(get(node.data, &path, &[]).unwrap().status, 200);
    }
    // Wait until the node reported those requests and the traffic ring has two points.
    let nodes = eventually(Duration::from_secs(30), "the node's report and two traffic samples", || {
        let nodes = admin_json(node.control, &token, "GET", "/api/v1/admin/nodes", None);
        let traffic = admin_json(node.control, &token, "GET", "/api/v1/admin/traffic", None);
        let reported = nodes["nodes"][0]["stats"]["requests"].as_u64().unwrap_or(0);
        (reported >= 5 && traffic["points"].as_array().unwrap().len() >= 2).then_some(nodes)
    });
    let points = admin_json(node.control, &token, "GET", "/api/v1/admin/traffic", None)["points"].as_array().unwrap().len();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page-screenshots");
    let found = browser(json!({ "url": format!("http://{}/admin", node.control), "token": token, "shots": shots, "graphPoints": points }));

    assert!(found["refused"].as_str().unwrap().contains("refused"), "{found}");
    assert_eq!(found["errors"], json!([]), "the page logged errors");
    let page = &found["first"];
    assert_eq!(page["loginShown"], false);
    assert_eq!(page["fetchError"], "");
    let api_node = &nodes["nodes"][0];
    let shown = &page["nodes"][0];
    assert_eq!(page["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(shown["node"], api_node["name"]);
    assert_eq!(shown["state"], "connected");
    for (field, api) in [
        ("requests", &api_node["stats"]["requests"]),
        ("bytesServed", &api_node["stats"]["bytesServed"]),
        ("peers", &api_node["stats"]["peers"]),
        ("swarms", &api_node["stats"]["swarms"]),
        ("files", &api_node["files"]),
        ("catalogSeq", &api_node["catalogSeq"]),
    ] {
        assert_eq!(shown[field].as_f64(), api.as_f64(), "{field}: page {shown} api {api_node}");
    }
    assert_eq!(page["latestSeq"], api_node["latestSeq"].to_string());

    let videos = admin_json(node.control, &token, "GET", "/api/v1/admin/videos", None)["videos"].as_array().unwrap().clone();
    assert_eq!(page["videoCount"], json!(videos.len()));
    for v in &videos {
        let row = page["videos"].as_array().unwrap().iter().find(|r| r["infoHash"] == v["infoHash"]).unwrap_or_else(|| panic!("{v} not shown"));
        assert_eq!(row["name"], v["name"]);
        assert_eq!(row["size"].as_f64(), v["size"].as_f64());
        let nodes: Vec<&str> = v["nodes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(row["nodes"], nodes.join(", "));
    }
    let count = |endpoint: &str, key: &str| admin_json(node.control, &token, "GET", endpoint, None)[key].as_array().unwrap().len();
    assert_eq!(page["followingCount"], json!(count("/api/v1/admin/following", "following")));
    assert_eq!(page["followersCount"], json!(count("/api/v1/admin/followers", "followers")));
    assert_eq!(page["deliveryCount"], json!(count("/api/v1/admin/deliveries", "deliveries")));
    assert_eq!(page["copyCount"], json!(count("/api/v1/admin/redundancy", "copies")));
    assert!(page["graphPoints"].as_u64().unwrap() >= points as u64);
    assert_eq!(page["graphPoints"], page["graphPolyline"], "one vertex per point");

    let again = &found["afterReload"];
    assert_eq!(again["loginShown"], false, "the token stayed in the tab's session");
    assert_eq!(again["nodes"][0]["requests"], shown["requests"]);
}
