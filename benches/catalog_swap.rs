//! How long a data node takes to take in a catalog of 100 000 files. Does I/O: files in a
//! temporary folder, a control plane and a channel on loopback.
//!
//! 1. In process, step by step: the snapshot framed as on the channel, decoded, checked against
//!    the disk (one `stat` per file) and swapped in.
//! 2. End to end: a real control plane (store in SQLite, library, QUIC channel server) with
//!    100 000 videos, and a real channel client feeding a `CatalogStore`: the time from the
//!    client's start to the whole catalog being served (QUIC handshake, hello, snapshot transfer,
//!    decode, stat, swap, acknowledgement).
//!
//! Run with `cargo bench --bench catalog_swap` (`FILES=…` changes the count).

use std::sync::Arc;
use std::time::Instant;

use vidseed_data_plane::channel::{FolderMapping, NodeCatalog};
use vidseed_data_plane::CatalogStore;
use vidseed_shared::channel::{self, ControlMessage, NodeUpdate, PublishedFile, TrackerSettings};
use vidseed_shared::InfoHash;

fn main() {
    let (dir, n) = in_process();
    end_to_end(dir.path(), n);
}

fn in_process() -> (tempfile::TempDir, usize) {
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
        node.apply(update.try_into().unwrap(), &folders, &|folder, file| vidseed_data_plane::channel::disk::on_disk(folder, file, false));
        let (catalog, rejected) = node.catalog(round, &folders);
        let t3 = Instant::now();
        let ack = store.apply(catalog).unwrap();
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
    (dir, n)
}

/// The library's videos for files `{i%1000:03}/{i}.mp4` of one byte each, put in the store.
async fn fill_store(store: &vidseed_control_plane::store::Store, n: usize) {
    use vidseed_control_plane::store::VideoRecord;
    for i in 0..n {
        let mut ih = [0u8; 20];
        ih[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let v = VideoRecord {
            path: format!("{:03}/{i}.mp4", i % 1000),
            name: format!("{i}.mp4"),
            size: 1,
            mtime_ms: 1_700_000_000_000,
            content_type: "video/mp4".into(),
            piece_length: 262_144,
            info_hash: InfoHash(ih),
            info: Vec::new(),
            added_at_ms: 0,
        };
        store.put_video(&v).await.unwrap();
    }
}

fn end_to_end(files_dir: &std::path::Path, n: usize) {
    use vidseed_control_plane::channel::{ChannelIdentity, ChannelServer};
    use vidseed_control_plane::library::piece_length::PiecePolicy;
    use vidseed_control_plane::store::{sha256_hex, Database, Store};
    use vidseed_control_plane::{Library, LibraryConfig, PublicUrls};
    use vidseed_data_plane::channel::{ChannelClient, ChannelConfig};

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // The database on a memory file system when there is one: the bench times the channel, not fsync.
    let db_dir = tempfile::tempdir_in(if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "." }).unwrap();
    let (library, identity, channel) = rt.block_on(async {
        let store = Store::open(&Database::Sqlite(db_dir.path().join("bench.db"))).await.unwrap();
        let t = Instant::now();
        fill_store(&store, n).await;
        println!("end to end: {n} videos put in the store in {:.1} s (not timed below)", t.elapsed().as_secs_f64());
        store.add_node("bench", "http://127.0.0.1:1", &sha256_hex(b"token"), 0).await.unwrap();
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let urls = PublicUrls::new(addr, addr, None, None).unwrap();
        let cfg = LibraryConfig { root: files_dir.to_path_buf(), urls, pieces: PiecePolicy::Auto { floor: 262_144 }, hash_threads: 1, stun_servers: Vec::new(), follow_symlinks: false, trackers: Default::default() };
        let library = Library::open(cfg, store.clone()).await.unwrap();
        let identity = ChannelIdentity::load_or_create(&store).await.unwrap();
        let channel = ChannelServer::start(addr, &identity, Arc::clone(&library)).await.unwrap();
        (library, identity, channel)
    });
    for round in 1..=3 {
        let store = Arc::new(CatalogStore::new());
        let t = Instant::now();
        let client = ChannelClient::start(
            ChannelConfig {
                control: channel.local_addr().to_string(),
                pin: identity.pin().parse().unwrap(),
                node: "bench".into(),
                token: "token".into(),
                folders: vec![FolderMapping { library: String::new(), path: files_dir.to_path_buf() }],
                public_url: None,
                follow_symlinks: false,
                cache: None,
                allow_private_sources: false,
            },
            Arc::clone(&store),
            Arc::new(|| Box::pin(async { vidseed_shared::channel::NodeStats::default() })),
        )
        .unwrap();
        while store.load().len() < n {
            assert!(t.elapsed().as_secs() < 60, "the catalog did not arrive");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        println!("end to end, round {round}: {n} files served {:.0} ms after the node started", t.elapsed().as_secs_f64() * 1e3);
        client.shutdown();
    }
    rt.block_on(channel.shutdown());
    drop(library);
}
