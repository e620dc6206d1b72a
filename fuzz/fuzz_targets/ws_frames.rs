//! Fuzzes the tracker's WebSocket frame decoder with arbitrary bytes fed in arbitrary read
//! sizes (fragmented messages, control frames between fragments, lengths past the limit).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_data_plane::tracker::ws_frames::fuzz_one(data);
});
