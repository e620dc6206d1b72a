//! vidseed's control plane: finds the videos to publish, makes their torrents, hands the data
//! plane its catalog and answers the instance's HTTP API.

pub mod activitypub;
pub mod admin;
pub mod admin_api;
pub mod api;
pub mod channel;
pub mod clock;
pub mod federation;
pub mod federation_api;
pub mod inbox;
pub mod library;
pub mod magnet;
pub mod node;
pub mod pages;
pub mod piece_length;
pub mod scan;
pub mod store;
pub mod torrent_file;
pub mod torrents;
pub mod urls;
pub mod video;

pub use api::{ApiServer, RunningApi};
pub use node::{NodeConfig, RunningNode};
pub use library::{Library, LibraryConfig};
pub use urls::PublicUrls;
pub use video::Video;
