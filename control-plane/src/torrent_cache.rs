//! Torrents already made, kept under the state folder so a restart does not hash every file
//! again (does file I/O). An entry is reused only if the file and every torrent input are the
//! same; files are replaced atomically (write, fsync, rename).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use vidseed_shared::{FileIdentity, InfoHash};

/// Everything a torrent depends on besides the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TorrentInputs {
    pub identity: FileIdentity,
    pub name: String,
    pub piece_length: u64,
    pub url_list: Vec<String>,
    pub trackers: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    inputs: TorrentInputs,
    info_hash: InfoHash,
}

/// The cache: an index file plus one `.torrent` per info-hash.
#[derive(Debug)]
pub struct TorrentCache {
    dir: PathBuf,
    index: Mutex<HashMap<String, Entry>>,
}

impl TorrentCache {
    /// Opens (or creates) the cache in `dir`. An unreadable index is started afresh.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let index = match std::fs::read(dir.join("index.json")) {
            Ok(raw) => serde_json::from_slice(&raw).unwrap_or_else(|e| {
                tracing::warn!("torrent cache index unreadable ({e}); starting afresh");
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        Ok(TorrentCache { dir: dir.to_path_buf(), index: Mutex::new(index) })
    }

    /// The cached torrent for this file if nothing it depends on changed.
    pub fn get(&self, rel_path: &str, inputs: &TorrentInputs) -> Option<(InfoHash, Vec<u8>)> {
        let entry = self.lock().get(rel_path).filter(|e| &e.inputs == inputs).cloned()?;
        let bytes = std::fs::read(self.torrent_path(&entry.info_hash)).ok()?;
        Some((entry.info_hash, bytes))
    }

    /// Stores a torrent; a failure to write is logged, not fatal (the torrent is still served).
    pub fn put(&self, rel_path: &str, inputs: TorrentInputs, info_hash: InfoHash, bytes: &[u8]) {
        if let Err(e) = write_atomically(&self.torrent_path(&info_hash), bytes) {
            tracing::warn!("cannot cache the torrent of {rel_path}: {e}");
            return;
        }
        let snapshot = {
            let mut index = self.lock();
            index.insert(rel_path.to_owned(), Entry { inputs, info_hash });
            serde_json::to_vec(&*index)
        };
        if let Err(e) = snapshot.map_err(std::io::Error::other).and_then(|raw| write_atomically(&self.dir.join("index.json"), &raw)) {
            tracing::warn!("cannot save the torrent cache index: {e}");
        }
    }

    fn torrent_path(&self, ih: &InfoHash) -> PathBuf {
        self.dir.join(format!("{}.torrent", ih.to_hex()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(size: u64) -> TorrentInputs {
        TorrentInputs {
            identity: FileIdentity { size, ..Default::default() },
            name: "a.mp4".into(),
            piece_length: 262144,
            url_list: vec!["http://x/a.mp4".into()],
            trackers: vec![],
        }
    }

    #[test]
    fn reuses_only_identical_inputs_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TorrentCache::open(dir.path()).unwrap();
        cache.put("a.mp4", inputs(1), InfoHash([9; 20]), b"d4:infod")
            ;
        assert_eq!(cache.get("a.mp4", &inputs(1)).unwrap().0, InfoHash([9; 20]));
        assert!(cache.get("a.mp4", &inputs(2)).is_none());
        assert!(cache.get("b.mp4", &inputs(1)).is_none());
        let reopened = TorrentCache::open(dir.path()).unwrap();
        assert_eq!(reopened.get("a.mp4", &inputs(1)).unwrap().1, b"d4:infod");
        std::fs::write(dir.path().join("index.json"), b"{garbage").unwrap();
        assert!(TorrentCache::open(dir.path()).unwrap().get("a.mp4", &inputs(1)).is_none());
    }
}
