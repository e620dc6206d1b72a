//! The identity of a file on disk (device, inode, size, modification time): what both planes
//! compare to tell a file from one replaced or truncated under their feet. Pure: it reads a
//! `Metadata` the caller got, never the disk.

use serde::{Deserialize, Serialize};

/// The identity of a file on disk at publication: a plane refuses to map or publish a file whose
/// identity changed (replaced or truncated).
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
