use super::*;
use crate::channel::update::Tracked;

fn pf(path: &str, size: u64, ih: u8) -> LibraryFile {
    LibraryFile {
        path: path.into(),
        url_path: format!("/static/webseed/{path}"),
        size,
        etag: format!("\"{ih}\""),
        last_modified: 1,
        content_type: "video/mp4".into(),
        info_hash: InfoHash([ih; 20]),
    }
}

fn folders() -> Vec<FolderMapping> {
    vec![
        FolderMapping { library: "".into(), path: "/disk/all".into() },
        FolderMapping { library: "movies".into(), path: "/fast/movies".into() },
    ]
}

/// A disk where every file exists with the size written in its name before the dot ("10.mp4").
fn disk(_folder: &Path, p: &Path) -> Result<OnDisk, String> {
    let name = p.file_name().and_then(|n| n.to_str()).ok_or("no name")?;
    let size: u64 = name.split('.').next().and_then(|s| s.parse().ok()).ok_or("missing")?;
    Ok(OnDisk { path: p.to_path_buf(), identity: FileIdentity { size, inode: 1, ..Default::default() } })
}

#[test]
fn the_longest_folder_wins_and_paths_cannot_climb_out() {
    let f = folders();
    assert_eq!(local_path(&f, "a.mp4"), Some("/disk/all/a.mp4".into()));
    assert_eq!(local_path(&f, "movies/x/a.mp4"), Some("/fast/movies/x/a.mp4".into()));
    assert_eq!(local_path(&f, "moviesX/a.mp4"), Some("/disk/all/moviesX/a.mp4".into()));
    for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a"] {
        assert_eq!(local_path(&f, bad), None, "{bad}");
    }
    let only_movies = vec![FolderMapping { library: "movies".into(), path: "/m".into() }];
    assert_eq!(local_path(&only_movies, "shows/a.mp4"), None);
}

#[test]
fn snapshots_and_deltas_build_the_served_catalog() {
    let f = folders();
    let mut c = NodeCatalog::default();
    c.apply(
        LibraryUpdate::Snapshot {
            files: vec![pf("10.mp4", 10, 1), pf("movies/20.mp4", 20, 2), pf("5.mp4", 6, 3)],
            tracked: vec![Tracked { path: "elsewhere.mp4".into(), info_hash: InfoHash([9; 20]) }],
            extra_info_hashes: vec![InfoHash([8; 20])],
            tracker: TrackerPolicy { track_any: false },
        },
        &f,
        &disk,
    );
    let (cat, rejected) = c.catalog(7, &f);
    assert_eq!(cat.version, 7);
    let paths: Vec<_> = cat.files.iter().map(|x| x.fs_path.to_str().unwrap().to_owned()).collect();
    assert_eq!(paths, ["/disk/all/10.mp4", "/fast/movies/20.mp4"]);
    assert_eq!(rejected.len(), 1, "5.mp4 has another size on this disk");
    assert!(rejected[0].reason.contains("another size"));
    assert_eq!(cat.info_hashes, [1, 2, 3, 8, 9].map(|b| InfoHash([b; 20])));
    cat.validate().unwrap();

    c.apply(
        LibraryUpdate::Delta(vec![
            LibraryChange::Remove("10.mp4".into()),
            LibraryChange::Upsert(pf("30.mp4", 30, 4)),
            LibraryChange::Track(Tracked { path: "movies/20.mp4".into(), info_hash: InfoHash([2; 20]) }),
            LibraryChange::RevokeInfoHash(InfoHash([8; 20])),
            LibraryChange::AllowInfoHash(InfoHash([7; 20])),
            LibraryChange::Tracker(TrackerPolicy { track_any: true }),
        ]),
        &f,
        &disk,
    );
    let (cat, _) = c.catalog(8, &f);
    let urls: Vec<_> = cat.files.iter().map(|x| x.url_path.as_str()).collect();
    assert_eq!(urls, ["/static/webseed/30.mp4"], "5.mp4 is still of another size; 20 is only tracked now");
    assert_eq!(cat.info_hashes, [2, 3, 4, 7, 9].map(|b| InfoHash([b; 20])));
    assert!(c.tracker.track_any && cat.track_any, "the control plane's open-tracker setting reaches the catalog");

    // A snapshot replaces everything, including what deltas added.
    c.apply(
        LibraryUpdate::Snapshot { files: vec![], tracked: vec![], extra_info_hashes: vec![], tracker: TrackerPolicy::default() },
        &f,
        &disk,
    );
    let (cat, rejected) = c.catalog(9, &f);
    assert!(cat.files.is_empty() && cat.info_hashes.is_empty() && rejected.is_empty());
    assert!(!c.tracker.track_any && !cat.track_any);
}

#[test]
fn links_out_of_the_folder_are_refused_unless_followed() {
    let folder = Path::new("/srv/media");
    assert_eq!(link_refusal(folder, Path::new("/srv/media/a.mp4"), false), None);
    assert_eq!(link_refusal(folder, Path::new("/srv/media/sub/b.mp4"), false), None);
    let refused = link_refusal(folder, Path::new("/etc/passwd"), false).expect("refused");
    assert!(refused.starts_with("symbolic link to /etc/passwd, outside the node's folder /srv/media"), "{refused}");
    // A sibling folder sharing the name's prefix is outside too.
    assert!(link_refusal(folder, Path::new("/srv/media2/a.mp4"), false).is_some());
    assert_eq!(link_refusal(folder, Path::new("/etc/passwd"), true), None);
}

#[test]
fn the_catalog_serves_the_resolved_file_and_names_refusals() {
    let f = vec![FolderMapping { library: "".into(), path: "/disk".into() }];
    // "in.mp4" is a link to /disk/real.mp4; "out.mp4" a link out of the folder.
    let stat = |folder: &Path, p: &Path| -> Result<OnDisk, String> {
        let target = match p.file_name().and_then(|n| n.to_str()) {
            Some("in.mp4") => PathBuf::from("/disk/real.mp4"),
            Some("out.mp4") => PathBuf::from("/etc/passwd"),
            _ => p.to_path_buf(),
        };
        if let Some(reason) = link_refusal(folder, &target, false) {
            return Err(reason);
        }
        Ok(OnDisk { path: target, identity: FileIdentity { size: 10, inode: 1, ..Default::default() } })
    };
    let mut c = NodeCatalog::default();
    c.apply(
        LibraryUpdate::Snapshot {
            files: vec![pf("in.mp4", 10, 1), pf("out.mp4", 10, 2), pf("plain.mp4", 10, 3)],
            tracked: vec![],
            extra_info_hashes: vec![],
            tracker: TrackerPolicy::default(),
        },
        &f,
        &stat,
    );
    let (cat, rejected) = c.catalog(1, &f);
    let served: Vec<_> = cat.files.iter().map(|x| (x.url_path.as_str(), x.fs_path.to_str().unwrap())).collect();
    assert_eq!(served, [("/static/webseed/in.mp4", "/disk/real.mp4"), ("/static/webseed/plain.mp4", "/disk/plain.mp4")]);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].url_path, "/static/webseed/out.mp4");
    assert!(rejected[0].reason.starts_with("symbolic link to /etc/passwd, outside the node's folder /disk"), "{}", rejected[0].reason);
}
