//! Redundancy: copies of other instances' videos that this instance keeps and serves as
//! WebSeeds, announced to their origin with `CacheFile` activities, and the copies other
//! instances keep of ours.
//!
//! Pure cores: reading a remote `Video` (`remote_video`), HLS playlists and segment hashes
//! (`hls`), `CacheFile` objects and activities (`cache_file`), which videos the strategies copy
//! (`strategy`) and what they are fed (`schedule`), the settings (`config`), the data nodes'
//! fetch orders (`orders`), other instances' copies as extra sources (`mirrors`), when a failed copy is tried again (`retry`), a copy's status from its nodes' reports (`status`), and the origin's
//! checks of a received copy (`probe`). The I/O shell: the engine (`engine`: copies, reports,
//! announcements, removal, the hook to the data nodes), preparing orders (`prepare`), the
//! periodic run (`scheduler`) and the origin's side (`origin`).

pub mod cache_file;
pub mod config;
pub mod engine;
pub mod hls;
pub mod mirrors;
pub mod orders;
pub mod origin;
mod prepare;
pub mod probe;
pub mod remote_video;
pub mod retry;
pub mod schedule;
mod scheduler;
pub mod status;
pub mod strategy;

pub use engine::{CopyView, FetchSink, ImportLimits, RedundancyEngine, RedundancyError};
pub use retry::RetryPolicy;
