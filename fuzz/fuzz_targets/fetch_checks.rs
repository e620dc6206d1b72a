//! Fuzzes a data node's reading of a fetch order's checks (the hashes a copy is verified
//! against) into verification units: any order must give units inside the file, or an error.
#![no_main]

use vidseed_data_plane::import::download::check_of;
use vidseed_data_plane::import::units::units;
use vidseed_shared::fetch::FetchFile;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(file) = serde_json::from_slice::<FetchFile>(data) else { return };
    if let Ok(check) = check_of(&file) {
        if let Ok(u) = units(file.size, &check) {
            assert!(u.iter().all(|x| x.start <= x.end && x.end < file.size));
        }
    }
});
