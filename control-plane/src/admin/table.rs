//! The admin API's answers (their types are `wire.rs`'s) rendered as tables and lines of text;
//! also the reading of `add`'s ndjson progress stream. Pure: no I/O, the clock is passed in.

use serde_json::Value;

use super::wire::{AddEvent, AddResult, ErrorBody, EventError, FollowInfo, NewNode, NodeInfo, Progress, Removed, Revoked, Video};

// ---------------------------------------------------------------------------------------------
// Small formatters
// ---------------------------------------------------------------------------------------------

/// `512 B`, `1.0 KiB`, `12.5 MiB`: binary units, one decimal.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Promote when the rounded value would read 1024.0 of a unit.
    while (value * 10.0).round() >= 10240.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// How long ago `then_ms` was at `now_ms` (both Unix milliseconds): `just now`, `12 s ago`,
/// `5 min ago`, `3 h ago`, `2 d ago`. A time in the future (clock skew) is `just now`.
pub fn ago(now_ms: u64, then_ms: u64) -> String {
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    match secs {
        0 => "just now".to_owned(),
        1..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Replaces control characters (a file name may hold an escape sequence or a newline) so that
/// text from the server cannot move the cursor or break a table's lines.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The number of terminal columns `s` takes (Unicode's East Asian width: combining marks and
/// zero-width characters none, wide characters and emoji two, everything else one).
pub fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

const GAP: &str = "  ";

/// Renders a header line and one line per row; every column is as wide as its widest cell,
/// columns are two spaces apart and no line ends in spaces. Cells are [`clean`]ed.
pub fn render_table(columns: &[(&str, Align)], rows: &[Vec<String>]) -> Vec<String> {
    let header: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| clean(c)).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(display_width(cell));
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let mut line = String::new();
            for (i, ((cell, width), (_, align))) in row.iter().zip(&widths).zip(columns).enumerate() {
                if i > 0 {
                    line.push_str(GAP);
                }
                let pad = " ".repeat(width.saturating_sub(display_width(cell)));
                match align {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            line.truncate(line.trim_end().len());
            line
        })
        .collect()
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// A duration in seconds as `m:ss` or `h:mm:ss`; `-` when unknown.
pub fn clock_duration(seconds: Option<i64>) -> String {
    match seconds {
        Some(s) if s >= 3600 => format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
        Some(s) if s >= 0 => format!("{}:{:02}", s / 60, s % 60),
        _ => "-".into(),
    }
}

/// `1280x720 30fps` (or `1280x720` without a frame rate); `-` when unknown or audio only.
pub fn resolution(width: Option<i64>, height: Option<i64>, fps: Option<i64>) -> String {
    match (width, height, fps) {
        (Some(w), Some(h), Some(f)) if w > 0 && h > 0 && f > 0 => format!("{w}x{h} {f}fps"),
        (Some(w), Some(h), _) if w > 0 && h > 0 => format!("{w}x{h}"),
        _ => "-".into(),
    }
}

/// The videos table: UUID, TITLE, DURATION, RESOLUTION, SIZE, NODES, CACHED AT (the instances
/// keeping a checked copy), each row followed by indented lines with the video's path, info-hash,
/// federation state when it is not federated, magnet URI, torrent URL and tracker (the first one,
/// the WebSocket one browsers use, and the node it belongs to). A video the publisher does not
/// know yet shows `-` for its UUID and its file name for a title.
pub fn render_videos(videos: &[Video]) -> Vec<String> {
    if videos.is_empty() {
        return vec!["no videos are published yet; publish some with `vidseed admin add PATH`".to_owned()];
    }
    let columns = [
        ("UUID", Align::Left),
        ("TITLE", Align::Left),
        ("DURATION", Align::Right),
        ("RESOLUTION", Align::Left),
        ("SIZE", Align::Right),
        ("NODES", Align::Left),
        ("CACHED AT", Align::Left),
    ];
    let rows: Vec<Vec<String>> = videos
        .iter()
        .map(|v| match &v.federated {
            Some(f) => vec![
                f.uuid.clone(),
                f.title.clone(),
                clock_duration(f.duration),
                resolution(f.width, f.height, f.fps),
                human_size(v.size),
                list_or_dash(&v.nodes),
                list_or_dash(&f.cached_at),
            ],
            None => vec!["-".into(), v.name.clone(), "-".into(), "-".into(), human_size(v.size), list_or_dash(&v.nodes), "-".into()],
        })
        .collect();
    let mut table = render_table(&columns, &rows).into_iter();
    let mut out: Vec<String> = table.next().into_iter().collect();
    for (line, v) in table.zip(videos) {
        out.push(line);
        out.push(format!("    path      {}", clean(&v.path)));
        out.push(format!("    info-hash {}", v.info_hash.to_hex()));
        if let Some(f) = v.federated.as_ref().filter(|f| f.state != "federated") {
            out.push(format!("    state     {}", clean(&f.state)));
        }
        out.push(format!("    magnet    {}", clean(&v.magnet_uri)));
        out.push(format!("    torrent   {}", clean(&v.torrent_url)));
        if let Some(tracker) = v.trackers.first() {
            let node = v.tracker_node.as_deref().map_or_else(String::new, |n| format!(" (node {})", clean(n)));
            out.push(format!("    tracker   {}{node}", clean(tracker)));
        }
    }
    out
}

fn folders_cell(folders: &[String]) -> String {
    if folders.is_empty() || folders.iter().any(String::is_empty) {
        // "" is the whole library, which holds every other folder.
        return "(all)".to_owned();
    }
    folders.join(", ")
}

fn opt_count(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// The nodes table: NAME, STATE, URL, FOLDERS, CATALOG (acknowledged/latest version), LAST SEEN,
/// FILES, and when any node reported counters SERVED, REQUESTS, PEERS, SWARMS, ERRORS, DISK FREE.
pub fn render_nodes(nodes: &[NodeInfo], now_ms: u64) -> Vec<String> {
    if nodes.is_empty() {
        return vec!["no data nodes yet; add one with `vidseed admin node add NAME --public-url URL`".to_owned()];
    }
    let mut columns = vec![
        ("NAME", Align::Left),
        ("STATE", Align::Left),
        ("URL", Align::Left),
        ("FOLDERS", Align::Left),
        ("CATALOG", Align::Right),
        ("LAST SEEN", Align::Left),
        ("FILES", Align::Right),
    ];
    let with_stats = nodes.iter().any(|n| n.stats.is_some());
    if with_stats {
        columns.extend([
            ("SERVED", Align::Right),
            ("REQUESTS", Align::Right),
            ("PEERS", Align::Right),
            ("SWARMS", Align::Right),
            ("MSG/S", Align::Right),
            ("ERRORS", Align::Right),
            ("DISK FREE", Align::Right),
        ]);
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let mut row = vec![
                n.name.clone(),
                n.state.clone(),
                n.public_url.clone(),
                folders_cell(&n.folders),
                format!("{}/{}", opt_count(n.catalog_seq), n.latest_seq),
                n.last_seen.map_or_else(|| "never".to_owned(), |t| ago(now_ms, t)),
                n.files.to_string(),
            ];
            if with_stats {
                let s = n.stats.clone().unwrap_or_default();
                row.extend([
                    s.bytes_served.map_or_else(|| "-".to_owned(), human_size),
                    opt_count(s.requests),
                    opt_count(s.peers),
                    opt_count(s.swarms),
                    opt_count(s.tracker_messages_per_sec),
                    opt_count(s.errors),
                    s.disk_free_bytes.map_or_else(|| "-".to_owned(), human_size),
                ]);
            }
            row
        })
        .collect();
    render_table(&columns, &rows)
}

/// What `add` prints on standard output: the added videos' table and a count of the files that
/// were already published. Failures are [`render_add_failures`].
pub fn render_add_result(result: &AddResult) -> Vec<String> {
    let mut out = Vec::new();
    if !result.added.is_empty() {
        out.push(format!("added {}:", plural(result.added.len(), "video", "videos")));
        out.extend(render_videos(&result.added));
    }
    if !result.unchanged.is_empty() {
        out.push(format!("{} already published, unchanged", plural(result.unchanged.len(), "file was", "files were")));
    }
    if out.is_empty() && result.failed.is_empty() {
        out.push("nothing added: no video files were found there".to_owned());
    }
    out
}

/// One `error:` line per file `add` could not publish.
pub fn render_add_failures(result: &AddResult) -> Vec<String> {
    result.failed.iter().map(|f| format!("error: could not add {}: {}", clean(&f.path), clean(&f.error))).collect()
}

pub fn render_removed(removed: &Removed) -> Vec<String> {
    if removed.removed.is_empty() {
        return vec!["nothing removed".to_owned()];
    }
    removed.removed.iter().map(|p| format!("removed {}", clean(p))).collect()
}

/// A file name for the node's config, from its name when that is a safe one.
fn config_file_name(node: &str) -> String {
    let safe = !node.is_empty()
        && !node.starts_with('.')
        && node.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        format!("{node}.toml")
    } else {
        "node.toml".to_owned()
    }
}

/// What `node add` says besides the configuration: the credentials and what to do next. With
/// `saved_to`, where the configuration was written; without, it went to standard output alone
/// and these lines go to standard error.
pub fn render_new_node(node: &NewNode, saved_to: Option<&str>) -> Vec<String> {
    let file = match saved_to {
        Some(path) => clean(path),
        None => config_file_name(&node.name),
    };
    let mut out = vec![
        format!("node {} added", clean(&node.name)),
        format!("  token    {}", clean(&node.token)),
        format!("  pin      {}", clean(&node.pin)),
        format!("  control  {}", clean(&node.control)),
        "The token is shown only once: it cannot be shown again (revoke the node and add it anew if it is lost)."
            .to_owned(),
    ];
    out.push(match saved_to {
        Some(_) => format!("Its configuration is in {file} (readable by you alone)."),
        None => format!("Its configuration went to standard output: save it as {file} (`> {file}`), keep it private."),
    });
    out.push(format!(
        "On the node's host, set [[node.folders]] path in {file}, then start it with `vidseed data --config {file}`."
    ));
    out
}

pub fn render_revoked(revoked: &Revoked) -> Vec<String> {
    vec![format!("revoked node {}; it can no longer connect", clean(&revoked.revoked))]
}

/// Followers or followings (`key`): one line per instance, with its state and delivery score.
pub fn render_follows(list: &[FollowInfo], key: &str) -> Vec<String> {
    if list.is_empty() {
        return vec![format!("no {key}")];
    }
    let width = list.iter().map(|f| f.actor.len()).max().unwrap_or(5).max(5);
    let mut out = vec![format!("{:<width$}  {:<8}  SCORE", "ACTOR", "STATE")];
    for f in list {
        out.push(format!("{:<width$}  {:<8}  {}", f.actor, f.state, f.score));
    }
    out
}

/// `key: value` lines, nested keys dotted (`tracker.open: true`).
pub fn render_settings(settings: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match settings {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                flatten_setting(key, value, &mut out);
            }
        }
        Value::Object(_) => out.push("no settings".to_owned()),
        other => out.push(setting_value(other)),
    }
    out
}

fn flatten_setting(key: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten_setting(&format!("{key}.{k}"), v, out);
            }
        }
        _ => out.push(format!("{}: {}", clean(key), setting_value(value))),
    }
}

fn setting_value(value: &Value) -> String {
    let text = match value {
        Value::Null => "(not set)".to_owned(),
        Value::String(s) if s.is_empty() => "\"\"".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "(none)".to_owned(),
        Value::Array(items) if items.iter().all(|v| !v.is_array() && !v.is_object()) => {
            items.iter().map(setting_value).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    };
    clean(&text)
}

// ---------------------------------------------------------------------------------------------
// The ndjson stream of `add`
// ---------------------------------------------------------------------------------------------

/// One line of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Progress(Progress),
    /// The final `{"result": …}`; `raw` is the object as sent (for `--json`).
    Result {
        result: AddResult,
        raw: Value,
    },
    /// A final `{"error": …, "hint": …}`.
    Error(ErrorBody),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("not JSON: {0}")]
    NotJson(String),
    /// A JSON object that is none of the events: skipped, so newer servers may add events.
    #[error("not a progress, result or error event: {0}")]
    Unrecognized(String),
    #[error("malformed {kind} event ({detail})")]
    Malformed { kind: &'static str, detail: String },
}

/// The first 200 bytes of `bytes` as text, control characters replaced (for error messages).
pub fn snippet(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let cut = &bytes[..bytes.len().min(MAX)];
    let mut text = clean(String::from_utf8_lossy(cut).trim());
    if bytes.len() > MAX {
        text.push('…');
    }
    if text.is_empty() {
        "(empty)".to_owned()
    } else {
        text
    }
}

/// Parses one line of `add`'s ndjson answer.
pub fn parse_progress_line(line: &str) -> Result<StreamEvent, LineError> {
    let value: Value = serde_json::from_str(line).map_err(|_| LineError::NotJson(snippet(line.as_bytes())))?;
    parse_event(value, line)
}

/// Interprets one decoded event (`line` is only for error messages).
pub fn parse_event(value: Value, line: &str) -> Result<StreamEvent, LineError> {
    let raw = value.get("result").cloned();
    match AddEvent::from_json(value) {
        Ok(AddEvent::Progress(p)) => Ok(StreamEvent::Progress(p)),
        Ok(AddEvent::Result(result)) => Ok(StreamEvent::Result { result, raw: raw.unwrap_or_default() }),
        Ok(AddEvent::Error(e)) => Ok(StreamEvent::Error(e)),
        Err(EventError::Unrecognized) => Err(LineError::Unrecognized(snippet(line.as_bytes()))),
        Err(EventError::Malformed { kind, detail }) => Err(LineError::Malformed { kind, detail }),
    }
}

/// Why an `add` stream gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("unreadable line in the answer ({0})")]
    Line(LineError),
    #[error("the answer ended before the result")]
    EndedWithoutResult,
    #[error("an answer line is longer than {} MiB", MAX_LINE >> 20)]
    LineTooLong,
    #[error("{}", .0.error)]
    Server(ErrorBody),
}

/// The longest line accepted (a result listing many thousands of videos fits).
pub const MAX_LINE: usize = 64 << 20;

type Outcome = Result<(AddResult, Value), ErrorBody>;

/// Reads `add`'s ndjson answer chunk by chunk, whatever the chunks' boundaries: reports each
/// progress event, keeps the final event; what follows the final event is ignored.
#[derive(Debug, Default)]
pub struct AddStream {
    pending: Vec<u8>,
    outcome: Option<Outcome>,
}

impl AddStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8], on_progress: &mut dyn FnMut(&Progress)) -> Result<(), StreamError> {
        let mut rest = chunk;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let line = if self.pending.is_empty() {
                self.line(&rest[..nl], on_progress)
            } else {
                self.pending.extend_from_slice(&rest[..nl]);
                let line = std::mem::take(&mut self.pending);
                self.line(&line, on_progress)
            };
            line?;
            rest = &rest[nl + 1..];
        }
        if self.pending.len() + rest.len() > MAX_LINE {
            return Err(StreamError::LineTooLong);
        }
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    /// The body ended: a last line without its newline is read, then the final event returned.
    pub fn finish(mut self, on_progress: &mut dyn FnMut(&Progress)) -> Result<(AddResult, Value), StreamError> {
        let last = std::mem::take(&mut self.pending);
        self.line(&last, on_progress)?;
        match self.outcome {
            Some(Ok(result)) => Ok(result),
            Some(Err(error)) => Err(StreamError::Server(error)),
            None => Err(StreamError::EndedWithoutResult),
        }
    }

    fn line(&mut self, bytes: &[u8], on_progress: &mut dyn FnMut(&Progress)) -> Result<(), StreamError> {
        if self.outcome.is_some() || bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let text = std::str::from_utf8(bytes).map_err(|_| StreamError::Line(LineError::NotJson(snippet(bytes))))?;
        match parse_progress_line(text.trim_end_matches('\r')) {
            Ok(StreamEvent::Progress(p)) => on_progress(&p),
            Ok(StreamEvent::Result { result, raw }) => self.outcome = Some(Ok((result, raw))),
            Ok(StreamEvent::Error(e)) => self.outcome = Some(Err(e)),
            Err(LineError::Unrecognized(_)) => {}
            Err(e) => return Err(StreamError::Line(e)),
        }
        Ok(())
    }
}
