//! The viewers' pages over HTTP against the real binary: the index links each video's watch page,
//! the watch page embeds the video and loads only scripts the node serves itself, the assets
//! have their types, unknown videos get a 404 page, and the API's video objects carry `watchUrl`.
//! (The page playing in a real browser: tests/browser.rs.)

use std::time::Duration;

use crate::common::*;

#[test]
fn index_watch_page_and_assets() {
    let bytes = pseudo_random(700_000, 61);
    let node = Node::start(&[("films/a <b>.mp4", &bytes)], &[]);
    // The watch page lives at the video's UUID (given by the publisher, in the background,
    // once the file is served); the older info-hash address redirects there.
    let v = eventually(Duration::from_secs(30), "the video's UUID watch URL", || {
        node.videos().pop().filter(|v| v["watchUrl"].as_str().is_some_and(|w| !w.ends_with(v["infoHash"].as_str().unwrap_or("-"))))
    });
    let v = &v;
    let ih = v["infoHash"].as_str().unwrap();
    let watch_url = v["watchUrl"].as_str().unwrap();
    let watch_path = watch_url.strip_prefix(&format!("http://{}", node.control)).unwrap().to_owned();
    let uuid = watch_path.strip_prefix("/videos/watch/").unwrap();
    assert!(uuid.len() == 36 && uuid.split('-').map(str::len).eq([8, 4, 4, 4, 12]), "{watch_url}");
    let old = get(node.control, &format!("/videos/watch/{ih}"), &[]).unwrap();
    assert_eq!(old.status, 301);
    assert!(old.header("location").unwrap().ends_with(&watch_path), "{:?}", old.header("location"));

    let index = get(node.control, "/", &[]).unwrap();
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
    let html = String::from_utf8(index.body).unwrap();
    assert!(html.contains(&format!("href=\"http://{}{watch_path}\">films/a &lt;b&gt;.mp4</a>", node.control)), "{html}");

    let page = get(node.control, &watch_path, &[]).unwrap();
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<video id=\"player\""));
    let start = html.find("id=\"vidseed-video\">").unwrap() + "id=\"vidseed-video\">".len();
    let data: serde_json::Value = serde_json::from_str(&html[start..start + html[start..].find("</script>").unwrap()]).unwrap();
    assert_eq!(data["infoHash"], ih);
    assert_eq!(data["torrentUrl"], v["torrentUrl"]);
    assert_eq!(data["webseeds"], v["webseeds"]);
    assert_eq!(data["trackers"][0], format!("ws://{}/tracker/socket", node.data));
    // Every script the page loads is the node's own.
    for src in html.split("src=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]) {
        assert!(src.starts_with('/'), "a script from elsewhere: {src}");
    }

    for (path, ty, needle) in [
        ("/assets/watch.js", "text/javascript; charset=utf-8", "from '/assets/webtorrent."),
        ("/assets/webtorrent.min.js", "text/javascript; charset=utf-8", "export{"),
        ("/webtorrent-sw.js", "text/javascript; charset=utf-8", "webtorrent/"),
        ("/assets/watch.css", "text/css; charset=utf-8", "video"),
    ] {
        let r = get(node.control, path, &[]).unwrap();
        assert_eq!((r.status, r.header("content-type")), (200, Some(ty)), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(String::from_utf8_lossy(&r.body).contains(needle), "{path}");
    }
    let head = send(node.control, "HEAD", "/assets/webtorrent.min.js", &[]).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty() && head.header("content-length").unwrap().parse::<usize>().unwrap() > 100_000);

    let missing = get(node.control, &format!("/videos/watch/{}", "0".repeat(40)), &[]).unwrap();
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).contains("No such video"));
    assert_eq!(get(node.control, "/videos/watch/not-a-hash", &[]).unwrap().status, 404);
    assert_eq!(get(node.control, "/assets/nothing.js", &[]).unwrap().status, 404);
}

#[test]
fn stun_servers_reach_the_watch_page_and_bad_ones_are_refused() {
    let node = Node::start(&[("a.mp4", &pseudo_random(50_000, 62))], &["--stun-server", "stun:stun.example.org:3478", "--stun-server", "stuns:[2001:db8::1]:5349", "--stun-server", "stun:[::1]"]);
    let v = &node.videos()[0];
    let watch_url = v["watchUrl"].as_str().unwrap();
    let page = get(node.control, watch_url.strip_prefix(&format!("http://{}", node.control)).unwrap(), &[]).unwrap();
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains(r#""iceServers":[{"urls":"stun:stun.example.org:3478"},{"urls":"stuns:[2001:db8::1]:5349"},{"urls":"stun:[::1]"}]"#), "{html}");

    for bad in ["http://stun.example.org", "stun:", "stun:host:99999", "stun:user@host", "stun:[::1", "stun:[::1]x", "stun:a:b:3478", "stun:::1"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidseed"))
            .args(["serve", "/nonexistent-media", "--stun-server", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--stun-server") && err.contains("stun"), "{bad}: {err}");
    }
}
