//! The data node's disk (does I/O): where a catalogued file of one of the node's folders really
//! is, and whether it may be served. A file whose path resolves outside its folder (a symbolic
//! link to `/etc/passwd`, or a folder link leading elsewhere) is refused, with a warning naming it
//! and its target, unless the node follows links (`follow_symlinks` in `[node]`, or
//! `--follow-symlinks`).

use std::path::Path;

use vidseed_shared::FileIdentity;

use super::node_catalog::{link_refusal, OnDisk};

/// File `file` of the node's folder `folder`: its resolved path and identity, or why it cannot be
/// served.
pub fn on_disk(folder: &Path, file: &Path, follow_symlinks: bool) -> Result<OnDisk, String> {
    let target = file.canonicalize().map_err(|e| format!("missing at {}: {e}", file.display()))?;
    if !follow_symlinks {
        let root = folder.canonicalize().map_err(|e| format!("the node's folder {}: {e}", folder.display()))?;
        if let Some(reason) = link_refusal(&root, &target, false) {
            tracing::warn!(
                "not served: {} is a symbolic link to {}, outside the node's folder {} (follow_symlinks = true in [node], or --follow-symlinks, allows it)",
                file.display(),
                target.display(),
                root.display()
            );
            return Err(reason);
        }
    }
    let meta = std::fs::metadata(&target).map_err(|e| format!("cannot stat {}: {e}", target.display()))?;
    if !meta.is_file() {
        return Err(format!("not a regular file: {}", target.display()));
    }
    Ok(OnDisk { path: target, identity: FileIdentity::from_metadata(&meta) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_resolved_and_those_leading_out_refused() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("media");
        let outside = dir.path().join("secret.txt");
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        std::fs::write(folder.join("a.mp4"), b"aaaa").unwrap();
        std::fs::write(&outside, b"secret").unwrap();
        std::os::unix::fs::symlink(folder.join("a.mp4"), folder.join("in.mp4")).unwrap();
        std::os::unix::fs::symlink(&outside, folder.join("out.mp4")).unwrap();
        std::os::unix::fs::symlink(dir.path(), folder.join("sub/up")).unwrap();
        let resolved_a = folder.join("a.mp4").canonicalize().unwrap();
        let resolved_outside = outside.canonicalize().unwrap();

        let plain = on_disk(&folder, &folder.join("a.mp4"), false).unwrap();
        assert_eq!((plain.path.as_path(), plain.identity.size), (resolved_a.as_path(), 4));
        // A link inside the folder is served: its target's file.
        assert_eq!(on_disk(&folder, &folder.join("in.mp4"), false).unwrap(), plain);
        // Out of the folder: by a file link or through a folder link.
        for path in [folder.join("out.mp4"), folder.join("sub/up/secret.txt")] {
            let e = on_disk(&folder, &path, false).unwrap_err();
            assert!(e.starts_with(&format!("symbolic link to {}, outside", resolved_outside.display())), "{e}");
            // Unless the node follows links.
            let followed = on_disk(&folder, &path, true).unwrap();
            assert_eq!((followed.path.as_path(), followed.identity.size), (resolved_outside.as_path(), 6));
        }
        assert!(on_disk(&folder, &folder.join("nope.mp4"), false).unwrap_err().starts_with("missing at "));
        assert!(on_disk(&folder, &folder.join("sub"), false).unwrap_err().starts_with("not a regular file"));
    }
}
