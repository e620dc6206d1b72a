//! The copies of other instances' videos this node keeps in its cache folder (does I/O): fetch
//! orders start imports (`crate::import`), a finished copy joins the served catalog under
//! `/static/redundancy/…` with its info-hashes tracked, a discard stops the import and deletes
//! the files. Each order is also written under `.orders/` in the cache folder, so that a node
//! restarted since can still delete a copy it is told to discard, and the copies the control
//! plane no longer keeps (removed while the node was away: [`Copies::keep_only`]). Reports and
//! catalog changes go out through channels the session drains.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use sha2::Digest as _;
use tokio::sync::mpsc;
use vidseed_shared::fetch::{FetchOrder, FetchReport};
use vidseed_shared::{FileIdentity, InfoHash};

use crate::catalog::{Catalog, CatalogFile};
use crate::import::download::{import, partial_dir, safe_relative, Reporter};

/// Copies this process started, finished and lost, for `/metrics` (one node per process).
pub static COUNTS: CopyCounts = CopyCounts {
    started: AtomicU64::new(0),
    running: AtomicU64::new(0),
    served: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

/// See [`COUNTS`].
#[derive(Debug)]
pub struct CopyCounts {
    pub started: AtomicU64,
    /// Imports under way now.
    pub running: AtomicU64,
    /// Imports verified and served.
    pub served: AtomicU64,
    /// Imports that failed (bad data, the origin gone, the disk full, …).
    pub failed: AtomicU64,
}

/// Counts an import as running for as long as its task lives (an aborted task included).
struct Running;

impl Running {
    fn start() -> Running {
        COUNTS.started.fetch_add(1, Relaxed);
        COUNTS.running.fetch_add(1, Relaxed);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        COUNTS.running.fetch_sub(1, Relaxed);
    }
}

/// What the session drains.
pub enum CopyEvent {
    /// A report to send to the control plane.
    Report(FetchReport),
    /// The served copies changed: the catalog must be rebuilt.
    Changed,
}

pub type Outbox = mpsc::UnboundedReceiver<CopyEvent>;

/// A served copy's catalog entries and the info-hashes its swarms use.
type Served = (Vec<CatalogFile>, Vec<InfoHash>);

/// The node's copies.
pub struct Copies {
    cache: PathBuf,
    allow_private: bool,
    serving: Mutex<BTreeMap<String, Served>>,
    running: Mutex<HashMap<String, (FetchOrder, tokio::task::AbortHandle)>>,
    events: mpsc::UnboundedSender<CopyEvent>,
}

impl Copies {
    pub fn new(cache: PathBuf, allow_private: bool) -> (Arc<Copies>, Outbox) {
        let (events, rx) = mpsc::unbounded_channel();
        let copies = Arc::new(Copies { cache, allow_private, serving: Mutex::default(), running: Mutex::default(), events });
        (copies, rx)
    }

    /// Makes (or resumes) a copy; an order the node is already carrying out is left running.
    pub fn order(self: &Arc<Self>, order: FetchOrder) {
        self.remember(&order);
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(&order.id).is_some_and(|(o, h)| *o == order && !h.is_finished()) {
            return;
        }
        if let Some((_, old)) = running.remove(&order.id) {
            old.abort();
        }
        let this = Arc::clone(self);
        let id = order.id.clone();
        let task_order = order.clone();
        let counted = Running::start();
        let handle = tokio::spawn(async move {
            let _counted = counted;
            let events = this.events.clone();
            let reporter: Reporter = Arc::new(move |r| {
                let _ = events.send(CopyEvent::Report(r));
            });
            match import(&task_order, &this.cache, this.allow_private, reporter).await {
                Ok(()) => match this.served_files(&task_order) {
                    Ok(files) => {
                        this.serving.lock().unwrap_or_else(|p| p.into_inner()).insert(task_order.id.clone(), (files, task_order.info_hashes.clone()));
                        let _ = this.events.send(CopyEvent::Changed);
                        COUNTS.served.fetch_add(1, Relaxed);
                        tracing::info!(copy = %task_order.id, "copy verified and served");
                    }
                    Err(e) => {
                        COUNTS.failed.fetch_add(1, Relaxed);
                        tracing::warn!(copy = %task_order.id, "copy imported but not servable: {e}")
                    }
                },
                Err(e) => {
                    COUNTS.failed.fetch_add(1, Relaxed);
                    tracing::warn!(copy = %task_order.id, "copy failed: {e}")
                }
            }
        });
        running.insert(id, (order, handle.abort_handle()));
    }

    /// Stops serving a copy and deletes its files, finished or partial (known from the running
    /// order, or from the one written under `.orders/` before a restart).
    pub fn discard(&self, id: &str) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(id).map(|(o, h)| {
            h.abort();
            o
        });
        let was_served = self.serving.lock().unwrap_or_else(|p| p.into_inner()).remove(id).is_some();
        match running.or_else(|| self.remembered(id)) {
            Some(order) => {
                for f in &order.files {
                    if let Some(rel) = safe_relative(&f.path) {
                        let partial = partial_dir(&self.cache).join(&rel);
                        for p in [self.cache.join(&rel), partial.clone(), record_of(&partial), record_of(&partial).with_extension("tmp")] {
                            let _ = std::fs::remove_file(&p);
                            self.remove_empty_parents(&p);
                        }
                    }
                }
                let _ = std::fs::remove_file(self.order_path(id));
                tracing::info!(copy = %id, "copy discarded");
            }
            None => tracing::info!(copy = %id, "discard of a copy this node does not hold"),
        }
        if was_served {
            let _ = self.events.send(CopyEvent::Changed);
        }
    }

    /// Deletes every copy this node holds but `ids` (the copies the control plane keeps).
    pub fn keep_only(&self, ids: &[String]) {
        let keep: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let Ok(dir) = std::fs::read_dir(self.orders_dir()) else { return };
        let held: Vec<String> = dir
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice::<FetchOrder>(&std::fs::read(e.path()).ok()?).ok())
            .map(|o| o.id)
            .collect();
        for id in held.iter().filter(|id| !keep.contains(id.as_str())) {
            tracing::info!(copy = %id, "the control plane no longer keeps this copy");
            self.discard(id);
        }
    }

    fn orders_dir(&self) -> PathBuf {
        self.cache.join(".orders")
    }

    /// Where the order of copy `id` is written: its SHA-256, hex (ids are URLs).
    fn order_path(&self, id: &str) -> PathBuf {
        let hash: String = sha2::Sha256::digest(id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        self.orders_dir().join(format!("{hash}.json"))
    }

    /// Writes the order (whole, by a rename), so that a restarted node still knows its files.
    fn remember(&self, order: &FetchOrder) {
        let path = self.order_path(&order.id);
        let tmp = path.with_extension("tmp");
        let written = std::fs::create_dir_all(self.orders_dir())
            .and_then(|()| std::fs::write(&tmp, serde_json::to_vec(order).unwrap_or_default()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!(copy = %order.id, "cannot write the order under {}: {e}", self.orders_dir().display());
        }
    }

    fn remembered(&self, id: &str) -> Option<FetchOrder> {
        let order: FetchOrder = serde_json::from_slice(&std::fs::read(self.order_path(id)).ok()?).ok()?;
        (order.id == id).then_some(order)
    }

    /// Removes the folders a deleted file leaves empty, up to the cache folder.
    fn remove_empty_parents(&self, file: &Path) {
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(&self.cache) && *d != self.cache && *d != partial_dir(&self.cache)) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    /// The catalog entries of a finished copy.
    fn served_files(&self, order: &FetchOrder) -> Result<Vec<CatalogFile>, String> {
        order
            .files
            .iter()
            .map(|f| {
                let rel = safe_relative(&f.path).ok_or_else(|| format!("refused path {:?}", f.path))?;
                let fs_path = self.cache.join(rel);
                let meta = std::fs::metadata(&fs_path).map_err(|e| format!("{}: {e}", fs_path.display()))?;
                let identity = FileIdentity::from_metadata(&meta);
                let last_modified = u64::try_from(identity.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(0);
                Ok(CatalogFile {
                    url_path: f.url_path.clone(),
                    fs_path,
                    size: f.size,
                    etag: format!("\"{:x}-{:x}\"", f.size, identity.mtime_ns),
                    last_modified,
                    content_type: f.content_type.clone(),
                    identity,
                    info_hash: None,
                })
            })
            .collect()
    }

    /// Adds the served copies to a catalog built from the library.
    pub fn extend(&self, catalog: &mut Catalog) {
        for (files, hashes) in self.serving.lock().unwrap_or_else(|p| p.into_inner()).values() {
            catalog.files.extend(files.iter().cloned());
            catalog.info_hashes.extend(hashes.iter().copied());
        }
    }

    pub fn cache(&self) -> &Path {
        &self.cache
    }
}

fn record_of(partial: &Path) -> PathBuf {
    partial.with_extension(format!("{}.progress", partial.extension().and_then(|e| e.to_str()).unwrap_or("")))
}

#[cfg(test)]
mod tests;
