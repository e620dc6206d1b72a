//! Importing a copy of another instance's video (redundancy): the data node downloads what the
//! control plane orders and serves it only once every byte is verified. Pure: `units` (a file
//! cut into pieces or segments with the hash each must have) and `progress` (what is verified,
//! saved for resuming). I/O: `source` (range requests to one source), `rate` (the bandwidth
//! cap) and `download` (a copy's files, several ranges at once, verified, resumable).

pub mod download;
pub mod progress;
pub mod rate;
pub mod source;
pub mod units;
