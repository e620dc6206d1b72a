//! What the control plane asks of this node, as the data plane's own types: the channel's wire
//! messages ([`vidseed_shared::channel`]) are turned into these at the node's edge with
//! `TryFrom`, and an update with a field the node cannot serve is refused whole, with an error
//! naming that field (`files[2].url_path`). Pure.

use vidseed_shared::channel::{self, NodeUpdate, PublishedFile, TrackerSettings};
use vidseed_shared::InfoHash;

use crate::catalog::model::{check_last_modified, check_url_path, CatalogError};

/// A library file this node is to serve, as the control plane published it: an absolute,
/// normalised URL path and a date the node can write. Where the node finds it is decided later,
/// against the node's folders and disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibraryFile {
    /// Library path: relative, '/'-separated (`movies/a.mp4`).
    pub path: String,
    /// The decoded URL path it is served at (`/static/webseed/movies/a.mp4`).
    pub url_path: String,
    pub size: u64,
    /// Strong entity tag, quotes included.
    pub etag: String,
    /// Seconds since the Unix epoch, at most [`crate::catalog::model::LAST_HTTP_DATE`].
    pub last_modified: u64,
    pub content_type: String,
    pub info_hash: InfoHash,
}

/// A library video this node tracks without serving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub path: String,
    pub info_hash: InfoHash,
}

/// Which info-hashes the node's tracker accepts beyond the catalog's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerPolicy {
    /// Track any info-hash, not only the library's.
    pub track_any: bool,
}

/// One atomic change of what the node serves and tracks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LibraryUpdate {
    /// Replace everything: the files this node holds, the library's other videos, info-hashes
    /// allowed beyond the library, and the tracker policy.
    Snapshot { files: Vec<LibraryFile>, tracked: Vec<Tracked>, extra_info_hashes: Vec<InfoHash>, tracker: TrackerPolicy },
    /// Apply these changes, in order.
    Delta(Vec<LibraryChange>),
}

/// One change within a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LibraryChange {
    /// A file this node holds was added or changed: serve it and track its info-hash.
    Upsert(LibraryFile),
    /// A library video this node does not hold was added or changed: track it only.
    Track(Tracked),
    /// The library video at this path is gone.
    Remove(String),
    AllowInfoHash(InfoHash),
    RevokeInfoHash(InfoHash),
    Tracker(TrackerPolicy),
}

/// A field of a channel message the node cannot take, named by where it is in the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidField {
    /// Where the field is, e.g. `url_path`, `files[2].url_path`, `changes[0].file.last_modified`.
    pub field: String,
    pub problem: CatalogError,
}

impl InvalidField {
    fn new(field: &str, problem: CatalogError) -> Self {
        InvalidField { field: field.to_owned(), problem }
    }

    /// The same error, for a field inside `outer` (`files[2]`).
    fn within(mut self, outer: impl std::fmt::Display) -> Self {
        self.field = format!("{outer}.{}", self.field);
        self
    }
}

impl TryFrom<PublishedFile> for LibraryFile {
    type Error = InvalidField;

    fn try_from(f: PublishedFile) -> Result<Self, InvalidField> {
        check_url_path(&f.url_path).map_err(|e| InvalidField::new("url_path", e))?;
        check_last_modified(f.last_modified).map_err(|e| InvalidField::new("last_modified", e))?;
        let PublishedFile { path, url_path, size, etag, last_modified, content_type, info_hash } = f;
        Ok(LibraryFile { path, url_path, size, etag, last_modified, content_type, info_hash })
    }
}

impl From<channel::TrackedVideo> for Tracked {
    fn from(v: channel::TrackedVideo) -> Self {
        Tracked { path: v.path, info_hash: v.info_hash }
    }
}

impl From<TrackerSettings> for TrackerPolicy {
    fn from(s: TrackerSettings) -> Self {
        TrackerPolicy { track_any: s.open }
    }
}

impl TryFrom<channel::Change> for LibraryChange {
    type Error = InvalidField;

    fn try_from(c: channel::Change) -> Result<Self, InvalidField> {
        Ok(match c {
            channel::Change::Upsert { file } => {
                LibraryChange::Upsert(file.try_into().map_err(|e: InvalidField| e.within("file"))?)
            }
            channel::Change::Track { video } => LibraryChange::Track(video.into()),
            channel::Change::Remove { path } => LibraryChange::Remove(path),
            channel::Change::AllowInfoHash { info_hash } => LibraryChange::AllowInfoHash(info_hash),
            channel::Change::RevokeInfoHash { info_hash } => LibraryChange::RevokeInfoHash(info_hash),
            channel::Change::Tracker { settings } => LibraryChange::Tracker(settings.into()),
        })
    }
}

impl TryFrom<NodeUpdate> for LibraryUpdate {
    type Error = InvalidField;

    fn try_from(u: NodeUpdate) -> Result<Self, InvalidField> {
        Ok(match u {
            NodeUpdate::Snapshot { files, tracked, extra_info_hashes, tracker } => LibraryUpdate::Snapshot {
                files: files
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| LibraryFile::try_from(f).map_err(|e| e.within(format_args!("files[{i}]"))))
                    .collect::<Result<_, _>>()?,
                tracked: tracked.into_iter().map(Tracked::from).collect(),
                extra_info_hashes,
                tracker: tracker.into(),
            },
            NodeUpdate::Delta { changes } => LibraryUpdate::Delta(
                changes
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| LibraryChange::try_from(c).map_err(|e| e.within(format_args!("changes[{i}]"))))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::LAST_HTTP_DATE;

    fn wire(path: &str) -> PublishedFile {
        PublishedFile {
            path: path.into(),
            url_path: format!("/static/webseed/{path}"),
            size: 42,
            etag: "\"e\"".into(),
            last_modified: 1_700_000_000,
            content_type: "video/mp4".into(),
            info_hash: InfoHash([7; 20]),
        }
    }

    #[test]
    fn good_messages_convert_field_for_field() {
        let f = LibraryFile::try_from(wire("movies/a.mp4")).unwrap();
        assert_eq!(
            f,
            LibraryFile {
                path: "movies/a.mp4".into(),
                url_path: "/static/webseed/movies/a.mp4".into(),
                size: 42,
                etag: "\"e\"".into(),
                last_modified: 1_700_000_000,
                content_type: "video/mp4".into(),
                info_hash: InfoHash([7; 20]),
            }
        );
        let snapshot = NodeUpdate::Snapshot {
            files: vec![wire("a.mp4")],
            tracked: vec![channel::TrackedVideo { path: "b.mp4".into(), info_hash: InfoHash([3; 20]) }],
            extra_info_hashes: vec![InfoHash([1; 20])],
            tracker: TrackerSettings { open: true },
        };
        assert_eq!(
            LibraryUpdate::try_from(snapshot).unwrap(),
            LibraryUpdate::Snapshot {
                files: vec![LibraryFile::try_from(wire("a.mp4")).unwrap()],
                tracked: vec![Tracked { path: "b.mp4".into(), info_hash: InfoHash([3; 20]) }],
                extra_info_hashes: vec![InfoHash([1; 20])],
                tracker: TrackerPolicy { track_any: true },
            }
        );
        let delta = NodeUpdate::Delta {
            changes: vec![
                channel::Change::Upsert { file: wire("c.mp4") },
                channel::Change::Track { video: channel::TrackedVideo { path: "d.mp4".into(), info_hash: InfoHash([4; 20]) } },
                channel::Change::Remove { path: "a.mp4".into() },
                channel::Change::AllowInfoHash { info_hash: InfoHash([2; 20]) },
                channel::Change::RevokeInfoHash { info_hash: InfoHash([1; 20]) },
                channel::Change::Tracker { settings: TrackerSettings { open: false } },
            ],
        };
        assert_eq!(
            LibraryUpdate::try_from(delta).unwrap(),
            LibraryUpdate::Delta(vec![
                LibraryChange::Upsert(LibraryFile::try_from(wire("c.mp4")).unwrap()),
                LibraryChange::Track(Tracked { path: "d.mp4".into(), info_hash: InfoHash([4; 20]) }),
                LibraryChange::Remove("a.mp4".into()),
                LibraryChange::AllowInfoHash(InfoHash([2; 20])),
                LibraryChange::RevokeInfoHash(InfoHash([1; 20])),
                LibraryChange::Tracker(TrackerPolicy { track_any: false }),
            ])
        );
    }

    #[test]
    fn errors_name_the_bad_field_where_it_is() {
        let mut relative = wire("a.mp4");
        relative.url_path = "static/a.mp4".into();
        let e = LibraryFile::try_from(relative.clone()).unwrap_err();
        assert_eq!(e, InvalidField { field: "url_path".into(), problem: CatalogError::RelativeUrlPath("static/a.mp4".into()) });
        assert_eq!(e.to_string(), "url_path: url path \"static/a.mp4\" does not start with '/'");

        let mut climbing = wire("a.mp4");
        climbing.url_path = "/static/../etc/passwd".into();
        let snapshot = NodeUpdate::Snapshot {
            files: vec![wire("ok.mp4"), wire("ok2.mp4"), climbing],
            tracked: vec![],
            extra_info_hashes: vec![],
            tracker: TrackerSettings::default(),
        };
        let e = LibraryUpdate::try_from(snapshot).unwrap_err();
        assert_eq!(e.field, "files[2].url_path");
        assert!(matches!(e.problem, CatalogError::UnsafeUrlPath(_)));

        let mut late = wire("b.mp4");
        late.last_modified = LAST_HTTP_DATE + 1;
        let delta = NodeUpdate::Delta {
            changes: vec![channel::Change::Remove { path: "a.mp4".into() }, channel::Change::Upsert { file: late }],
        };
        let e = LibraryUpdate::try_from(delta).unwrap_err();
        assert_eq!(e.field, "changes[1].file.last_modified");
        assert_eq!(e.problem, CatalogError::DateOutOfRange(LAST_HTTP_DATE + 1));

        let mut nul = wire("c.mp4");
        nul.url_path = "/static/c\0.mp4".into();
        let delta = NodeUpdate::Delta { changes: vec![channel::Change::Upsert { file: nul }] };
        assert_eq!(LibraryUpdate::try_from(delta).unwrap_err().field, "changes[0].file.url_path");
    }
}
