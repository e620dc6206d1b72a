//! Finding the files to publish under the media folder (does file-system I/O).
//!
//! Every regular file below the folder is a candidate, following symbolic links to files but not
//! to folders (no loops). Hidden entries (names starting with `.`, e.g. partial uploads), empty
//! files (a torrent needs at least one piece) and names that are not UTF-8 are skipped, each with
//! the reason.

use std::path::{Path, PathBuf};

use vidseed_shared::FileIdentity;

/// A file found under the media folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundFile {
    /// Path relative to the media folder, `/`-separated.
    pub rel_path: String,
    pub abs_path: PathBuf,
    pub identity: FileIdentity,
    /// Modification time, whole seconds since the Unix epoch.
    pub mtime: u64,
}

/// An entry left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Walks `root` and returns the files to publish, sorted by path, and what was skipped.
pub fn scan(root: &Path) -> std::io::Result<(Vec<FoundFile>, Vec<Skipped>)> {
    let meta = std::fs::metadata(root)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a folder", root.display()),
        ));
    }
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                skipped.push(Skipped { path: dir, reason: format!("cannot read folder: {e}") });
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                skipped.push(Skipped { path, reason: "name is not UTF-8".into() });
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let Ok(file_type) = entry.file_type() else { continue };
            if file_type.is_dir() {
                stack.push((path, rel));
                continue;
            }
            match examine(path, rel) {
                Entry::File(f) => found.push(f),
                Entry::Skip(s) => skipped.push(s),
                Entry::Folder => {} // a link to a folder: not followed (no loops)
            }
        }
    }
    found.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok((found, skipped))
}

/// What one entry is, after following a symbolic link.
pub enum Entry {
    /// A non-empty regular file, to publish.
    File(FoundFile),
    /// Left out, with the reason.
    Skip(Skipped),
    Folder,
}

/// Looks at one path (following a symbolic link), to be published as `rel`.
pub fn examine(path: PathBuf, rel: String) -> Entry {
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return Entry::Skip(Skipped { path, reason: format!("cannot stat: {e}") }),
    };
    if meta.is_dir() {
        return Entry::Folder;
    }
    if !meta.is_file() {
        return Entry::Skip(Skipped { path, reason: "not a regular file".into() });
    }
    if meta.len() == 0 {
        return Entry::Skip(Skipped { path, reason: "empty file".into() });
    }
    let identity = FileIdentity::from_metadata(&meta);
    let mtime = u64::try_from(identity.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(0);
    Entry::File(FoundFile { rel_path: rel, abs_path: path, identity, mtime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_files_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        std::fs::write(root.join("a.mp4"), b"a").unwrap();
        std::fs::write(root.join("sub/deeper/b c.webm"), b"bb").unwrap();
        std::fs::write(root.join(".partial.mp4"), b"x").unwrap();
        std::fs::write(root.join(".hidden/x.mp4"), b"x").unwrap();
        std::fs::write(root.join("empty.mp4"), b"").unwrap();
        std::os::unix::fs::symlink(root.join("a.mp4"), root.join("link.mp4")).unwrap();
        std::os::unix::fs::symlink(root, root.join("sub/loop")).unwrap();
        let (found, skipped) = scan(root).unwrap();
        let names: Vec<&str> = found.iter().map(|f| f.rel_path.as_str()).collect();
        assert_eq!(names, vec!["a.mp4", "link.mp4", "sub/deeper/b c.webm"]);
        assert_eq!(found[2].identity.size, 2);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].reason, "empty file");
        assert!(scan(&root.join("a.mp4")).is_err());

        // One path at a time, as adding a single file does.
        assert!(matches!(examine(root.join("link.mp4"), "x.mp4".into()), Entry::File(f) if f.rel_path == "x.mp4" && f.identity.size == 1));
        assert!(matches!(examine(root.join("empty.mp4"), "e".into()), Entry::Skip(s) if s.reason == "empty file"));
        assert!(matches!(examine(root.join("nope.mp4"), "n".into()), Entry::Skip(s) if s.reason.starts_with("cannot stat")));
        assert!(matches!(examine(root.join("sub"), "sub".into()), Entry::Folder));
    }
}
