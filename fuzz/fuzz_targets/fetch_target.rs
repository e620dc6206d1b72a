//! Fuzzes the splitting of URLs other instances give (ActivityPub ids, files to copy) into the
//! target a fetch connects to.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_outbound::target::fuzz_one(data);
});
