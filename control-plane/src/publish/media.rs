//! What a video file holds, read from its container (pure over any `Read + Seek`): duration,
//! the video track's width, height and frame rate, for the `Video` objects PeerTube reads.
//! MP4/MOV/M4V through Mozilla's `mp4parse` (only `ftyp` and `moov` are read: the walk over
//! the top-level boxes seeks past `mdat`, wherever `moov` is); WebM/Matroska through
//! `matroska-demuxer`. Numbers are PeerTube's: seconds rounded, fps rounded to an integer.

use std::io::{Read, Seek, SeekFrom};

/// The largest `moov` box read into memory (a sample table of several hours of video fits).
pub const MAX_MOOV: u64 = 64 * 1024 * 1024;

/// What the container says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaFacts {
    /// Seconds, rounded to the nearest (as PeerTube rounds ffprobe's duration).
    pub duration_s: u64,
    /// The video track's coded size; 0 × 0 for audio-only files.
    pub width: u32,
    pub height: u32,
    /// Frames per second, rounded; 0 when there is no video track.
    pub fps: u32,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error("not a container vidseed reads (MP4, MOV, WebM or Matroska)")]
    Unknown,
    #[error("the MP4 file is malformed: {0}")]
    Mp4(String),
    #[error("the WebM/Matroska file is malformed: {0}")]
    Matroska(String),
    #[error("the file says nothing of its duration")]
    NoDuration,
    #[error("cannot read the file: {0}")]
    Io(String),
}

/// The container family, from the first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    Mp4,
    Matroska,
}

/// Tells the container from the file's first 12 bytes (or fewer).
pub fn sniff(head: &[u8]) -> Option<Container> {
    if head.len() >= 4 && head[..4] == [0x1a, 0x45, 0xdf, 0xa3] {
        return Some(Container::Matroska);
    }
    if head.len() >= 8 && matches!(&head[4..8], b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide") {
        return Some(Container::Mp4);
    }
    None
}

/// Reads the facts of a file.
pub fn probe<R: Read + Seek>(r: &mut R) -> Result<MediaFacts, MediaError> {
    let io = |e: std::io::Error| MediaError::Io(e.to_string());
    let mut head = [0u8; 12];
    let n = read_up_to(r, &mut head).map_err(io)?;
    r.seek(SeekFrom::Start(0)).map_err(io)?;
    // Third-party parsers on arbitrary bytes: a panic in one is a malformed file, never a
    // crashed control plane.
    let run = std::panic::AssertUnwindSafe(|| match sniff(&head[..n]) {
        Some(Container::Mp4) => probe_mp4(r),
        Some(Container::Matroska) => probe_matroska(r),
        None => Err(MediaError::Unknown),
    });
    std::panic::catch_unwind(run).unwrap_or_else(|_| Err(MediaError::Mp4("the parser failed on this file".into())))
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The `ftyp` and `moov` boxes of an MP4 file, as one buffer `mp4parse` can read: the walk
/// reads each top-level box header and seeks past what it does not need.
fn mp4_header_boxes<R: Read + Seek>(r: &mut R) -> Result<Vec<u8>, MediaError> {
    let io = |e: std::io::Error| MediaError::Io(e.to_string());
    let end = r.seek(SeekFrom::End(0)).map_err(io)?;
    let mut pos = 0u64;
    let mut out = Vec::new();
    let mut have_moov = false;
    while pos + 8 <= end && !have_moov {
        r.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut h = [0u8; 16];
        let got = read_up_to(r, &mut h).map_err(io)?;
        if got < 8 {
            break;
        }
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let kind = [h[4], h[5], h[6], h[7]];
        let size = match size32 {
            0 => end - pos,
            1 if got >= 16 => u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
            1 => return Err(MediaError::Mp4("a box's 64-bit size is cut off".into())),
            s => s,
        };
        if size < 8 || pos.checked_add(size).is_none_or(|e| e > end) {
            return Err(MediaError::Mp4(format!("box {:?} at {pos} runs past the end of the file", String::from_utf8_lossy(&kind))));
        }
        if &kind == b"ftyp" || &kind == b"moov" {
            if size > MAX_MOOV {
                return Err(MediaError::Mp4(format!("the {} box is {size} bytes (at most {MAX_MOOV} are read)", String::from_utf8_lossy(&kind))));
            }
            r.seek(SeekFrom::Start(pos)).map_err(io)?;
            let start = out.len();
            out.resize(start + size as usize, 0);
            r.read_exact(&mut out[start..]).map_err(io)?;
            have_moov = &kind == b"moov";
        }
        pos += size;
    }
    if !have_moov {
        return Err(MediaError::Mp4("no moov box (is the file still being written?)".into()));
    }
    Ok(out)
}

fn probe_mp4<R: Read + Seek>(r: &mut R) -> Result<MediaFacts, MediaError> {
    let boxes = mp4_header_boxes(r)?;
    let ctx = mp4parse::read_mp4(&mut std::io::Cursor::new(&boxes)).map_err(|e| MediaError::Mp4(format!("{e:?}")))?;
    let seconds = |t: &mp4parse::Track| -> Option<f64> {
        let scale = t.timescale?.0;
        let d = t.duration?.0;
        (scale > 0).then(|| d as f64 / scale as f64)
    };
    let duration = ctx.tracks.iter().filter_map(seconds).fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    let duration = duration.ok_or(MediaError::NoDuration)?;
    let video = ctx.tracks.iter().find(|t| t.track_type == mp4parse::TrackType::Video);
    let (mut width, mut height, mut fps) = (0, 0, 0);
    if let Some(t) = video {
        let entry = t.stsd.as_ref().and_then(|s| {
            s.descriptions.iter().find_map(|d| match d {
                mp4parse::SampleEntry::Video(v) => Some((u32::from(v.width), u32::from(v.height))),
                _ => None,
            })
        });
        (width, height) = entry.or_else(|| t.tkhd.as_ref().map(|h| (h.width >> 16, h.height >> 16))).unwrap_or((0, 0));
        if let (Some(stts), Some(scale)) = (&t.stts, t.timescale) {
            let (frames, ticks) = stts.samples.iter().fold((0u64, 0u64), |(f, d), s| {
                (f + u64::from(s.sample_count), d + u64::from(s.sample_count) * u64::from(s.sample_delta))
            });
            if ticks > 0 {
                fps = (frames as f64 * scale.0 as f64 / ticks as f64).round() as u32;
            }
        }
    }
    Ok(MediaFacts { duration_s: duration.round() as u64, width, height, fps })
}

/// Frames looked at to measure the frame rate of a WebM without a DefaultDuration.
const FPS_SAMPLE_FRAMES: usize = 120;

fn probe_matroska<R: Read + Seek>(r: &mut R) -> Result<MediaFacts, MediaError> {
    let bad = |e: matroska_demuxer::DemuxError| MediaError::Matroska(e.to_string());
    let mut mkv = matroska_demuxer::MatroskaFile::open(r).map_err(bad)?;
    let scale_ns = mkv.info().timestamp_scale().get() as f64;
    let duration = mkv.info().duration().ok_or(MediaError::NoDuration)? * scale_ns / 1e9;
    if !duration.is_finite() || duration < 0.0 {
        return Err(MediaError::NoDuration);
    }
    let video = mkv.tracks().iter().find(|t| t.track_type() == matroska_demuxer::TrackType::Video).map(|t| {
        let v = t.video();
        let size = v.map_or((0, 0), |v| (v.pixel_width().get().min(u64::from(u32::MAX)) as u32, v.pixel_height().get().min(u64::from(u32::MAX)) as u32));
        (t.track_number().get(), size, t.default_duration())
    });
    let (mut width, mut height, mut fps) = (0, 0, 0);
    if let Some((number, size, default_duration)) = video {
        (width, height) = size;
        fps = match default_duration {
            Some(ns) => (1e9 / ns.get() as f64).round() as u32,
            None => {
                // Measured from the first frames' timestamps.
                let mut frame = matroska_demuxer::Frame::default();
                let mut stamps = Vec::new();
                while stamps.len() < FPS_SAMPLE_FRAMES && mkv.next_frame(&mut frame).map_err(bad)? {
                    if frame.track == number {
                        stamps.push(frame.timestamp);
                    }
                }
                stamps.sort_unstable();
                match (stamps.first(), stamps.last()) {
                    (Some(a), Some(b)) if b > a => ((stamps.len() - 1) as f64 * 1e9 / ((b - a) as f64 * scale_ns)).round() as u32,
                    _ => 0,
                }
            }
        };
    }
    Ok(MediaFacts { duration_s: duration.round() as u64, width, height, fps })
}

/// For the fuzz target: any bytes, never a panic.
pub fn fuzz_one(data: &[u8]) {
    let _ = probe(&mut std::io::Cursor::new(data));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(name: &str) -> Result<MediaFacts, MediaError> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests-data/media").join(name);
        probe(&mut std::fs::File::open(path).unwrap())
    }

    #[test]
    fn mp4_facts_as_ffprobe_gives_them() {
        assert_eq!(facts("clip-320x180-25fps-3s.mp4").unwrap(), MediaFacts { duration_s: 3, width: 320, height: 180, fps: 25 });
        // The moov box after mdat (no faststart): found by seeking past mdat.
        assert_eq!(facts("clip-160x120-30fps-2s-moov-at-end.mp4").unwrap(), MediaFacts { duration_s: 2, width: 160, height: 120, fps: 30 });
    }

    #[test]
    fn webm_facts() {
        assert_eq!(facts("clip-256x144-24fps-2s.webm").unwrap(), MediaFacts { duration_s: 2, width: 256, height: 144, fps: 24 });
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        let mp4 = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests-data/media/clip-320x180-25fps-3s.mp4")).unwrap();
        assert_eq!(probe(&mut std::io::Cursor::new(b"hello world, not a video".to_vec())), Err(MediaError::Unknown));
        // Cut in the middle of the moov box.
        let cut = &mp4[..2000];
        assert!(matches!(probe(&mut std::io::Cursor::new(cut.to_vec())), Err(MediaError::Mp4(_))));
        // Every prefix and a few corruptions: an error or facts, never a panic.
        for n in (0..mp4.len().min(4096)).step_by(97) {
            fuzz_one(&mp4[..n]);
        }
        let mut bent = mp4.clone();
        for i in (0..bent.len().min(3000)).step_by(13) {
            bent[i] ^= 0x5a;
            fuzz_one(&bent);
        }
        let webm = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests-data/media/clip-256x144-24fps-2s.webm")).unwrap();
        for n in (0..webm.len()).step_by(211) {
            fuzz_one(&webm[..n]);
        }
    }

    #[test]
    fn containers_are_sniffed() {
        assert_eq!(sniff(&[0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0, 0]), Some(Container::Matroska));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), Some(Container::Mp4));
        assert_eq!(sniff(b"RIFF....AVI "), None);
    }
}
