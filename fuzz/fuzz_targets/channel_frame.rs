//! Fuzzes the catalog channel's frame decoding (both directions) and re-encoding of what decodes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_shared::channel::fuzz_one(data);
});
