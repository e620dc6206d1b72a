//! The catalog as the data plane's own types: which files it serves, from where on its disk, at
//! which URL paths, and which info-hashes its tracker tracks; the whole-catalog checks a swap
//! relies on; what a swap answers. Pure data with validation; no I/O.

use std::collections::HashSet;
use std::path::PathBuf;

use vidseed_shared::channel::RejectedFile;
use vidseed_shared::{FileIdentity, InfoHash};

/// Everything the data plane serves, as one versioned whole, swapped in atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Increases with every update the node applies.
    pub version: u64,
    /// The files, each at its own URL path.
    pub files: Vec<CatalogFile>,
    /// Info-hashes the tracker accepts announces for.
    pub info_hashes: Vec<InfoHash>,
    /// The tracker accepts any info-hash (the control plane's "open tracker" setting).
    pub track_any: bool,
}

/// One file the data plane serves as a WebSeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogFile {
    /// The decoded URL path it is served at, starting with `/` (e.g. `/static/webseed/a b.mp4`).
    pub url_path: String,
    /// Where this node finds the bytes on its disk.
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

/// The last second an HTTP date can name (9999-12-31 23:59:59 UTC): a `Last-Modified` past it
/// cannot be written.
pub const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// Why a catalog, or one of its files, is not acceptable.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("url path {0:?} does not start with '/'")]
    RelativeUrlPath(String),
    #[error("url path {0:?} appears twice")]
    DuplicateUrlPath(String),
    #[error("url path {0:?} has a '.' or '..' segment or a NUL byte")]
    UnsafeUrlPath(String),
    #[error("file {url_path:?}: size {size} differs from its identity's {identity_size}")]
    SizeMismatch { url_path: String, size: u64, identity_size: u64 },
    #[error("last modified {0} s after the epoch is past the last HTTP date (year 9999)")]
    DateOutOfRange(u64),
}

/// Checks one URL path: absolute, without `.` or `..` segments, without NUL bytes.
pub fn check_url_path(url_path: &str) -> Result<(), CatalogError> {
    if !url_path.starts_with('/') {
        return Err(CatalogError::RelativeUrlPath(url_path.to_owned()));
    }
    if url_path.contains('\0') || url_path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(CatalogError::UnsafeUrlPath(url_path.to_owned()));
    }
    Ok(())
}

/// Checks that a modification time can be sent as an HTTP date.
pub fn check_last_modified(secs: u64) -> Result<(), CatalogError> {
    if secs > LAST_HTTP_DATE {
        return Err(CatalogError::DateOutOfRange(secs));
    }
    Ok(())
}

impl Catalog {
    /// Checks what the data plane relies on: absolute, unique, normalised URL paths, dates it
    /// can write and consistent sizes. The data plane keeps its last good catalog when this
    /// fails.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut seen = HashSet::with_capacity(self.files.len());
        for f in &self.files {
            check_url_path(&f.url_path)?;
            if !seen.insert(f.url_path.as_str()) {
                return Err(CatalogError::DuplicateUrlPath(f.url_path.clone()));
            }
            check_last_modified(f.last_modified)?;
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

/// What a swap answers: which version is now served and which files were left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogAck {
    /// The catalog version now being served.
    pub version: u64,
    /// How many files are now served.
    pub files_served: usize,
    /// Files left out of this version (missing, replaced or truncated on disk), with the reason.
    pub rejected: Vec<RejectedFile>,
}

/// Why a catalog was refused as a whole (the data plane keeps serving its last good catalog).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("catalog update refused: {reason}")]
pub struct UpdateRefused {
    pub reason: String,
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
        let mut f = file("/a");
        f.last_modified = LAST_HTTP_DATE + 1;
        let c = Catalog { files: vec![f], ..Default::default() };
        assert_eq!(c.validate(), Err(CatalogError::DateOutOfRange(LAST_HTTP_DATE + 1)));
    }

    #[test]
    fn url_paths_and_dates_one_by_one() {
        assert_eq!(check_url_path("/static/webseed/a b.mp4"), Ok(()));
        for bad in ["/a/./b", "/a/..", "/a\0b"] {
            assert_eq!(check_url_path(bad), Err(CatalogError::UnsafeUrlPath(bad.into())), "{bad}");
        }
        assert_eq!(check_url_path(""), Err(CatalogError::RelativeUrlPath("".into())));
        assert_eq!(check_last_modified(LAST_HTTP_DATE), Ok(()));
        // The last second that can be written is a valid HTTP date.
        let last = std::time::UNIX_EPOCH + std::time::Duration::from_secs(LAST_HTTP_DATE);
        assert_eq!(httpdate::fmt_http_date(last), "Fri, 31 Dec 9999 23:59:59 GMT");
    }
}
