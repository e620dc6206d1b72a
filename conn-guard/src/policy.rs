//! When to close a connection, decided from what it did since the last look. Pure: the
//! watchdog (`watched`) samples a connection's counters every tick and passes the time.
//!
//! The rules, nginx's in substance:
//! - a new connection must send its first request within `header` (no byte ever: closed);
//! - a request head must be complete within `header` of its first byte (slowloris);
//! - between requests a kept-alive connection may stay quiet for `keepalive` (nginx: 75 s);
//! - a response the client stops reading is dropped after `send` without progress;
//! - a request being handled may go `request` without any I/O on its connection;
//! - a connection is closed for idling only between requests, never while a request is being
//!   read or answered.

use std::time::Duration;

/// The limits of a connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// For the first request, and for each request head from its first byte.
    pub header: Duration,
    /// Quiet between requests.
    pub keepalive: Duration,
    /// A blocked write without progress.
    pub send: Duration,
    /// A request in hand with no I/O on the connection.
    pub request: Duration,
}

impl Timeouts {
    /// How often to look: a quarter of the shortest limit, between 50 ms and 5 s.
    pub fn tick(&self) -> Duration {
        let shortest = self.header.min(self.keepalive).min(self.send).min(self.request);
        (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}

/// A connection's counters at one look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Reads that returned bytes.
    pub reads: u64,
    /// Writes that took bytes.
    pub writes: u64,
    /// The last write found the socket full.
    pub write_blocked: bool,
    /// Requests handed to the service.
    pub started: u64,
    /// Requests the service has answered.
    pub done: u64,
}

/// What to do with the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Quiet past the first-request or keep-alive limit, between requests.
    Idle,
    /// A request head not complete in time.
    SlowHead,
    /// The client stopped reading a response.
    StalledSend,
    /// A request in hand with no I/O for too long.
    StalledRequest,
}

impl Verdict {
    /// Why the connection was closed, for the log.
    pub fn reason(self) -> &'static str {
        match self {
            Verdict::Keep => "kept",
            Verdict::Idle => "idle",
            Verdict::SlowHead => "request head not complete in time",
            Verdict::StalledSend => "client stopped reading",
            Verdict::StalledRequest => "request stalled",
        }
    }
}

/// One connection's watch.
#[derive(Debug)]
pub struct Watch {
    timeouts: Timeouts,
    last: Sample,
    /// `reads` when the last request started or ended: more since then is a head being read.
    reads_at_boundary: u64,
    quiet: Duration,
    head: Duration,
    stalled: Duration,
}

impl Watch {
    pub fn new(timeouts: Timeouts) -> Watch {
        Watch { timeouts, last: Sample::default(), reads_at_boundary: 0, quiet: Duration::ZERO, head: Duration::ZERO, stalled: Duration::ZERO }
    }

    /// Takes the counters `elapsed` after the previous look and decides.
    pub fn tick(&mut self, now: Sample, elapsed: Duration) -> Verdict {
        let last = self.last;
        self.last = now;
        if now.started != last.started || now.done != last.done {
            self.reads_at_boundary = now.reads;
        }
        let activity = now != last;
        self.quiet = if activity { Duration::ZERO } else { self.quiet + elapsed };
        self.stalled = if now.write_blocked && now.writes == last.writes { self.stalled + elapsed } else { Duration::ZERO };
        let busy = now.started != now.done;
        let head_open = !busy && now.reads != self.reads_at_boundary;
        self.head = if head_open { self.head + elapsed } else { Duration::ZERO };
        let t = &self.timeouts;
        if self.stalled >= t.send {
            return Verdict::StalledSend;
        }
        if busy {
            return if self.quiet >= t.request { Verdict::StalledRequest } else { Verdict::Keep };
        }
        if now.write_blocked {
            return Verdict::Keep; // a response still leaving: the send limit governs
        }
        if head_open {
            return if self.head >= t.header { Verdict::SlowHead } else { Verdict::Keep };
        }
        let limit = if now.started == 0 { t.header } else { t.keepalive };
        if self.quiet >= limit {
            Verdict::Idle
        } else {
            Verdict::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn t() -> Timeouts {
        Timeouts { header: 10 * S, keepalive: 75 * S, send: 60 * S, request: 60 * S }
    }

    /// Ticks `n` seconds with the same sample; the first verdict other than Keep and when.
    fn run(w: &mut Watch, s: Sample, n: u32) -> Option<(u32, Verdict)> {
        (1..=n).find_map(|i| match w.tick(s, S) {
            Verdict::Keep => None,
            v => Some((i, v)),
        })
    }

    #[test]
    fn a_connection_that_never_sends_is_closed_after_the_header_limit() {
        let mut w = Watch::new(t());
        assert_eq!(run(&mut w, Sample::default(), 100), Some((10, Verdict::Idle)));
    }

    #[test]
    fn a_slow_head_is_closed_from_its_first_byte_even_while_bytes_trickle() {
        let mut w = Watch::new(t());
        // A byte every second, never a whole head: activity each tick, yet the head limit holds.
        let verdict = (1..=100).find_map(|i| match w.tick(Sample { reads: i, ..Default::default() }, S) {
            Verdict::Keep => None,
            v => Some((i, v)),
        });
        assert_eq!(verdict, Some((10, Verdict::SlowHead)));
    }

    #[test]
    fn kept_alive_connections_idle_for_the_keepalive_limit_only_between_requests() {
        let mut w = Watch::new(t());
        let answered = Sample { reads: 1, writes: 1, started: 1, done: 1, write_blocked: false };
        assert_eq!(w.tick(answered, S), Verdict::Keep);
        assert_eq!(run(&mut w, answered, 200), Some((75, Verdict::Idle)));
        // The same quiet while a request is in hand is not idling (the request limit governs).
        let mut w = Watch::new(t());
        let in_hand = Sample { reads: 1, started: 1, ..Default::default() };
        assert_eq!(run(&mut w, in_hand, 200), Some((61, Verdict::StalledRequest)));
    }

    #[test]
    fn a_request_arriving_when_the_idle_limit_is_reached_is_served() {
        let mut w = Watch::new(t());
        let answered = Sample { reads: 1, writes: 1, started: 1, done: 1, write_blocked: false };
        w.tick(answered, S);
        assert_eq!(run(&mut w, answered, 73), None);
        // At the tick that would close it, the next request's bytes were read: kept.
        let next = Sample { reads: 2, ..answered };
        assert_eq!(w.tick(next, S), Verdict::Keep);
        let handled = Sample { started: 2, ..next };
        assert_eq!(w.tick(handled, S), Verdict::Keep);
    }

    #[test]
    fn a_reader_that_stops_reading_is_dropped_after_the_send_limit() {
        let mut w = Watch::new(t());
        let sending = Sample { reads: 1, writes: 5, started: 1, done: 1, write_blocked: true };
        w.tick(sending, S);
        // Progress resets the clock; none for 60 s closes.
        assert_eq!(run(&mut w, sending, 59), None);
        assert_eq!(w.tick(Sample { writes: 6, ..sending }, S), Verdict::Keep);
        assert_eq!(run(&mut w, Sample { writes: 6, ..sending }, 200), Some((60, Verdict::StalledSend)));
    }

    #[test]
    fn a_request_body_read_during_the_request_does_not_count_as_a_head_after_it() {
        let mut w = Watch::new(t());
        w.tick(Sample { reads: 1, started: 1, ..Default::default() }, S);
        w.tick(Sample { reads: 40, started: 1, ..Default::default() }, S);
        let answered = Sample { reads: 40, writes: 1, started: 1, done: 1, write_blocked: false };
        assert_eq!(run(&mut w, answered, 200), Some((76, Verdict::Idle)), "keep-alive, not the head limit");
    }

    #[test]
    fn the_tick_is_a_quarter_of_the_shortest_limit_within_bounds() {
        assert_eq!(t().tick(), Duration::from_millis(2500));
        let short = Timeouts { header: Duration::from_millis(100), ..t() };
        assert_eq!(short.tick(), Duration::from_millis(50));
        let long = Timeouts { header: 600 * S, keepalive: 600 * S, send: 600 * S, request: 600 * S };
        assert_eq!(long.tick(), 5 * S);
    }
}
