//! The control-plane split end to end, with real processes over loopback: `vidseed control` and
//! two `vidseed data` nodes on the QUIC catalog channel, driven through the admin API; files
//! added and removed, the control plane killed and restarted, a node revoked, a wrong pin and a
//! wrong token refused. Run against SQLite and against PostgreSQL.

mod common;

#[path = "common/cluster.rs"]
mod cluster;

use std::net::SocketAddr;
use std::process::Command;

use cluster::*;
use common::{admin, admin_json, eventually, get, pseudo_random};
use serde_json::{json, Value};

fn scenario(database: Option<(&str, &str)>) {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&library).unwrap();
    let (listen, channel) = (free_tcp_port(), free_udp_port());
    let mut control = start_control(&library, &state, database, listen, channel, None);

    // Unauthorised requests get 401 and nothing else.
    let (status, body) = admin(control.http, "wrong", "GET", "/api/v1/admin/nodes", None);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("token"), "no hint for a wrong token: {body}");

    let (p1, p2) = (free_tcp_port(), free_tcp_port());
    let cfg1 = add_node(&control, dir.path(), "n1", p1, &library);
    let cfg2 = add_node_with(&control, dir.path(), "n2", p2, &library, true);
    let n1 = Proc::start(&["data", "--config", cfg1.to_str().unwrap(), "--data-workers", "1"]);
    let mut n2 = Proc::start(&["data", "--config", cfg2.to_str().unwrap(), "--data-workers", "1"]);
    let (a1, a2): (SocketAddr, SocketAddr) = (format!("127.0.0.1:{p1}").parse().unwrap(), format!("127.0.0.1:{p2}").parse().unwrap());
    for name in ["n1", "n2"] {
        eventually(WAIT, "both nodes connected", || (node_state(&control, name)["state"] == "connected").then_some(()));
    }

    // Add a file: both nodes serve it, and the torrent's url-list names both.
    let a = pseudo_random(300_000, 1);
    std::fs::write(library.join("a.mp4"), &a).unwrap();
    let added = add(control.http, &control.token, "a.mp4");
    let ih = added["result"]["added"][0]["infoHash"].as_str().unwrap().to_owned();
    for addr in [a1, a2] {
        let body = eventually(WAIT, "a.mp4 on both nodes", || {
            let r = get(addr, "/static/webseed/a.mp4", &[]).ok()?;
            (r.status == 200).then_some(r.body)
        });
        assert!(body == a, "the node serves the file's bytes");
    }
    let torrent = eventually(WAIT, "both nodes in the url-list", || {
        let t = get(control.http, &format!("/torrents/{ih}.torrent"), &[]).ok()?.body;
        let text = String::from_utf8_lossy(&t).into_owned();
        (text.contains(&format!("http://127.0.0.1:{p1}/static/webseed/a.mp4")) && text.contains(&format!("http://127.0.0.1:{p2}/static/webseed/a.mp4"))).then_some(t)
    });
    assert!(String::from_utf8_lossy(&torrent).contains("8:url-list"));

    // A hidden file and an empty one are refused, each with its reason.
    std::fs::create_dir_all(library.join(".private")).unwrap();
    for (name, bytes, why) in [
        (".a.part.mp4", &b"x"[..], "hidden files"),
        (".private/x.mp4", &b"x"[..], "hidden files"),
        ("empty.mp4", &b""[..], "empty file"),
    ] {
        std::fs::write(library.join(name), bytes).unwrap();
        let (status, text) = admin(control.http, &control.token, "POST", "/api/v1/admin/videos", Some(&json!({ "path": name })));
        let last: Value = serde_json::from_str(text.lines().rfind(|l| !l.trim().is_empty()).unwrap()).unwrap();
        assert!(last["error"].as_str().is_some_and(|e| e.contains(why)), "{status} {text}");
        std::fs::remove_file(library.join(name)).unwrap();
    }
    let (_, text) = admin(control.http, &control.token, "POST", "/api/v1/admin/videos", Some(&json!({ "path": ".private" })));
    assert!(text.contains("hidden files"), "{text}");
    std::fs::remove_dir(library.join(".private")).unwrap();

    // The admin's CLI shows the same: a readable table, or the API's JSON.
    let cli = |args: &[&str]| {
        let url = format!("http://{}", control.http);
        let out = Command::new(env!("CARGO_BIN_EXE_vidseed"))
            .args(["admin", "--control-url", &url, "--token", &control.token])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, table, err) = cli(&["videos"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(table.contains("a.mp4") && table.contains(&ih) && table.contains("magnet:?"), "{table}");
    let (code, json_out, err) = cli(&["--json", "nodes"]);
    assert_eq!(code, Some(0), "{err}");
    let nodes: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 2, "{json_out}");
    let (code, _, err) = Command::new(env!("CARGO_BIN_EXE_vidseed"))
        .args(["admin", "--control-url", &format!("http://{}", control.http), "--token", "wrong", "videos"])
        .output()
        .map(|o| (o.status.code(), (), String::from_utf8_lossy(&o.stderr).into_owned()))
        .unwrap();
    assert_eq!(code, Some(1));
    assert!(err.contains("refused the admin token"), "{err}");

    // Remove it: 404 on both.
    let removed = admin_json(control.http, &control.token, "DELETE", "/api/v1/admin/videos?path=a.mp4", None);
    assert_eq!(removed["removed"], json!(["a.mp4"]));
    for addr in [a1, a2] {
        eventually(WAIT, "a.mp4 gone from both nodes", || (status_of(addr, "a.mp4") == 404).then_some(()));
    }

    // Kill the control plane: the nodes keep serving; changes made while it restarts reach them.
    std::fs::write(library.join("b.mp4"), pseudo_random(200_000, 2)).unwrap();
    add(control.http, &control.token, "b.mp4");
    for addr in [a1, a2] {
        eventually(WAIT, "b.mp4 on both nodes", || (status_of(addr, "b.mp4") == 200).then_some(()));
    }
    let token = control.token.clone();
    control.proc.kill();
    for addr in [a1, a2] {
        assert_eq!(status_of(addr, "b.mp4"), 200, "a node keeps serving without its control plane");
    }
    control = start_control(&library, &state, database, listen, channel, Some(&token));
    std::fs::write(library.join("c.mp4"), pseudo_random(100_000, 3)).unwrap();
    add(control.http, &control.token, "c.mp4");
    admin_json(control.http, &control.token, "DELETE", "/api/v1/admin/videos?path=b.mp4", None);
    for addr in [a1, a2] {
        eventually(WAIT, "the nodes resume and get what changed", || (status_of(addr, "c.mp4") == 200 && status_of(addr, "b.mp4") == 404).then_some(()));
    }
    let n = eventually(WAIT, "n1 acknowledges the latest update", || {
        let n = node_state(&control, "n1");
        (n["catalogSeq"] == n["latestSeq"]).then_some(n)
    });
    assert_eq!(n["files"], 1);

    // Revoke n2: cut off at once; further changes reach n1 only.
    admin_json(control.http, &control.token, "DELETE", "/api/v1/admin/nodes/n2", None);
    eventually(WAIT, "n2 to log its revocation", || n2.log().contains("revoked").then_some(()));
    assert_eq!(node_state(&control, "n2")["state"], "revoked");
    std::fs::write(library.join("d.mp4"), pseudo_random(50_000, 4)).unwrap();
    add(control.http, &control.token, "d.mp4");
    eventually(WAIT, "d.mp4 on n1", || (status_of(a1, "d.mp4") == 200).then_some(()));
    // n1 acknowledged the update that added d.mp4; n2, cut off, never did.
    let n1_state = eventually(WAIT, "n1 at the latest update", || {
        let n = node_state(&control, "n1");
        (n["catalogSeq"] == n["latestSeq"]).then_some(n)
    });
    assert!(node_state(&control, "n2")["catalogSeq"].as_u64() < n1_state["latestSeq"].as_u64(), "a revoked node gets no update");
    assert_eq!(status_of(a2, "d.mp4"), 404, "a revoked node gets nothing more");
    n2.kill();

    // A wrong pin and a wrong token are refused, each with a clear line.
    let (p3, p4) = (free_tcp_port(), free_tcp_port());
    let cfg3 = add_node(&control, dir.path(), "n3", p3, &library);
    let text = std::fs::read_to_string(&cfg3).unwrap();
    let pin = text.lines().find(|l| l.starts_with("pin")).unwrap().to_owned();
    let bad_pin = format!("pin = \"sha256:{}\"", "0".repeat(64));
    std::fs::write(&cfg3, text.replace(&pin, &bad_pin)).unwrap();
    let n3 = Proc::start(&["data", "--config", cfg3.to_str().unwrap(), "--data-workers", "1"]);
    eventually(WAIT, "the wrong pin to be refused", || n3.log().contains("does not match the pinned").then_some(()));
    let cfg4 = add_node(&control, dir.path(), "n4", p4, &library);
    let text = std::fs::read_to_string(&cfg4).unwrap();
    let token_line = text.lines().find(|l| l.starts_with("token")).unwrap().to_owned();
    std::fs::write(&cfg4, text.replace(&token_line, "token = \"not-the-token\"")).unwrap();
    let n4 = Proc::start(&["data", "--config", cfg4.to_str().unwrap(), "--data-workers", "1"]);
    eventually(WAIT, "the wrong token to be refused", || n4.log().contains("unknown node or wrong token").then_some(()));
    eventually(WAIT, "the control plane to log the refusal", || control.proc.log().contains("refused node \"n4\"").then_some(()));
    assert_eq!(status_of(format!("127.0.0.1:{p4}").parse().unwrap(), "c.mp4"), 404);
    drop(n1);
}

#[test]
fn control_and_two_data_nodes_over_sqlite() {
    scenario(None);
}

/// A PostgreSQL schema of the test's own, dropped at the end whatever happens.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn run(&self, sql: &str) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed for this test: {e}", self.url));
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
        });
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        self.run(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

#[test]
fn control_and_two_data_nodes_over_postgres() {
    let url = std::env::var("VIDSEED_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = Schema { url, name: format!("vidseed_split_{}", std::process::id()) };
    schema.run("SELECT 1");
    scenario(Some((&schema.url, &schema.name)));
}
