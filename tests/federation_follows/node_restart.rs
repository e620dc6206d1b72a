//! A data node (`vidseed data`, its own process) that was away when copies were removed deletes
//! their files when it connects again: the control plane tells it which copies it keeps.

use std::path::Path;

use crate::cluster::{add_node, free_tcp_port, free_udp_port, start_control_with, Control, Proc};
use crate::common::{eventually, get};
use crate::peertube::FakePeerTube;

const UUID: &str = "0a1b2c3d-0000-4000-8000-0000000000b7";

fn cli(c: &Control, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidseed"))
        .args(["admin", "--control-url", &format!("http://{}", c.http), "--token", &c.token])
        .args(args)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn a_data_node_deletes_the_copies_removed_while_it_was_away() {
    let origin = FakePeerTube::start();
    let video = origin.publish_video(UUID, "away");
    let dir = tempfile::tempdir().unwrap();
    let (library, state, cache) = (dir.path().join("library"), dir.path().join("state"), dir.path().join("cache"));
    std::fs::create_dir_all(&library).unwrap();
    let control = start_control_with(&library, &state, None, free_tcp_port(), free_udp_port(), None, &["--allow-private-federation"]);
    let port = free_tcp_port();
    let cfg = add_node(&control, dir.path(), "edge", port, &library);
    let mut config: toml::Value = toml::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    let node_section = config["node"].as_table_mut().unwrap();
    node_section.insert("cache".into(), toml::Value::String(cache.to_str().unwrap().to_owned()));
    node_section.insert("allow_private_sources".into(), toml::Value::Boolean(true));
    std::fs::write(&cfg, toml::to_string(&config).unwrap()).unwrap();
    let start_node = || Proc::start(&["data", "--config", cfg.to_str().unwrap(), "--data-workers", "1"]);
    let mut node = start_node();

    assert_eq!(cli(&control, &["follow", &origin.base]).0, Some(0));
    eventually(super::WAIT, "the follow accepted", || cli(&control, &["following"]).1.contains("accepted").then_some(()));
    assert_eq!(cli(&control, &["redundancy", "allow", &origin.host()]).0, Some(0));
    let (code, out) = cli(&control, &["redundancy", "add", &video.url]);
    assert_eq!(code, Some(0), "{out}\n{}", node.log());
    let data: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let web = &video.web[0];
    let r = get(data, &format!("/static/redundancy/{}", web.name), &[]).unwrap();
    assert!(r.status == 200 && r.body == web.bytes, "served by the node");
    assert!(cache.join(&web.name).exists() && cache.join(format!("hls/{UUID}")).is_dir());

    // The node goes away (killed); meanwhile the admin removes the copies: the discards reach
    // no node.
    node.kill();
    let (code, out) = cli(&control, &["redundancy", "remove", &video.url]);
    assert!(code == Some(0) && out.contains("removed 3"), "{out}");
    assert!(cache.join(&web.name).exists(), "nobody deleted them yet");

    // Back: told which copies are kept (none), it deletes theirs.
    let node = start_node();
    eventually(super::WAIT, "the removed copies deleted by the node", || files_under(&cache).is_empty().then_some(()));
    // (The files go first, then the catalog is told: served until it is.)
    eventually(super::WAIT, "the removed copy no longer served", || {
        (get(data, &format!("/static/redundancy/{}", web.name), &[]).ok()?.status == 404).then_some(())
    });
    drop(node);
}
