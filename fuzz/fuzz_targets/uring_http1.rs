//! Fuzzes the request-head reader of the io_uring workers (`uring::http1::parse`): any bytes,
//! no panic, and what it keeps is a request the WebSeed service can take.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_data_plane::uring::fuzz_one(data);
});
