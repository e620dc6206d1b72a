//! Redundancy: copies of other instances' videos that this instance keeps and serves as
//! WebSeeds, announced to their origin with `CacheFile` activities, and the copies other
//! instances keep of ours. The pure cores so far: reading a remote `Video` (`remote_video`),
//! HLS playlists and segment hashes (`hls`), and `CacheFile` objects and activities
//! (`cache_file`), and which videos the strategies copy (`strategy`).

pub mod cache_file;
pub mod config;
pub mod hls;
pub mod orders;
pub mod probe;
pub mod remote_video;
pub mod schedule;
pub mod status;
pub mod strategy;
