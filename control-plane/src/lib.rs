//! vidseed's control plane: finds the videos to publish, makes their torrents, hands the data
//! plane its catalog and answers the instance's HTTP API.

pub mod api;
pub mod magnet;
pub mod node;
pub mod piece_length;
pub mod publisher;
pub mod scan;
pub mod torrent_cache;
pub mod torrents;
pub mod urls;
pub mod video;

pub use api::{ApiServer, RunningApi};
pub use node::{NodeConfig, RunningNode};
pub use publisher::{Publisher, PublisherConfig};
pub use urls::PublicUrls;
pub use video::Video;
