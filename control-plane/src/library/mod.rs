//! The instance's video library (does I/O): the videos of the store, mirrored in memory for the
//! API; adding files and folders (hashed into torrents, progress reported) and removing them;
//! following a media folder (`vidseed serve`); and which data nodes serve each video, for the
//! torrents' url-lists. Every change is written to the store first, then announced on a watch
//! channel (the last change's sequence number) that the catalog channel follows.

pub mod magnet;
pub mod piece_length;
pub mod rendezvous;
pub mod scan;
pub mod torrent_file;
pub mod torrents;
pub mod urls;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::runtime::Handle;
use tokio::sync::watch;
use vidseed_shared::{content_type, InfoHash};

use crate::library::magnet::{magnet_uri, MagnetParts};
use crate::library::piece_length::PiecePolicy;
use crate::library::scan::{examine, outside_reason, scan, Entry, FoundFile, LinkPolicy, Skipped};
use crate::store::{NodeRecord, Store, StoreError, VideoRecord};
use crate::library::torrents::{make_torrent, TorrentSpec};
use crate::library::urls::PublicUrls;
use crate::video::Video;

/// How the library works.
#[derive(Clone, Debug)]
pub struct LibraryConfig {
    /// The library folder on the control plane's host: library paths are relative to it.
    pub root: PathBuf,
    pub urls: PublicUrls,
    pub pieces: PiecePolicy,
    /// Threads hashing one file.
    pub hash_threads: usize,
    /// STUN servers the watch pages give WebRTC (`stun:host:port`); empty: viewers connect
    /// directly, and nothing leaves their network.
    pub stun_servers: Vec<String>,
    /// Publish files that symbolic links in the library lead to outside it (off: such links are
    /// refused, with a warning naming them).
    pub follow_symlinks: bool,
    /// Which tracker the torrents and magnets name.
    pub trackers: TrackerChoice,
}

/// Which tracker a video's torrent and magnet name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrackerChoice {
    /// The instance's tracker for every video ([`PublicUrls::trackers`]: `--tracker-url`, or the
    /// data plane of `vidseed serve`).
    #[default]
    Fixed,
    /// The tracker of one data node that serves the video, chosen by rendezvous hashing of its
    /// info-hash over those nodes ([`rendezvous::choose`]); when that node stops serving it,
    /// the next in the ranking. The instance's while no node serves the video.
    ServingNode,
}

/// Why a library operation failed, said so that the admin knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{what}")]
    BadPath { what: String, hint: String },
    #[error("nothing in the library at {0:?}")]
    NotFound(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
}

impl LibraryError {
    /// What the admin can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            LibraryError::BadPath { hint, .. } => Some(hint.clone()),
            LibraryError::NotFound(_) => Some("list the library with `vidseed admin videos`".into()),
            LibraryError::Store(e) => Some(e.hint()),
            LibraryError::Io(_) => None,
        }
    }
}

/// Hashing progress over a whole add: bytes hashed so far over all files, and the file being
/// hashed (also the admin API's progress event).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub file: String,
    pub done: u64,
    pub total: u64,
}

/// What an add did.
#[derive(Clone, Debug, Default)]
pub struct AddReport {
    pub added: Vec<String>,
    pub unchanged: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// What following the media folder did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub published: usize,
    pub hashed: usize,
    pub removed: usize,
    pub failed: usize,
}

/// A data node as the library sees it: where it is, what it holds, what it could not serve.
#[derive(Clone, Debug)]
pub struct NodeView {
    pub name: String,
    pub public_url: String,
    pub folders: Vec<String>,
    pub rejected: HashSet<String>,
    pub revoked: bool,
    /// The last update the node acknowledged (`None`: none yet).
    pub acked_seq: Option<u64>,
}

impl NodeView {
    fn from_record(n: &NodeRecord) -> NodeView {
        NodeView {
            name: n.name.clone(),
            public_url: n.public_url.clone(),
            folders: n.folders.clone(),
            rejected: n.rejected.iter().map(|(p, _)| p.clone()).collect(),
            revoked: n.revoked,
            acked_seq: n.acked_seq,
        }
    }

    /// Whether this node serves the video at library path `path`, last changed by update
    /// `seq`: it holds the folder, has acknowledged that update and did not refuse the file.
    pub fn serves(&self, path: &str, seq: u64) -> bool {
        !self.revoked
            && self.acked_seq.is_some_and(|a| a >= seq)
            && self.folders.iter().any(|f| vidseed_shared::channel::folder_holds(f, path))
            && !self.rejected.contains(&PublicUrls::webseed_path(path))
    }
}

/// The library's state at one moment. Changes are made in place when no reader holds the
/// current version (`Arc::make_mut`), so adding a folder of many files does not copy the maps
/// once per file; a reader holding a version keeps it unchanged.
#[derive(Clone, Debug, Default)]
pub struct LibraryState {
    pub videos: BTreeMap<String, Arc<VideoRecord>>,
    by_info_hash: HashMap<InfoHash, String>,
    /// The update that last changed each video (0: before this process started).
    seq_of: HashMap<String, u64>,
    pub nodes: Vec<NodeView>,
    /// Copies other instances keep of our videos, checked: extra WebSeeds, by info-hash.
    copies: HashMap<InfoHash, Vec<String>>,
    /// The federated videos' UUIDs by library path, and the paths by UUID (set by the
    /// publisher): their watch URLs are `/videos/watch/<uuid>`.
    uuids: HashMap<String, String>,
    paths_by_uuid: HashMap<String, String>,
}

impl LibraryState {
    /// The nodes serving the video at `path`.
    pub fn serving<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a NodeView> + 'a {
        let seq = self.seq_of.get(path).copied().unwrap_or(0);
        self.nodes.iter().filter(move |n| n.serves(path, seq))
    }
}

/// The library.
pub struct Library {
    cfg: LibraryConfig,
    store: Store,
    rt: Handle,
    state: RwLock<Arc<LibraryState>>,
    changed: watch::Sender<u64>,
    cancel: AtomicBool,
    /// Links refused for leading out of the library, already warned about (each rescan would
    /// say it again).
    refused_links: Mutex<HashSet<(PathBuf, PathBuf)>>,
}

/// `path` relative to `root`, by their components alone (no `..` climbing out); None when
/// `path` is not under `root`.
fn lexical_rel(path: &Path, root: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let rest = path.strip_prefix(root).ok()?;
    let mut rel = PathBuf::new();
    for c in rest.components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !rel.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(rel)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Library {
    /// Loads the library from the store.
    pub async fn open(cfg: LibraryConfig, store: Store) -> Result<Arc<Library>, LibraryError> {
        let last = store.last_seq().await?;
        let lib = Arc::new(Library {
            cfg,
            store,
            rt: Handle::current(),
            state: RwLock::new(Arc::default()),
            changed: watch::channel(last).0,
            cancel: AtomicBool::new(false),
            refused_links: Mutex::new(HashSet::new()),
        });
        lib.reload().await?;
        Ok(lib)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs a store operation from a thread outside the runtime (the folder follower).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The STUN servers of the watch pages.
    pub fn stun_servers(&self) -> &[String] {
        &self.cfg.stun_servers
    }

    pub fn urls(&self) -> &PublicUrls {
        &self.cfg.urls
    }

    /// Which tracker the torrents name.
    pub fn tracker_choice(&self) -> TrackerChoice {
        self.cfg.trackers
    }

    pub fn root(&self) -> &Path {
        &self.cfg.root
    }

    /// Follows the sequence number of the last change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The current state (cheap; a snapshot that does not change under the caller).
    pub fn state(&self) -> Arc<LibraryState> {
        Arc::clone(&self.state.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Stops hashing in progress.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Reads videos and nodes from the store again.
    pub async fn reload(&self) -> Result<(), LibraryError> {
        let videos = self.store.videos().await?;
        let nodes = self.store.nodes().await?;
        let mut st = LibraryState::default();
        for v in videos {
            st.by_info_hash.insert(v.info_hash, v.path.clone());
            st.videos.insert(v.path.clone(), Arc::new(v));
        }
        st.nodes = nodes.iter().map(NodeView::from_record).collect();
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        st.copies = guard.copies.clone();
        st.uuids = guard.uuids.clone();
        st.paths_by_uuid = guard.paths_by_uuid.clone();
        *guard = Arc::new(st);
        Ok(())
    }

    /// Sets the copies other instances keep of our videos (checked ones only): their URLs are
    /// advertised beside our nodes' in the API, the magnets (`ws=`) and the torrents' url-list
    /// (the info dictionary, and so the info-hash, does not change).
    pub fn set_copies(&self, copies: HashMap<InfoHash, Vec<String>>) {
        self.change(|st| st.copies = copies);
    }

    /// Sets the videos' UUIDs (library path → UUID), from the publisher.
    pub fn set_uuids(&self, uuids: HashMap<String, String>) {
        self.change(|st| {
            st.paths_by_uuid = uuids.iter().map(|(p, u)| (u.clone(), p.clone())).collect();
            st.uuids = uuids;
        });
    }

    /// The UUID of the video with this info-hash, if it has one.
    pub fn uuid_of(&self, ih: &InfoHash) -> Option<String> {
        let st = self.state();
        st.uuids.get(st.by_info_hash.get(ih)?).cloned()
    }

    /// The stored video with this UUID, published or not.
    pub fn record_by_uuid(&self, uuid: &str) -> Option<Arc<VideoRecord>> {
        let st = self.state();
        st.videos.get(st.paths_by_uuid.get(uuid)?).cloned()
    }

    /// A video some data node serves, by UUID.
    pub fn by_uuid(&self, uuid: &str) -> Option<Video> {
        let st = self.state();
        let v = st.videos.get(st.paths_by_uuid.get(uuid)?)?;
        st.serving(&v.path).next()?;
        Some(self.view(&st, v))
    }

    /// The stored video with this info-hash, published or not.
    pub fn record_by_info_hash(&self, ih: &InfoHash) -> Option<Arc<VideoRecord>> {
        let st = self.state();
        st.videos.get(st.by_info_hash.get(ih)?).cloned()
    }

    /// Reads the nodes from the store again (after a hello, an ack or a revocation).
    pub async fn reload_nodes(&self) -> Result<(), LibraryError> {
        let nodes = self.store.nodes().await?;
        self.change(|st| st.nodes = nodes.iter().map(NodeView::from_record).collect());
        Ok(())
    }

    /// Changes the state: in place unless a reader holds the current version.
    fn change(&self, f: impl FnOnce(&mut LibraryState)) {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        f(Arc::make_mut(&mut guard));
    }

    fn record_put(&self, v: VideoRecord, seq: u64) {
        self.change(|st| {
            if let Some(old) = st.videos.get(&v.path) {
                st.by_info_hash.remove(&old.info_hash);
            }
            st.seq_of.insert(v.path.clone(), seq);
            st.by_info_hash.insert(v.info_hash, v.path.clone());
            st.videos.insert(v.path.clone(), Arc::new(v));
        });
        self.changed.send_replace(seq);
    }

    fn record_removed(&self, path: &str, seq: u64) {
        self.change(|st| {
            st.seq_of.remove(path);
            if let Some(old) = st.videos.remove(path) {
                st.by_info_hash.remove(&old.info_hash);
            }
        });
        self.changed.send_replace(seq);
    }

    /// Announces a change that is not a video's (tracker settings).
    pub fn notify(&self, seq: u64) {
        self.changed.send_replace(seq);
    }

    /// The trackers of a video served by `nodes`, and the node they belong to (none: the
    /// instance's own).
    fn trackers_of(&self, info_hash: &InfoHash, nodes: &[&NodeView]) -> (Vec<String>, Option<String>) {
        let chosen = match self.cfg.trackers {
            TrackerChoice::Fixed => None,
            TrackerChoice::ServingNode => {
                // A node that never gave its URL has no tracker anybody can reach.
                let reachable = nodes.iter().copied().filter(|n| !n.public_url.is_empty());
                rendezvous::choose(info_hash, reachable, |n| &n.name)
            }
        };
        match chosen {
            Some(n) => (PublicUrls::trackers_at(&n.public_url), Some(n.name.clone())),
            None => (self.cfg.urls.trackers(), None),
        }
    }

    /// The video as the API shows it.
    pub fn view(&self, st: &LibraryState, v: &VideoRecord) -> Video {
        let urls = &self.cfg.urls;
        let nodes: Vec<&NodeView> = st.serving(&v.path).collect();
        let mut webseeds: Vec<String> = nodes.iter().map(|n| PublicUrls::webseed_url_at(&n.public_url, &v.path)).collect();
        webseeds.extend(st.copies.get(&v.info_hash).into_iter().flatten().cloned());
        let (trackers, tracker_node) = self.trackers_of(&v.info_hash, &nodes);
        let torrent_url = urls.torrent_url(&v.info_hash);
        let magnet = magnet_uri(&MagnetParts { info_hash: &v.info_hash, name: &v.name, trackers: &trackers, webseeds: &webseeds, torrent_url: &torrent_url });
        Video {
            id: v.info_hash.to_hex(),
            name: v.name.clone(),
            path: v.path.clone(),
            size: v.size,
            content_type: v.content_type.clone(),
            info_hash: v.info_hash,
            piece_length: v.piece_length,
            file_url: webseeds.first().cloned().unwrap_or_else(|| urls.webseed_url(&v.path)),
            webseeds,
            torrent_url,
            watch_url: match st.uuids.get(&v.path) {
                Some(uuid) => format!("{}/videos/watch/{uuid}", urls.control_http),
                None => urls.watch_url(&v.info_hash),
            },
            magnet_uri: magnet,
            nodes: nodes.iter().map(|n| n.name.clone()).collect(),
            trackers,
            tracker_node,
            federated: None,
        }
    }

    /// Every video of the library, by path, served or not (the admin's list).
    pub fn all_videos(&self) -> Vec<Video> {
        let st = self.state();
        st.videos.values().map(|v| self.view(&st, v)).collect()
    }

    /// The videos some data node serves now, by path (the public list: a video nobody serves
    /// yet, or any more, is not advertised).
    pub fn videos(&self) -> Vec<Video> {
        let st = self.state();
        st.videos.values().filter(|v| st.serving(&v.path).next().is_some()).map(|v| self.view(&st, v)).collect()
    }

    /// A video some data node serves.
    pub fn by_info_hash(&self, ih: &InfoHash) -> Option<Video> {
        let st = self.state();
        let v = st.videos.get(st.by_info_hash.get(ih)?)?;
        st.serving(&v.path).next()?;
        Some(self.view(&st, v))
    }

    /// The `.torrent` of a video some data node serves, with the current trackers and WebSeeds
    /// (the info dictionary, hence the info-hash, never changes).
    pub fn torrent(&self, ih: &InfoHash) -> Option<Vec<u8>> {
        let st = self.state();
        let v = st.videos.get(st.by_info_hash.get(ih)?)?;
        st.serving(&v.path).next()?;
        let view = self.view(&st, v);
        Some(crate::library::torrent_file::torrent_bytes(&v.info, &view.trackers, &view.webseeds))
    }

    /// The library path of `path` (absolute on this host, or relative to the library folder),
    /// checked to lie inside the library folder.
    ///
    /// A path whose symbolic links lead out of the library is refused, unless links are followed
    /// (`follow_symlinks`): then its library path is the one given, and its file the link's.
    pub fn library_path(&self, path: &str) -> Result<(String, PathBuf), LibraryError> {
        let links = self.links()?;
        let root = links.root();
        let given = Path::new(path);
        let joined = if given.is_absolute() { given.to_path_buf() } else { root.join(given) };
        let abs = std::fs::canonicalize(&joined).map_err(|e| LibraryError::BadPath {
            what: format!("cannot open {}: {e}", joined.display()),
            hint: format!("give a file or folder inside the library folder {}, absolute or relative to it", root.display()),
        })?;
        let (rel, abs) = match abs.strip_prefix(root) {
            Ok(rel) => (rel.to_path_buf(), abs.clone()),
            Err(_) => {
                // Where the path is in the library, by its own words (a link's path, not its
                // target's).
                let lexical = lexical_rel(&joined, root).or_else(|| lexical_rel(&joined, &self.cfg.root));
                match lexical {
                    Some(rel) if links.follows_outside() => (rel, joined.clone()),
                    Some(_) => {
                        self.warn_refused_link(&joined, &abs);
                        return Err(LibraryError::BadPath {
                            what: format!("{} cannot be published: {}", joined.display(), outside_reason(&abs)),
                            hint: "move the file into the library folder, or start the control plane with --follow-symlinks".into(),
                        });
                    }
                    None => {
                        return Err(LibraryError::BadPath {
                            what: format!("{} is outside the library folder {}", abs.display(), root.display()),
                            hint: "move it into the library folder first (or link it there, with --follow-symlinks): data nodes find files by their path in it".into(),
                        })
                    }
                }
            }
        };
        let rel = rel.to_str().ok_or_else(|| LibraryError::BadPath { what: "the path is not UTF-8".into(), hint: "rename it".into() })?;
        Ok((rel.to_owned(), abs))
    }

    /// What symbolic links may publish.
    fn links(&self) -> Result<LinkPolicy, LibraryError> {
        LinkPolicy::new(&self.cfg.root, self.cfg.follow_symlinks)
            .map_err(|e| LibraryError::Io(format!("library folder {}: {e}", self.cfg.root.display())))
    }

    /// Logs a skipped entry: a link refused for leading out of the library as a warning, once
    /// per link and target; anything else as information.
    fn note_skipped(&self, s: &Skipped, what: &str) {
        match &s.outside_target {
            Some(target) => self.warn_refused_link(&s.path, target),
            None => tracing::info!(path = %s.path.display(), reason = %s.reason, "{what}"),
        }
    }

    fn warn_refused_link(&self, link: &Path, target: &Path) {
        let first = self.refused_links.lock().unwrap_or_else(|p| p.into_inner()).insert((link.to_path_buf(), target.to_path_buf()));
        if first {
            tracing::warn!(
                "not published: {} is a symbolic link to {}, outside the library folder {} (--follow-symlinks allows it)",
                link.display(),
                target.display(),
                self.cfg.root.display()
            );
        }
    }

    /// Adds a file, or every file under a folder: hashes what is new or changed (blocking; run it
    /// on a blocking thread), writes each to the store as soon as it is hashed.
    pub fn add_path(&self, path: &str, progress: &mut dyn FnMut(&Progress)) -> Result<AddReport, LibraryError> {
        self.cancel.store(false, Ordering::Relaxed);
        let (rel, abs) = self.library_path(path)?;
        // What the folder's rescan skips is not published by hand either (it would come and go).
        if rel.split('/').any(|part| part.starts_with('.')) {
            return Err(LibraryError::BadPath {
                what: format!("{} cannot be published: hidden files and folders (names starting with a dot) are not published", abs.display()),
                hint: "rename it without the leading dot".into(),
            });
        }
        let meta = std::fs::metadata(&abs).map_err(|e| LibraryError::Io(e.to_string()))?;
        let found: Vec<FoundFile> = if meta.is_dir() {
            let (found, skipped) = scan(&abs, &self.links()?).map_err(|e| LibraryError::Io(e.to_string()))?;
            for s in &skipped {
                self.note_skipped(s, "not added");
            }
            found
                .into_iter()
                .map(|mut f| {
                    if !rel.is_empty() {
                        f.rel_path = format!("{rel}/{}", f.rel_path);
                    }
                    f
                })
                .collect()
        } else {
            // The one file only (its folder may hold thousands), by the scanner's rules.
            let reason = match examine(abs.clone(), rel.clone(), &self.links()?) {
                Entry::File(f) => return Ok(self.add_found(&[f], progress)),
                Entry::Skip(s) => {
                    self.note_skipped(&s, "not added");
                    s.reason
                }
                Entry::Folder => "a folder".to_owned(),
            };
            return Err(LibraryError::BadPath { what: format!("{} cannot be published: {reason}", abs.display()), hint: "give a non-empty regular file".into() });
        };
        Ok(self.add_found(&found, progress))
    }

    fn add_found(&self, found: &[FoundFile], progress: &mut dyn FnMut(&Progress)) -> AddReport {
        let mut report = AddReport::default();
        let st = self.state();
        let todo: Vec<&FoundFile> = found
            .iter()
            .filter(|f| match st.videos.get(&f.rel_path) {
                Some(v) if v.size == f.identity.size && v.mtime_ms == mtime_ms(f) => {
                    report.unchanged.push(f.rel_path.clone());
                    false
                }
                _ => true,
            })
            .collect();
        let total: u64 = todo.iter().map(|f| f.identity.size).sum();
        let mut done = 0u64;
        for f in todo {
            if self.cancel.load(Ordering::Relaxed) {
                report.failed.push((f.rel_path.clone(), "cancelled".into()));
                continue;
            }
            let mut p = Progress { file: f.rel_path.clone(), done, total };
            progress(&p);
            let result = self.hash(f, &mut |n| {
                p.done = done + n.min(f.identity.size);
                progress(&p);
            });
            done += f.identity.size;
            match result.and_then(|v| {
                let seq = self.rt.block_on(self.store.put_video(&v))?;
                self.record_put(v, seq);
                Ok(())
            }) {
                Ok(()) => report.added.push(f.rel_path.clone()),
                Err(e) => {
                    tracing::warn!(path = %f.rel_path, "cannot publish: {e}");
                    report.failed.push((f.rel_path.clone(), e.to_string()));
                }
            }
        }
        progress(&Progress { file: String::new(), done, total });
        report
    }

    fn hash(&self, f: &FoundFile, on_progress: &mut dyn FnMut(u64)) -> Result<VideoRecord, LibraryError> {
        let name = f.rel_path.rsplit('/').next().unwrap_or(&f.rel_path).to_owned();
        let piece_length = self.cfg.pieces.for_size(f.identity.size);
        let spec = TorrentSpec { path: &f.abs_path, name: &name, piece_length, threads: self.cfg.hash_threads };
        let made = make_torrent(&spec, &self.cancel, on_progress).map_err(|e| LibraryError::Io(e.to_string()))?;
        let after = std::fs::metadata(&f.abs_path).map_err(|e| LibraryError::Io(e.to_string()))?;
        if vidseed_shared::FileIdentity::from_metadata(&after) != f.identity {
            return Err(LibraryError::Io("the file changed while it was hashed; it will be retried".into()));
        }
        Ok(VideoRecord {
            path: f.rel_path.clone(),
            content_type: content_type::for_file_name(&name).to_owned(),
            name,
            size: f.identity.size,
            mtime_ms: mtime_ms(f),
            piece_length,
            info_hash: made.info_hash,
            info: made.info,
            added_at_ms: now_ms(),
        })
    }

    /// Removes the video at library path `path`, or every video under that folder.
    pub async fn remove_path(&self, path: &str) -> Result<Vec<String>, LibraryError> {
        let path = path.trim_matches('/');
        let st = self.state();
        let matched: Vec<String> = st
            .videos
            .keys()
            .filter(|p| p.as_str() == path || vidseed_shared::channel::folder_holds(path, p))
            .cloned()
            .collect();
        if matched.is_empty() {
            return Err(LibraryError::NotFound(path.to_owned()));
        }
        for p in &matched {
            if let Some(seq) = self.store.remove_video(p).await? {
                self.record_removed(p, seq);
            }
        }
        Ok(matched)
    }

    /// Brings the library in line with its folder (blocking): adds new and changed files,
    /// removes the videos whose file is gone.
    pub fn sync_root(&self, progress: &mut dyn FnMut(&Progress)) -> Result<SyncReport, LibraryError> {
        let (found, skipped) = scan(&self.cfg.root, &self.links()?).map_err(|e| LibraryError::Io(format!("{}: {e}", self.cfg.root.display())))?;
        for s in &skipped {
            self.note_skipped(s, "not published");
        }
        let present: HashSet<&str> = found.iter().map(|f| f.rel_path.as_str()).collect();
        let gone: Vec<String> = self.state().videos.keys().filter(|p| !present.contains(p.as_str())).cloned().collect();
        let mut report = SyncReport::default();
        for p in gone {
            if let Some(seq) = self.rt.block_on(self.store.remove_video(&p))? {
                self.record_removed(&p, seq);
                report.removed += 1;
            }
        }
        let added = self.add_found(&found, progress);
        report.hashed = added.added.len();
        report.failed = added.failed.len();
        report.published = self.state().videos.len();
        Ok(report)
    }
}

fn mtime_ms(f: &FoundFile) -> i64 {
    i64::try_from(f.identity.mtime_ns / 1_000_000).unwrap_or(i64::MAX)
}

/// The registration time of the node (for the admin's tables).
pub fn timestamp_ms() -> i64 {
    now_ms()
}
