//! What every load generator does around its measurement (does I/O): a runtime of `--threads`
//! workers (a current-thread one for one), its report on standard output or its error on
//! standard error (exit code 2), one task per connection with their counts added up, and the
//! process's own CPU time (`/proc/self/stat`).

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::task::JoinHandle;

/// Clock ticks per second of `/proc/self/stat` (USER_HZ, 100 on every Linux ABI in use).
const USER_HZ: f64 = 100.0;

/// What a run prints on standard output, and how the process exits after it.
pub struct Printed {
    pub text: String,
    pub code: ExitCode,
}

/// Runs `tool`'s measurement `work` once `validated` (the options' check) passed, on a runtime
/// of `threads` workers; connections still held by tasks that missed the end are dropped with
/// the runtime after at most a second.
pub fn main(tool: &str, validated: Result<()>, threads: usize, work: impl Future<Output = Result<Printed>>) -> ExitCode {
    let result = validated.and_then(|()| {
        // One thread: a current-thread runtime, whose run queue is one FIFO. A multi-thread
        // runtime's worker keeps 256 woken tasks in its own queue and moves the rest to a global
        // one it looks at every 61 tasks: when a server answers a thousand connections in one
        // burst, those moved wait for many rounds, and the client's own scheduling becomes the
        // tail latency it reports.
        let mut builder = if threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        };
        let rt = builder.enable_all().build().context("cannot start the tokio runtime")?;
        let printed = rt.block_on(work);
        rt.shutdown_timeout(Duration::from_secs(1));
        printed
    });
    match result {
        Ok(printed) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(printed.text.as_bytes());
            let _ = out.flush();
            printed.code
        }
        Err(e) => {
            eprintln!("{tool}: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Waits for every connection's task and adds what each counted onto `total`.
pub async fn gather<S>(mut total: S, tasks: impl IntoIterator<Item = JoinHandle<S>>, merge: impl Fn(&mut S, S)) -> Result<S> {
    for t in tasks {
        merge(&mut total, t.await.context("connection task failed")?);
    }
    Ok(total)
}

/// CPU seconds (user and system) this process has used, when Linux says.
pub fn own_cpu_seconds() -> Option<f64> {
    cpu_seconds_in("/proc/self/stat")
}

/// CPU seconds (user and system, all threads) process `pid` has used, when Linux says.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    cpu_seconds_in(&format!("/proc/{pid}/stat"))
}

fn cpu_seconds_in(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_s_cpu_time_grows() {
        let before = own_cpu_seconds().expect("Linux gives it");
        let spin = (0..5_000_000u64).fold(0u64, |a, x| a.wrapping_add(std::hint::black_box(x) * x));
        assert!(spin > 0);
        assert!(own_cpu_seconds().unwrap() >= before);
        assert!(cpu_seconds_of(std::process::id()).unwrap() >= before);
        assert_eq!(cpu_seconds_of(u32::MAX), None, "no such process");
    }

    #[tokio::test]
    async fn counts_are_added_up_onto_the_start() {
        let tasks: Vec<_> = (1..=3u64).map(|i| tokio::spawn(async move { i })).collect();
        assert_eq!(gather(10, tasks, |t, x| *t += x).await.unwrap(), 16);
    }
}
