//! Fuzzes `Range` and conditional-header parsing and planning; the logic is in the crate
//! (`webseed::plan::fuzz_one`) so that property tests run the same body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_data_plane::webseed::plan::fuzz_one(data);
});
