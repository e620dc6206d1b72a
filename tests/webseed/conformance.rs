//! WebSeed conformance over loopback against the real binary: every rule of range serving,
//! conditional requests, CORS, methods and path safety, bodies compared with the file's bytes.


use std::io::{BufReader, Write};

use crate::common::*;

const SIZE: usize = 3 * 1024 * 1024 + 12345;

std::thread_local! {
    /// The data plane's I/O backend for this test's nodes: the tests below run once on the
    /// default (epoll) and once more on io_uring (`mod on_uring`).
    static IO: std::cell::Cell<&'static str> = const { std::cell::Cell::new("epoll") };
}

fn io_args() -> [&'static str; 2] {
    ["--io", IO.with(std::cell::Cell::get)]
}

fn node() -> (Node, Vec<u8>, String) {
    let bytes = pseudo_random(SIZE, 7);
    let node = Node::start(&[("movie.mp4", &bytes)], &io_args());
    let path = file_path(&node.videos()[0]);
    (node, bytes, path)
}

/// Every conformance test again with `--io uring`: the same answers from the io_uring workers
/// (and from the epoll path for what they hand over: HTTP/2, other methods).
mod on_uring {
    macro_rules! again_on_uring {
        ($($test:ident),* $(,)?) => {$(
            #[test]
            fn $test() {
                super::IO.with(|io| io.set("uring"));
                super::$test();
            }
        )*};
    }
    again_on_uring!(
        full_get_and_head,
        single_ranges,
        unsatisfiable_and_invalid_ranges,
        multiple_ranges_are_multipart,
        overlapping_ranges_never_send_more_than_the_file,
        conditional_requests,
        cors_preflight_as_chromium_sends_it,
        other_methods_and_unknown_paths,
        paths_never_leave_the_catalog,
        percent_encoded_names_in_folders,
        keep_alive_and_pipelining,
        http2_prior_knowledge,
        both_send_paths_serve_identical_bytes,
    );
}

#[test]
fn full_get_and_head() {
    let (node, bytes, path) = node();
    let res = get(node.data, &path, &[]).unwrap();
    assert_eq!(res.status, 200);
    assert!(res.body == bytes, "body equals the file");
    assert_eq!(res.header("content-length"), Some(SIZE.to_string().as_str()));
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    assert_eq!(res.header("content-type"), Some("video/mp4"));
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    let expose = res.header("access-control-expose-headers").unwrap().to_ascii_lowercase();
    for h in ["content-range", "content-length", "accept-ranges"] {
        assert!(expose.contains(h), "{h} exposed");
    }
    let etag = res.header("etag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"), "strong etag {etag}");
    assert!(httpdate::parse_http_date(res.header("last-modified").unwrap()).is_ok());

    let head = send(node.data, "HEAD", &path, &[]).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some(SIZE.to_string().as_str()));
    assert_eq!(head.header("etag"), Some(etag));

    let head_range = send(node.data, "HEAD", &path, &[("Range", "bytes=10-19")]).unwrap();
    assert_eq!(head_range.status, 206);
    assert_eq!(head_range.header("content-length"), Some("10"));
    assert_eq!(head_range.header("content-range"), Some(format!("bytes 10-19/{SIZE}").as_str()));
}

#[test]
fn single_ranges() {
    let (node, bytes, path) = node();
    let n = SIZE as u64;
    let cases: Vec<(String, u64, u64)> = vec![
        ("bytes=0-0".into(), 0, 0),
        ("bytes=0-16383".into(), 0, 16383),
        ("bytes=262144-524287".into(), 262144, 524287),
        ("bytes=1000-".into(), 1000, n - 1),
        ("bytes=-500".into(), n - 500, n - 1),
        (format!("bytes=-{}", n + 10), 0, n - 1),
        (format!("bytes={}-{}", n - 10, n + 1000), n - 10, n - 1),
        (format!("bytes={}-99999999999999999999", n - 1), n - 1, n - 1),
    ];
    for (range, a, b) in cases {
        let res = get(node.data, &path, &[("Range", &range), ("Cache-Control", "no-store")]).unwrap();
        assert_eq!(res.status, 206, "{range}");
        assert_eq!(res.header("content-range"), Some(format!("bytes {a}-{b}/{n}").as_str()), "{range}");
        assert_eq!(res.header("content-length"), Some((b - a + 1).to_string().as_str()));
        assert!(res.body == bytes[a as usize..=b as usize], "{range}: body matches the file");
        assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    }
}

#[test]
fn unsatisfiable_and_invalid_ranges() {
    let (node, bytes, path) = node();
    for range in [format!("bytes={SIZE}-"), format!("bytes={}-{}", SIZE + 5, SIZE + 9), "bytes=-0".into()] {
        let res = get(node.data, &path, &[("Range", &range)]).unwrap();
        assert_eq!(res.status, 416, "{range}");
        assert_eq!(res.header("content-range"), Some(format!("bytes */{SIZE}").as_str()));
        assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    }
    // RFC 9110: an invalid Range is ignored: the whole file with 200.
    for range in ["bytes=5-1", "bytes=abc", "pages=0-1", "bytes=", "bytes=0-1-2"] {
        let res = get(node.data, &path, &[("Range", range)]).unwrap();
        assert_eq!(res.status, 200, "{range}");
        assert!(res.body == bytes);
    }
}

#[test]
fn multiple_ranges_are_multipart() {
    let (node, bytes, path) = node();
    let res = get(node.data, &path, &[("Range", "bytes=0-9, 100-199,-5")]).unwrap();
    assert_eq!(res.status, 206);
    let ct = res.header("content-type").unwrap();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").expect("multipart content type");
    assert_eq!(res.header("content-length").unwrap().parse::<usize>().unwrap(), res.body.len());
    let body = res.body.clone();
    let delim = format!("--{boundary}");
    let text = unsafe_lossless(&body);
    let parts: Vec<&str> = text.split(&delim).collect();
    // preamble, three parts, and the closing "--".
    assert_eq!(parts.len(), 5, "{text:?}");
    assert!(parts[4].starts_with("--"));
    let expect = [(0usize, 9usize), (100, 199), (SIZE - 5, SIZE - 1)];
    for (part, (a, b)) in parts[1..4].iter().zip(expect) {
        let (head, data) = part.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Content-Type: video/mp4"), "{head}");
        assert!(head.contains(&format!("Content-Range: bytes {a}-{b}/{SIZE}")), "{head}");
        let data = data.strip_suffix("\r\n").unwrap();
        let data: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
        assert!(data == bytes[a..=b], "part {a}-{b}");
    }
    // Only one satisfiable range among several: a plain 206.
    let res = get(node.data, &path, &[("Range", &format!("bytes=0-9,{}-", SIZE + 1))]).unwrap();
    assert_eq!(res.status, 206);
    assert_eq!(res.header("content-range"), Some(format!("bytes 0-9/{SIZE}").as_str()));
}

#[test]
fn overlapping_ranges_never_send_more_than_the_file() {
    let (node, bytes, path) = node();
    // 32 times the whole file in one 200-byte request: answered with the file once.
    let all = vec!["0-"; 32].join(",");
    let res = get(node.data, &path, &[("Range", &format!("bytes={all}"))]).unwrap();
    assert_eq!(res.status, 206);
    assert_eq!(res.header("content-range"), Some(format!("bytes 0-{}/{SIZE}", SIZE - 1).as_str()));
    assert!(res.body == bytes);
    // Overlapping and adjacent pieces are merged into one part each.
    let res = get(node.data, &path, &[("Range", "bytes=0-99,50-149,150-199,1000-1099,1050-1149")]).unwrap();
    assert_eq!(res.status, 206);
    let text = unsafe_lossless(&res.body);
    assert_eq!(text.matches("Content-Range: bytes").count(), 2, "{text:?}");
    assert!(text.contains(&format!("Content-Range: bytes 0-199/{SIZE}")));
    assert!(text.contains(&format!("Content-Range: bytes 1000-1149/{SIZE}")));
    assert!(res.body.len() < 350 + 400, "{} bytes for 350 asked", res.body.len());
    // Whatever the overlap, HEAD tells no more than the file's length in parts.
    let many: Vec<String> = (0..32).map(|i| format!("{}-{}", i * 1000, SIZE - 1)).collect();
    let head = send(node.data, "HEAD", &path, &[("Range", &format!("bytes={}", many.join(",")))]).unwrap();
    assert_eq!(head.status, 206);
    assert!(head.header("content-length").unwrap().parse::<usize>().unwrap() <= SIZE);
}

/// Maps each byte to the char of the same value, so binary parts survive `split`.
fn unsafe_lossless(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

#[test]
fn conditional_requests() {
    let (node, bytes, path) = node();
    let first = get(node.data, &path, &[("Range", "bytes=0-0")]).unwrap();
    let etag = first.header("etag").unwrap().to_string();
    let lm = first.header("last-modified").unwrap().to_string();

    let r = get(node.data, &path, &[("If-None-Match", &etag)]).unwrap();
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.body.is_empty());
    let r = get(node.data, &path, &[("If-None-Match", &format!("\"other\", W/{etag}"))]).unwrap();
    assert_eq!(r.status, 304, "weak comparison for If-None-Match");
    let r = get(node.data, &path, &[("If-None-Match", "\"other\"")]).unwrap();
    assert_eq!(r.status, 200);
    let r = get(node.data, &path, &[("If-Modified-Since", &lm)]).unwrap();
    assert_eq!(r.status, 304);
    let r = get(node.data, &path, &[("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")]).unwrap();
    assert_eq!(r.status, 200);
    let r = send(node.data, "HEAD", &path, &[("If-None-Match", &etag)]).unwrap();
    assert_eq!(r.status, 304);

    // If-Range: a matching strong tag or the exact date keeps the range; anything else gets 200.
    let r = get(node.data, &path, &[("Range", "bytes=10-19"), ("If-Range", &etag)]).unwrap();
    assert_eq!(r.status, 206);
    assert!(r.body == bytes[10..20]);
    let r = get(node.data, &path, &[("Range", "bytes=10-19"), ("If-Range", &lm)]).unwrap();
    assert_eq!(r.status, 206);
    let r = get(node.data, &path, &[("Range", "bytes=10-19"), ("If-Range", "\"stale\"")]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == bytes);
    let r = get(node.data, &path, &[("Range", "bytes=10-19"), ("If-Range", &format!("W/{etag}"))]).unwrap();
    assert_eq!(r.status, 200, "a weak tag never matches If-Range");

    let r = get(node.data, &path, &[("If-Match", "\"stale\"")]).unwrap();
    assert_eq!(r.status, 412);
    let r = get(node.data, &path, &[("If-Match", &etag), ("Range", "bytes=0-1")]).unwrap();
    assert_eq!(r.status, 206);
}

#[test]
fn cors_preflight_as_chromium_sends_it() {
    let (node, _, path) = node();
    let r = send(
        node.data,
        "OPTIONS",
        &path,
        &[
            ("Origin", "http://127.0.0.1:18091"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "cache-control"),
            ("Cache-Control", "no-cache"),
        ],
    )
    .unwrap();
    assert!((200..300).contains(&r.status), "preflight is 2xx, got {}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let allowed = r.header("access-control-allow-headers").unwrap().to_ascii_lowercase();
    for h in ["cache-control", "range", "user-agent"] {
        assert!(allowed.contains(h), "{h} allowed in {allowed}");
    }
    assert!(r.header("access-control-allow-methods").unwrap().contains("GET"));
}

#[test]
fn other_methods_and_unknown_paths() {
    let (node, _, path) = node();
    for m in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = send(node.data, m, &path, &[("Content-Length", "0")]).unwrap();
        assert_eq!(r.status, 405, "{m}");
        assert!(r.header("allow").unwrap().contains("GET"));
    }
    let r = get(node.data, "/static/webseed/nothing.mp4", &[]).unwrap();
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("Not Found"));
}

#[test]
fn paths_never_leave_the_catalog() {
    let (node, _, path) = node();
    let long = format!("/static/webseed/{}", "a".repeat(6000));
    let longer = format!("/static/webseed/{}", "a".repeat(10_000));
    let targets = [
        "/static/webseed/../Cargo.toml".to_string(),
        "/static/webseed/%2e%2e/%2e%2e/etc/passwd".into(),
        "/static/webseed/%2E%2E%2Fstate".into(),
        "/static/webseed/..%2f..%2fetc%2fpasswd".into(),
        "//etc/passwd".into(),
        "/etc/passwd".into(),
        "/static/webseed//movie.mp4".into(),
        "/static/webseed/./movie.mp4".into(),
        format!("{path}%00"),
        "/static/webseed/%ff%fe".into(),
        "http://test/etc/passwd".into(),
        long,
        longer,
    ];
    for t in &targets {
        let r = get(node.data, t, &[]).unwrap();
        assert!(r.status == 404 || r.status == 414 || r.status == 400, "{t}: {}", r.status);
    }
    // The same file, percent-encoded differently, is still the catalogued file.
    let r = get(node.data, &path.replace("movie", "%6dovie"), &[("Range", "bytes=0-0")]).unwrap();
    assert_eq!(r.status, 206);
}

#[test]
fn percent_encoded_names_in_folders() {
    let a = pseudo_random(70_000, 1);
    let b = pseudo_random(5_000, 2);
    let node = Node::start(&[("season 1/épisode #1?.webm", &a), ("x/y/z.mkv", &b)], &io_args());
    let videos = node.videos();
    for v in &videos {
        let p = file_path(v);
        let want: &[u8] = if p.ends_with(".webm") { &a } else { &b };
        let r = get(node.data, &p, &[]).unwrap();
        assert_eq!(r.status, 200, "{p}");
        assert!(r.body == want);
    }
    let webm = videos.iter().find(|v| v["name"] == "épisode #1?.webm").unwrap();
    assert!(webm["fileUrl"].as_str().unwrap().ends_with("/static/webseed/season%201/%C3%A9pisode%20%231%3F.webm"));
    let r = get(node.data, &file_path(webm), &[]).unwrap();
    assert_eq!(r.header("content-type"), Some("video/webm"));
}

#[test]
fn keep_alive_and_pipelining() {
    let (node, bytes, path) = node();
    let mut s = connect(node.data);
    let mut batch = Vec::new();
    let ranges = [(0usize, 16383usize), (16384, 32767), (SIZE - 100, SIZE - 1)];
    for (a, b) in ranges {
        batch.extend(request_bytes("GET", &path, &[("Range", &format!("bytes={a}-{b}"))]));
    }
    batch.extend(request_bytes("OPTIONS", &path, &[("Origin", "http://x"), ("Access-Control-Request-Method", "GET")]));
    batch.extend(request_bytes("HEAD", &path, &[]));
    s.write_all(&batch).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for (a, b) in ranges {
        let r = read_response(&mut reader, false).unwrap();
        assert_eq!(r.status, 206);
        assert!(r.body == bytes[a..=b], "pipelined response {a}-{b} in order");
    }
    assert_eq!(read_response(&mut reader, false).unwrap().status, 204);
    assert_eq!(read_response(&mut reader, true).unwrap().status, 200);
    // And the connection is still usable afterwards.
    s.write_all(&request_bytes("GET", &path, &[("Range", "bytes=5-9")])).unwrap();
    let r = read_response(&mut reader, false).unwrap();
    assert!(r.body == bytes[5..10]);
}

#[test]
fn http2_prior_knowledge() {
    let (node, bytes, path) = node();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use http_body_util::{BodyExt, Empty};
        let stream = tokio::net::TcpStream::connect(node.data).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        for (a, b) in [(0usize, 99usize), (1 << 20, (1 << 20) + 262143), (7, 7)] {
            let req = http::Request::get(format!("http://{}{path}", node.data))
                .header("range", format!("bytes={a}-{b}"))
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            let res = sender.send_request(req).await.unwrap();
            assert_eq!(res.version(), http::Version::HTTP_2);
            assert_eq!(res.status(), 206);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert!(body[..] == bytes[a..=b]);
        }
    });
}

#[test]
fn both_send_paths_serve_identical_bytes() {
    let bytes = pseudo_random(SIZE, 77);
    for send_path in ["write", "sendfile"] {
        let [io_flag, io] = io_args();
        let node = Node::start(&[("movie.mp4", &bytes)], &["--send-path", send_path, io_flag, io]);
        let path = file_path(&node.videos()[0]);
        for (a, b) in [(0usize, 100usize), (0, 16383), (4096, 4096 + 262143), (7, 7 + 65536), (1, 1 + 65534), (SIZE - 4097, SIZE - 1)] {
            let r = get(node.data, &path, &[("Range", &format!("bytes={a}-{b}"))]).unwrap();
            assert_eq!(r.status, 206, "{send_path}");
            assert!(r.body == bytes[a..=b], "{send_path}: {a}-{b}");
        }
        let r = get(node.data, &path, &[]).unwrap();
        assert!(r.body == bytes, "{send_path}: whole file");
        let r = get(node.data, &path, &[("Range", "bytes=0-9999,20000-40000")]).unwrap();
        assert_eq!(r.status, 206);
        let text: String = r.body.iter().map(|&c| c as char).collect();
        let want: String = bytes[20000..=40000].iter().map(|&c| c as char).collect();
        assert!(text.contains(&want), "{send_path}: multipart part bytes");
    }
}
