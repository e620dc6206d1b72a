//! How long a data node takes to take in a catalog of 100 000 files: the snapshot framed as on
//! the channel, decoded, checked against the disk (one `stat` per file) and swapped in.
//! Prints the time of each step; run with `cargo bench --bench catalog_swap`.

use std::sync::Arc;
use std::time::Instant;

use vidseed_data_plane::control::{FolderMapping, NodeCatalog};
use vidseed_data_plane::CatalogStore;
use vidseed_shared::channel::{self, ControlMessage, NodeUpdate, PublishedFile, TrackerSettings};
use vidseed_shared::{CatalogUpdate, FileIdentity, InfoHash};

fn main() {
    let n: usize = std::env::var("FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let sub = dir.path().join(format!("{:03}", i % 1000));
        if i < 1000 {
            std::fs::create_dir_all(&sub).unwrap();
        }
        std::fs::write(sub.join(format!("{i}.mp4")), b"x").unwrap();
    }
    let files: Vec<PublishedFile> = (0..n)
        .map(|i| {
            let path = format!("{:03}/{i}.mp4", i % 1000);
            let mut ih = [0u8; 20];
            ih[..8].copy_from_slice(&(i as u64).to_le_bytes());
            PublishedFile {
                url_path: format!("/static/webseed/{path}"),
                path,
                size: 1,
                etag: format!("\"{i:040x}\""),
                last_modified: 1_700_000_000,
                content_type: "video/mp4".into(),
                info_hash: InfoHash(ih),
            }
        })
        .collect();
    let msg = ControlMessage::Update {
        seq: 1,
        update: NodeUpdate::Snapshot { files, tracked: vec![], extra_info_hashes: vec![], tracker: TrackerSettings::default() },
    };
    let folders = vec![FolderMapping { library: String::new(), path: dir.path().to_path_buf() }];
    let store = Arc::new(CatalogStore::new());
    for round in 1..=3 {
        let t0 = Instant::now();
        let frame = channel::encode(&msg);
        let t1 = Instant::now();
        let Some((ControlMessage::Update { update, .. }, _)) = channel::decode_frame::<ControlMessage>(&frame).unwrap() else { unreachable!() };
        let t2 = Instant::now();
        let mut node = NodeCatalog::default();
        node.apply(update, &folders, &|p| std::fs::metadata(p).map(|m| FileIdentity::from_metadata(&m)).map_err(|e| e.to_string()));
        let (catalog, rejected) = node.catalog(round, &folders);
        let t3 = Instant::now();
        let ack = store.apply_update(CatalogUpdate::Snapshot { catalog }).unwrap();
        let t4 = Instant::now();
        assert!(rejected.is_empty() && ack.rejected.is_empty() && ack.files_served == n);
        println!(
            "round {round}: {n} files, frame {:.1} MB: encode {:.0} ms, decode {:.0} ms, stat + build {:.0} ms, swap {:.0} ms; node side (decode..swap) {:.0} ms",
            frame.len() as f64 / 1e6,
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            (t3 - t2).as_secs_f64() * 1e3,
            (t4 - t3).as_secs_f64() * 1e3,
            (t4 - t1).as_secs_f64() * 1e3,
        );
    }
}
