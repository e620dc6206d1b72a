//! Log lines: no colour escapes when stderr is not a terminal, JSON lines with stable fields.

use std::process::Command;

use crate::cluster::Proc;
use crate::common::eventually;

/// Starts `vidseed serve` on an empty folder with `args`, waits for `marker` in its log and
/// returns the log so far.
fn log_of(args: &[&str], marker: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_vidseed"));
    command
        .args(args)
        .arg("serve")
        .arg(&media)
        .args(["--control-listen", "127.0.0.1:0", "--data-listen", "127.0.0.1:0", "--data-workers", "1", "--state"])
        .arg(dir.path().join("state"))
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR");
    let proc = Proc::spawn(command);
    eventually(std::time::Duration::from_secs(30), marker, || proc.log().contains(marker).then_some(()));
    proc.log()
}

#[test]
fn text_logs_to_a_pipe_have_no_colour_escapes() {
    let log = log_of(&[], "open files limit");
    assert!(log.contains(" INFO "), "{log}");
    assert!(!log.contains('\x1b'), "escape codes in a log that goes to a pipe: {log:?}");
}

#[test]
fn json_logs_are_one_object_per_line_with_stable_fields() {
    let log = log_of(&["--log-format", "json"], "open files limit");
    let mut seen = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        for field in ["timestamp", "level", "target", "message"] {
            assert!(v[field].is_string(), "no {field} in {line}");
        }
        assert!(["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&v["level"].as_str().unwrap()), "{line}");
        if v["message"].as_str().unwrap().starts_with("open files limit") {
            assert_eq!(v["target"], "vidseed");
            seen += 1;
        }
    }
    assert_eq!(seen, 1, "{log}");
    assert!(!log.contains('\x1b'));
}

#[test]
fn an_invalid_filter_is_said_not_ignored() {
    let log = log_of(&[], "open files limit");
    assert!(!log.contains("not a valid filter"));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vidseed"))
        .args(["serve", "/nonexistent-folder"])
        .arg("--state")
        .arg(dir.path())
        .env("RUST_LOG", "vidseed=[")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RUST_LOG=\"vidseed=[\" is not a valid filter"), "{err}");
}
