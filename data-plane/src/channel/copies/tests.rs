use sha1::{Digest as _, Sha1};
use vidseed_shared::fetch::{FetchFile, FileCheck};

use super::*;

/// An order for `files` (path, bytes) from a source nobody answers at.
fn order(id: &str, files: &[(&str, &[u8])]) -> FetchOrder {
    FetchOrder {
        id: id.into(),
        files: files
            .iter()
            .map(|(path, bytes)| FetchFile {
                path: (*path).into(),
                url_path: format!("/static/redundancy/{path}"),
                size: bytes.len() as u64,
                content_type: "video/mp4".into(),
                sources: vec!["http://127.0.0.1:9/nobody".into()],
                check: FileCheck::Pieces { piece_length: 16_384, sha1: bytes.chunks(16_384).map(|c| Sha1::digest(c).iter().map(|b| format!("{b:02x}")).collect()).collect() },
            })
            .collect(),
        info_hashes: vec![],
        max_bytes_per_sec: 0,
        parallel: 1,
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_restarted_node_still_deletes_what_it_is_told_to_discard() {
    let cache = tempfile::tempdir().unwrap();
    let (web, frag) = (vec![7u8; 40_000], vec![9u8; 30_000]);
    // A web video in place, an HLS file half imported (its partial file and record).
    write(&cache.path().join("a-360.mp4"), &web);
    write(&partial_dir(cache.path()).join("hls/u/b-fragmented.mp4"), &frag);
    write(&partial_dir(cache.path()).join("hls/u/b-fragmented.mp4.progress"), &[1]);
    let o = order("https://me.example/redundancy/videos/u/360", &[("a-360.mp4", &web), ("hls/u/b-fragmented.mp4", &frag)]);
    {
        let (copies, _events) = Copies::new(cache.path().to_path_buf(), true);
        copies.order(o.clone());
        // The node stops (its tasks with it).
        let running: Vec<_> = copies.running.lock().unwrap().drain().collect();
        for (_, (_, h)) in running {
            h.abort();
        }
    }
    // Restarted: the copy is in no memory, only in the cache folder.
    let (copies, _events) = Copies::new(cache.path().to_path_buf(), true);
    copies.discard("https://me.example/redundancy/videos/other");
    assert!(cache.path().join("a-360.mp4").exists(), "another copy's discard deletes nothing");
    copies.discard(&o.id);
    assert!(!cache.path().join("a-360.mp4").exists(), "the finished file");
    assert!(!partial_dir(cache.path()).join("hls/u/b-fragmented.mp4").exists(), "the partial file");
    assert!(!partial_dir(cache.path()).join("hls/u/b-fragmented.mp4.progress").exists(), "its record");
    assert!(!partial_dir(cache.path()).join("hls").exists(), "the folders it leaves empty");
    assert_eq!(std::fs::read_dir(cache.path().join(".orders")).unwrap().count(), 0, "its order is forgotten");
}

#[tokio::test]
async fn copies_the_control_plane_no_longer_keeps_are_deleted() {
    let cache = tempfile::tempdir().unwrap();
    let (a, b) = (vec![1u8; 20_000], vec![2u8; 20_000]);
    write(&cache.path().join("a.mp4"), &a);
    write(&cache.path().join("b.mp4"), &b);
    let (copies, _events) = Copies::new(cache.path().to_path_buf(), true);
    copies.order(order("https://me.example/redundancy/videos/a/1", &[("a.mp4", &a)]));
    copies.order(order("https://me.example/redundancy/videos/b/1", &[("b.mp4", &b)]));
    // A file of the cache folder no order names is not the control plane's to delete.
    write(&cache.path().join("admin-notes.txt"), b"mine");
    copies.keep_only(&["https://me.example/redundancy/videos/a/1".to_owned()]);
    assert!(cache.path().join("a.mp4").exists() && !cache.path().join("b.mp4").exists());
    assert!(cache.path().join("admin-notes.txt").exists());
    // An empty list (every copy removed) deletes them all.
    copies.keep_only(&[]);
    assert!(!cache.path().join("a.mp4").exists());
}
