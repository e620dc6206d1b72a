//! Rebuilds the crate when its SQL migrations change (`sqlx::migrate!` embeds them), and fetches
//! the watch page's browser library (the WebTorrent bundle) from npm,
//! exactly as pinned in `web/package-lock.json`, so the control plane can serve every script of
//! its pages itself. `npm ci` runs once per build directory; `VIDSEED_WEB_DIST` may name a folder
//! that already holds `webtorrent.min.js` (offline builds).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: [&str; 1] = ["webtorrent.min.js"];

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=web/package.json");
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-env-changed=VIDSEED_WEB_DIST");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dist = match env::var_os("VIDSEED_WEB_DIST") {
        // Relative to where the build was started, not to this crate.
        Some(dir) => env::current_dir().map(|cwd| cwd.join(&dir)).unwrap_or_else(|_| PathBuf::from(dir)),
        None => install(&out),
    };
    let target = out.join("web-dist");
    fs::create_dir_all(&target).unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", target.display())));
    for name in FILES {
        let from = dist.join(name);
        println!("cargo:rerun-if-changed={}", from.display());
        if let Err(e) = fs::copy(&from, target.join(name)) {
            fail(&format!("cannot read {}: {e}", from.display()));
        }
    }
    // A tag of the bundle's bytes for its URL, so browsers may cache it for good.
    let bundle = fs::read(target.join(FILES[0])).unwrap_or_else(|e| fail(&format!("cannot read the bundle: {e}")));
    println!("cargo:rustc-env=VIDSEED_WEBTORRENT_TAG={:016x}", fnv1a(&bundle));
}

/// FNV-1a, 64 bits: enough to tell two versions of a file apart in a URL.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `npm ci` of the pinned lockfile into the build directory; returns webtorrent's `dist/`.
fn install(out: &Path) -> PathBuf {
    let here = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = out.join("web");
    let dist = web.join("node_modules/webtorrent/dist");
    let lock = here.join("web/package-lock.json");
    let stamp = web.join("installed-lock.json");
    let wanted = fs::read(&lock).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", lock.display())));
    if fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) && FILES.iter().all(|f| dist.join(f).is_file()) {
        return dist;
    }
    fs::create_dir_all(&web).unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", web.display())));
    for name in ["package.json", "package-lock.json"] {
        fs::copy(here.join("web").join(name), web.join(name))
            .unwrap_or_else(|e| fail(&format!("cannot copy web/{name}: {e}")));
    }
    let npm = env::var("NPM").unwrap_or_else(|_| "npm".to_owned());
    let status = Command::new(&npm)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&web)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("`{npm} ci` for the watch page's scripts failed ({s}); see its output above")),
        Err(e) => fail(&format!(
            "cannot run `{npm}` ({e}): the watch page's scripts come from npm. Install Node.js and npm \
             (apt-get install nodejs npm), or set VIDSEED_WEB_DIST to a folder holding webtorrent.min.js"
        )),
    }
    fs::write(&stamp, &wanted).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", stamp.display())));
    dist
}

fn fail(msg: &str) -> ! {
    eprintln!("vidseed-control-plane build: {msg}");
    std::process::exit(1);
}
