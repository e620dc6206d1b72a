//! What a data node knows of the control plane's library, updated by the channel's snapshots and
//! deltas (as [`LibraryUpdate`]s), and turned into the [`Catalog`] the node serves. Pure except for the `stat` closure
//! the caller passes in (the node's disk, [`super::disk`]), which says where each file really is
//! (its symbolic links resolved) and whether it may be served; the catalog serves that resolved
//! file, so a link retargeted later is not followed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use vidseed_shared::channel::RejectedFile;
use vidseed_shared::{FileIdentity, InfoHash};

use super::update::{LibraryChange, LibraryFile, LibraryUpdate, TrackerPolicy};
use crate::catalog::{Catalog, CatalogFile};

/// A library folder this node holds and where it keeps it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FolderMapping {
    /// Library-relative folder ("" for the whole library).
    pub library: String,
    /// The directory on this node's disk that holds it.
    pub path: PathBuf,
}

/// Where this node keeps library path `path`: under the longest folder that holds it. `None` if
/// no folder holds it or the path could climb out of its folder.
pub fn local_path(folders: &[FolderMapping], path: &str) -> Option<PathBuf> {
    local_path_in(folders, path).map(|(_, p)| p)
}

/// `local_path`, with the folder that holds it.
pub fn local_path_in<'f>(folders: &'f [FolderMapping], path: &str) -> Option<(&'f FolderMapping, PathBuf)> {
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return None;
    }
    let best = folders
        .iter()
        .filter(|f| vidseed_shared::channel::folder_holds(&f.library, path))
        .max_by_key(|f| f.library.trim_matches('/').len())?;
    let lib = best.library.trim_matches('/');
    let rest = if lib.is_empty() { path } else { &path[lib.len() + 1..] };
    Some((best, best.path.join(rest)))
}

/// A file as this node's disk has it: where it really is (symbolic links resolved) and its
/// identity there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnDisk {
    pub path: PathBuf,
    pub identity: FileIdentity,
}

/// Why a file of `folder` (resolved) that resolves to `target` may not be served, if it may not:
/// it is outside the folder and links are not followed out of it.
pub fn link_refusal(folder: &Path, target: &Path, follow_symlinks: bool) -> Option<String> {
    (!follow_symlinks && !target.starts_with(folder)).then(|| {
        format!(
            "symbolic link to {}, outside the node's folder {} (follow_symlinks = true in [node], or --follow-symlinks, allows it)",
            target.display(),
            folder.display()
        )
    })
}

/// The node's view of the library.
#[derive(Debug, Default)]
pub struct NodeCatalog {
    /// Files this node holds, by library path, with what its disk said when last checked (or
    /// why it cannot serve them).
    held: BTreeMap<String, (LibraryFile, Result<OnDisk, String>)>,
    /// Every library video's info-hash, by path (held or not).
    tracked: HashMap<String, InfoHash>,
    extra: BTreeSet<InfoHash>,
    pub tracker: TrackerPolicy,
}

impl NodeCatalog {
    /// Applies one update. `stat(folder, file)` says where file `file` of `folder` really is and
    /// its identity there, or why it cannot be served.
    pub fn apply(&mut self, update: LibraryUpdate, folders: &[FolderMapping], stat: &dyn Fn(&Path, &Path) -> Result<OnDisk, String>) {
        let check = |f: &LibraryFile| -> Result<OnDisk, String> {
            let (folder, p) = local_path_in(folders, &f.path).ok_or("no folder of this node holds it")?;
            let found = stat(&folder.path, &p)?;
            if found.identity.size != f.size {
                return Err(format!("of another size at {} ({} bytes; the library's has {})", p.display(), found.identity.size, f.size));
            }
            Ok(found)
        };
        match update {
            LibraryUpdate::Snapshot { files, tracked, extra_info_hashes, tracker } => {
                self.held.clear();
                self.tracked.clear();
                for f in files {
                    self.tracked.insert(f.path.clone(), f.info_hash);
                    let id = check(&f);
                    self.held.insert(f.path.clone(), (f, id));
                }
                for t in tracked {
                    self.tracked.insert(t.path, t.info_hash);
                }
                self.extra = extra_info_hashes.into_iter().collect();
                self.tracker = tracker;
            }
            LibraryUpdate::Delta(changes) => {
                for c in changes {
                    match c {
                        LibraryChange::Upsert(file) => {
                            self.tracked.insert(file.path.clone(), file.info_hash);
                            let id = check(&file);
                            self.held.insert(file.path.clone(), (file, id));
                        }
                        LibraryChange::Track(video) => {
                            self.held.remove(&video.path);
                            self.tracked.insert(video.path, video.info_hash);
                        }
                        LibraryChange::Remove(path) => {
                            self.held.remove(&path);
                            self.tracked.remove(&path);
                        }
                        LibraryChange::AllowInfoHash(info_hash) => {
                            self.extra.insert(info_hash);
                        }
                        LibraryChange::RevokeInfoHash(info_hash) => {
                            self.extra.remove(&info_hash);
                        }
                        LibraryChange::Tracker(policy) => self.tracker = policy,
                    }
                }
            }
        }
    }

    /// The catalog to serve as `version`, and the held files this disk cannot serve.
    pub fn catalog(&self, version: u64, folders: &[FolderMapping]) -> (Catalog, Vec<RejectedFile>) {
        let mut files = Vec::with_capacity(self.held.len());
        let mut rejected = Vec::new();
        for (f, disk) in self.held.values() {
            match (local_path(folders, &f.path), disk) {
                (Some(_), Ok(found)) => files.push(CatalogFile {
                    url_path: f.url_path.clone(),
                    fs_path: found.path.clone(),
                    size: f.size,
                    etag: f.etag.clone(),
                    last_modified: f.last_modified,
                    content_type: f.content_type.clone(),
                    identity: found.identity,
                    info_hash: Some(f.info_hash),
                }),
                (None, _) => rejected.push(RejectedFile { url_path: f.url_path.clone(), reason: "no folder of this node holds it".into() }),
                (Some(_), Err(reason)) => rejected.push(RejectedFile { url_path: f.url_path.clone(), reason: reason.clone() }),
            }
        }
        let mut info_hashes: Vec<InfoHash> = self.tracked.values().copied().chain(self.extra.iter().copied()).collect();
        info_hashes.sort_unstable();
        info_hashes.dedup();
        (Catalog { version, files, info_hashes, track_any: self.tracker.track_any }, rejected)
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests;
