//! The torrents and magnet URIs `vidseed serve` hands out, read back by an independent bencode
//! decoder: info-hash, piece hashes of the file, url-list, announce-list.


use std::collections::BTreeMap;

use crate::common::*;
use serde::Deserialize;
use sha1::{Digest, Sha1};

#[derive(Deserialize, Debug)]
struct Info {
    name: String,
    length: u64,
    #[serde(rename = "piece length")]
    piece_length: u64,
    #[serde(with = "serde_bytes")]
    pieces: Vec<u8>,
}

#[derive(Deserialize, Debug)]
struct Metainfo {
    announce: String,
    #[serde(rename = "announce-list")]
    announce_list: Vec<Vec<String>>,
    #[serde(rename = "url-list")]
    url_list: Vec<String>,
    info: Info,
}

/// Returns the end offset of the bencoded value starting at `i`.
fn value_end(b: &[u8], i: usize) -> usize {
    match b[i] {
        b'i' => i + b[i..].iter().position(|&c| c == b'e').unwrap() + 1,
        b'l' | b'd' => {
            let mut j = i + 1;
            while b[j] != b'e' {
                j = value_end(b, j);
            }
            j + 1
        }
        b'0'..=b'9' => {
            let colon = i + b[i..].iter().position(|&c| c == b':').unwrap();
            let len: usize = std::str::from_utf8(&b[i..colon]).unwrap().parse().unwrap();
            colon + 1 + len
        }
        c => panic!("not bencode at {i}: {c}"),
    }
}

/// The raw bytes of the top-level `info` value.
fn raw_info(b: &[u8]) -> &[u8] {
    assert_eq!(b[0], b'd');
    let mut i = 1;
    while b[i] != b'e' {
        let key_end = value_end(b, i);
        let key = &b[b[i..].iter().position(|&c| c == b':').unwrap() + i + 1..key_end];
        let val_end = value_end(b, key_end);
        if key == b"info" {
            return &b[key_end..val_end];
        }
        i = val_end;
    }
    panic!("no info dictionary");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn query_pairs(magnet: &str) -> Vec<(String, String)> {
    let q = magnet.strip_prefix("magnet:?").expect("magnet:? prefix");
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), percent_encoding::percent_decode_str(v).decode_utf8().unwrap().into_owned())
        })
        .collect()
}

#[test]
fn torrent_describes_the_file_and_its_webseed() {
    let big = pseudo_random(5 * 1024 * 1024 + 777, 11);
    let small = pseudo_random(1000, 12);
    let node = Node::start(&[("big video.mp4", &big), ("clips/small.webm", &small)], &[]);
    for video in node.videos() {
        let want: &[u8] = if video["name"] == "big video.mp4" { &big } else { &small };
        let torrent_url = video["torrentUrl"].as_str().unwrap();
        let path = torrent_url.split_once("://").unwrap().1;
        let path = &path[path.find('/').unwrap()..];
        let res = get(node.control, path, &[]).unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-type"), Some("application/x-bittorrent"));
        let meta: Metainfo = serde_bencode::from_bytes(&res.body).expect("a valid torrent");

        // The info-hash is the SHA-1 of the bencoded info dictionary, as the API says.
        let ih = hex(&Sha1::digest(raw_info(&res.body)));
        assert_eq!(video["infoHash"].as_str().unwrap(), ih);
        assert_eq!(video["id"].as_str().unwrap(), ih);
        assert!(torrent_url.ends_with(&format!("/torrents/{ih}.torrent")));

        assert_eq!(meta.info.name, video["name"].as_str().unwrap());
        assert_eq!(meta.info.length, want.len() as u64);
        assert_eq!(video["size"].as_u64().unwrap(), want.len() as u64);
        // The 256 KiB floor: create-torrent alone would pick 16 KiB for these sizes.
        assert_eq!(meta.info.piece_length, 256 * 1024);
        assert_eq!(video["pieceLength"].as_u64().unwrap(), 256 * 1024);
        let hashes: Vec<u8> = want.chunks(meta.info.piece_length as usize).flat_map(|c| Sha1::digest(c).to_vec()).collect();
        assert!(meta.info.pieces == hashes, "piece hashes match the file");

        let file_url = video["fileUrl"].as_str().unwrap();
        assert_eq!(meta.url_list, vec![file_url.to_string()]);
        let ws = format!("ws://{}/tracker/socket", node.data);
        let http = format!("http://{}/tracker/announce", node.data);
        assert_eq!(meta.announce, ws);
        assert_eq!(meta.announce_list, vec![vec![ws.clone()], vec![http.clone()]]);

        // The WebSeed URL in the torrent serves the file's bytes, as WebTorrent requests them.
        let r = get(node.data, &file_path(&video), &[("Range", "bytes=0-262143")]).unwrap();
        assert_eq!(r.status, 206);
        assert!(r.body == want[..want.len().min(262144)]);

        // The magnet carries xt, dn, every tracker, the WebSeed and the torrent URL.
        let pairs = query_pairs(video["magnetUri"].as_str().unwrap());
        let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in &pairs {
            by_key.entry(k.as_str()).or_default().push(v.as_str());
        }
        assert_eq!(by_key["xt"], vec![format!("urn:btih:{ih}").as_str()]);
        assert_eq!(by_key["dn"], vec![meta.info.name.as_str()]);
        assert_eq!(by_key["tr"], vec![ws.as_str(), http.as_str()]);
        assert_eq!(by_key["ws"], vec![file_url]);
        assert_eq!(by_key["xs"], vec![torrent_url]);

        // The single-video endpoint agrees with the list — but for the watch URL, which moves
        // from the info-hash address to the video's UUID once the publisher has given it one
        // (the info-hash address redirects there), between the two reads or not.
        let one = get(node.control, &format!("/api/v1/videos/{ih}"), &[]).unwrap();
        let mut one: serde_json::Value = serde_json::from_slice(&one.body).unwrap();
        let mut listed = video.clone();
        let watch_prefix = format!("http://{}/videos/watch/", node.control);
        for v in [&mut one, &mut listed] {
            let watch = v.as_object_mut().unwrap().remove("watchUrl").unwrap();
            assert!(watch.as_str().unwrap().starts_with(&watch_prefix), "{watch}");
        }
        assert_eq!(one, listed);
    }
    let r = get(node.control, &format!("/torrents/{}.torrent", "0".repeat(40)), &[]).unwrap();
    assert_eq!(r.status, 404);
    let r = get(node.control, "/api/v1/videos/nope", &[]).unwrap();
    assert_eq!(r.status, 404);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["error"].is_string());
}

#[test]
fn piece_length_options_and_public_url() {
    let bytes = pseudo_random(2 * 1024 * 1024, 3);
    let node = Node::start(
        &[("a.mp4", &bytes)],
        &["--piece-length", "16384", "--public-url", "https://seed.example.org", "--control-public-url", "https://videos.example.org/"],
    );
    let v = &node.videos()[0];
    assert_eq!(v["pieceLength"], 16384);
    assert_eq!(v["fileUrl"], "https://seed.example.org/static/webseed/a.mp4");
    let ih = v["infoHash"].as_str().unwrap();
    assert_eq!(v["torrentUrl"], format!("https://videos.example.org/torrents/{ih}.torrent"));
    let res = get(node.control, &format!("/torrents/{ih}.torrent"), &[]).unwrap();
    let meta: Metainfo = serde_bencode::from_bytes(&res.body).unwrap();
    assert_eq!(meta.info.piece_length, 16384);
    assert_eq!(meta.info.pieces.len(), 20 * 128);
    assert_eq!(meta.announce_list, vec![vec!["wss://seed.example.org/tracker/socket".to_string()], vec!["https://seed.example.org/tracker/announce".to_string()]]);
    assert_eq!(meta.url_list, vec!["https://seed.example.org/static/webseed/a.mp4".to_string()]);
}

#[test]
fn bad_options_are_refused_with_a_message() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidseed"))
        .args(["serve", "/nonexistent-media-folder", "--data-listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a folder"), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidseed"))
        .arg("serve")
        .arg(dir.path())
        .args(["--piece-length", "1000"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("power of two"), "{}", String::from_utf8_lossy(&out.stderr));
}
