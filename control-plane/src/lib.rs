//! vidseed's control plane: finds the videos to publish, makes their torrents, hands the data
//! nodes their catalog, federates with PeerTube instances and answers the instance's HTTP API.
//! A map of every behaviour and its file is at the top of docs/DESIGN.md.

pub mod activitypub;
pub mod admin;
pub mod channel;
pub mod clock;
pub mod federation;
pub mod http;
pub mod library;
pub mod ops;
pub mod publish;
pub mod redundancy;
pub mod service;
pub mod store;
pub mod video;

pub use http::{ApiServer, RunningApi};
pub use library::urls::PublicUrls;
pub use library::{Library, LibraryConfig};
pub use service::{ControlPlaneConfig, ControlPlane};
pub use video::Video;
