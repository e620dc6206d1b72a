//! `import-bench`: imports one file the way a data node imports a copy (range requests, several
//! at once, every piece verified, written to disk, moved into place) from a URL serving the
//! same bytes as a local file, and prints the rate and the CPU it took, for comparison with curl
//! downloading the same URL (`loadtest/import-vs-curl.sh`).
//!
//! The verification data are computed from the local file first (SHA-1 per torrent piece, or
//! SHA-256 per HLS-like segment with the first piece as the init section), as the control plane
//! would have read them from the origin's torrent and segments-sha256 file.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use vidseed_loadtest::run::own_cpu_seconds;
use vidseed_shared::fetch::{FetchFile, FetchOrder, FileCheck, SegmentHash};

#[derive(Parser)]
#[command(about = "Import a file as a data node imports a copy; print MB/s and CPU per GB")]
struct Args {
    /// Where the file is served (ranges required).
    #[arg(long)]
    url: String,
    /// The same file on this machine (for its hashes).
    #[arg(long)]
    file: PathBuf,
    /// Torrent piece length.
    #[arg(long, default_value_t = 1 << 20)]
    piece_length: u64,
    /// Check HLS-style: SHA-256 per segment of this many bytes (the first piece as the init
    /// section, checked by its SHA-1); 0 checks torrent pieces only.
    #[arg(long, default_value_t = 0)]
    segment: u64,
    /// Ranges at once.
    #[arg(long, default_value_t = 4)]
    parallel: u32,
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Folder to import into (a fresh subfolder per run, removed after).
    #[arg(long, default_value = "target/tmp/import-bench")]
    into: PathBuf,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn checks(args: &Args) -> Result<(u64, FileCheck)> {
    let mut f = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = f.metadata()?.len();
    let mut sha1 = Vec::new();
    let mut segments = Vec::new();
    let mut buf = vec![0u8; args.piece_length as usize];
    let mut seg = Sha256::new();
    let (mut seg_start, mut pos) = (args.piece_length.min(size), 0u64);
    loop {
        let mut n = 0;
        while n < buf.len() {
            let r = f.read(&mut buf[n..])?;
            if r == 0 {
                break;
            }
            n += r;
        }
        if n == 0 {
            break;
        }
        sha1.push(hex(&Sha1::digest(&buf[..n])));
        if args.segment > 0 {
            let mut i = 0usize;
            while i < n {
                let at = pos + i as u64;
                if at < seg_start {
                    i = (seg_start - pos) as usize;
                    continue;
                }
                let seg_end = seg_start + args.segment;
                let take = (n - i).min((seg_end - at) as usize);
                seg.update(&buf[i..i + take]);
                i += take;
                let next = at + take as u64;
                if next == seg_end || next == size {
                    segments.push(SegmentHash { start: seg_start, end: next - 1, sha256: hex(&std::mem::take(&mut seg).finalize()) });
                    seg_start = next;
                }
            }
        }
        pos += n as u64;
    }
    let check = if args.segment > 0 {
        FileCheck::Segments { segments, piece_length: Some(args.piece_length), sha1 }
    } else {
        FileCheck::Pieces { piece_length: args.piece_length, sha1 }
    };
    Ok((size, check))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (size, check) = checks(&args)?;
    let order = FetchOrder {
        id: "bench".into(),
        files: vec![FetchFile {
            path: "copy.bin".into(),
            url_path: "/static/redundancy/copy.bin".into(),
            size,
            content_type: "video/mp4".into(),
            sources: vec![args.url.clone()],
            check,
        }],
        info_hashes: vec![],
        max_bytes_per_sec: 0,
        parallel: args.parallel,
    };
    let report: vidseed_data_plane::import::download::Reporter = Arc::new(|_| {});
    for run in 1..=args.runs {
        let dir = args.into.join(format!("run-{run}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let (cpu0, t0) = (own_cpu_seconds().unwrap_or(0.0), Instant::now());
        vidseed_data_plane::import::download::import(&order, &dir, true, Arc::clone(&report)).await.map_err(anyhow::Error::msg)?;
        let (secs, cpu) = (t0.elapsed().as_secs_f64(), own_cpu_seconds().unwrap_or(0.0) - cpu0);
        let gb = size as f64 / 1e9;
        println!("run {run}: {:.1} MB/s, {:.2} CPU s/GB ({:.2} s, {:.2} CPU s)", size as f64 / 1e6 / secs, cpu / gb, secs, cpu);
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
