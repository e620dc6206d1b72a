//! Fuzzes the HTTP Signature header parser and checks (any bytes in, never a panic).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_control_plane::activitypub::http_signature::fuzz_one(data);
});
