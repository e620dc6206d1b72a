//! Keeps the published videos in step with the media folder: scans it, makes (or reuses) each
//! file's torrent, and hands the data plane a new catalog as files are ready (does file I/O;
//! blocking — run it on its own thread).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use vidseed_shared::{content_type, Catalog, CatalogFile, CatalogUpdate, DataPlaneLink, InfoHash};

use crate::magnet::{magnet_uri, MagnetParts};
use crate::piece_length::PiecePolicy;
use crate::scan::{scan, FoundFile};
use crate::torrent_cache::{TorrentCache, TorrentInputs};
use crate::torrents::{make_torrent, TorrentSpec};
use crate::urls::PublicUrls;
use crate::video::Video;

/// How the publisher works.
#[derive(Clone, Debug)]
pub struct PublisherConfig {
    pub media_dir: PathBuf,
    pub state_dir: PathBuf,
    pub urls: PublicUrls,
    pub pieces: PiecePolicy,
    /// Threads hashing one file.
    pub hash_threads: usize,
    /// Draw a progress bar on the terminal (only when stderr is one).
    pub progress: bool,
}

/// What one synchronisation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub published: usize,
    pub hashed: usize,
    pub removed: usize,
    pub failed: usize,
}

type VideoMap = BTreeMap<String, Arc<Video>>;

/// The set of published videos and the link to the data plane.
pub struct Publisher {
    cfg: PublisherConfig,
    link: Arc<dyn DataPlaneLink>,
    videos: RwLock<Arc<VideoMap>>,
    version: AtomicU64,
    cache: TorrentCache,
    cancel: AtomicBool,
}

impl Publisher {
    pub fn new(cfg: PublisherConfig, link: Arc<dyn DataPlaneLink>) -> std::io::Result<Arc<Self>> {
        let cache = TorrentCache::open(&cfg.state_dir.join("torrents"))?;
        Ok(Arc::new(Publisher {
            cfg,
            link,
            videos: RwLock::new(Arc::new(BTreeMap::new())),
            version: AtomicU64::new(0),
            cache,
            cancel: AtomicBool::new(false),
        }))
    }

    pub fn urls(&self) -> &PublicUrls {
        &self.cfg.urls
    }

    /// The published videos, by path.
    pub fn videos(&self) -> Arc<VideoMap> {
        Arc::clone(&self.videos.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The video with this info-hash.
    pub fn by_info_hash(&self, ih: &InfoHash) -> Option<Arc<Video>> {
        self.videos().values().find(|v| &v.info_hash == ih).cloned()
    }

    /// Asks a running [`Publisher::sync`] to stop soon.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Brings the published set in line with the media folder: drops vanished or changed files,
    /// hashes new ones (publishing each batch as it is ready) and pushes the final catalog.
    pub fn sync(&self) -> std::io::Result<SyncReport> {
        let (found, skipped) = scan(&self.cfg.media_dir)?;
        for s in &skipped {
            tracing::info!(path = %s.path.display(), reason = %s.reason, "not published");
        }
        let mut report = SyncReport::default();
        let current = self.videos();
        let mut next: VideoMap = BTreeMap::new();
        let mut todo = Vec::new();
        for f in found {
            match current.get(&f.rel_path) {
                Some(v) if v.catalog_file.identity == f.identity => {
                    next.insert(f.rel_path.clone(), Arc::clone(v));
                }
                _ => todo.push(f),
            }
        }
        report.removed = current.keys().filter(|k| !next.contains_key(*k)).count();
        if report.removed > 0 || next.len() != current.len() {
            self.replace(next.clone());
        }
        let total: u64 = todo.iter().map(|f| f.identity.size).sum();
        let bar = self.progress_bar(total, todo.len());
        let mut done_bytes = 0u64;
        let mut last_push = Instant::now();
        let mut dirty = false;
        for f in &todo {
            if self.cancel.load(Ordering::Relaxed) {
                break;
            }
            bar.set_message(f.rel_path.clone());
            let result = self.publish_file(f, &mut |n| bar.set_position(done_bytes + n.min(f.identity.size)), &mut report);
            done_bytes += f.identity.size;
            bar.set_position(done_bytes);
            match result {
                Ok(video) => {
                    next.insert(f.rel_path.clone(), Arc::new(video));
                    dirty = true;
                    if last_push.elapsed() > Duration::from_millis(500) {
                        self.replace(next.clone());
                        last_push = Instant::now();
                        dirty = false;
                    }
                }
                Err(e) => {
                    report.failed += 1;
                    bar.suspend(|| tracing::warn!(path = %f.rel_path, "cannot publish: {e}"));
                }
            }
        }
        bar.finish_and_clear();
        if dirty {
            self.replace(next.clone());
        }
        report.published = next.len();
        Ok(report)
    }

    fn progress_bar(&self, total: u64, files: usize) -> ProgressBar {
        if !self.cfg.progress || files == 0 || !std::io::stderr().is_terminal() {
            if files > 0 {
                tracing::info!("hashing {files} file(s), {} MiB", total >> 20);
            }
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "hashing {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_msg}",
        );
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    fn publish_file(
        &self,
        f: &FoundFile,
        on_progress: &mut dyn FnMut(u64),
        report: &mut SyncReport,
    ) -> Result<Video, String> {
        let name = f.rel_path.rsplit('/').next().unwrap_or(&f.rel_path).to_owned();
        let urls = &self.cfg.urls;
        let file_url = urls.webseed_url(&f.rel_path);
        let inputs = TorrentInputs {
            identity: f.identity,
            name: name.clone(),
            piece_length: self.cfg.pieces.for_size(f.identity.size),
            url_list: vec![file_url.clone()],
            trackers: urls.trackers(),
        };
        let (info_hash, torrent) = match self.cache.get(&f.rel_path, &inputs) {
            Some(hit) => hit,
            None => {
                let spec = TorrentSpec {
                    path: &f.abs_path,
                    name: &name,
                    piece_length: inputs.piece_length,
                    url_list: &inputs.url_list,
                    trackers: &inputs.trackers,
                    threads: self.cfg.hash_threads,
                };
                let made = make_torrent(&spec, &self.cancel, on_progress).map_err(|e| e.to_string())?;
                // The file must not have changed while it was hashed.
                let after = std::fs::metadata(&f.abs_path).map_err(|e| e.to_string())?;
                if vidseed_shared::FileIdentity::from_metadata(&after) != f.identity {
                    return Err("the file changed while it was hashed; it will be retried".into());
                }
                report.hashed += 1;
                self.cache.put(&f.rel_path, inputs.clone(), made.info_hash, &made.bytes);
                (made.info_hash, made.bytes)
            }
        };
        let torrent_url = urls.torrent_url(&info_hash);
        let webseeds = vec![file_url.clone()];
        let magnet = magnet_uri(&MagnetParts {
            info_hash: &info_hash,
            name: &name,
            trackers: &inputs.trackers,
            webseeds: &webseeds,
            torrent_url: &torrent_url,
        });
        let ctype = content_type::for_file_name(&name).to_owned();
        let catalog_file = CatalogFile {
            url_path: PublicUrls::webseed_path(&f.rel_path),
            fs_path: f.abs_path.clone(),
            size: f.identity.size,
            etag: format!("\"{}\"", info_hash.to_hex()),
            last_modified: f.mtime,
            content_type: ctype.clone(),
            identity: f.identity,
            info_hash: Some(info_hash),
        };
        Ok(Video {
            id: info_hash.to_hex(),
            name,
            path: f.rel_path.clone(),
            size: f.identity.size,
            content_type: ctype,
            info_hash,
            piece_length: inputs.piece_length,
            webseeds,
            file_url,
            torrent_url,
            magnet_uri: magnet,
            torrent: Bytes::from(torrent),
            catalog_file,
        })
    }

    /// Publishes `next` to the data plane, then to the API (the API never lists a file the
    /// data plane was not given). Files the data plane rejects are left out of the API too.
    fn replace(&self, mut next: VideoMap) {
        let version = self.version.fetch_add(1, Ordering::Relaxed) + 1;
        let catalog = Catalog {
            version,
            files: next.values().map(|v| v.catalog_file.clone()).collect(),
            info_hashes: next.values().map(|v| v.info_hash).collect(),
        };
        match self.link.apply(CatalogUpdate::Snapshot { catalog }) {
            Ok(ack) => {
                for r in &ack.rejected {
                    tracing::warn!(path = %r.url_path, reason = %r.reason, "data plane refused a file");
                    next.retain(|_, v| v.catalog_file.url_path != r.url_path);
                }
            }
            Err(e) => {
                tracing::error!("data plane refused the catalog: {e}");
                return;
            }
        }
        *self.videos.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }
}
