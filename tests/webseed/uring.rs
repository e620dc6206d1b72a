//! The io_uring backend (`--io uring`, `[http] io = "uring"`) against the real binary: which
//! backend serves (the `io_backend` metric), the tracker and operations reached through the
//! hand-over to the epoll path, zero-copy sends, the connection guard's limits, many clients at
//! once, TLS staying on epoll, and a clean stop. (The conformance tests also run on it:
//! `conformance::on_uring`.)

use std::io::{BufReader, Read, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::ws::{connect as ws_connect, hex_to_bin, id, recv, send as ws_send};
use crate::common::*;

const SIZE: usize = 2 * 1024 * 1024 + 777;

fn metrics(node: &Node) -> String {
    let r = get(node.data, "/metrics", &[]).unwrap();
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap()
}

/// The scrape once `ready` holds for it (at most 10 s): a worker counts a send when its system
/// call returns, which may be after the client already has the bytes and asks.
fn metrics_once(node: &Node, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics(node);
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bytes sent by one path (`sendfile`, `write`, `zerocopy`) in a scrape.
fn sent_by(text: &str, path: &str) -> f64 {
    sample(text, &format!("vidseed_data_sent_bytes_total{{path=\"{path}\"}}"))
}

/// The value of one sample line, `0` when absent.
fn sample(text: &str, line_start: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(line_start).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

fn uring_node(bytes: &[u8], config: Option<&str>) -> (Node, String, Option<tempfile::TempDir>) {
    let (dir, mut args) = match config {
        Some(text) => {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("vidseed.toml"), text).unwrap();
            (Some(dir), vec!["--config".to_owned(), String::new()])
        }
        None => (None, vec!["--io".to_owned(), "uring".to_owned()]),
    };
    if let Some(d) = &dir {
        args[1] = d.path().join("vidseed.toml").to_str().unwrap().to_owned();
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = Node::start(&[("movie.mp4", bytes)], &args);
    let path = file_path(&node.videos()[0]);
    (node, path, dir)
}

#[test]
fn the_metrics_say_which_backend_serves() {
    let bytes = pseudo_random(100_000, 3);
    let (node, path, _) = uring_node(&bytes, None);
    let text = metrics(&node);
    assert_eq!(sample(&text, "vidseed_data_io_backend{backend=\"uring\"}"), 1.0, "{text}");
    assert_eq!(sample(&text, "vidseed_data_io_backend{backend=\"epoll\"}"), 0.0);
    let r = get(node.data, &path, &[("Range", "bytes=0-16383")]).unwrap();
    assert!(r.body == bytes[..16384]);
    assert!(r.header("date").is_some_and(|d| httpdate::parse_http_date(d).is_ok()), "a date header");
    let after = metrics_once(&node, |t| sent_by(t, "write") >= 16384.0);
    assert!(
        sample(&after, "vidseed_data_webseed_responses_total{method=\"GET\",class=\"2xx\"}") >= 1.0,
        "the ring's responses are counted: {after}"
    );
    assert!(sample(&after, "vidseed_data_sent_bytes_total{path=\"write\"}") >= 16384.0);

    let default = Node::start(&[("movie.mp4", &bytes)], &[]);
    let text = metrics(&default);
    assert_eq!(sample(&text, "vidseed_data_io_backend{backend=\"uring\"}"), 1.0, "the default: {text}");
    let epoll = Node::start(&[("movie.mp4", &bytes)], &["--io", "epoll"]);
    let text = metrics(&epoll);
    assert_eq!(sample(&text, "vidseed_data_io_backend{backend=\"epoll\"}"), 1.0, "{text}");
}

#[test]
fn the_tracker_and_health_are_reached_through_the_hand_over() {
    let bytes = pseudo_random(300_000, 4);
    let (node, _, _) = uring_node(&bytes, None);
    assert_eq!(get(node.data, "/healthz", &[]).unwrap().status, 200);
    assert_eq!(get(node.data, "/tracker/socket", &[]).unwrap().status, 426);
    let stats = get(node.data, "/tracker/stats", &[]).unwrap();
    assert_eq!(stats.status, 200);
    assert!(String::from_utf8_lossy(&stats.body).contains("\"swarms\""));
    let ih = hex_to_bin(node.videos()[0]["infoHash"].as_str().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut a = ws_connect(&node, "/tracker/socket").await;
        ws_send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"left":300000,"event":"started","offers":[]})).await;
        let r = recv(&mut a).await;
        assert_eq!((r["action"].as_str(), r["incomplete"].as_u64()), (Some("announce"), Some(1)));
    });
    // A WebSeed request on a connection that began with a tracker request: both answered.
    let mut s = connect(node.data);
    s.write_all(&request_bytes("GET", "/tracker/stats", &[])).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    let path = file_path(&node.videos()[0]);
    s.write_all(&request_bytes("GET", &path, &[("Range", "bytes=1-10")])).unwrap();
    let r = read_response(&mut reader, false).unwrap();
    assert!(r.body == bytes[1..=10]);
}

#[test]
fn zero_copy_sends_the_files_bytes() {
    let bytes = pseudo_random(SIZE, 5);
    let (node, path, _dir) = uring_node(&bytes, Some("[http]\nio = \"uring\"\nzero_copy_min = 65536\n"));
    for (a, b) in [(0usize, 16383usize), (4096, 4096 + 262_143), (7, 7 + 1_048_575), (SIZE - 70_000, SIZE - 1)] {
        let r = get(node.data, &path, &[("Range", &format!("bytes={a}-{b}"))]).unwrap();
        assert_eq!(r.status, 206);
        assert!(r.body == bytes[a..=b], "{a}-{b}");
    }
    let r = get(node.data, &path, &[]).unwrap();
    assert!(r.body == bytes, "whole file");
    let want = (SIZE + 1_048_576 + 262_144) as f64;
    let zc = sent_by(&metrics_once(&node, |t| sent_by(t, "zerocopy") >= want), "zerocopy");
    assert!(zc >= want, "large bodies went zero-copy: {zc}");
}

#[test]
fn middle_sized_bodies_go_by_sendfile_and_the_rest_by_sendmsg() {
    let bytes = pseudo_random(SIZE, 12);
    // The defaults: 128 KiB up to (not including) 512 KiB by sendfile.
    let (node, path, _) = uring_node(&bytes, None);
    let before = metrics(&node);
    for (a, len) in [(3usize, 262_144usize), (SIZE - 200_000, 200_000)] {
        let r = get(node.data, &path, &[("Range", &format!("bytes={a}-{}", a + len - 1))]).unwrap();
        assert_eq!(r.status, 206);
        assert!(r.body == bytes[a..a + len], "{a}+{len}");
    }
    let by = sent_by;
    let after = metrics_once(&node, |t| by(t, "sendfile") - by(&before, "sendfile") >= 462_144.0);
    let sendfile = by(&after, "sendfile") - by(&before, "sendfile");
    assert_eq!(sendfile, 462_144.0, "both bodies by sendfile, their heads apart: {after}");
    for len in [16_384usize, 1_048_576] {
        let r = get(node.data, &path, &[("Range", &format!("bytes=0-{}", len - 1))]).unwrap();
        assert!(r.body == bytes[..len], "{len}");
    }
    let last = metrics_once(&node, |t| by(t, "write") - by(&after, "write") >= 1_064_960.0);
    // 16 KiB is copied too: `small_bodies = "auto"` copies until a worker has served enough small
    // bodies to measure both ways (a few requests never are).
    assert_eq!(by(&last, "sendfile"), by(&after, "sendfile"), "16 KiB and 1 MiB stay on sendmsg");
    assert!(by(&last, "write") - by(&after, "write") >= 1_064_960.0);
}

#[test]
fn sendfile_serves_every_shape_of_response_and_waits_for_slow_readers() {
    // Larger than loopback's socket buffers on both sides: the slow reader fills them.
    const SIZE: usize = 16 * 1024 * 1024 + 5;
    let bytes = pseudo_random(SIZE, 13);
    // Every body by sendfile, whatever its size.
    let (node, path, _dir) = uring_node(&bytes, Some("[http]\nio = \"uring\"\nsendfile_min = 1\nsendfile_max = 0\n"));
    let r = get(node.data, &path, &[("Range", "bytes=0-0,100-199,-50")]).unwrap();
    assert_eq!(r.status, 206);
    assert!(r.header("content-type").unwrap().starts_with("multipart/byteranges"));
    let text = r.body.clone();
    for (a, b) in [(0usize, 0usize), (100, 199), (SIZE - 50, SIZE - 1)] {
        assert!(text.windows(b - a + 1).any(|w| w == &bytes[a..=b]), "part {a}-{b} in the multipart body");
    }
    // Pipelined: three requests in one write, the answers in order.
    let mut s = connect(node.data);
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut three = Vec::new();
    for (a, b) in [(0usize, 9usize), (5000, 300_000), (17, 17)] {
        three.extend(request_bytes("GET", &path, &[("Range", &format!("bytes={a}-{b}"))]));
    }
    s.write_all(&three).unwrap();
    for (a, b) in [(0usize, 9usize), (5000, 300_000), (17, 17)] {
        let r = read_response(&mut reader, false).unwrap();
        assert!(r.body == bytes[a..=b], "{a}-{b}");
    }
    // HEAD sends no body.
    s.write_all(&request_bytes("HEAD", &path, &[])).unwrap();
    let r = read_response(&mut reader, true).unwrap();
    assert_eq!(r.header("content-length"), Some(SIZE.to_string().as_str()));
    // A reader far slower than the socket's buffer: the worker waits for room through the ring
    // (and serves others meanwhile), then goes on where it stopped.
    a_slow_reader_gets_the_whole_file(&node, &path, &bytes);
    let text = metrics_once(&node, |t| sent_by(t, "sendfile") >= SIZE as f64);
    assert!(sent_by(&text, "sendfile") >= SIZE as f64, "{text}");
}

#[test]
fn small_bodies_by_sendfile_when_configured() {
    let bytes = pseudo_random(SIZE, 15);
    let (node, path, _dir) = uring_node(&bytes, Some("[http]\nio = \"uring\"\nsmall_bodies = \"sendfile\"\n"));
    let before = metrics(&node);
    let ranges = [(0usize, 16_383usize), (SIZE - 100, SIZE - 1), (12_345, 12_345), (70_000, 70_000 + 131_071 - 1)];
    for (a, b) in ranges {
        let r = get(node.data, &path, &[("Range", &format!("bytes={a}-{b}"))]).unwrap();
        assert_eq!(r.status, 206);
        assert_eq!(r.header("content-range"), Some(format!("bytes {a}-{b}/{SIZE}").as_str()));
        assert!(r.body == bytes[a..=b], "{a}-{b}");
    }
    // Pipelined small ranges, answered in order; a HEAD and a 404 between them.
    let mut s = connect(node.data);
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut batch = Vec::new();
    for i in 0..20usize {
        batch.extend(request_bytes("GET", &path, &[("Range", &format!("bytes={}-{}", i * 1000, i * 1000 + 999))]));
    }
    batch.extend(request_bytes("HEAD", &path, &[]));
    batch.extend(request_bytes("GET", "/static/web-videos/none.mp4", &[]));
    s.write_all(&batch).unwrap();
    for i in 0..20usize {
        let r = read_response(&mut reader, false).unwrap();
        assert!(r.body == bytes[i * 1000..i * 1000 + 1000], "range {i}");
    }
    let r = read_response(&mut reader, true).unwrap();
    assert_eq!(r.header("content-length"), Some(SIZE.to_string().as_str()));
    assert_eq!(read_response(&mut reader, false).unwrap().status, 404);
    let want: f64 = ranges.iter().map(|(a, b)| (b - a + 1) as f64).sum::<f64>() + 20_000.0;
    let after = metrics_once(&node, |t| sent_by(t, "sendfile") - sent_by(&before, "sendfile") >= want);
    assert_eq!(sent_by(&after, "sendfile") - sent_by(&before, "sendfile"), want, "every small body by sendfile, the heads apart");
    // Both ring workers (test nodes run two) say so.
    assert_eq!(sample(&after, "vidseed_data_small_bodies_sendfile"), 2.0, "{after}");
}

#[test]
fn hundreds_of_pipelined_small_bodies_by_sendfile_are_served_in_order() {
    // A large body leaves slowly (the client does not read yet) while hundreds of small range
    // requests pile up behind it; when it is done, each small body leaves whole at once by
    // sendfile, one after the other, from one completion. (Served by recursion, this chain
    // overflowed the worker's stack and stopped the node.)
    const SIZE: usize = 16 * 1024 * 1024 + 9;
    let bytes = pseudo_random(SIZE, 17);
    let (node, path, _dir) = uring_node(&bytes, Some("[http]\nio = \"uring\"\nsmall_bodies = \"sendfile\"\n"));
    let mut s = connect(node.data);
    s.write_all(&request_bytes("GET", &path, &[])).unwrap();
    let mut batch = Vec::new();
    let mut n = 0usize;
    loop {
        let one = request_bytes("GET", &path, &[("Range", &format!("bytes={}-{}", n * 7, n * 7 + 99))]);
        // Within what the server lets a client send ahead of a response (64 KiB).
        if batch.len() + one.len() > 60_000 {
            break;
        }
        batch.extend(one);
        n += 1;
    }
    assert!(n >= 300, "{n} requests");
    // Written before any of the large body is read: they are all in the server's buffer when it
    // is done.
    s.write_all(&batch).unwrap();
    let mut reader = BufReader::with_capacity(1 << 20, s.try_clone().unwrap());
    let r = read_response(&mut reader, false).unwrap();
    assert!(r.body == bytes, "the large body first");
    for i in 0..n {
        let r = read_response(&mut reader, false).unwrap();
        assert_eq!(r.status, 206, "request {i}");
        assert!(r.body == bytes[i * 7..i * 7 + 100], "range {i}");
    }
    // The node is still there for others.
    assert_eq!(get(node.data, &path, &[("Range", "bytes=0-0")]).unwrap().body, bytes[..1]);
}

#[test]
fn auto_measures_small_bodies_both_ways_under_load_and_every_byte_is_right() {
    // `small_bodies = "auto"` (the default): a worker busy with small bodies measures sendfile
    // in its trial (its second epoch), so under load some small bodies leave by sendfile;
    // whichever way, every body is the file's bytes.
    let bytes = pseudo_random(SIZE, 16);
    let (node, path, _) = uring_node(&bytes, Some("[http]\nio = \"uring\"\nmax_connections_per_ip = 0\n"));
    let before = sent_by(&metrics(&node), "sendfile");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4u64)
        .map(|t| {
            let (stop, path, bytes, port) = (stop.clone(), path.clone(), bytes.clone(), node.data);
            std::thread::spawn(move || {
                let mut s = connect(port);
                let mut reader = BufReader::with_capacity(256 * 1024, s.try_clone().unwrap());
                let mut rng = t * 7919 + 1;
                let mut served = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut batch = Vec::new();
                    let mut want = Vec::new();
                    for _ in 0..128 {
                        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let a = (rng >> 33) as usize % (SIZE - 600);
                        let len = 1 + (rng >> 20) as usize % 512;
                        batch.extend(request_bytes("GET", &path, &[("Range", &format!("bytes={a}-{}", a + len - 1))]));
                        want.push((a, len));
                    }
                    s.write_all(&batch).unwrap();
                    for (a, len) in want {
                        let r = read_response(&mut reader, false).unwrap();
                        assert_eq!(r.status, 206);
                        assert!(r.body == bytes[a..a + len], "{a}+{len}");
                        served += 1;
                    }
                }
                served
            })
        })
        .collect();
    eventually(Duration::from_secs(60), "a small body sent by sendfile under load", || (sent_by(&metrics(&node), "sendfile") > before).then_some(()));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(served >= vidseed_data_plane::uring::small_send::MIN_SMALL, "{served} requests: at least an epoch's worth");
}

/// A client reading a large file far slower than the socket buffers take it, while another
/// client is answered at once between its reads; in the end it has every byte.
fn a_slow_reader_gets_the_whole_file(node: &Node, path: &str, bytes: &[u8]) {
    let mut slow = connect(node.data);
    slow.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    slow.write_all(&request_bytes("GET", path, &[("Connection", "close")])).unwrap();
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    for _ in 0..8 {
        let n = slow.read(&mut chunk).unwrap();
        got.extend_from_slice(&chunk[..n]);
        std::thread::sleep(Duration::from_millis(30));
        let r = get(node.data, path, &[("Range", "bytes=10-20")]).unwrap();
        assert!(r.body == bytes[10..=20]);
    }
    slow.read_to_end(&mut got).unwrap();
    let body_at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(got[body_at..] == bytes[..], "the slow reader's whole file");
}

#[test]
fn a_slow_reader_of_a_large_body_on_the_rings_sendmsg_gets_every_byte() {
    // 16 MiB, past `sendfile_max`: the ring's sendmsg on a non-blocking socket, which must wait
    // for room inside the kernel rather than fail with EAGAIN.
    let bytes = pseudo_random(16 * 1024 * 1024 + 3, 14);
    let (node, path, _) = uring_node(&bytes, None);
    let before = metrics(&node);
    a_slow_reader_gets_the_whole_file(&node, &path, &bytes);
    let by = sent_by;
    let after = metrics_once(&node, |t| by(t, "write") - by(&before, "write") >= bytes.len() as f64);
    assert_eq!(by(&after, "sendfile"), by(&before, "sendfile"), "not by sendfile");
    assert!(by(&after, "write") - by(&before, "write") >= bytes.len() as f64);
}

#[test]
fn slow_heads_idle_connections_and_oversized_heads_are_closed() {
    let bytes = pseudo_random(50_000, 6);
    let (node, path, _dir) =
        uring_node(&bytes, Some("[http]\nio = \"uring\"\nheader_timeout_secs = 1\nkeepalive_timeout_secs = 2\n"));
    // A head that never completes: closed after the header limit, not before.
    let started = Instant::now();
    let mut slow = connect(node.data);
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(8), "closed after {took:?}");
    // A kept-alive connection quiet after a response: closed after the keep-alive limit.
    let mut idle = connect(node.data);
    // Timed from before the request: the server's clock starts later, once it has answered.
    let quiet = Instant::now();
    idle.write_all(&request_bytes("GET", &path, &[("Range", "bytes=0-0")])).unwrap();
    let mut reader = BufReader::new(idle.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, false).unwrap().status, 206);
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(reader.read(&mut buf).unwrap_or(0), 0);
    assert!(quiet.elapsed() >= Duration::from_millis(1900), "kept {:?}", quiet.elapsed());
    // A head larger than the ring's buffer: 431, then closed.
    let mut big = connect(node.data);
    let filler = "a".repeat(10_000);
    big.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n").as_bytes()).unwrap();
    let mut reader = BufReader::new(big);
    let r = read_response(&mut reader, false).unwrap();
    assert_eq!(r.status, 431);
}

#[test]
fn many_clients_at_once_get_their_own_bytes() {
    let bytes = std::sync::Arc::new(pseudo_random(SIZE, 8));
    let (node, path, _) = uring_node(&bytes[..], None);
    let addr = node.data;
    let threads: Vec<_> = (0..24u64)
        .map(|t| {
            let (bytes, path) = (std::sync::Arc::clone(&bytes), path.clone());
            std::thread::spawn(move || {
                let mut s = connect(addr);
                let mut reader = BufReader::new(s.try_clone().unwrap());
                let mut x = t * 7919 + 1;
                for _ in 0..20 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let len = [16_384usize, 262_144, 1_048_576][(x % 3) as usize];
                    let a = (x as usize / 3) % (SIZE - len);
                    s.write_all(&request_bytes("GET", &path, &[("Range", &format!("bytes={a}-{}", a + len - 1))])).unwrap();
                    let r = read_response(&mut reader, false).unwrap();
                    assert_eq!(r.status, 206);
                    assert!(r.body == bytes[a..a + len], "thread {t}: {a}+{len}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_client_that_shuts_its_side_after_the_request_gets_the_whole_response() {
    let bytes = pseudo_random(SIZE, 11);
    let (node, path, _) = uring_node(&bytes, None);
    let mut s = connect(node.data);
    s.write_all(&request_bytes("GET", &path, &[("Range", "bytes=0-1048575")])).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reader = BufReader::new(s);
    let r = read_response(&mut reader, false).unwrap();
    assert_eq!(r.status, 206);
    assert!(r.body == bytes[..1_048_576]);
}

#[test]
fn a_stop_closes_idle_connections_and_exits_cleanly() {
    let bytes = pseudo_random(40_000, 9);
    let (node, path, _) = uring_node(&bytes, None);
    let mut kept = connect(node.data);
    kept.write_all(&request_bytes("GET", &path, &[("Range", "bytes=0-99")])).unwrap();
    let mut reader = BufReader::new(kept.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, false).unwrap().status, 206);
    let started = Instant::now();
    let status = node.interrupt();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "an idle connection does not hold the stop");
}

#[test]
fn idle_kept_alive_connections_hold_no_receive_buffer() {
    let bytes = pseudo_random(100_000, 10);
    let (node, path, _dir) = uring_node(&bytes, Some("[http]\nio = \"uring\"\nmax_connections_per_ip = 0\n"));
    let request = request_bytes("GET", &path, &[("Range", "bytes=0-1023")]);
    // Warm up the allocator and the worker's tables with a few connections first.
    let mut held: Vec<_> = Vec::new();
    let open = |n: usize, held: &mut Vec<std::net::TcpStream>| {
        for _ in 0..n {
            let mut s = connect(node.data);
            s.write_all(&request).unwrap();
            let mut reader = BufReader::new(s.try_clone().unwrap());
            assert_eq!(read_response(&mut reader, false).unwrap().status, 206);
            held.push(s);
        }
    };
    open(100, &mut held);
    let before = rss_anon_kib(node.pid());
    // Enough connections that the allocator's 2 MiB steps of resident memory (huge pages) are
    // small beside their total.
    const MORE: usize = 3000;
    open(MORE, &mut held);
    let after = rss_anon_kib(node.pid());
    let per_connection = (after.saturating_sub(before)) as f64 * 1024.0 / MORE as f64;
    eprintln!("io_uring: {per_connection:.0} bytes of anonymous memory per idle kept-alive connection");
    // The epoll path's hyper keeps a read buffer of 8 KiB and more per connection; the ring's
    // connections keep their state only (their receive buffers are shared).
    assert!(per_connection < 4096.0, "{per_connection:.0} bytes of anonymous memory per idle connection ({before} -> {after} KiB)");
    drop(held);
}
