//! How the binary logs (does I/O: stderr): one line per event, plain text or JSON, filtered by
//! `RUST_LOG`. Colour escapes only when stderr is a terminal (and `NO_COLOR` is unset), so a
//! log file or journald gets clean text.
//!
//! JSON lines have stable field names: `timestamp` (RFC 3339, UTC), `level` (`ERROR` … `TRACE`),
//! `target` (the module that logged), `message`, then the event's own fields under their names
//! (e.g. `copy` for a redundancy copy's id).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The format of the log lines (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The filter: `RUST_LOG` if it is set and valid (e.g. `warn,vidseed_data_plane=debug`), else
/// `info`. An invalid one is said once on stderr, not ignored silently.
fn filter() -> EnvFilter {
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("vidseed: RUST_LOG={spec:?} is not a valid filter ({e}); logging at info");
            EnvFilter::new("info")
        }),
        _ => EnvFilter::new("info"),
    }
}

/// Whether colour escapes may be written: only to a terminal, and not with `NO_COLOR` set.
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the process's logger.
pub(crate) fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_env_filter(filter()).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"))).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).with_ansi(false).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some("1".into())));
        assert!(colour(true, Some("".into())), "an empty NO_COLOR does not count");
    }
}
