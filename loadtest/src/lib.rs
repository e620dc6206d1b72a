//! Shared pieces of vidseed's load generators (`webseed-load`, `tracker-load`): random numbers
//! (pure) and target URLs (loopback only; resolving a host name is their only I/O).

pub mod rng;
pub mod target;
