//! What `webseed-load` counts and how it reports it: errors by kind (with the first one's
//! description), requests, bytes, latencies, and the report as a table or one JSON object. Pure.

use std::fmt::Write as _;

use crate::options::Args;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrKind {
    /// Unexpected status (GET not 206, OPTIONS not 2xx, ...).
    Status,
    /// `Content-Range` missing or not equal to the requested range and file size.
    ContentRange,
    /// `Content-Length` not equal to the length of the requested range.
    Length,
    /// `Access-Control-Allow-Origin` missing or not matching.
    Cors,
    /// Body bytes differ from the local file (`--verify-file`).
    Verify,
    /// Response that this minimal client cannot frame (chunked, no length, header too large...).
    Protocol,
    /// Read/write error or connection closed mid-response.
    Io,
    /// The exchange took longer than `--timeout`.
    Timeout,
    /// Connection could not be established.
    Connect,
}

pub const ERR_KINDS: [ErrKind; 9] = [
    ErrKind::Status,
    ErrKind::ContentRange,
    ErrKind::Length,
    ErrKind::Cors,
    ErrKind::Verify,
    ErrKind::Protocol,
    ErrKind::Io,
    ErrKind::Timeout,
    ErrKind::Connect,
];

impl ErrKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrKind::Status => "status",
            ErrKind::ContentRange => "content_range",
            ErrKind::Length => "length",
            ErrKind::Cors => "cors",
            ErrKind::Verify => "verify",
            ErrKind::Protocol => "protocol",
            ErrKind::Io => "io",
            ErrKind::Timeout => "timeout",
            ErrKind::Connect => "connect",
        }
    }

    pub fn index(self) -> usize {
        ERR_KINDS.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// An error with a short human-readable description.
pub struct Fail {
    pub kind: ErrKind,
    pub msg: String,
}

pub fn fail(kind: ErrKind, msg: impl Into<String>) -> Fail {
    Fail {
        kind,
        msg: msg.into(),
    }
}

#[derive(Default)]
pub struct Stats {
    pub gets: u64,
    pub options: u64,
    pub payload: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub connects: u64,
    pub errors: [u64; ERR_KINDS.len()],
    pub first_error: Option<String>,
    /// GET latencies in nanoseconds (request write to last body byte).
    pub get_lat: Vec<u64>,
    /// OPTIONS latencies in nanoseconds.
    pub opt_lat: Vec<u64>,
}

impl Stats {
    pub fn record(&mut self, f: Fail) {
        self.errors[f.kind.index()] += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{}: {}", f.kind.name(), f.msg));
        }
    }

    pub fn merge(&mut self, o: Stats) {
        self.gets += o.gets;
        self.options += o.options;
        self.payload += o.payload;
        self.bytes_read += o.bytes_read;
        self.bytes_written += o.bytes_written;
        self.connects += o.connects;
        for (a, b) in self.errors.iter_mut().zip(o.errors) {
            *a += b;
        }
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.get_lat.extend(o.get_lat);
        self.opt_lat.extend(o.opt_lat);
    }

    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// `s` as a JSON string.
fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

pub struct Report<'a> {
    pub args: &'a Args,
    pub file_size: u64,
    pub elapsed: f64,
    pub st: Stats,
}

impl Report<'_> {
    fn summary(&mut self) -> Summary {
        self.st.get_lat.sort_unstable();
        self.st.opt_lat.sort_unstable();
        let lat = &self.st.get_lat;
        let secs = self.elapsed.max(1e-9);
        let mean = if lat.is_empty() {
            0.0
        } else {
            lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64 / 1e6
        };
        Summary {
            get_rps: self.st.gets as f64 / secs,
            total_rps: (self.st.gets + self.st.options) as f64 / secs,
            mb_per_s: self.st.payload as f64 / secs / 1e6,
            p50: ms(percentile(lat, 50.0)),
            p90: ms(percentile(lat, 90.0)),
            p99: ms(percentile(lat, 99.0)),
            max: ms(lat.last().copied().unwrap_or(0)),
            mean,
            opt_p50: ms(percentile(&self.st.opt_lat, 50.0)),
            opt_p99: ms(percentile(&self.st.opt_lat, 99.0)),
        }
    }

    pub fn json(&mut self) -> String {
        let s = self.summary();
        let a = self.args;
        let st = &self.st;
        let mut o = String::with_capacity(1024);
        let _ = write!(
            o,
            "{{\"label\":{},\"url\":{},\"connections\":{},\"threads\":{},\"duration_s\":{},\"elapsed_s\":{:.3},\
             \"range_size\":{},\"file_size\":{},\"align\":{},\"preflight\":{},\"seed\":{},\
             \"gets\":{},\"options\":{},\"requests\":{},\"get_rps\":{:.1},\"total_rps\":{:.1},\
             \"payload_bytes\":{},\"bytes_read\":{},\"bytes_written\":{},\"mb_per_s\":{:.2},\"gb_per_s\":{:.4},\
             \"lat_p50_ms\":{:.3},\"lat_p90_ms\":{:.3},\"lat_p99_ms\":{:.3},\"lat_max_ms\":{:.3},\"lat_mean_ms\":{:.3},\
             \"opt_p50_ms\":{:.3},\"opt_p99_ms\":{:.3},\"connects\":{},\"errors\":{}",
            json_str(&a.label),
            json_str(&a.url),
            a.connections,
            a.threads,
            a.duration,
            self.elapsed,
            a.range_size,
            self.file_size,
            a.align,
            a.preflight,
            a.seed,
            st.gets,
            st.options,
            st.gets + st.options,
            s.get_rps,
            s.total_rps,
            st.payload,
            st.bytes_read,
            st.bytes_written,
            s.mb_per_s,
            s.mb_per_s / 1000.0,
            s.p50,
            s.p90,
            s.p99,
            s.max,
            s.mean,
            s.opt_p50,
            s.opt_p99,
            st.connects,
            st.error_total(),
        );
        for k in ERR_KINDS {
            let _ = write!(o, ",\"err_{}\":{}", k.name(), st.errors[k.index()]);
        }
        let first = st
            .first_error
            .as_deref()
            .map_or("null".to_string(), json_str);
        let _ = write!(o, ",\"first_error\":{first}}}");
        o
    }

    pub fn human(&mut self) -> String {
        let s = self.summary();
        let a = self.args;
        let st = &self.st;
        let mut o = String::new();
        let label = if a.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", a.label)
        };
        let _ = writeln!(o, "webseed-load{label} {}", a.url);
        let _ = writeln!(
            o,
            "  {} connections, {} threads, {:.2} s, range {} B aligned to {} B, file {} B, preflight {}, seed {}",
            a.connections,
            a.threads,
            self.elapsed,
            a.range_size,
            a.align,
            self.file_size,
            if a.preflight { "on" } else { "off" },
            a.seed
        );
        let _ = writeln!(o, "  GET       {:>10}   {:>10.1} req/s", st.gets, s.get_rps);
        if a.preflight {
            let _ = writeln!(
                o,
                "  OPTIONS   {:>10}   {:>10.1} req/s   latency p50 {:.3} ms, p99 {:.3} ms",
                st.options,
                st.options as f64 / self.elapsed.max(1e-9),
                s.opt_p50,
                s.opt_p99
            );
        }
        let _ = writeln!(
            o,
            "  all       {:>10}   {:>10.1} req/s   ({} connects)",
            st.gets + st.options,
            s.total_rps,
            st.connects
        );
        let _ = writeln!(
            o,
            "  payload   {:>10.1} MB   {:>10.1} MB/s   {:.3} GB/s   (bytes read {}, written {})",
            st.payload as f64 / 1e6,
            s.mb_per_s,
            s.mb_per_s / 1000.0,
            st.bytes_read,
            st.bytes_written
        );
        let _ = writeln!(
            o,
            "  latency   p50 {:.3} ms   p90 {:.3} ms   p99 {:.3} ms   max {:.3} ms   mean {:.3} ms   (GET, write to last body byte)",
            s.p50, s.p90, s.p99, s.max, s.mean
        );
        let kinds: Vec<String> = ERR_KINDS
            .iter()
            .filter(|k| st.errors[k.index()] > 0)
            .map(|k| format!("{} {}", k.name(), st.errors[k.index()]))
            .collect();
        let _ = writeln!(
            o,
            "  errors    {}{}",
            st.error_total(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        );
        if let Some(e) = &st.first_error {
            let _ = writeln!(o, "  first error: {e}");
        }
        o
    }
}

pub struct Summary {
    pub get_rps: f64,
    pub total_rps: f64,
    pub mb_per_s: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
    pub opt_p50: f64,
    pub opt_p99: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_json_escaped() {
        assert_eq!(json_str("a \"b\" \\ \n\u{1}é"), r#""a \"b\" \\ \n\u0001é""#);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[], 99.0), 0);
    }
}
