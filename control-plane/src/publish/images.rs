//! A video's thumbnail and preview (does I/O): a frame taken by ffmpeg (the tool PeerTube
//! itself uses), scaled and cropped to PeerTube's sizes, as JPEG. Without ffmpeg, or when it
//! fails on a file, a plain placeholder of the same size is used and the reason logged once:
//! PeerTube lists no video without an image.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use super::video_object::{PREVIEW, THUMBNAIL};

const PLACEHOLDER_THUMBNAIL: &[u8] = include_bytes!("../../assets/placeholder-280x157.jpg");
const PLACEHOLDER_PREVIEW: &[u8] = include_bytes!("../../assets/placeholder-850x480.jpg");

/// Largest image accepted from ffmpeg.
const MAX_IMAGE: usize = 4 * 1024 * 1024;

/// One image made for a video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub preview: bool,
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Whether it is the placeholder (and why).
    pub placeholder: Option<String>,
}

static WARNED_MISSING: AtomicBool = AtomicBool::new(false);

/// Where in the video the frame is taken: a tenth in, at most 10 s (past any black opening).
pub fn frame_time(duration_s: u64) -> f64 {
    (duration_s as f64 / 10.0).min(10.0)
}

/// The thumbnail and the preview of `file` (blocking: run it on a blocking thread).
pub fn make(file: &Path, duration_s: u64) -> [Image; 2] {
    [(false, THUMBNAIL), (true, PREVIEW)].map(|(preview, (w, h))| match frame(file, frame_time(duration_s), w, h) {
        Ok(jpeg) => Image { preview, jpeg, width: w, height: h, placeholder: None },
        Err(why) => {
            let missing = why.contains("not found") || why.contains("No such file");
            if !missing || !WARNED_MISSING.swap(true, Ordering::Relaxed) {
                tracing::warn!("no {} for {}: {why}; a placeholder is used", if preview { "preview" } else { "thumbnail" }, file.display());
            }
            let jpeg = if preview { PLACEHOLDER_PREVIEW } else { PLACEHOLDER_THUMBNAIL }.to_vec();
            Image { preview, jpeg, width: w, height: h, placeholder: Some(why) }
        }
    })
}

/// One frame at `at` seconds, scaled to cover `w`×`h` and cropped to it, as JPEG.
fn frame(file: &Path, at: f64, w: u32, h: u32) -> Result<Vec<u8>, String> {
    let filter = format!("scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-ss", &format!("{at:.3}"), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-vf", &filter, "-q:v", "4", "-f", "image2", "-c:v", "mjpeg", "pipe:1"])
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e} (install ffmpeg for real thumbnails)"))?;
    if !out.status.success() || out.stdout.is_empty() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no frame");
        return Err(format!("ffmpeg failed ({}): {last}", out.status));
    }
    if out.stdout.len() > MAX_IMAGE || !out.stdout.starts_with(&[0xff, 0xd8]) {
        return Err("ffmpeg did not make a JPEG".into());
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_taken_from_the_video_at_peertubes_sizes() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests-data/media/clip-320x180-25fps-3s.mp4");
        let [thumb, preview] = make(&file, 3);
        // The test machines have ffmpeg (installed by CI): the real frame, not the placeholder.
        assert_eq!(thumb.placeholder, None);
        assert_eq!((thumb.width, thumb.height, preview.width, preview.height), (280, 157, 850, 480));
        assert!(thumb.jpeg.starts_with(&[0xff, 0xd8]) && preview.jpeg.starts_with(&[0xff, 0xd8]));
        assert_ne!(thumb.jpeg, PLACEHOLDER_THUMBNAIL);
    }

    #[test]
    fn a_file_ffmpeg_cannot_read_gets_the_placeholder_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.mp4");
        std::fs::write(&bad, b"not a video at all").unwrap();
        let [thumb, preview] = make(&bad, 0);
        assert!(thumb.placeholder.as_deref().is_some_and(|r| r.contains("ffmpeg")), "{:?}", thumb.placeholder);
        assert_eq!((thumb.jpeg.as_slice(), preview.jpeg.as_slice()), (PLACEHOLDER_THUMBNAIL, PLACEHOLDER_PREVIEW));
        assert_eq!(frame_time(3), 0.3);
        assert_eq!(frame_time(3600), 10.0);
    }
}
