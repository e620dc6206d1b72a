//! The published catalog: which files a data plane serves, at which URL paths, and which
//! info-hashes its tracker tracks. Pure data with validation; no I/O.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::InfoHash;

/// Everything a data plane serves, as one versioned whole. A data plane swaps it in atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Increases with every change the control plane publishes.
    pub version: u64,
    /// The files, each at its own URL path.
    pub files: Vec<CatalogFile>,
    /// Info-hashes the tracker accepts announces for.
    pub info_hashes: Vec<InfoHash>,
    /// The tracker accepts any info-hash (the control plane's "open tracker" setting).
    #[serde(default)]
    pub track_any: bool,
}

/// One file the data plane serves as a WebSeed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// The decoded URL path it is served at, starting with `/` (e.g. `/static/webseed/a b.mp4`).
    pub url_path: String,
    /// Where the data plane finds the bytes on its disk.
    pub fs_path: PathBuf,
    /// Size in bytes when it was published.
    pub size: u64,
    /// The strong entity tag, quotes included (e.g. `"6f1c…"`).
    pub etag: String,
    /// Last modification time, seconds since the Unix epoch.
    pub last_modified: u64,
    /// The `Content-Type` to answer with.
    pub content_type: String,
    /// What the file on disk must still be for the entry to be served; checked on every swap.
    pub identity: FileIdentity,
    /// The info-hash of the torrent describing this file, if any.
    pub info_hash: Option<InfoHash>,
}

/// The identity of a file on disk at publication: a data plane refuses to map a file whose
/// identity changed (replaced or truncated under the control plane's feet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIdentity {
    pub dev: u64,
    pub inode: u64,
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
}

impl FileIdentity {
    /// The identity of a file as `std::fs::metadata` describes it.
    pub fn from_metadata(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            dev: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// Why a catalog is not acceptable as a whole.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("url path {0:?} does not start with '/'")]
    RelativeUrlPath(String),
    #[error("url path {0:?} appears twice")]
    DuplicateUrlPath(String),
    #[error("url path {0:?} has a '.' or '..' segment or a NUL byte")]
    UnsafeUrlPath(String),
    #[error("file {url_path:?}: size {size} differs from its identity's {identity_size}")]
    SizeMismatch { url_path: String, size: u64, identity_size: u64 },
}

impl Catalog {
    /// Checks what a data plane relies on: absolute, unique, normalised URL paths and
    /// consistent sizes. A data plane keeps its last good catalog when this fails.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut seen = HashSet::with_capacity(self.files.len());
        for f in &self.files {
            if !f.url_path.starts_with('/') {
                return Err(CatalogError::RelativeUrlPath(f.url_path.clone()));
            }
            if f.url_path.contains('\0')
                || f.url_path.split('/').any(|seg| seg == "." || seg == "..")
            {
                return Err(CatalogError::UnsafeUrlPath(f.url_path.clone()));
            }
            if !seen.insert(f.url_path.as_str()) {
                return Err(CatalogError::DuplicateUrlPath(f.url_path.clone()));
            }
            if f.size != f.identity.size {
                return Err(CatalogError::SizeMismatch {
                    url_path: f.url_path.clone(),
                    size: f.size,
                    identity_size: f.identity.size,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> CatalogFile {
        CatalogFile {
            url_path: path.into(),
            fs_path: "/tmp/x".into(),
            size: 3,
            etag: "\"x\"".into(),
            last_modified: 0,
            content_type: "video/mp4".into(),
            identity: FileIdentity { size: 3, ..Default::default() },
            info_hash: None,
        }
    }

    #[test]
    fn validate_accepts_good_catalog() {
        let c = Catalog { version: 1, files: vec![file("/a"), file("/b")], ..Default::default() };
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_bad_field() {
        let c = Catalog { files: vec![file("a")], ..Default::default() };
        assert_eq!(c.validate(), Err(CatalogError::RelativeUrlPath("a".into())));
        let c = Catalog { files: vec![file("/a"), file("/a")], ..Default::default() };
        assert_eq!(c.validate(), Err(CatalogError::DuplicateUrlPath("/a".into())));
        let c = Catalog { files: vec![file("/x/../etc/passwd")], ..Default::default() };
        assert!(matches!(c.validate(), Err(CatalogError::UnsafeUrlPath(_))));
        let mut f = file("/a");
        f.size = 4;
        let c = Catalog { files: vec![f], ..Default::default() };
        assert!(matches!(c.validate(), Err(CatalogError::SizeMismatch { .. })));
    }

    #[test]
    fn serde_round_trip_and_unknown_fields_refused() {
        let c = Catalog { version: 7, files: vec![file("/a")], info_hashes: vec![InfoHash([2; 20])], track_any: false };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Catalog>(&json).unwrap(), c);
        let bad = json.replacen("\"version\"", "\"surprise\":1,\"version\"", 1);
        assert!(serde_json::from_str::<Catalog>(&bad).is_err());
    }
}
