use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use sha1::{Digest as _, Sha1};
use vidseed_shared::fetch::SegmentHash;

use super::*;

#[test]
fn order_paths_are_kept_inside_the_cache() {
    assert_eq!(safe_relative("a-360.mp4"), Some(PathBuf::from("a-360.mp4")));
    assert_eq!(safe_relative("hls/u/x-fragmented.mp4"), Some(PathBuf::from("hls/u/x-fragmented.mp4")));
    for bad in ["", "../x", "/etc/passwd", "hls/../../x", "a\\\\b", ".partial/x", "./x"] {
        assert_eq!(safe_relative(bad), None, "{bad}");
    }
}

/// Faults the test server injects.
#[derive(Default)]
struct Faults {
    /// Answer 500 to this many requests first.
    errors: AtomicU32,
    /// Flip the byte at this offset in the ranges that hold it, this many times.
    corrupt_at: AtomicU64,
    corrupt_times: AtomicU32,
    /// Close the connection without an answer this many times.
    drops: AtomicU32,
    /// Ranges served (bytes).
    served: AtomicU64,
}

/// Serves `data` with ranges on 127.0.0.1, injecting `faults`; its URL.
async fn origin(data: Arc<Vec<u8>>, faults: Arc<Faults>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let data = Arc::clone(&data);
            let faults = Arc::clone(&faults);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let data = Arc::clone(&data);
                    let faults = Arc::clone(&faults);
                    async move {
                        if faults.drops.load(Ordering::SeqCst) > 0 {
                            faults.drops.fetch_sub(1, Ordering::SeqCst);
                            return Err("drop".to_owned());
                        }
                        if faults.errors.load(Ordering::SeqCst) > 0 {
                            faults.errors.fetch_sub(1, Ordering::SeqCst);
                            return Ok(http::Response::builder().status(500).body(Full::new(Bytes::new())).unwrap());
                        }
                        let range = req.headers()[http::header::RANGE].to_str().unwrap().trim_start_matches("bytes=").to_owned();
                        let (a, b) = range.split_once('-').unwrap();
                        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse::<usize>().unwrap().min(data.len() - 1));
                        let mut body = data[a..=b].to_vec();
                        let at = faults.corrupt_at.load(Ordering::SeqCst) as usize;
                        if (a..=b).contains(&at) && faults.corrupt_times.load(Ordering::SeqCst) > 0 {
                            faults.corrupt_times.fetch_sub(1, Ordering::SeqCst);
                            body[at - a] ^= 0xff;
                        }
                        faults.served.fetch_add(body.len() as u64, Ordering::SeqCst);
                        Ok(http::Response::builder()
                            .status(206)
                            .header(http::header::CONTENT_RANGE, format!("bytes {a}-{b}/{}", data.len()))
                            .body(Full::new(Bytes::from(body)))
                            .unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
            });
        }
    });
    format!("http://{addr}/static/web-videos/a-360.mp4")
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 % 251) as u8).collect()
}

fn order(sources: Vec<String>, data: &[u8], piece: usize) -> FetchOrder {
    let sha1 = data.chunks(piece).map(|c| Sha1::digest(c).iter().map(|b| format!("{b:02x}")).collect()).collect();
    FetchOrder {
        id: "copy-1".into(),
        files: vec![FetchFile {
            path: "a-360.mp4".into(),
            url_path: "/static/redundancy/a-360.mp4".into(),
            size: data.len() as u64,
            content_type: "video/mp4".into(),
            sources,
            check: FileCheck::Pieces { piece_length: piece as u64, sha1 },
        }],
        info_hashes: vec![],
        max_bytes_per_sec: 0,
        parallel: 4,
    }
}

fn reports() -> (Reporter, Arc<Mutex<Vec<FetchReport>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    (Arc::new(move |r| s.lock().unwrap().push(r)), seen)
}

#[tokio::test]
async fn a_copy_is_verified_through_faults_and_moved_into_place() {
    let bytes = Arc::new(data(300_000));
    let faults = Arc::new(Faults::default());
    faults.errors.store(1, Ordering::SeqCst);
    faults.drops.store(1, Ordering::SeqCst);
    faults.corrupt_at.store(65_536, Ordering::SeqCst);
    faults.corrupt_times.store(1, Ordering::SeqCst);
    let url = origin(Arc::clone(&bytes), Arc::clone(&faults)).await;
    let cache = tempfile::tempdir().unwrap();
    let (report, seen) = reports();
    import(&order(vec![url], &bytes, 16_384), cache.path(), true, report).await.unwrap();
    assert!(std::fs::read(cache.path().join("a-360.mp4")).unwrap() == *bytes, "the origin's bytes");
    assert!(!partial_dir(cache.path()).join("a-360.mp4").exists(), "the partial file moved into place");
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!((last.state, last.done_bytes, last.total_bytes), (FetchState::Serving, 300_000, 300_000));
    assert_eq!(faults.corrupt_times.load(Ordering::SeqCst), 0, "the corrupted piece was fetched again");
}

#[tokio::test]
async fn a_source_that_keeps_sending_bad_data_is_dropped_for_the_next() {
    let bytes = Arc::new(data(100_000));
    let bad = Arc::new(Faults::default());
    bad.corrupt_at.store(0, Ordering::SeqCst);
    bad.corrupt_times.store(1000, Ordering::SeqCst);
    let bad_url = origin(Arc::clone(&bytes), Arc::clone(&bad)).await;
    let good = Arc::new(Faults::default());
    let good_url = origin(Arc::clone(&bytes), Arc::clone(&good)).await;
    let cache = tempfile::tempdir().unwrap();
    let (report, _) = reports();
    import(&order(vec![bad_url.clone(), good_url], &bytes, 16_384), cache.path(), true, report).await.unwrap();
    assert!(std::fs::read(cache.path().join("a-360.mp4")).unwrap() == *bytes);
    // Alone, the bad source fails the copy with the reason.
    let cache = tempfile::tempdir().unwrap();
    let (report, seen) = reports();
    let err = import(&order(vec![bad_url], &bytes, 16_384), cache.path(), true, report).await.unwrap_err();
    assert!(err.contains("kept sending bad data"), "{err}");
    assert_eq!(seen.lock().unwrap().last().unwrap().state, FetchState::Failed);
    assert!(!cache.path().join("a-360.mp4").exists(), "nothing unverified is served");
}

#[tokio::test]
async fn a_bad_piece_or_segment_is_fetched_again_from_another_source() {
    let bytes = Arc::new(data(300_000));
    // The first source (the origin) flips a byte of piece 4 every time; the second (another
    // cache) is good.
    let bad = Arc::new(Faults::default());
    bad.corrupt_at.store(4 * 16_384 + 7, Ordering::SeqCst);
    bad.corrupt_times.store(1000, Ordering::SeqCst);
    let bad_url = origin(Arc::clone(&bytes), Arc::clone(&bad)).await;
    let good = Arc::new(Faults::default());
    let good_url = origin(Arc::clone(&bytes), Arc::clone(&good)).await;
    let mut o = order(vec![bad_url.clone(), good_url.clone()], &bytes, 16_384);
    o.parallel = 1;
    let cache = tempfile::tempdir().unwrap();
    import(&o, cache.path(), true, reports().0).await.unwrap();
    assert!(std::fs::read(cache.path().join("a-360.mp4")).unwrap() == *bytes);
    assert_eq!(good.served.load(Ordering::SeqCst), 16_384, "only the bad piece came from the other source");
    assert_eq!(bad.served.load(Ordering::SeqCst), 300_000, "the origin sent the rest (once)");

    // HLS: a segment the origin corrupts comes from the other cache, the rest from the origin.
    let sha256 = |r: std::ops::RangeInclusive<usize>| sha2::Sha256::digest(&bytes[r]).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let FileCheck::Pieces { sha1, .. } = o.files[0].check.clone() else { unreachable!() };
    o.files[0].path = "hls/u/x-fragmented.mp4".into();
    o.files[0].check = FileCheck::Segments {
        segments: vec![SegmentHash { start: 1377, end: 150_000, sha256: sha256(1377..=150_000) }, SegmentHash { start: 150_001, end: 299_999, sha256: sha256(150_001..=299_999) }],
        piece_length: Some(16_384),
        sha1,
    };
    bad.corrupt_at.store(200_000, Ordering::SeqCst);
    let (before_bad, before_good) = (bad.served.load(Ordering::SeqCst), good.served.load(Ordering::SeqCst));
    import(&o, cache.path(), true, reports().0).await.unwrap();
    assert!(std::fs::read(cache.path().join("hls/u/x-fragmented.mp4")).unwrap() == *bytes);
    assert_eq!(good.served.load(Ordering::SeqCst) - before_good, 150_000 - 1, "the bad segment alone from the other source");
    assert_eq!(bad.served.load(Ordering::SeqCst) - before_bad, 300_000);
}

#[tokio::test]
async fn an_interrupted_copy_resumes_without_fetching_verified_parts_again() {
    let bytes = Arc::new(data(200_000));
    let faults = Arc::new(Faults::default());
    let url = origin(Arc::clone(&bytes), Arc::clone(&faults)).await;
    let cache = tempfile::tempdir().unwrap();
    // A first run stopped (killed) after five parts: the partial file and the record of what
    // is verified, as it leaves them.
    let o = order(vec![url], &bytes, 16_384);
    let units = units(200_000, &check_of(&o.files[0]).unwrap()).unwrap();
    let mut p = Progress::new(units.len());
    let partial = partial_dir(cache.path()).join("a-360.mp4");
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    let f = OpenOptions::new().write(true).create(true).truncate(false).open(&partial).unwrap();
    f.set_len(200_000).unwrap();
    for i in 0..5 {
        f.write_all_at(&bytes[units[i].start as usize..=units[i].end as usize], units[i].start).unwrap();
        p.mark(i);
    }
    // The record also names a part whose bytes never reached the disk (a machine crash): it is
    // hashed again, found wrong, and fetched again.
    f.write_all_at(&[0u8; 16_384], units[2].start).unwrap();
    std::fs::write(partial.with_extension("mp4.progress"), p.save()).unwrap();
    import(&o, cache.path(), true, reports().0).await.unwrap();
    assert!(std::fs::read(cache.path().join("a-360.mp4")).unwrap() == *bytes);
    assert_eq!(faults.served.load(Ordering::SeqCst), 200_000 - 4 * 16_384, "only the parts not verified were fetched");
}

#[tokio::test]
async fn a_changed_origin_file_and_private_addresses_are_refused() {
    let bytes = Arc::new(data(50_000));
    let url = origin(Arc::clone(&bytes), Arc::new(Faults::default())).await;
    let mut o = order(vec![url.clone()], &bytes, 16_384);
    o.files[0].size = 50_001; // the order expects another file
    o.files[0].check = FileCheck::Sha256 { sha256: "00".repeat(32) };
    let err = import(&o, tempfile::tempdir().unwrap().path(), true, reports().0).await.unwrap_err();
    assert!(err.contains("not the one ordered"), "{err}");
    let err = import(&order(vec![url], &bytes, 16_384), tempfile::tempdir().unwrap().path(), false, reports().0).await.unwrap_err();
    assert!(err.contains("private address"), "{err}");
}

#[tokio::test]
async fn hls_segments_and_the_init_section_are_checked() {
    let bytes = Arc::new(data(40_000));
    let url = origin(Arc::clone(&bytes), Arc::new(Faults::default())).await;
    let sha256 = |r: std::ops::RangeInclusive<usize>| sha2::Sha256::digest(&bytes[r]).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut o = order(vec![url], &bytes, 16_384);
    let FileCheck::Pieces { sha1, .. } = o.files[0].check.clone() else { unreachable!() };
    o.files[0].path = "hls/u/x-fragmented.mp4".into();
    o.files[0].check = FileCheck::Segments {
        segments: vec![SegmentHash { start: 1377, end: 20_000, sha256: sha256(1377..=20_000) }, SegmentHash { start: 20_001, end: 39_999, sha256: sha256(20_001..=39_999) }],
        piece_length: Some(16_384),
        sha1,
    };
    let cache = tempfile::tempdir().unwrap();
    import(&o, cache.path(), true, reports().0).await.unwrap();
    assert!(std::fs::read(cache.path().join("hls/u/x-fragmented.mp4")).unwrap() == *bytes);
}

#[tokio::test]
async fn a_copy_moved_into_place_but_not_synced_is_verified_again() {
    let bytes = Arc::new(data(100_000));
    let faults = Arc::new(Faults::default());
    let url = origin(Arc::clone(&bytes), Arc::clone(&faults)).await;
    let cache = tempfile::tempdir().unwrap();
    let o = order(vec![url], &bytes, 16_384);
    import(&o, cache.path(), true, reports().0).await.unwrap();
    let record = partial_dir(cache.path()).join("a-360.mp4.progress");
    let start = Instant::now();
    while record.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "the record goes once the file is synced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Synced: trusted as it is, nothing fetched.
    faults.served.store(0, Ordering::SeqCst);
    import(&o, cache.path(), true, reports().0).await.unwrap();
    assert_eq!(faults.served.load(Ordering::SeqCst), 0);
    // The machine stopped before the sync: the record is still there and a part lost its bytes.
    std::fs::write(&record, [1u8; 7]).unwrap();
    let f = OpenOptions::new().write(true).open(cache.path().join("a-360.mp4")).unwrap();
    f.write_all_at(&[0u8; 100], 20_000).unwrap();
    import(&o, cache.path(), true, reports().0).await.unwrap();
    assert!(std::fs::read(cache.path().join("a-360.mp4")).unwrap() == *bytes);
    assert_eq!(faults.served.load(Ordering::SeqCst), 16_384, "only the damaged part was fetched again");
}
