//! Shared pieces of vidseed's load generators (`webseed-load`, `tracker-load`, `import-bench`):
//! random numbers (pure), target URLs (loopback only; resolving a host name is their only
//! I/O), and the run around a measurement (runtime, report, connections' counts, CPU time).

pub mod rng;
pub mod run;
pub mod target;
