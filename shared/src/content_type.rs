//! Content types by file extension for what a video instance serves. Pure.

/// The `Content-Type` for a file name, by its extension (case-insensitive).
pub fn for_file_name(name: &str) -> &'static str {
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) if ext.len() <= 8 => ext.to_ascii_lowercase(),
        _ => return "application/octet-stream",
    };
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "ogv" => "video/ogg",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "mov" => "video/quicktime",
        "avi" => "video/x-msvideo",
        "ts" => "video/mp2t",
        "m4s" => "video/iso.segment",
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "torrent" => "application/x-bittorrent",
        "vtt" => "text/vtt",
        "srt" => "application/x-subrip",
        "json" => "application/json",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::for_file_name;

    #[test]
    fn video_types() {
        assert_eq!(for_file_name("a.mp4"), "video/mp4");
        assert_eq!(for_file_name("A.WEBM"), "video/webm");
        assert_eq!(for_file_name("x.mkv"), "video/x-matroska");
        assert_eq!(for_file_name("x.ogv"), "video/ogg");
        assert_eq!(for_file_name("x.mov"), "video/quicktime");
        assert_eq!(for_file_name("x.m4a"), "audio/mp4");
        assert_eq!(for_file_name("x.mp3"), "audio/mpeg");
        assert_eq!(for_file_name("x.torrent"), "application/x-bittorrent");
        assert_eq!(for_file_name("noext"), "application/octet-stream");
        assert_eq!(for_file_name("x.unknown"), "application/octet-stream");
    }
}
