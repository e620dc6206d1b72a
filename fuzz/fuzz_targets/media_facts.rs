//! Fuzzes the container readers that give a published file its duration, size and frame rate
//! (MP4 box walk and mp4parse, WebM/Matroska): any bytes are an error or facts, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vidseed_control_plane::publish::media::fuzz_one(data);
});
