//! Shared pieces of vidseed's load generators (`webseed-load`, `tracker-load`).

pub mod rng;
pub mod target;
