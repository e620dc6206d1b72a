//! Health and Prometheus metrics of both planes through the real binary: the exposition is
//! checked by a strict reader of the text format, and the numbers move as traffic moves.

use std::time::Duration;

use crate::cluster::{free_tcp_port, free_udp_port, Proc};
use crate::prometheus::{parse, Scrape};
use crate::common::{admin, admin_token, eventually, file_path, get, pseudo_random, send, Node};

fn scrape_data(addr: std::net::SocketAddr, path: &str) -> Scrape {
    let res = get(addr, path, &[]).unwrap();
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    parse(std::str::from_utf8(&res.body).unwrap()).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&res.body)))
}

fn scrape_control(addr: std::net::SocketAddr, token: &str) -> Scrape {
    let (status, text) = admin(addr, token, "GET", "/metrics", None);
    assert_eq!(status, 200, "{text}");
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

const GET_2XX: (&str, &[(&str, &str)]) = ("vidseed_data_webseed_responses_total", &[("method", "GET"), ("class", "2xx")]);

#[test]
fn both_planes_answer_health_and_metrics_that_move_with_traffic() {
    let content = pseudo_random(300_000, 7);
    // On epoll, whose send paths (sendfile for whole files) this test names; the io_uring
    // backend's counts are checked in tests/webseed/uring.rs.
    let node = Node::start(&[("a.mp4", &content)], &["--io", "epoll"]);
    let token = admin_token(&node);
    for addr in [node.data, node.control] {
        let alive = get(addr, "/healthz", &[]).unwrap();
        assert_eq!((alive.status, alive.body.as_slice()), (200, &b"ok\n"[..]));
        let ready = get(addr, "/readyz", &[]).unwrap();
        assert_eq!((ready.status, ready.body.as_slice()), (200, &b"ready\n"[..]), "{addr}");
    }
    let path = file_path(&node.videos()[0]);

    let before = scrape_data(node.data, "/metrics");
    assert_eq!(before.get("vidseed_data_ready", &[]), 1.0);
    assert!(before.get("vidseed_data_catalog_version", &[]) >= 1.0);
    assert!(before.get("vidseed_data_catalog_updates_total", &[("result", "applied")]) >= 1.0);
    assert_eq!(before.get("vidseed_data_catalog_files", &[]), 1.0);

    // Traffic: three whole GETs, a range, a HEAD, a 404, an invalid announce.
    let mut body_bytes = 0;
    for _ in 0..3 {
        let r = get(node.data, &path, &[]).unwrap();
        assert_eq!((r.status, r.body.len()), (200, content.len()));
        body_bytes += r.body.len();
    }
    let r = get(node.data, &path, &[("Range", "bytes=10-1009")]).unwrap();
    assert_eq!((r.status, r.body.len()), (206, 1000));
    body_bytes += 1000;
    assert_eq!(send(node.data, "HEAD", &path, &[]).unwrap().status, 200);
    let missing = get(node.data, "/static/webseed/nope.mp4", &[]).unwrap();
    assert_eq!(missing.status, 404);
    body_bytes += missing.body.len();
    let bad = get(node.data, "/tracker/announce?nothing=1", &[]).unwrap();
    assert!(String::from_utf8_lossy(&bad.body).contains("failure reason"));

    // Bytes are counted once the write returns, which the client may see first: scraped until
    // they are in (the responses were counted before they were sent).
    let sendfile_bytes = |m: &Scrape| m.get("vidseed_data_sent_bytes_total", &[("path", "sendfile")]);
    let after = eventually(Duration::from_secs(10), "the bytes sent counted", || {
        let m = scrape_data(node.data, "/metrics");
        (sendfile_bytes(&m) - sendfile_bytes(&before) >= 3.0 * content.len() as f64).then_some(m)
    });
    let delta = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    assert_eq!(delta(GET_2XX.0, GET_2XX.1), 4.0);
    assert_eq!(delta("vidseed_data_webseed_responses_total", &[("method", "HEAD"), ("class", "2xx")]), 1.0);
    assert_eq!(delta("vidseed_data_webseed_responses_total", &[("method", "GET"), ("class", "4xx")]), 1.0);
    assert_eq!(delta("vidseed_data_webseed_body_bytes_total", &[]), body_bytes as f64);
    assert_eq!(delta("vidseed_data_webseed_request_duration_seconds_count", &[]), 6.0);
    let sent = after.sum("vidseed_data_sent_bytes_total") - before.sum("vidseed_data_sent_bytes_total");
    assert!(sent >= body_bytes as f64, "socket bytes {sent} < body bytes {body_bytes}");
    assert!(delta("vidseed_data_sent_bytes_total", &[("path", "sendfile")]) >= 3.0 * content.len() as f64, "whole files go by sendfile");
    assert_eq!(after.get("vidseed_data_sent_bytes_total", &[("path", "tls")]), 0.0);
    assert_eq!(delta("vidseed_data_tracker_errors_total", &[("reason", "invalid")]), 1.0);
    assert!(after.get("vidseed_data_max_connections", &[]) > 0.0);
    assert_eq!(after.types["vidseed_data_webseed_request_duration_seconds"], "histogram");

    // The control plane: the token, then what it knows of the node and the library.
    let (status, _) = admin(node.control, "wrong", "GET", "/metrics", None);
    assert_eq!(status, 401);
    let control = scrape_control(node.control, &token);
    assert_eq!(control.get("vidseed_control_nodes", &[("state", "connected")]), 1.0);
    assert_eq!(control.get("vidseed_control_channel_sessions", &[("node", "local")]), 1.0);
    assert_eq!(control.get("vidseed_control_videos", &[]), 1.0);
    let latest = control.get("vidseed_control_catalog_version", &[]);
    assert!(latest >= 1.0);
    assert_eq!(control.get("vidseed_control_node_catalog_version", &[("node", "local")]), latest);
    assert_eq!(control.get("vidseed_control_deliveries", &[("state", "pending")]), 0.0);
    assert_eq!(control.sum("vidseed_control_database_errors_total"), 0.0);
    // The node's next stats report (every 5 s) carries the requests made above.
    let served = after.sum("vidseed_data_webseed_responses_total");
    eventually(Duration::from_secs(20), "the node's report to reach the control plane", || {
        (scrape_control(node.control, &token).get("vidseed_control_node_requests", &[("node", "local")]) >= served).then_some(())
    });
}

#[test]
fn metrics_move_to_a_port_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let config = dir.path().join("vidseed.toml");
    std::fs::write(&config, format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let node = Node::start(&[("a.mp4", b"0123456789")], &["--config", config.to_str().unwrap()]);
    let ops: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(get(node.data, "/metrics", &[]).unwrap().status, 404, "no metrics on the public port any more");
    assert_eq!(get(node.data, "/readyz", &[]).unwrap().status, 200, "health stays on the public port");
    let s = scrape_data(ops, "/metrics");
    assert_eq!(s.get("vidseed_data_catalog_files", &[]), 1.0);
    assert_eq!(get(ops, "/readyz", &[]).unwrap().status, 200);
    assert_eq!(get(ops, "/healthz", &[]).unwrap().status, 200);
    assert_eq!(get(ops, "/static/webseed/a.mp4", &[]).unwrap().status, 404, "the ops port serves no files");
}

#[test]
fn a_data_node_without_its_catalog_is_alive_but_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let port = free_tcp_port();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"edge\"\ntoken = \"t\"\ncontrol = \"127.0.0.1:{}\"\npin = \"sha256:{}\"\nlisten = \"127.0.0.1:{port}\"\n[[node.folders]]\nlibrary = \"\"\npath = {:?}\n",
            free_udp_port(),
            "ab".repeat(32),
            media.to_str().unwrap()
        ),
    )
    .unwrap();
    let proc = Proc::start(&["data", "--config", config.to_str().unwrap()]);
    proc.line_with("data node");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(get(addr, "/healthz", &[]).unwrap().status, 200);
    let ready = get(addr, "/readyz", &[]).unwrap();
    assert_eq!(ready.status, 503);
    assert!(String::from_utf8_lossy(&ready.body).contains("no catalog"));
    let s = scrape_data(addr, "/metrics");
    assert_eq!(s.get("vidseed_data_ready", &[]), 0.0);
    assert_eq!(s.get("vidseed_data_catalog_version", &[]), 0.0);
}
