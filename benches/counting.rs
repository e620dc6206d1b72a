//! What counting a WebSeed request for `/metrics` costs, against the request path it rides on:
//! `respond` for a 16 KiB range (the anchor, measured in the same run) and the same with what a
//! worker adds per request — two clock reads and `WorkerCounters::response` (relaxed adds on the
//! worker's own cache lines). Prints the ratio and the heap allocations of the counting alone
//! (0: it allocates nothing). Run: `cargo bench --bench counting`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use vidseed_data_plane::catalog::{Catalog, CatalogFile};
use vidseed_data_plane::counters::WorkerCounters;
use vidseed_data_plane::webseed::serve::respond;
use vidseed_data_plane::CatalogStore;
use vidseed_shared::FileIdentity;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

#[allow(unsafe_code)]
// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn store_with_file() -> (Arc<CatalogStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video.mp4");
    std::fs::write(&path, vec![7u8; 4 << 20]).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    let file = CatalogFile {
        url_path: "/static/webseed/video.mp4".into(),
        fs_path: path,
        size: meta.len(),
        etag: "\"0123456789abcdef\"".into(),
        last_modified: 1_700_000_000,
        content_type: "video/mp4".into(),
        identity: FileIdentity::from_metadata(&meta),
        info_hash: None,
    };
    let store = Arc::new(CatalogStore::new());
    store.apply(Catalog { version: 1, files: vec![file], ..Default::default() }).unwrap();
    (store, dir)
}

/// Mean time per call of `f` over `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

fn bench(c: &mut Criterion) {
    let (store, _dir) = store_with_file();
    let get = http::Request::get("/static/webseed/video.mp4").header("range", "bytes=16384-32767").body(()).unwrap();
    let counters: Arc<[WorkerCounters]> = (0..2).map(|_| WorkerCounters::default()).collect();
    respond(&store, 4096, &get);
    let plain = || black_box(respond(black_box(&store), 4096, black_box(&get)));
    let counted = || {
        let started = Instant::now();
        let res = respond(black_box(&store), 4096, black_box(&get));
        let body = http_body::Body::size_hint(res.body()).exact();
        counters[black_box(1)].response(get.method(), res.status(), body, started.elapsed());
        black_box(res)
    };
    c.bench_function("respond/GET 16 KiB range (anchor)", |b| b.iter(plain));
    c.bench_function("respond/GET 16 KiB range + counting", |b| b.iter(counted));
    // Alternating rounds, so that drift of a shared machine falls on both alike.
    let (mut a, mut k) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..10 {
        a += per_call(100_000, || {
            plain();
        });
        k += per_call(100_000, || {
            counted();
        });
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..10_000 {
        counters[1].response(&http::Method::GET, http::StatusCode::PARTIAL_CONTENT, Some(16384), Duration::from_micros(3));
    }
    let allocs = (ALLOCS.load(Ordering::Relaxed) - before) as f64 / 10_000.0;
    println!(
        "counting: {:.1} ns per request with it, {:.1} ns without: ratio {:.3}; heap allocations of the counting per request: {allocs}",
        k.as_nanos() as f64 / 10.0,
        a.as_nanos() as f64 / 10.0,
        k.as_secs_f64() / a.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
