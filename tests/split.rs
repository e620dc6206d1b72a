//! The control-plane split end to end, with real processes over loopback: `vidseed control` and
//! two `vidseed data` nodes on the QUIC catalog channel, driven through the admin API; files
//! added and removed, the control plane killed and restarted, each video's tracker on one of
//! its nodes (and on the next when that one is revoked), a node revoked, a wrong pin and a wrong
//! token refused. Run against SQLite and against PostgreSQL. Also: the README's split section,
//! run command by command as printed, and the node configuration `node add` writes, read by the
//! data node's own parser.

mod common;

#[path = "common/cluster.rs"]
mod cluster;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use cluster::*;
use common::{admin, admin_json, eventually, get, pseudo_random};
use serde::Deserialize;
use serde_json::{json, Value};
use vidseed_control_plane::library::rendezvous;
use vidseed_control_plane::PublicUrls;
use vidseed_shared::InfoHash;

/// The parts of a `.torrent` these tests read.
#[derive(Deserialize, Debug)]
struct Metainfo {
    announce: String,
    #[serde(rename = "announce-list")]
    announce_list: Vec<Vec<String>>,
    #[serde(rename = "url-list")]
    url_list: Vec<String>,
}

/// A torrent as the control plane serves it now: its trackers and WebSeeds, and the SHA-1 of its
/// info dictionary's bytes (the dictionary sits between `4:info` and the url-list that follows).
fn torrent_now(control: SocketAddr, ih: &str) -> Option<(Metainfo, String)> {
    let res = get(control, &format!("/torrents/{ih}.torrent"), &[]).ok()?;
    if res.status != 200 {
        return None;
    }
    let meta: Metainfo = serde_bencode::from_bytes(&res.body).expect("a valid torrent");
    let b = &res.body;
    let start = b.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    let end = b.windows(10).rposition(|w| w == b"8:url-list").unwrap();
    let hash = <sha1::Sha1 as sha1::Digest>::digest(&b[start..end]);
    Some((meta, hash.iter().map(|x| format!("{x:02x}")).collect()))
}

/// The video at library path `path` as the admin API lists it.
fn video(control: SocketAddr, token: &str, path: &str) -> Value {
    let v = admin_json(control, token, "GET", "/api/v1/admin/videos", None);
    v["videos"].as_array().unwrap().iter().find(|v| v["path"] == path).cloned().unwrap_or(Value::Null)
}

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

    // c.mp4's torrent and magnet name the tracker of one of the two nodes serving it, the one
    // rendezvous hashing of its info-hash ranks first (n2, for these bytes).
    let urls = [("n1", format!("http://127.0.0.1:{p1}")), ("n2", format!("http://127.0.0.1:{p2}"))];
    let c = eventually(WAIT, "c.mp4 on both nodes", || {
        let v = video(control.http, &control.token, "c.mp4");
        (v["nodes"].as_array().map_or(0, Vec::len) == 2).then_some(v)
    });
    let ih_c = c["infoHash"].as_str().unwrap().to_owned();
    let first = rendezvous::choose(&ih_c.parse::<InfoHash>().unwrap(), &urls, |(n, _)| n).unwrap();
    assert_eq!(first.0, "n2", "the test needs a video whose first-ranked node is then revoked");
    let trackers = PublicUrls::trackers_at(&first.1);
    assert_eq!(c["trackers"], json!(trackers));
    assert_eq!(c["trackerNode"], "n2");
    assert!(c["magnetUri"].as_str().unwrap().contains(&format!("&tr={}", percent_encoding::utf8_percent_encode(&trackers[0], vidseed_control_plane::library::urls::COMPONENT))));
    let (meta, info_hash) = torrent_now(control.http, &ih_c).unwrap();
    assert_eq!(info_hash, ih_c);
    assert_eq!((meta.announce.as_str(), meta.announce_list.clone()), (trackers[0].as_str(), vec![vec![trackers[0].clone()], vec![trackers[1].clone()]]));
    let public = get(control.http, &format!("/api/v1/videos/{ih_c}"), &[]).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&public.body).unwrap()["trackers"], json!(trackers), "the public API says so too");

    // Revoke n2: cut off at once; further changes reach n1 only.
    admin_json(control.http, &control.token, "DELETE", "/api/v1/admin/nodes/n2", None);
    eventually(WAIT, "n2 to log its revocation", || n2.log().contains("revoked").then_some(()));
    assert_eq!(node_state(&control, "n2")["state"], "revoked");

    // c.mp4's tracker was n2's: n1, next in its ranking, takes over; the torrent's trackers and
    // url-list change, its info dictionary does not.
    let n1_trackers = PublicUrls::trackers_at(&urls[0].1);
    let (meta, info_hash) = torrent_now(control.http, &ih_c).unwrap();
    assert_eq!(info_hash, ih_c, "the info-hash never changes");
    assert_eq!(meta.announce, n1_trackers[0]);
    assert_eq!(meta.announce_list, vec![vec![n1_trackers[0].clone()], vec![n1_trackers[1].clone()]]);
    assert_eq!(meta.url_list, [format!("http://127.0.0.1:{p1}/static/webseed/c.mp4")]);
    assert_eq!(video(control.http, &control.token, "c.mp4")["trackerNode"], "n1");
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

/// The configuration `node add` writes is one the data node reads: every key, including the
/// commented ones once uncommented, with the defaults the comments give.
#[test]
fn the_node_configuration_parses_as_the_data_node_reads_it() {
    use vidseed_control_plane::http::admin::node_config_text;
    use vidseed_data_plane::FileConfig;
    let text = node_config_text("edge-1", "tok", "127.0.0.1:9002", "sha256:00", "https://edge-1.example.org", &["".into(), "films".into()]);
    let c = FileConfig::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let node = c.node.unwrap();
    assert_eq!((node.name.as_str(), node.token.as_str(), node.control.as_str(), node.pin.as_str()), ("edge-1", "tok", "127.0.0.1:9002", "sha256:00"));
    assert_eq!(node.public_url.as_deref(), Some("https://edge-1.example.org"));
    assert_eq!((node.listen, node.follow_symlinks), (None, false));
    let libraries: Vec<&str> = node.folders.iter().map(|f| f.library.as_str()).collect();
    assert_eq!(libraries, ["", "films"]);
    assert_eq!(node.folders[1].path, Path::new("/srv/vidseed/media/films"));

    // Uncommented, each optional key holds the default the node uses without it.
    let live: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with("listen = ") || rest.starts_with("follow_symlinks = ") => rest.to_owned(),
            _ => l.to_owned(),
        })
        .map(|l| l + "\n")
        .collect();
    let node = FileConfig::parse(&live).unwrap_or_else(|e| panic!("{e}\n{live}")).node.unwrap();
    assert_eq!(node.listen, Some(vidseed_shared::channel::DEFAULT_NODE_LISTEN));
    assert!(!node.follow_symlinks);

    // A node given no URL: the key is there, commented, and parses once uncommented.
    let text = node_config_text("edge-2", "tok", "c:1", "sha256:00", "", &["".into()]);
    assert_eq!(FileConfig::parse(&text).unwrap().node.unwrap().public_url, None);
    let live = text.replace("# public_url = ", "public_url = ");
    assert!(FileConfig::parse(&live).unwrap().node.unwrap().public_url.is_some());
}

/// A step of the README's split section: a command (continuation lines joined, its trailing
/// comment dropped) or a line that is a comment only (an instruction to the admin).
#[derive(Debug)]
enum Step {
    Command(String),
    Comment(String),
}

/// The fenced shell block of the README's "Separate control plane and data nodes" section.
fn readme_split_block() -> &'static str {
    const README: &str = include_str!("../README.md");
    let heading = "### Separate control plane and data nodes";
    let section = &README[README.find(heading).expect("the README has the split section") + heading.len()..];
    let section = &section[..section.find("\n## ").into_iter().chain(section.find("\n### ")).min().unwrap_or(section.len())];
    let block = &section[section.find("```sh\n").expect("the split section has a shell block") + "```sh\n".len()..];
    &block[..block.find("```").expect("the block ends")]
}

fn readme_steps(block: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        if pending.is_empty() && line.trim_start().starts_with('#') {
            steps.push(Step::Comment(line.trim_start().trim_start_matches('#').trim().to_owned()));
            continue;
        }
        let code = line.find(" #").map_or(line, |i| &line[..i]).trim();
        match code.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head.trim());
                pending.push(' ');
            }
            None => {
                pending.push_str(code);
                if !pending.trim().is_empty() {
                    steps.push(Step::Command(std::mem::take(&mut pending).trim().to_owned()));
                }
                pending.clear();
            }
        }
    }
    steps
}

/// `command` run by `sh` in `dir`, where `vidseed` is the binary under test, with the variables
/// the README exported so far (and no others of vidseed's).
fn shell(dir: &Path, exported: &[(String, String)], command: &str) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_vidseed")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = Command::new("sh");
    c.arg("-c").arg(command).current_dir(dir).env("PATH", path).env("RUST_LOG", "info");
    c.env_remove("VIDSEED_CONTROL_URL").env_remove("VIDSEED_ADMIN_TOKEN");
    c.envs(exported.iter().map(|(k, v)| (k, v)));
    c
}

/// The README's split section, command by command, as an admin on one machine runs it: the
/// only changes are the placeholders (addresses become free ports on 127.0.0.1, /srv/library a
/// temporary folder, TOKEN the token `control` printed); `node add` is redirected to a file by
/// the shell, that file is edited as the README says and read by `vidseed data`; then the node
/// serves a range of the added file, and the tracker the torrent names answers announces.
#[test]
fn the_readme_split_section_works_as_printed() {
    let block = readme_split_block();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let library = dir.path().join("library");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(library.join("movies")).unwrap();
    let a = pseudo_random(700_000, 11);
    std::fs::write(library.join("movies/a.mp4"), &a).unwrap();
    std::fs::write(library.join("movies/old.mp4"), pseudo_random(90_000, 12)).unwrap();

    let (http, udp, node_port) = (free_tcp_port(), free_udp_port(), free_tcp_port());
    let control_http: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    let node_addr: SocketAddr = format!("127.0.0.1:{node_port}").parse().unwrap();
    let node_url = format!("http://127.0.0.1:{node_port}");
    let placeholders = [
        ("/srv/library", library.to_str().unwrap().to_owned()),
        ("0.0.0.0:8081", format!("127.0.0.1:{http}")),
        ("127.0.0.1:8081", format!("127.0.0.1:{http}")),
        ("0.0.0.0:9002", format!("127.0.0.1:{udp}")),
        ("control.example.org:9002", format!("127.0.0.1:{udp}")),
        ("https://edge-1.example.org", node_url.clone()),
    ];
    for (text, _) in &placeholders {
        assert!(block.contains(text), "the README's split block no longer holds {text:?}: say here what replaces it");
    }

    let mut exported: Vec<(String, String)> = Vec::new();
    let (mut control, mut node, mut token): (Option<Proc>, Option<Proc>, Option<String>) = (None, None, None);
    let mut done: Vec<&str> = Vec::new();
    for step in readme_steps(block) {
        let command = match step {
            Step::Comment(text) if text.contains("[[node.folders]] path") => {
                // "edit edge-1.toml: set [[node.folders]] path (and uncomment listen if not …)"
                let file = text.split([' ', ':', ',']).find(|w| w.ends_with(".toml")).expect("the step names the file to edit");
                let file = work.join(file);
                let config = std::fs::read_to_string(&file).unwrap();
                assert_eq!(config.lines().filter(|l| l.starts_with("path = ")).count(), 1, "{config}");
                let listen = format!("# listen = \"{}\"", vidseed_shared::channel::DEFAULT_NODE_LISTEN);
                assert!(config.contains(&listen), "the file names the listen key and its default:\n{config}");
                let edited: String = config
                    .lines()
                    .map(|l| {
                        if l.starts_with("path = ") {
                            format!("path = {:?}", library.to_str().unwrap())
                        } else if l == listen {
                            format!("listen = \"127.0.0.1:{node_port}\"")
                        } else {
                            l.to_owned()
                        }
                    })
                    .map(|l| l + "\n")
                    .collect();
                std::fs::write(&file, edited).unwrap();
                done.push("edit");
                continue;
            }
            Step::Comment(_) => continue,
            Step::Command(c) => c,
        };
        let mut command = placeholders.iter().fold(command, |c, (from, to)| c.replace(from, to));
        if let Some(t) = &token {
            // The placeholder is a value (`…_TOKEN=TOKEN`), not the variable's name.
            command = command.replace("=TOKEN", &format!("={t}"));
        }
        for left in ["example.org", "/srv/", "0.0.0.0", "=TOKEN"] {
            assert!(!command.contains(left), "{left:?} left in `{command}`: a placeholder this test does not know");
        }
        if let Some(assignments) = command.strip_prefix("export ") {
            for a in assignments.split_whitespace() {
                let (k, v) = a.split_once('=').expect("NAME=VALUE");
                exported.push((k.to_owned(), v.to_owned()));
            }
            done.push("export");
            continue;
        }
        assert!(command.starts_with("vidseed "), "the block runs vidseed only: `{command}`");
        if command.starts_with("vidseed control ") {
            let p = Proc::spawn(shell(&work, &exported, &format!("exec {command}")));
            let line = p.line_with("control plane on http://");
            assert!(line.contains(&format!("http://{control_http}")) && line.contains("pin sha256:"), "{line}");
            token = Some(p.line_with("admin token").rsplit(' ').next().unwrap().to_owned());
            control = Some(p);
            done.push("control");
            continue;
        }
        if command.starts_with("vidseed data ") {
            node = Some(Proc::spawn(shell(&work, &exported, &format!("exec {command}"))));
            done.push("data");
            continue;
        }
        let out = shell(&work, &exported, &command).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        let logs = || format!("control:\n{}\nnode:\n{}", control.as_ref().map(Proc::log).unwrap_or_default(), node.as_ref().map(Proc::log).unwrap_or_default());
        assert!(out.status.success(), "`{command}` failed:\n{stdout}\n{stderr}\n{}", logs());
        let token = token.as_deref().unwrap();
        if command.starts_with("vidseed admin node add edge-1") {
            // The shell saved the configuration alone; the token and pin went to the terminal.
            let file = command.rsplit("> ").next().unwrap().trim();
            let text = std::fs::read_to_string(work.join(file)).unwrap();
            let parsed = vidseed_data_plane::FileConfig::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
            let section = parsed.node.unwrap();
            assert_eq!((section.name.as_str(), section.public_url.as_deref()), ("edge-1", Some(node_url.as_str())));
            assert!(stderr.contains(&format!("  token    {}", section.token)) && stderr.contains("shown only once"), "{stderr}");
            assert!(stderr.contains(&format!("  pin      {}", section.pin)), "{stderr}");
            done.push("node add");
        } else if command.starts_with("vidseed admin add ") {
            // The node serves a range of the file…
            let res = eventually(WAIT, "the node to serve movies/a.mp4", || {
                let r = get(node_addr, "/static/webseed/movies/a.mp4", &[("Range", "bytes=1000-1999")]).ok()?;
                (r.status == 206).then_some(r)
            });
            assert_eq!(res.body, &a[1000..2000]);
            assert_eq!(res.header("content-range"), Some(format!("bytes 1000-1999/{}", a.len()).as_str()));
            // …and its torrent names the node's own tracker, which answers announces.
            let v = eventually(WAIT, "the video served by edge-1", || {
                let v = video(control_http, token, "movies/a.mp4");
                (v["nodes"] == json!(["edge-1"])).then_some(v)
            });
            let ih = v["infoHash"].as_str().unwrap().to_owned();
            let (meta, info_hash) = torrent_now(control_http, &ih).expect("the torrent of a served video");
            assert_eq!(info_hash, ih);
            assert_eq!(meta.announce, format!("ws://127.0.0.1:{node_port}/tracker/socket"));
            assert_eq!(meta.announce_list, vec![vec![meta.announce.clone()], vec![format!("{node_url}/tracker/announce")]]);
            assert_eq!(meta.url_list, [format!("{node_url}/static/webseed/movies/a.mp4")]);
            announce_over_websocket(&meta.announce, &ih);
            announce_over_http(&meta.announce_list[1][0], &ih);
            done.push("add");
        } else if command == "vidseed admin videos" {
            assert!(stdout.contains(&format!("    tracker   ws://127.0.0.1:{node_port}/tracker/socket (node edge-1)")), "{stdout}");
            done.push("videos");
        }
    }
    assert_eq!(done, ["control", "export", "node add", "edit", "data", "add", "videos"], "every step of the README ran");
}

/// A WebTorrent announce over the WebSocket tracker at `url` (`ws://host:port/path`): answered,
/// not refused, counting this seeder.
fn announce_over_websocket(url: &str, ih_hex: &str) {
    use common::ws::{bin, hex_to_bin, recv, send, upgrade_request, Exec};
    let (host, path) = url.strip_prefix("ws://").expect("a ws:// tracker").split_once('/').unwrap();
    let path = format!("/{path}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let (ws, _) = fastwebsockets::handshake::client(&Exec, upgrade_request(&path, host), stream).await.unwrap();
        let mut ws = fastwebsockets::FragmentCollector::new(ws);
        let ih = hex_to_bin(ih_hex);
        let peer = bin(&[7; 20]);
        send(&mut ws, json!({"action": "announce", "info_hash": ih, "peer_id": peer, "numwant": 1, "uploaded": 0, "downloaded": 0, "left": 0, "event": "started", "offers": []})).await;
        let r = recv(&mut ws).await;
        assert!(r.get("failure reason").is_none(), "the tracker refused: {r}");
        assert_eq!((r["action"].as_str(), r["info_hash"].as_str()), (Some("announce"), Some(ih.as_str())), "{r}");
        assert_eq!((r["complete"].as_u64(), r["interval"].as_u64()), (Some(1), Some(120)), "{r}");
    });
}

/// A BitTorrent announce to the HTTP tracker at `url` (`http://host:port/path`): a bencoded
/// answer with an interval, not a failure.
fn announce_over_http(url: &str, ih_hex: &str) {
    use serde_bencode::value::Value as Bencode;
    let (host, path) = url.strip_prefix("http://").expect("an http:// tracker").split_once('/').unwrap();
    let pct = |b: &[u8]| b.iter().map(|x| format!("%{x:02X}")).collect::<String>();
    let ih: Vec<u8> = (0..20).map(|i| u8::from_str_radix(&ih_hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    let target = format!("/{path}?info_hash={}&peer_id={}&port=6881&uploaded=0&downloaded=0&left=0&event=started&compact=1", pct(&ih), pct(&[8; 20]));
    let r = get(host.parse().unwrap(), &target, &[]).unwrap();
    assert_eq!(r.status, 200);
    let answer: std::collections::BTreeMap<String, Bencode> = serde_bencode::from_bytes(&r.body).unwrap();
    assert!(!answer.contains_key("failure reason"), "the tracker refused: {answer:?}");
    assert!(matches!(answer.get("interval"), Some(Bencode::Int(120))), "{answer:?}");
}
