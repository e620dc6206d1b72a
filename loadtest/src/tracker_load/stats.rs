//! What `tracker-load` counts and how it reports it: requests, responses by kind, error reasons,
//! stalls, bytes, the client's own CPU time, and the report as text or one JSON object. Pure but
//! for reading the process's CPU time from `/proc`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::messages::Incoming;
use crate::options::Args;

/// Error reasons kept apart; further distinct reasons are summed under "(other reasons)".
const MAX_REASONS: usize = 32;

#[derive(Default, Debug)]
pub struct Stats {
    /// Successful connects (handshake done), including reconnects.
    pub connects: u64,
    pub connect_errors: u64,
    /// Connections lost during the run (closed by the server or an I/O error).
    pub disconnects: u64,
    pub announces: u64,
    pub answers: u64,
    pub scrapes: u64,
    pub resp_announce: u64,
    pub resp_offer: u64,
    pub resp_answer: u64,
    pub resp_scrape: u64,
    pub resp_error: u64,
    pub resp_other: u64,
    /// Waits for a message that ended by `--stall-timeout`.
    pub stalls: u64,
    pub bytes_sent: u64,
    pub bytes_read: u64,
    pub reasons: BTreeMap<String, u64>,
    pub first_error: Option<String>,
}

impl Stats {
    pub fn requests(&self) -> u64 {
        self.announces + self.answers + self.scrapes
    }

    pub fn responses(&self) -> u64 {
        self.resp_announce
            + self.resp_offer
            + self.resp_answer
            + self.resp_scrape
            + self.resp_error
            + self.resp_other
    }

    pub fn note_error(&mut self, what: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    pub fn count(&mut self, msg: &Incoming, len: usize) {
        self.bytes_read += len as u64;
        match msg {
            Incoming::Announce => self.resp_announce += 1,
            Incoming::Offer(_) => self.resp_offer += 1,
            Incoming::Answer => self.resp_answer += 1,
            Incoming::Scrape => self.resp_scrape += 1,
            Incoming::Other => self.resp_other += 1,
            Incoming::Error(reason) => {
                self.resp_error += 1;
                self.add_reason(reason, 1);
            }
        }
    }

    fn add_reason(&mut self, reason: &str, n: u64) {
        if let Some(c) = self.reasons.get_mut(reason) {
            *c += n;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.insert(reason.to_string(), n);
        } else {
            *self
                .reasons
                .entry("(other reasons)".to_string())
                .or_insert(0) += n;
        }
    }

    pub fn merge(&mut self, o: Stats) {
        self.connects += o.connects;
        self.connect_errors += o.connect_errors;
        self.disconnects += o.disconnects;
        self.announces += o.announces;
        self.answers += o.answers;
        self.scrapes += o.scrapes;
        self.resp_announce += o.resp_announce;
        self.resp_offer += o.resp_offer;
        self.resp_answer += o.resp_answer;
        self.resp_scrape += o.resp_scrape;
        self.resp_error += o.resp_error;
        self.resp_other += o.resp_other;
        self.stalls += o.stalls;
        self.bytes_sent += o.bytes_sent;
        self.bytes_read += o.bytes_read;
        for (r, n) in o.reasons {
            self.add_reason(&r, n);
        }
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

pub struct Report<'a> {
    pub args: &'a Args,
    pub torrents: usize,
    /// Connections open when the measurement started.
    pub connected: usize,
    /// Seconds the initial connects took.
    pub connect_s: f64,
    /// Seconds of the measured window.
    pub elapsed: f64,
    /// CPU seconds this client used in the window, if known.
    pub cpu_s: Option<f64>,
    /// Idle mode: announces that got an announce response.
    pub announced: usize,
    /// Responses per second of each `--report-every` interval.
    pub intervals: Vec<f64>,
    pub st: Stats,
}

impl Report<'_> {
    fn rate(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.max(1e-9)
    }

    fn cpu_share(&self) -> Option<f64> {
        self.cpu_s.map(|c| c / self.elapsed.max(1e-9))
    }

    pub fn json(&self) -> String {
        let a = self.args;
        let st = &self.st;
        let v = serde_json::json!({
            "label": a.label,
            "url": a.url,
            "mode": if a.idle { "idle" } else { "load" },
            "connections": a.connections,
            "threads": a.threads,
            "duration_s": a.duration,
            "torrents": self.torrents,
            "offers": a.offers,
            "seeder_ratio": a.seeder_ratio,
            "announce_weight": a.announce_weight,
            "scrape_weight": a.scrape_weight,
            "seed": a.seed,
            "source_ips": a.source_ips,
            "connected": self.connected,
            "connect_s": round3(self.connect_s),
            "elapsed_s": round3(self.elapsed),
            "connects": st.connects,
            "connect_errors": st.connect_errors,
            "disconnects": st.disconnects,
            "requests": st.requests(),
            "announces": st.announces,
            "answers": st.answers,
            "scrapes": st.scrapes,
            "requests_per_s": round1(self.rate(st.requests())),
            "responses": st.responses(),
            "responses_per_s": round1(self.rate(st.responses())),
            "resp_announce": st.resp_announce,
            "resp_offer": st.resp_offer,
            "resp_answer": st.resp_answer,
            "resp_scrape": st.resp_scrape,
            "resp_error": st.resp_error,
            "resp_other": st.resp_other,
            "stalls": st.stalls,
            "announced": self.announced,
            "bytes_sent": st.bytes_sent,
            "bytes_read": st.bytes_read,
            "client_cpu_s": self.cpu_s.map(round3),
            "client_cpu_share": self.cpu_share().map(round3),
            "first_error": st.first_error,
            "interval_responses_per_s": self.intervals,
            "error_reasons": st.reasons,
        });
        v.to_string()
    }

    pub fn human(&self) -> String {
        let a = self.args;
        let st = &self.st;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "tracker-load {}{}: {} connections x {} thread(s), {} torrents, {} offers/announce, {} source address(es)",
            a.url,
            if a.label.is_empty() { String::new() } else { format!(" [{}]", a.label) },
            a.connections,
            a.threads,
            self.torrents,
            a.offers,
            a.source_ips
        );
        let _ = writeln!(
            o,
            "  connected {}/{} in {:.2} s; connects {}, connect errors {}, disconnects {}",
            self.connected,
            a.connections,
            self.connect_s,
            st.connects,
            st.connect_errors,
            st.disconnects
        );
        if a.idle {
            let _ = writeln!(
                o,
                "  idle: {} announced (announce response), {} other replies, held {:.1} s",
                self.announced,
                st.responses() - st.resp_announce,
                self.elapsed
            );
        } else {
            let _ = writeln!(
                o,
                "  requests  {:>10.0}/s  ({} announces, {} answers, {} scrapes in {:.2} s)",
                self.rate(st.requests()),
                st.announces,
                st.answers,
                st.scrapes,
                self.elapsed
            );
            let _ = writeln!(
                o,
                "  responses {:>10.0}/s  (announce {}, offer {}, answer {}, scrape {}, error {}, other {})",
                self.rate(st.responses()),
                st.resp_announce,
                st.resp_offer,
                st.resp_answer,
                st.resp_scrape,
                st.resp_error,
                st.resp_other
            );
            let _ = writeln!(
                o,
                "  stalls {} (no message within {} s)",
                st.stalls, a.stall_timeout
            );
        }
        if let Some(share) = self.cpu_share() {
            let _ = writeln!(
                o,
                "  client CPU {:.2} s = {:.0} % of one core",
                self.cpu_s.unwrap_or(0.0),
                share * 100.0
            );
        }
        for (reason, n) in &st.reasons {
            let _ = writeln!(o, "  error {n:>9}  {reason}");
        }
        if let Some(e) = &st.first_error {
            let _ = writeln!(o, "  first problem: {e}");
        }
        o
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
