//! How a ring worker sends small bodies (shorter than `[http] sendfile_min`, pages in memory):
//! copied into the socket by the ring's `sendmsg`, or by `sendfile` from the page cache. Which
//! costs the worker less depends on the host (its memory's speed, its caches, what else runs
//! on the core), so with `small_bodies = "auto"` each worker measures both on its own traffic:
//! a trial of four short epochs (copy, sendfile, sendfile, copy: a steady drift in load weighs
//! on both alike), its own CPU time per response in each, then the cheaper way is kept for
//! [`KEEP_EPOCHS`] epochs of such traffic before the next trial. Epochs with too few small
//! bodies (a quiet worker, or large ranges only) decide nothing and are not counted.
//!
//! Sans I/O: the worker tells the time, its thread's CPU time and its responses; this module
//! only counts and decides (`tests` runs it on made-up costs).

use std::time::{Duration, Instant};

/// `[http] small_bodies`: how in-memory bodies below `sendfile_min` leave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmallBodies {
    /// Each worker measures both ways and keeps the cheaper (the default).
    #[default]
    Auto,
    /// The ring's `sendmsg`: the kernel copies the body from the mapping into the socket.
    Copy,
    /// `sendfile`: the page cache's pages go to the socket uncopied.
    Sendfile,
}

/// One of the two ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    Copy,
    Sendfile,
}

/// How long one epoch lasts.
pub const EPOCH: Duration = Duration::from_millis(250);
/// Small-body responses an epoch needs to count (4 000 a second): below that the worker is
/// quiet enough that the two ways' cost does not matter, and a measure would be mostly noise.
pub const MIN_SMALL: u64 = 1000;
/// Epochs (of enough small bodies) the chosen way is kept before the next trial: 20 s, so that
/// the trial's two epochs on the dearer way are under a tenth of the time.
pub const KEEP_EPOCHS: u32 = 80;
/// The other way is taken only if it costs at least this fraction less than the kept one (in
/// thousandths): a difference inside the measure's noise changes nothing.
const MARGIN_PER_MILLE: u128 = 30;
/// The trial's epochs, in order.
const TRIAL: [Way; 4] = [Way::Copy, Way::Sendfile, Way::Sendfile, Way::Copy];

/// A worker's choice, and the counts it is made from.
#[derive(Debug)]
pub struct SmallSend {
    auto: bool,
    way: Way,
    /// In a trial: the index into [`TRIAL`] of the running epoch; `None` while keeping.
    trial: Option<usize>,
    /// Epochs of enough traffic left before the next trial.
    keep_left: u32,
    /// The running epoch: when it started, the thread's CPU time then, responses and small
    /// bodies since.
    started: Option<(Instant, Duration)>,
    responses: u64,
    small: u64,
    /// The trial so far, per way (copy, sendfile): CPU time and responses.
    spent: [(Duration, u64); 2],
    /// Trials ended (what the tests look at).
    decisions: u64,
}

impl SmallSend {
    pub fn new(mode: SmallBodies) -> Self {
        let (auto, way) = match mode {
            SmallBodies::Auto => (true, Way::Copy),
            SmallBodies::Copy => (false, Way::Copy),
            SmallBodies::Sendfile => (false, Way::Sendfile),
        };
        SmallSend { auto, way, trial: auto.then_some(0), keep_left: 0, started: None, responses: 0, small: 0, spent: [(Duration::ZERO, 0); 2], decisions: 0 }
    }

    /// The way the next small body leaves.
    #[inline]
    pub fn way(&self) -> Way {
        match self.trial {
            Some(i) => TRIAL[i],
            None => self.way,
        }
    }

    /// The way kept between trials (the last decision).
    pub fn kept(&self) -> Way {
        self.way
    }

    /// Counts a response; `small` if its body was one this module decides for.
    #[inline]
    pub fn responded(&mut self, small: bool) {
        self.responses += 1;
        self.small += u64::from(small);
    }

    /// Whether the running epoch is over at `now` (the worker then reads its CPU time and
    /// calls [`SmallSend::epoch_over`]); a fixed mode never asks.
    #[inline]
    pub fn due(&self, now: Instant) -> bool {
        self.auto && self.started.is_none_or(|(at, _)| now.duration_since(at) >= EPOCH)
    }

    /// Ends the running epoch at `now`, the worker's thread having used `cpu` so far, and
    /// starts the next.
    pub fn epoch_over(&mut self, now: Instant, cpu: Duration) {
        let last = self.started.replace((now, cpu));
        let (responses, small) = (std::mem::take(&mut self.responses), std::mem::take(&mut self.small));
        let Some((_, cpu_then)) = last else { return };
        if small < MIN_SMALL {
            // Too quiet, or not the traffic this is about: the epoch is run again.
            return;
        }
        let Some(i) = self.trial else {
            self.keep_left = self.keep_left.saturating_sub(1);
            if self.keep_left == 0 {
                self.trial = Some(0);
                self.spent = [(Duration::ZERO, 0); 2];
            }
            return;
        };
        let slot = &mut self.spent[TRIAL[i] as usize];
        slot.0 += cpu.saturating_sub(cpu_then);
        slot.1 += responses;
        if i + 1 < TRIAL.len() {
            self.trial = Some(i + 1);
            return;
        }
        self.trial = None;
        self.keep_left = KEEP_EPOCHS;
        self.decisions += 1;
        let per = |(cpu, n): (Duration, u64)| cpu.as_nanos() * 1000 / u128::from(n.max(1));
        let (copy, sendfile) = (per(self.spent[0]), per(self.spent[1]));
        let (kept, other, other_way) = match self.way {
            Way::Copy => (copy, sendfile, Way::Sendfile),
            Way::Sendfile => (sendfile, copy, Way::Copy),
        };
        if other * 1000 < kept * (1000 - MARGIN_PER_MILLE) {
            self.way = other_way;
        }
    }
}

#[cfg(test)]
mod tests;
