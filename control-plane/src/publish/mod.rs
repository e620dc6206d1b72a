//! Publishing the library to the fediverse as PeerTube does (the origin's side).
pub mod media;
