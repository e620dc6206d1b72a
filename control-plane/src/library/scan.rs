//! Finding the files to publish under the media folder (does file-system I/O).
//!
//! Every regular file below the folder is a candidate, following symbolic links to files but not
//! to folders (no loops). A link whose target resolves outside the media folder is refused unless
//! the admin allows it (`--follow-symlinks`): `ln -s /etc/passwd media/x.mp4` must not publish
//! the system's files. Hidden entries (names starting with `.`, e.g. partial uploads), empty
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
    /// Where a symbolic link refused for leading outside the media folder points.
    pub outside_target: Option<PathBuf>,
}

impl Skipped {
    fn new(path: PathBuf, reason: impl Into<String>) -> Skipped {
        Skipped { path, reason: reason.into(), outside_target: None }
    }
}

/// Where published files may live: under the media folder, or anywhere when the admin follows
/// symbolic links out of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkPolicy {
    /// The media folder, resolved (no symbolic link in it).
    root: PathBuf,
    follow_outside: bool,
}

impl LinkPolicy {
    /// The policy for media folder `root` (resolved here: it must exist).
    pub fn new(root: &Path, follow_outside: bool) -> std::io::Result<LinkPolicy> {
        Ok(LinkPolicy { root: root.canonicalize()?, follow_outside })
    }

    /// The media folder, resolved.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether links out of the media folder are followed.
    pub fn follows_outside(&self) -> bool {
        self.follow_outside
    }

    /// Why `target` (a resolved path) may not be published, if it may not.
    pub fn refusal(&self, target: &Path) -> Option<String> {
        (!self.follow_outside && !target.starts_with(&self.root)).then(|| outside_reason(target))
    }
}

/// The reason given for a link refused because it leads to `target`, outside the media folder.
pub fn outside_reason(target: &Path) -> String {
    format!(
        "symbolic link to {}, outside the media folder (--follow-symlinks allows it)",
        target.display()
    )
}

/// Walks `dir` (the media folder or a folder in it) and returns the files to publish, sorted by
/// path relative to `dir`, and what was skipped.
pub fn scan(dir: &Path, links: &LinkPolicy) -> std::io::Result<(Vec<FoundFile>, Vec<Skipped>)> {
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a folder", dir.display()),
        ));
    }
    // Walked from its resolved path, without following links to folders: only a file's own
    // link can then lead out of the media folder.
    let resolved = dir.canonicalize()?;
    if let Some(reason) = links.refusal(&resolved) {
        let mut refused = Skipped::new(dir.to_path_buf(), reason);
        refused.outside_target = Some(resolved);
        return Ok((Vec::new(), vec![refused]));
    }
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![(resolved, String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                skipped.push(Skipped::new(dir, format!("cannot read folder: {e}")));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                skipped.push(Skipped::new(path, "name is not UTF-8"));
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
            match look_at(path, rel, links, file_type.is_symlink()) {
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

/// Looks at one path (following a symbolic link, where `links` allows it), to be published as
/// `rel`.
pub fn examine(path: PathBuf, rel: String, links: &LinkPolicy) -> Entry {
    look_at(path, rel, links, true)
}

/// `examine`; `resolve`: whether the path may lead elsewhere (a link, or a path given by hand);
/// a plain file met while walking the resolved media folder cannot.
fn look_at(path: PathBuf, rel: String, links: &LinkPolicy, resolve: bool) -> Entry {
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return Entry::Skip(Skipped::new(path, format!("cannot stat: {e}"))),
    };
    if meta.is_dir() {
        return Entry::Folder;
    }
    if resolve {
        match path.canonicalize() {
            Ok(target) => {
                if let Some(reason) = links.refusal(&target) {
                    return Entry::Skip(Skipped { path, reason, outside_target: Some(target) });
                }
            }
            Err(e) => return Entry::Skip(Skipped::new(path, format!("cannot resolve: {e}"))),
        }
    }
    if !meta.is_file() {
        return Entry::Skip(Skipped::new(path, "not a regular file"));
    }
    if meta.len() == 0 {
        return Entry::Skip(Skipped::new(path, "empty file"));
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
        let links = LinkPolicy::new(root, false).unwrap();
        let (found, skipped) = scan(root, &links).unwrap();
        let names: Vec<&str> = found.iter().map(|f| f.rel_path.as_str()).collect();
        assert_eq!(names, vec!["a.mp4", "link.mp4", "sub/deeper/b c.webm"]);
        assert_eq!(found[2].identity.size, 2);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].reason, "empty file");
        assert!(scan(&root.join("a.mp4"), &links).is_err());

        // One path at a time, as adding a single file does.
        assert!(matches!(examine(root.join("link.mp4"), "x.mp4".into(), &links), Entry::File(f) if f.rel_path == "x.mp4" && f.identity.size == 1));
        assert!(matches!(examine(root.join("empty.mp4"), "e".into(), &links), Entry::Skip(s) if s.reason == "empty file"));
        assert!(matches!(examine(root.join("nope.mp4"), "n".into(), &links), Entry::Skip(s) if s.reason.starts_with("cannot stat")));
        assert!(matches!(examine(root.join("sub"), "sub".into(), &links), Entry::Folder));
    }

    /// A media folder `media/` beside a file and a folder outside it, with links to both.
    fn media_with_links() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        std::fs::create_dir_all(media.join("sub")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, b"not a video").unwrap();
        std::fs::write(dir.path().join("elsewhere/x.mp4"), b"x").unwrap();
        std::fs::write(media.join("sub/a.mp4"), b"aa").unwrap();
        std::os::unix::fs::symlink(&secret, media.join("out.mp4")).unwrap();
        std::os::unix::fs::symlink(media.join("sub/a.mp4"), media.join("in.mp4")).unwrap();
        // A relative link climbing out.
        std::os::unix::fs::symlink("../../secret.txt", media.join("sub/up.mp4")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), media.join("elsewhere")).unwrap();
        let secret = secret.canonicalize().unwrap();
        (dir, media, secret)
    }

    #[test]
    fn links_out_of_the_media_folder_are_refused() {
        let (_dir, media, secret) = media_with_links();
        let links = LinkPolicy::new(&media, false).unwrap();
        let (found, skipped) = scan(&media, &links).unwrap();
        let names: Vec<&str> = found.iter().map(|f| f.rel_path.as_str()).collect();
        assert_eq!(names, vec!["in.mp4", "sub/a.mp4"], "a link inside the folder stays published");
        let mut refused: Vec<(String, String, Option<PathBuf>)> = skipped
            .into_iter()
            .map(|s| (s.path.file_name().unwrap().to_str().unwrap().to_owned(), s.reason, s.outside_target))
            .collect();
        refused.sort();
        let reason = format!(
            "symbolic link to {}, outside the media folder (--follow-symlinks allows it)",
            secret.display()
        );
        assert_eq!(
            refused,
            vec![
                ("out.mp4".to_owned(), reason.clone(), Some(secret.clone())),
                ("up.mp4".to_owned(), reason.clone(), Some(secret.clone())),
            ]
        );
        // Added one at a time, the same.
        assert!(matches!(examine(media.join("out.mp4"), "out.mp4".into(), &links), Entry::Skip(s) if s.reason == reason));
        assert!(matches!(examine(media.join("in.mp4"), "in.mp4".into(), &links), Entry::File(f) if f.identity.size == 2));
        // A folder reached through a link out of the media folder: nothing in it.
        let (found, skipped) = scan(&media.join("elsewhere"), &links).unwrap();
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].reason.starts_with("symbolic link to ") && skipped[0].reason.ends_with("elsewhere, outside the media folder (--follow-symlinks allows it)"), "{:?}", skipped[0]);
    }

    #[test]
    fn follow_symlinks_publishes_what_links_lead_to() {
        let (_dir, media, _secret) = media_with_links();
        let links = LinkPolicy::new(&media, true).unwrap();
        let (found, skipped) = scan(&media, &links).unwrap();
        let names: Vec<&str> = found.iter().map(|f| f.rel_path.as_str()).collect();
        // Links to folders are still not followed while walking.
        assert_eq!(names, vec!["in.mp4", "out.mp4", "sub/a.mp4", "sub/up.mp4"]);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(found[1].identity.size, 11);
        let (found, _) = scan(&media.join("elsewhere"), &links).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rel_path, "x.mp4");
    }

    #[test]
    fn the_policy_is_pure_path_logic() {
        let (_dir, media, secret) = media_with_links();
        let links = LinkPolicy::new(&media, false).unwrap();
        let root = links.root().to_path_buf();
        assert_eq!(links.refusal(&root.join("sub/a.mp4")), None);
        assert!(links.refusal(&secret).is_some());
        // A sibling whose name starts like the media folder's is outside it.
        let mut sibling = root.clone().into_os_string();
        sibling.push("2/a.mp4");
        assert!(links.refusal(Path::new(&sibling)).is_some());
        assert_eq!(LinkPolicy::new(&media, true).unwrap().refusal(&secret), None);
        assert!(LinkPolicy::new(&media.join("missing"), false).is_err());
    }
}
