//! Importing a copy of another instance's video (redundancy): the data node downloads what the
//! control plane orders and serves it only once every byte is verified. Pure cores so far:
//! `units` (a file cut into pieces or segments with the hash each must have) and `progress`
//! (what is verified, saved for resuming).

pub mod progress;
pub mod units;
