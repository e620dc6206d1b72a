//! The catalog the data plane serves, swapped atomically: each update builds a new immutable
//! [`ServedCatalog`] and publishes it with one pointer swap, so a request in flight keeps the
//! version it started with. Files are mapped on first use and the mapping is cached across
//! swaps for as long as the file stays the same. Does file I/O (stat, open, mmap).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::{ArcSwap, Guard};
use bytes::Bytes;
use http::HeaderValue;
use vidseed_shared::channel::RejectedFile;
use vidseed_shared::{FileIdentity, InfoHash};

use super::model::{Catalog, CatalogAck, CatalogFile, UpdateRefused};

/// One file ready to serve, with its response headers prepared once.
#[derive(Debug)]
pub struct ServedFile {
    pub source: CatalogFile,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub content_type: HeaderValue,
    pub content_length: HeaderValue,
    /// The whole file as one `Bytes` owning its mapping; slices of it are response bodies.
    mapping: OnceLock<Result<Bytes, String>>,
}

impl ServedFile {
    fn new(source: CatalogFile) -> Result<Self, String> {
        let header = |v: &str, what: &str| {
            HeaderValue::from_str(v).map_err(|_| format!("{what} {v:?} is not a valid header value"))
        };
        let last_modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(source.last_modified);
        Ok(ServedFile {
            etag: header(&source.etag, "etag")?,
            last_modified: header(&httpdate::fmt_http_date(last_modified), "date")?,
            content_type: header(&source.content_type, "content type")?,
            content_length: HeaderValue::from(source.size),
            source,
            mapping: OnceLock::new(),
        })
    }

    /// The file's bytes, mapped on first use. Fails when the file is gone or changed.
    pub fn bytes(&self) -> Result<&Bytes, &str> {
        self.mapping.get_or_init(|| map_file(&self.source)).as_ref().map_err(String::as_str)
    }
}

/// Reads the identity of a file on disk, as the control plane records it at publication.
pub fn identity_of(meta: &std::fs::Metadata) -> FileIdentity {
    FileIdentity::from_metadata(meta)
}

fn map_file(f: &CatalogFile) -> Result<Bytes, String> {
    let file = Arc::new(File::open(&f.fs_path).map_err(|e| format!("cannot open: {e}"))?);
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if identity_of(&meta) != f.identity {
        return Err("changed on disk since it was published".into());
    }
    if f.size == 0 {
        return Ok(Bytes::new());
    }
    crate::sigbus::install();
    let map = mapped(&file).map_err(|e| format!("cannot map: {e}"))?;
    if map.len() as u64 != f.size {
        return Err("size changed while mapping".into());
    }
    let registration = crate::sendfile::register(map.as_ptr() as usize, map.len(), file);
    Ok(Bytes::from_owner(Mapped { registration, map }))
}

/// A file mapping that the zero-copy sender knows about for as long as it lives.
struct Mapped {
    // Declared first so it is dropped first: the range is forgotten before it is unmapped.
    #[allow(dead_code)]
    registration: crate::sendfile::Registration,
    map: memmap2::Mmap,
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

#[allow(unsafe_code)]
fn mapped(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to this process; a concurrent truncation
    // by another process cannot cause undefined behaviour in safe code we run on the bytes,
    // because the bytes are only handed to the kernel (write/writev) or read through the
    // SIGBUS guard, which replaces vanished pages with zeros.
    unsafe { memmap2::MmapOptions::new().map(file) }
}

/// One immutable version of the catalog.
#[derive(Debug, Default)]
pub struct ServedCatalog {
    pub version: u64,
    files: HashMap<Box<str>, Arc<ServedFile>>,
    info_hashes: HashSet<InfoHash>,
    track_any: bool,
}

impl ServedCatalog {
    /// The file published at this decoded URL path.
    pub fn file(&self, url_path: &str) -> Option<&Arc<ServedFile>> {
        self.files.get(url_path)
    }

    /// Whether the tracker may track this info-hash.
    pub fn tracks(&self, info_hash: &InfoHash) -> bool {
        self.track_any || self.info_hashes.contains(info_hash)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The data plane's current catalog and the only way to change it.
#[derive(Debug, Default)]
pub struct CatalogStore {
    current: ArcSwap<ServedCatalog>,
    /// Serialises writers (updates and revalidation); readers never take it.
    writer: Mutex<()>,
    applies: ApplyCounters,
}

/// How the catalog updates went, for health and metrics.
#[derive(Debug, Default)]
pub struct ApplyCounters {
    /// Updates applied (the first one makes the node ready).
    pub applied: std::sync::atomic::AtomicU64,
    /// Updates refused whole (the last good catalog stayed).
    pub refused: std::sync::atomic::AtomicU64,
    /// How long the last applied update took (validation, disk checks, mappings, swap), ns.
    pub last_apply_ns: std::sync::atomic::AtomicU64,
    /// Files of the last applied update that could not be served.
    pub last_rejected: std::sync::atomic::AtomicU64,
}

impl CatalogStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The catalog as of now; cheap, lock-free, and stable for as long as it is held.
    pub fn load(&self) -> Guard<Arc<ServedCatalog>> {
        self.current.load()
    }

    /// Serves `catalog` instead of the current one: the whole new catalog is built first, then
    /// swapped in at once. An invalid catalog is refused and the current one stays.
    pub fn apply(&self, catalog: Catalog) -> Result<CatalogAck, UpdateRefused> {
        use std::sync::atomic::Ordering::Relaxed;
        let started = std::time::Instant::now();
        let result = self.swap_in(catalog);
        match &result {
            Ok(ack) => {
                self.applies.last_apply_ns.store(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX), Relaxed);
                self.applies.last_rejected.store(ack.rejected.len() as u64, Relaxed);
                self.applies.applied.fetch_add(1, Relaxed);
            }
            Err(_) => {
                self.applies.refused.fetch_add(1, Relaxed);
            }
        }
        result
    }

    /// How the updates went so far.
    pub fn applies(&self) -> &ApplyCounters {
        &self.applies
    }

    /// Whether a catalog from the control plane has been applied (the node is ready to serve).
    pub fn received(&self) -> bool {
        self.applies.applied.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    fn swap_in(&self, catalog: Catalog) -> Result<CatalogAck, UpdateRefused> {
        catalog.validate().map_err(|e| UpdateRefused { reason: e.to_string() })?;
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let mut files = HashMap::with_capacity(catalog.files.len());
        let mut rejected = Vec::new();
        for f in catalog.files {
            // Keep the old entry, and so its mapping, when nothing about the file changed.
            if let Some(prev) = old.files.get(f.url_path.as_str()) {
                if prev.source == f {
                    files.insert(f.url_path.clone().into_boxed_str(), Arc::clone(prev));
                    continue;
                }
            }
            if let Err(reason) = check_on_disk(&f) {
                rejected.push(RejectedFile { url_path: f.url_path, reason });
                continue;
            }
            match ServedFile::new(f.clone()) {
                Ok(s) => {
                    files.insert(f.url_path.into_boxed_str(), Arc::new(s));
                }
                Err(reason) => rejected.push(RejectedFile { url_path: f.url_path, reason }),
            }
        }
        for r in &rejected {
            tracing::warn!(path = %r.url_path, reason = %r.reason, "catalog file not served");
        }
        let served = ServedCatalog {
            version: catalog.version,
            files,
            info_hashes: catalog.info_hashes.into_iter().collect(),
            track_any: catalog.track_any,
        };
        let ack = CatalogAck { version: served.version, files_served: served.len(), rejected };
        self.current.store(Arc::new(served));
        Ok(ack)
    }

    /// Checks every served file against the disk and stops serving those that were replaced,
    /// truncated or removed. Returns what was dropped.
    pub fn revalidate(&self) -> Vec<RejectedFile> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let dropped: Vec<RejectedFile> = old
            .files
            .values()
            .filter_map(|f| {
                check_on_disk(&f.source)
                    .err()
                    .map(|reason| RejectedFile { url_path: f.source.url_path.clone(), reason })
            })
            .collect();
        if dropped.is_empty() {
            return dropped;
        }
        let mut files = old.files.clone();
        for d in &dropped {
            tracing::warn!(path = %d.url_path, reason = %d.reason, "file no longer served");
            files.remove(d.url_path.as_str());
        }
        self.current.store(Arc::new(ServedCatalog {
            version: old.version,
            files,
            info_hashes: old.info_hashes.clone(),
            track_any: old.track_any,
        }));
        dropped
    }
}

/// Wakes every revalidation loop now, rather than at its next interval: a send found a mapped
/// file shorter than its mapping, so it must stop being served at once.
pub fn revalidate_soon() {
    let (flag, wake) = &REVALIDATE;
    *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
    wake.notify_all();
}

/// Waits up to `interval` or until [`revalidate_soon`] (or [`wake_revalidation`]); true if
/// asked to revalidate soon.
pub fn wait_for_revalidation(interval: std::time::Duration) -> bool {
    let (flag, wake) = &REVALIDATE;
    let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
    let (mut guard, _) = wake.wait_timeout_while(guard, interval, |soon| !*soon).unwrap_or_else(|p| p.into_inner());
    std::mem::replace(&mut *guard, false)
}

/// Wakes the revalidation loops without asking for a revalidation (on shutdown).
pub fn wake_revalidation() {
    REVALIDATE.1.notify_all();
}

static REVALIDATE: (Mutex<bool>, std::sync::Condvar) = (Mutex::new(false), std::sync::Condvar::new());

fn check_on_disk(f: &CatalogFile) -> Result<(), String> {
    let meta = std::fs::metadata(&f.fs_path).map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if identity_of(&meta) != f.identity {
        return Err("changed on disk since it was published".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn entry(path: &std::path::Path, url: &str) -> CatalogFile {
        let meta = std::fs::metadata(path).unwrap();
        CatalogFile {
            url_path: url.into(),
            fs_path: path.into(),
            size: meta.len(),
            etag: "\"e\"".into(),
            last_modified: 0,
            content_type: "video/mp4".into(),
            identity: identity_of(&meta),
            info_hash: Some(InfoHash([3; 20])),
        }
    }

    fn snapshot(version: u64, files: Vec<CatalogFile>) -> Catalog {
        let info_hashes = files.iter().filter_map(|f| f.info_hash).collect();
        Catalog { version, files, info_hashes, track_any: false }
    }

    #[test]
    fn swap_keeps_old_version_for_holders_and_reuses_mappings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        std::fs::write(&p, b"hello world").unwrap();
        let store = CatalogStore::new();
        let ack = store.apply(snapshot(1, vec![entry(&p, "/a")])).unwrap();
        assert_eq!((ack.version, ack.files_served), (1, 1));
        let held = store.load_full_for_test();
        let bytes = held.file("/a").unwrap().bytes().unwrap().clone();
        assert_eq!(&bytes[..], b"hello world");
        assert!(held.tracks(&InfoHash([3; 20])));

        store.apply(snapshot(2, vec![entry(&p, "/a"), entry(&p, "/b")])).unwrap();
        let now = store.load();
        assert_eq!(now.version, 2);
        assert!(Arc::ptr_eq(held.file("/a").unwrap(), now.file("/a").unwrap()), "mapping reused");
        store.apply(snapshot(3, vec![])).unwrap();
        assert!(store.load().file("/a").is_none());
        assert_eq!(held.version, 1, "a holder keeps its version");
        assert_eq!(&bytes[..], b"hello world");
    }

    #[test]
    fn changed_or_missing_files_are_rejected_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        std::fs::write(&p, b"12345").unwrap();
        let stale = entry(&p, "/a");
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"678").unwrap();
        let mut missing = entry(&p, "/m");
        missing.fs_path = dir.path().join("nope");
        let store = CatalogStore::new();
        let ack = store.apply(snapshot(1, vec![stale, missing, entry(&p, "/ok")])).unwrap();
        assert_eq!(ack.files_served, 1);
        assert_eq!(ack.rejected.len(), 2);
        assert!(store.load().file("/ok").is_some());
    }

    #[test]
    fn invalid_catalog_is_refused_and_last_good_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        std::fs::write(&p, b"x").unwrap();
        let store = CatalogStore::new();
        store.apply(snapshot(1, vec![entry(&p, "/a")])).unwrap();
        let err = store.apply(snapshot(2, vec![entry(&p, "/a"), entry(&p, "/a")])).unwrap_err();
        assert!(err.reason.contains("twice"), "{}", err.reason);
        assert_eq!(store.load().version, 1);
        assert!(store.load().file("/a").is_some());
    }

    #[test]
    fn revalidate_drops_truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        let q = dir.path().join("b.mp4");
        std::fs::write(&p, vec![1u8; 10000]).unwrap();
        std::fs::write(&q, vec![2u8; 10]).unwrap();
        let store = CatalogStore::new();
        store.apply(snapshot(1, vec![entry(&p, "/a"), entry(&q, "/b")])).unwrap();
        assert!(store.revalidate().is_empty());
        std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(100).unwrap();
        let dropped = store.revalidate();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].url_path, "/a");
        assert!(store.load().file("/a").is_none());
        assert!(store.load().file("/b").is_some());
    }

    impl CatalogStore {
        fn load_full_for_test(&self) -> Arc<ServedCatalog> {
            self.current.load_full()
        }
    }
}
