//! Fuzzes the RsaSignature2017 canonicalisation and checks (any bytes in, never a panic).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_control_plane::activitypub::ld_signature::fuzz_one(data);
});
