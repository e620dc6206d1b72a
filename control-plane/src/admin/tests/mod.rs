//! Tests of `vidseed admin`: the API's bodies (pure), rendering and stream reading (pure), the
//! command line, the client against a tiny HTTP server started by the tests on a loopback port,
//! and the client against the real control plane.

mod cli;
mod client;
mod server;
mod table;
mod wire;

use crate::admin::wire::{NodeInfo, Video};

/// Two videos as the contract's JSON gives them: one on two nodes, one with a title for a name.
pub(super) const VIDEOS_JSON: &str = r#"{"videos":[
  {"path":"films/bbb.mp4","name":"bbb.mp4","size":13107200,
   "infoHash":"0123456789abcdef0123456789abcdef01234567","pieceLength":262144,
   "contentType":"video/mp4",
   "magnetUri":"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=bbb.mp4",
   "torrentUrl":"http://127.0.0.1:8081/torrents/0123456789abcdef0123456789abcdef01234567.torrent",
   "webseeds":["https://seed1.example.org/static/webseed/films/bbb.mp4"],"nodes":["paris-1","berlin"],
   "trackers":["wss://seed2.example.org/tracker/socket","https://seed2.example.org/tracker/announce"],
   "trackerNode":"berlin",
   "federated":{"uuid":"202e2a06-b073-46f0-8197-a77a379ce081","title":"Big Buck Bunny","path":"films/bbb.mp4",
     "duration":596,"width":1280,"height":720,"fps":24,"state":"federated",
     "url":"http://127.0.0.1:8081/videos/watch/202e2a06-b073-46f0-8197-a77a379ce081",
     "description":null,"language":null,"licence":null,"category":null,"tags":[],
     "cachedAt":["peertube.example","cache.example"]}},
  {"path":"talks/intro.webm","name":"Intro talk","size":900,
   "infoHash":"fedcba9876543210fedcba9876543210fedcba98","pieceLength":16384,
   "contentType":"video/webm",
   "magnetUri":"magnet:?xt=urn:btih:fedcba9876543210fedcba9876543210fedcba98",
   "torrentUrl":"http://127.0.0.1:8081/torrents/fedcba9876543210fedcba9876543210fedcba98.torrent",
   "webseeds":[],"nodes":[]}
]}"#;

/// The lines `VIDEOS_JSON` renders to: the first video federated and cached twice, the second
/// not known to the publisher.
pub(super) const VIDEOS_LINES: [&str; 12] = [
    "UUID                                  TITLE           DURATION  RESOLUTION          SIZE  NODES            CACHED AT",
    "202e2a06-b073-46f0-8197-a77a379ce081  Big Buck Bunny      9:56  1280x720 24fps  12.5 MiB  paris-1, berlin  peertube.example, cache.example",
    "    path      films/bbb.mp4",
    "    info-hash 0123456789abcdef0123456789abcdef01234567",
    "    magnet    magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=bbb.mp4",
    "    torrent   http://127.0.0.1:8081/torrents/0123456789abcdef0123456789abcdef01234567.torrent",
    "    tracker   wss://seed2.example.org/tracker/socket (node berlin)",
    "-                                     Intro talk             -  -                  900 B  -                -",
    "    path      talks/intro.webm",
    "    info-hash fedcba9876543210fedcba9876543210fedcba98",
    "    magnet    magnet:?xt=urn:btih:fedcba9876543210fedcba9876543210fedcba98",
    "    torrent   http://127.0.0.1:8081/torrents/fedcba9876543210fedcba9876543210fedcba98.torrent",
];

pub(super) fn videos() -> Vec<Video> {
    serde_json::from_str::<crate::admin::wire::VideoList>(VIDEOS_JSON).unwrap().videos
}

/// "Now" in the node tests: Unix milliseconds.
pub(super) const NOW_MS: u64 = 1_750_000_000_000;

pub(super) fn nodes() -> Vec<NodeInfo> {
    let json = format!(
        r#"{{"nodes":[
          {{"name":"paris-1","publicUrl":"https://seed1.example.org","state":"connected","folders":[""],
            "catalogSeq":7,"latestSeq":7,"lastSeen":{},"files":42,
            "stats":{{"bytesServed":5368709120,"requests":1200,"peers":35,"swarms":12,"trackerMessagesPerSec":830,"errors":0,
                      "diskFreeBytes":107374182400,"at":{}}}}},
          {{"name":"berlin","publicUrl":"https://seed2.example.org","state":"never connected",
            "folders":["films","talks"],"catalogSeq":null,"latestSeq":7,"lastSeen":null,"files":0,"stats":null}}
        ]}}"#,
        NOW_MS - 12_000,
        NOW_MS - 12_000
    );
    serde_json::from_str::<crate::admin::wire::NodeList>(&json).unwrap().nodes
}
