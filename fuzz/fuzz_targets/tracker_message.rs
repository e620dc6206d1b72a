//! Fuzzes the WebTorrent tracker's message parser and the replies built from what it accepts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_data_plane::tracker::protocol::fuzz_one(data);
});
