//! Micro-benchmarks of the WebSeed hot path without sockets: planning a request and building the
//! whole response from a mapped file, with the heap allocations each costs. No I/O but mapping
//! one temporary file.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use vidseed_data_plane::webseed::plan::{plan, Conditions, Resource};
use vidseed_data_plane::webseed::serve::respond;
use vidseed_data_plane::catalog::{Catalog, CatalogFile};
use vidseed_data_plane::CatalogStore;
use vidseed_shared::FileIdentity;

/// Counts heap allocations, to show what one request costs.
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

fn allocs_per_call(mut f: impl FnMut()) -> f64 {
    let n = 10_000;
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..n {
        f();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / f64::from(n)
}

fn store_with_file() -> (Arc<CatalogStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video.mp4");
    std::fs::write(&path, vec![7u8; 4 << 20]).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    let file = CatalogFile {
        url_path: "/static/webseed/video.mp4".into(),
        fs_path: path,
        size: meta.len(),
        etag: "\"0123456789abcdef0123456789abcdef01234567\"".into(),
        last_modified: 1_700_000_000,
        content_type: "video/mp4".into(),
        identity: FileIdentity::from_metadata(&meta),
        info_hash: None,
    };
    let store = Arc::new(CatalogStore::new());
    store.apply(Catalog { version: 1, files: vec![file], ..Default::default() }).unwrap();
    (store, dir)
}

fn bench(c: &mut Criterion) {
    let res = Resource { size: 1 << 30, etag: b"\"abc\"", last_modified: 1_700_000_000 };
    let cond = Conditions { range: Some(b"bytes=262144-524287"), ..Default::default() };
    c.bench_function("plan/single range", |b| b.iter(|| plan(black_box(&cond), black_box(&res))));
    let cond_if = Conditions {
        range: Some(b"bytes=262144-524287"),
        if_range: Some(b"\"abc\""),
        if_none_match: Some(b"\"x\", \"y\""),
        ..Default::default()
    };
    c.bench_function("plan/range + If-Range + If-None-Match", |b| b.iter(|| plan(black_box(&cond_if), black_box(&res))));

    let (store, _dir) = store_with_file();
    let get = http::Request::get("/static/webseed/video.mp4")
        .header("range", "bytes=16384-32767")
        .header("cache-control", "no-store")
        .header("origin", "http://127.0.0.1:1")
        .body(())
        .unwrap();
    let options = http::Request::builder()
        .method("OPTIONS")
        .uri("/static/webseed/video.mp4")
        .header("access-control-request-headers", "cache-control")
        .body(())
        .unwrap();
    respond(&store, 4096, &get); // maps the file once
    c.bench_function("respond/GET 16 KiB range", |b| b.iter(|| respond(black_box(&store), 4096, black_box(&get))));
    c.bench_function("respond/OPTIONS preflight", |b| b.iter(|| respond(black_box(&store), 4096, black_box(&options))));
    println!("heap allocations per call: plan {:.1}, respond GET {:.1}, respond OPTIONS {:.1}",
        allocs_per_call(|| { black_box(plan(&cond, &res)); }),
        allocs_per_call(|| { black_box(respond(&store, 4096, &get)); }),
        allocs_per_call(|| { black_box(respond(&store, 4096, &options)); }),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
