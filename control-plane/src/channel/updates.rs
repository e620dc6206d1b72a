//! The updates a data node gets: its snapshot of the library (the files under its folders, the
//! other videos to track) and the deltas that follow the change log. Pure.

use vidseed_shared::channel::{folder_holds, Change, NodeUpdate, PublishedFile, TrackedVideo, TrackerSettings};

use crate::library::LibraryState;
use crate::store::{Change as LogEntry, ChangeKind, VideoRecord};
use crate::library::urls::PublicUrls;

/// The file as every node gets it.
pub fn published(v: &VideoRecord) -> PublishedFile {
    PublishedFile {
        path: v.path.clone(),
        url_path: PublicUrls::webseed_path(&v.path),
        size: v.size,
        etag: format!("\"{}\"", v.info_hash.to_hex()),
        last_modified: u64::try_from(v.mtime_ms / 1000).unwrap_or(0),
        content_type: v.content_type.clone(),
        info_hash: v.info_hash,
    }
}

fn holds(folders: &[String], path: &str) -> bool {
    folders.iter().any(|f| folder_holds(f, path))
}

/// Everything, for a node holding `folders`.
pub fn snapshot(st: &LibraryState, folders: &[String], tracker: TrackerSettings) -> NodeUpdate {
    let mut files = Vec::new();
    let mut tracked = Vec::new();
    for v in st.videos.values() {
        if holds(folders, &v.path) {
            files.push(published(v));
        } else {
            tracked.push(TrackedVideo { path: v.path.clone(), info_hash: v.info_hash });
        }
    }
    NodeUpdate::Snapshot { files, tracked, extra_info_hashes: Vec::new(), tracker }
}

/// The changes of `log` (in order) as the node must apply them; each video's current state is
/// read from `st`, so a video changed twice is sent once as it is now.
pub fn delta(st: &LibraryState, folders: &[String], log: &[LogEntry], tracker: TrackerSettings) -> NodeUpdate {
    let mut changes = Vec::with_capacity(log.len());
    let mut seen = std::collections::HashSet::new();
    for entry in log.iter().rev() {
        if !seen.insert((entry.kind == ChangeKind::Video, entry.path.as_str())) {
            continue;
        }
        changes.push(match entry.kind {
            ChangeKind::Settings => Change::Tracker { settings: tracker },
            ChangeKind::Video => match st.videos.get(&entry.path) {
                Some(v) if holds(folders, &v.path) => Change::Upsert { file: published(v) },
                Some(v) => Change::Track { video: TrackedVideo { path: v.path.clone(), info_hash: v.info_hash } },
                None => Change::Remove { path: entry.path.clone() },
            },
        });
    }
    changes.reverse();
    NodeUpdate::Delta { changes }
}
