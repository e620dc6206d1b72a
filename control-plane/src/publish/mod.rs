//! Publishing the library to the fediverse as a PeerTube origin does. Pure cores: `media`
//! (duration, size, fps from the file), `metadata` (what the admin edits, PeerTube's limits),
//! `actors` (the account `Person` and channel `Group`), `video_object` (the `Video` and its
//! Create, Announce, Update, Delete). The shell: `images` (thumbnail and preview with ffmpeg),
//! `engine` (the publisher following the library and federating its changes).
pub mod actors;
pub mod engine;
pub mod images;
pub mod media;
pub mod metadata;
pub mod video_object;
pub mod wire;

pub use engine::{PublishConfig, PublishError, Publisher};
