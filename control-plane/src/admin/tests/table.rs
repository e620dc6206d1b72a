//! The pure part: tables, sizes, ages, settings, the ndjson stream, error wording.

use serde_json::json;

use super::{nodes, videos, NOW_MS, VIDEOS_LINES};
use crate::admin::client::{interpret, normalize_url, AdminError};
use crate::admin::table::*;
use crate::admin::wire::{AddFailure, AddResult, ErrorBody, NewNode, Progress, Removed, Revoked};

#[test]
fn sizes_are_binary_with_one_decimal() {
    assert_eq!(human_size(0), "0 B");
    assert_eq!(human_size(1023), "1023 B");
    assert_eq!(human_size(1024), "1.0 KiB");
    assert_eq!(human_size(1536), "1.5 KiB");
    assert_eq!(human_size(13_107_200), "12.5 MiB");
    // Rounds up to the next unit instead of reading "1024.0 KiB".
    assert_eq!(human_size(1_048_575), "1.0 MiB");
    assert_eq!(human_size(5 << 30), "5.0 GiB");
    assert_eq!(human_size(3 << 40), "3.0 TiB");
    assert_eq!(human_size(u64::MAX), "16.0 EiB");
}

#[test]
fn ages_read_naturally() {
    assert_eq!(ago(NOW_MS, NOW_MS), "just now");
    assert_eq!(ago(NOW_MS, NOW_MS - 999), "just now");
    assert_eq!(ago(NOW_MS, NOW_MS - 12_000), "12 s ago");
    assert_eq!(ago(NOW_MS, NOW_MS - 59_999), "59 s ago");
    assert_eq!(ago(NOW_MS, NOW_MS - 60_000), "1 min ago");
    assert_eq!(ago(NOW_MS, NOW_MS - 3_599_000), "59 min ago");
    assert_eq!(ago(NOW_MS, NOW_MS - 3_600_000), "1 h ago");
    assert_eq!(ago(NOW_MS, NOW_MS - 3 * 86_400_000), "3 d ago");
    // A clock ahead of ours.
    assert_eq!(ago(NOW_MS, NOW_MS + 5_000), "just now");
}

#[test]
fn table_pads_by_display_width_and_cleans_cells() {
    let rows = vec![
        vec!["日本".to_owned(), "x".to_owned(), "1".to_owned()],
        vec!["e\u{301}te".to_owned(), "y".to_owned(), "100".to_owned()],
        vec!["a\nb\u{1b}[2J".to_owned(), "z".to_owned(), "10".to_owned()],
    ];
    let lines = render_table(&[("A", Align::Left), ("B", Align::Left), ("N", Align::Right)], &rows);
    assert_eq!(lines, ["A        B    N", "日本     x    1", "e\u{301}te      y  100", "a?b?[2J  z   10",]);
    assert_eq!(display_width("日本"), 4);
    assert_eq!(display_width("e\u{301}"), 1);
    assert_eq!(display_width("🎬 ok"), 5);
}

#[test]
fn no_line_ends_in_spaces() {
    let rows = vec![vec!["a".to_owned(), String::new()], vec!["bbbb".to_owned(), "c".to_owned()]];
    let lines = render_table(&[("X", Align::Left), ("Y", Align::Left)], &rows);
    assert_eq!(lines, ["X     Y", "a", "bbbb  c"]);
}

#[test]
fn videos_table() {
    assert_eq!(render_videos(&videos()), VIDEOS_LINES);
    assert_eq!(render_videos(&[]), ["no videos are published yet; publish some with `vidseed admin add PATH`"]);
}

#[test]
fn nodes_table_with_stats() {
    assert_eq!(
        render_nodes(&nodes(), NOW_MS),
        [
            "NAME     STATE            URL                        FOLDERS       CATALOG  LAST SEEN  FILES   SERVED  REQUESTS  PEERS  SWARMS  MSG/S  ERRORS  DISK FREE",
            "paris-1  connected        https://seed1.example.org  (all)             7/7  12 s ago      42  5.0 GiB      1200     35      12    830       0  100.0 GiB",
            "berlin   never connected  https://seed2.example.org  films, talks      -/7  never          0        -         -      -       -      -       -          -",
        ]
    );
}

#[test]
fn nodes_table_without_stats_has_no_stats_columns() {
    let mut nodes = nodes();
    nodes[0].stats = None;
    nodes[0].last_seen = Some(NOW_MS - 2 * 3_600_000);
    nodes[0].state = "disconnected".to_owned();
    assert_eq!(
        render_nodes(&nodes, NOW_MS),
        [
            "NAME     STATE            URL                        FOLDERS       CATALOG  LAST SEEN  FILES",
            "paris-1  disconnected     https://seed1.example.org  (all)             7/7  2 h ago       42",
            "berlin   never connected  https://seed2.example.org  films, talks      -/7  never          0",
        ]
    );
    assert_eq!(
        render_nodes(&[], NOW_MS),
        ["no data nodes yet; add one with `vidseed admin node add NAME --public-url URL`"]
    );
}

#[test]
fn add_result_lines() {
    let result: AddResult = serde_json::from_value(json!({
        "added": [serde_json::from_str::<serde_json::Value>(super::VIDEOS_JSON).unwrap()["videos"][0]],
        "unchanged": ["films/old.mp4", "films/older.mp4"],
        "failed": [{"path": "films/bad.mp4", "error": "not a video (no known container)"}]
    }))
    .unwrap();
    assert_eq!(
        render_add_result(&result),
        [
            "added 1 video:",
            VIDEOS_LINES[0],
            VIDEOS_LINES[1],
            VIDEOS_LINES[2],
            VIDEOS_LINES[3],
            VIDEOS_LINES[4],
            VIDEOS_LINES[5],
            VIDEOS_LINES[6],
            "2 files were already published, unchanged",
        ]
    );
    assert_eq!(render_add_failures(&result), ["error: could not add films/bad.mp4: not a video (no known container)"]);

    let unchanged = AddResult { unchanged: vec!["a.mp4".to_owned()], ..AddResult::default() };
    assert_eq!(render_add_result(&unchanged), ["1 file was already published, unchanged"]);
    assert!(render_add_failures(&unchanged).is_empty());
    assert_eq!(render_add_result(&AddResult::default()), ["nothing added: no video files were found there"]);
}

#[test]
fn removed_and_revoked_lines() {
    let removed = Removed { removed: vec!["films/a.mp4".to_owned(), "films/b.mp4".to_owned()] };
    assert_eq!(render_removed(&removed), ["removed films/a.mp4", "removed films/b.mp4"]);
    let revoked = Revoked { revoked: "paris-1".to_owned() };
    assert_eq!(render_revoked(&revoked), ["revoked node paris-1; it can no longer connect"]);
}

#[test]
fn new_node_summary_names_the_credentials_and_where_the_config_went() {
    let node: NewNode = serde_json::from_value(json!({
        "name": "paris-1",
        "token": "tok_5f2c",
        "pin": "sha256:AB:CD",
        "control": "control.example.org:4433",
        "config": "[node]\nname = \"paris-1\"\ntoken = \"tok_5f2c\"\n"
    }))
    .unwrap();
    let head = [
        "node paris-1 added",
        "  token    tok_5f2c",
        "  pin      sha256:AB:CD",
        "  control  control.example.org:4433",
        "The token is shown only once: it cannot be shown again (revoke the node and add it anew if it is lost).",
    ];
    let mut expected = head.to_vec();
    expected.extend([
        "Its configuration went to standard output: save it as paris-1.toml (`> paris-1.toml`), keep it private.",
        "On the node's host, set [[node.folders]] path in paris-1.toml, then start it with `vidseed data --config paris-1.toml`.",
    ]);
    assert_eq!(render_new_node(&node, None), expected);
    let mut expected = head.to_vec();
    expected.extend([
        "Its configuration is in /etc/vidseed/p.toml (readable by you alone).",
        "On the node's host, set [[node.folders]] path in /etc/vidseed/p.toml, then start it with `vidseed data --config /etc/vidseed/p.toml`.",
    ]);
    assert_eq!(render_new_node(&node, Some("/etc/vidseed/p.toml")), expected);
    // The summary never holds the configuration itself.
    assert!(!render_new_node(&node, None).iter().any(|l| l.contains("[node]")));
    // A numeric pin is shown as is; an odd name does not become a file name.
    let node: NewNode = serde_json::from_value(json!({
        "name": "../x", "token": "t", "pin": 123456, "control": "c", "config": ""
    }))
    .unwrap();
    let lines = render_new_node(&node, None);
    assert_eq!(lines[2], "  pin      123456");
    assert!(lines[5].contains("save it as node.toml"), "{}", lines[5]);
}

#[test]
fn settings_are_dotted_key_value_lines() {
    let settings = json!({
        "empty": {},
        "library": {"folder": "/srv/videos", "rescanSeconds": 30},
        "listen": "127.0.0.1:8081",
        "publicUrl": null,
        "tracker": {"announceUrls": ["wss://a.example", "wss://b.example"], "open": false, "peers": []}
    });
    assert_eq!(
        render_settings(&settings),
        [
            "empty: {}",
            "library.folder: /srv/videos",
            "library.rescanSeconds: 30",
            "listen: 127.0.0.1:8081",
            "publicUrl: (not set)",
            "tracker.announceUrls: wss://a.example, wss://b.example",
            "tracker.open: false",
            "tracker.peers: (none)",
        ]
    );
    assert_eq!(render_settings(&json!({})), ["no settings"]);
}

#[test]
fn ndjson_lines() {
    assert_eq!(
        parse_progress_line(r#"{"progress":{"file":"films/a.mp4","done":10,"total":30}}"#),
        Ok(StreamEvent::Progress(Progress { file: "films/a.mp4".to_owned(), done: 10, total: 30 }))
    );
    let raw = json!({"added": [], "unchanged": ["a.mp4"], "failed": []});
    assert_eq!(
        parse_progress_line(&json!({ "result": raw }).to_string()),
        Ok(StreamEvent::Result {
            result: AddResult { unchanged: vec!["a.mp4".to_owned()], ..AddResult::default() },
            raw: raw.clone()
        })
    );
    assert_eq!(
        parse_progress_line(r#"{"error":"disk full","hint":"free some space"}"#),
        Ok(StreamEvent::Error(ErrorBody {
            error: "disk full".to_owned(),
            status: None,
            hint: Some("free some space".to_owned())
        }))
    );
    assert_eq!(
        parse_progress_line(r#"{"error":"disk full"}"#),
        Ok(StreamEvent::Error(ErrorBody { error: "disk full".to_owned(), status: None, hint: None }))
    );
    assert_eq!(
        parse_progress_line("<html>502 Bad Gateway</html>"),
        Err(LineError::NotJson("<html>502 Bad Gateway</html>".to_owned()))
    );
    assert_eq!(parse_progress_line(r#"{"progress":{"fi"#), Err(LineError::NotJson(r#"{"progress":{"fi"#.to_owned())));
    assert_eq!(parse_progress_line("[1,2]"), Err(LineError::Unrecognized("[1,2]".to_owned())));
    assert_eq!(
        parse_progress_line(r#"{"heartbeat":1}"#),
        Err(LineError::Unrecognized(r#"{"heartbeat":1}"#.to_owned()))
    );
    assert!(matches!(
        parse_progress_line(r#"{"progress":{"file":"a"}}"#),
        Err(LineError::Malformed { kind: "progress", .. })
    ));
    assert!(matches!(
        parse_progress_line(r#"{"result":{"added":"yes"}}"#),
        Err(LineError::Malformed { kind: "result", .. })
    ));
}

fn run_stream(chunks: &[&[u8]]) -> (Vec<Progress>, Result<AddResult, StreamError>) {
    let mut seen = Vec::new();
    let mut on_progress = |p: &Progress| seen.push(p.clone());
    let mut stream = AddStream::new();
    for chunk in chunks {
        if let Err(e) = stream.feed(chunk, &mut on_progress) {
            return (seen, Err(e));
        }
    }
    let result = stream.finish(&mut on_progress).map(|(r, _)| r);
    (seen, result)
}

fn progress(done: u64) -> Progress {
    Progress { file: "films/a.mp4".to_owned(), done, total: 300 }
}

#[test]
fn stream_split_anywhere() {
    let body = concat!(
        "{\"progress\":{\"file\":\"films/a.mp4\",\"done\":0,\"total\":300}}\n",
        "\r\n",
        "{\"heartbeat\":true}\n",
        "{\"progress\":{\"file\":\"films/a.mp4\",\"done\":150,\"total\":300}}\r\n",
        "{\"result\":{\"added\":[],\"unchanged\":[\"films/a.mp4\"],\"failed\":[]}}\n",
        "{\"progress\":{\"file\":\"films/a.mp4\",\"done\":300,\"total\":300}}\n",
    )
    .as_bytes();
    let expected = AddResult { unchanged: vec!["films/a.mp4".to_owned()], ..AddResult::default() };
    // Every way of cutting the body in two, and byte by byte.
    for cut in 0..=body.len() {
        let (seen, result) = run_stream(&[&body[..cut], &body[cut..]]);
        assert_eq!(seen, [progress(0), progress(150)], "cut at {cut}");
        assert_eq!(result, Ok(expected.clone()), "cut at {cut}");
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(run_stream(&bytes).1, Ok(expected));
}

#[test]
fn stream_last_line_without_newline_counts() {
    let (_, result) = run_stream(&[br#"{"result":{"added":[],"unchanged":[],"failed":[{"path":"x","error":"e"}]}}"#]);
    assert_eq!(result.unwrap().failed, [AddFailure { path: "x".to_owned(), error: "e".to_owned() }]);
}

#[test]
fn stream_that_ends_without_a_result() {
    let (seen, result) = run_stream(&[b"{\"progress\":{\"file\":\"films/a.mp4\",\"done\":0,\"total\":300}}\n"]);
    assert_eq!(seen, [progress(0)]);
    assert_eq!(result, Err(StreamError::EndedWithoutResult));
    assert_eq!(run_stream(&[]).1, Err(StreamError::EndedWithoutResult));
    // Cut in the middle of the result.
    assert!(matches!(run_stream(&[br#"{"result":{"added":["#]).1, Err(StreamError::Line(LineError::NotJson(_)))));
}

#[test]
fn stream_with_garbage_or_a_final_error() {
    let (seen, result) = run_stream(&[b"{\"progress\":{\"file\":\"films/a.mp4\",\"done\":0,\"total\":300}}\nOops\n"]);
    assert_eq!(seen, [progress(0)]);
    assert_eq!(result, Err(StreamError::Line(LineError::NotJson("Oops".to_owned()))));
    assert!(matches!(run_stream(&[b"\xff\xfe\n"]).1, Err(StreamError::Line(LineError::NotJson(_)))));
    let (_, result) = run_stream(&[b"{\"error\":\"hashing failed\",\"hint\":\"see the log\"}\n"]);
    assert_eq!(
        result,
        Err(StreamError::Server(ErrorBody {
            error: "hashing failed".to_owned(),
            status: None,
            hint: Some("see the log".to_owned())
        }))
    );
}

#[test]
fn snippets_are_short_and_clean() {
    assert_eq!(snippet(b""), "(empty)");
    assert_eq!(snippet(b"  <h1>Bad\ngateway</h1>\n"), "<h1>Bad?gateway</h1>");
    let long = "x".repeat(300);
    assert_eq!(snippet(long.as_bytes()), format!("{}…", "x".repeat(200)));
}

#[test]
fn urls_are_normalized() {
    assert_eq!(normalize_url("http://127.0.0.1:8081").unwrap(), "http://127.0.0.1:8081");
    assert_eq!(normalize_url("http://127.0.0.1:8081/").unwrap(), "http://127.0.0.1:8081");
    assert_eq!(normalize_url("  localhost:9000 ").unwrap(), "http://localhost:9000");
    assert_eq!(normalize_url("http://[::1]:8081/vidseed/").unwrap(), "http://[::1]:8081/vidseed");
    assert_eq!(
        normalize_url("https://admin.example.org"),
        Err(AdminError::Https { url: "https://admin.example.org".to_owned() })
    );
    assert!(matches!(normalize_url("ftp://x"), Err(AdminError::BadUrl { .. })));
    assert!(matches!(normalize_url("http://x/?a=b"), Err(AdminError::BadUrl { .. })));
    assert!(matches!(normalize_url("http:// bad"), Err(AdminError::BadUrl { .. })));
}

#[test]
fn answers_are_interpreted_by_status() {
    use http::StatusCode;
    assert_eq!(interpret(StatusCode::OK, br#"{"videos":[]}"#), Ok(json!({"videos": []})));
    assert_eq!(interpret(StatusCode::UNAUTHORIZED, br#"{"error":"unauthorized"}"#), Err(AdminError::Unauthorized));
    assert_eq!(interpret(StatusCode::UNAUTHORIZED, b""), Err(AdminError::Unauthorized));
    assert_eq!(
        interpret(StatusCode::CONFLICT, br#"{"error":"a node named paris-1 exists","hint":"choose another name"}"#),
        Err(AdminError::Api {
            status: 409,
            error: "a node named paris-1 exists".to_owned(),
            hint: Some("choose another name".to_owned())
        })
    );
    assert_eq!(
        interpret(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>"),
        Err(AdminError::NotJson { status: "502 Bad Gateway".to_owned(), body: "<html>bad gateway</html>".to_owned() })
    );
    assert_eq!(
        interpret(StatusCode::OK, b"<html>index</html>"),
        Err(AdminError::NotJson { status: "200 OK".to_owned(), body: "<html>index</html>".to_owned() })
    );
    assert!(matches!(interpret(StatusCode::MOVED_PERMANENTLY, b""), Err(AdminError::NotJson { .. })));
}

#[test]
fn every_error_is_worded_with_a_hint() {
    let url = "http://127.0.0.1:8081".to_owned();
    let token_hint = "hint: pass the token the control plane printed at its first start with --token, --token-file \
                      or the VIDSEED_ADMIN_TOKEN environment variable";
    let cases: Vec<(AdminError, String)> = vec![
        (AdminError::NoToken, format!("error: no admin token was given\n{token_hint}")),
        (AdminError::Unauthorized, format!("error: the control plane refused the admin token\n{token_hint}")),
        (
            AdminError::Unreachable { url: url.clone(), reason: "Connection refused (os error 111)".to_owned() },
            "error: cannot reach the control plane at http://127.0.0.1:8081 (Connection refused (os error 111))\n\
             hint: start it with `vidseed control` or `vidseed serve`, or pass --control-url (or set \
             VIDSEED_CONTROL_URL) if it listens elsewhere"
                .to_owned(),
        ),
        (
            AdminError::Api {
                status: 404,
                error: "nothing matches films/x".to_owned(),
                hint: Some("see `vidseed admin videos`".to_owned()),
            },
            "error: nothing matches films/x\nhint: see `vidseed admin videos`".to_owned(),
        ),
        (
            AdminError::Api { status: 500, error: "internal error".to_owned(), hint: None },
            "error: internal error".to_owned(),
        ),
        (
            AdminError::NotJson { status: "502 Bad Gateway".to_owned(), body: "<html>".to_owned() },
            "error: the control plane answered 502 Bad Gateway with something other than the expected JSON: <html>\n\
             hint: check that --control-url points at vidseed's control plane, and the control plane's log"
                .to_owned(),
        ),
        (
            AdminError::Https { url: "https://x".to_owned() },
            "error: https control plane URLs are not supported yet (https://x)\n\
             hint: reach the control plane over plain http, on its host or through a tunnel (e.g. ssh -L \
             8081:127.0.0.1:8081 HOST)"
                .to_owned(),
        ),
        (
            AdminError::BadUrl { url: "ftp://x".to_owned(), reason: "only http:// URLs are supported".to_owned() },
            "error: invalid control plane URL \"ftp://x\" (only http:// URLs are supported)\n\
             hint: pass --control-url http://HOST:PORT (by default http://127.0.0.1:8081)"
                .to_owned(),
        ),
        (
            AdminError::TokenFile { path: "admin.token".to_owned(), reason: "it is empty".to_owned() },
            "error: cannot read the token file admin.token (it is empty)\nhint: check the path given to --token-file"
                .to_owned(),
        ),
        (
            AdminError::BadToken,
            "error: the admin token contains characters that cannot be sent in an HTTP header\n\
             hint: check the token: it is the single line the control plane printed at its first start"
                .to_owned(),
        ),
        (
            AdminError::Timeout { url: url.clone(), secs: 60 },
            "error: the control plane at http://127.0.0.1:8081 did not answer within 60 s\n\
             hint: check the control plane's log: it may be overloaded or stuck"
                .to_owned(),
        ),
        (
            AdminError::Transport { url, reason: "connection closed before message completed".to_owned() },
            "error: the connection to the control plane at http://127.0.0.1:8081 failed (connection closed before \
             message completed)\nhint: check that --control-url points at vidseed's control plane, and the control \
             plane's log"
                .to_owned(),
        ),
        (
            AdminError::Unexpected { reason: "missing field `videos`".to_owned() },
            "error: the control plane's answer was not understood (missing field `videos`)\n\
             hint: this command and the control plane may be different versions of vidseed"
                .to_owned(),
        ),
        (
            AdminError::StreamEnded,
            "error: the control plane ended its answer before reporting the result\n\
             hint: the control plane may have stopped: check its log, then run the command again"
                .to_owned(),
        ),
        (
            AdminError::Stream(LineError::NotJson("Oops".to_owned())),
            "error: the control plane sent an unreadable progress line (not JSON: Oops)\n\
             hint: the control plane may have stopped: check its log, then run the command again"
                .to_owned(),
        ),
        (
            AdminError::StreamBroken { reason: "error reading a body from connection".to_owned() },
            "error: the connection to the control plane broke while it was adding videos (error reading a body from \
             connection)\nhint: the control plane may have stopped: check its log, then run the command again"
                .to_owned(),
        ),
        (
            AdminError::Local { what: "the path x is not valid UTF-8".to_owned(), hint: None },
            "error: the path x is not valid UTF-8".to_owned(),
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error.render(), expected, "{error:?}");
    }
}
