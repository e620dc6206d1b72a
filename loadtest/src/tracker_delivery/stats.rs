//! What `tracker-delivery` counts: messages by kind, answers sent, connections lost, and relay
//! latencies in a log-linear histogram (fixed size, no allocation per value). Pure.

/// Latencies in microseconds: exact below 64 µs, then 16 buckets per power of two (≤ 6 %
/// error) up to ~2^40 µs.
#[derive(Clone, Debug)]
pub struct Hist {
    buckets: Vec<u64>,
    count: u64,
}

const SUB: u32 = 16;
const LINEAR: u64 = 64;

impl Default for Hist {
    fn default() -> Self {
        Hist { buckets: vec![0; (LINEAR as usize) + 40 * SUB as usize], count: 0 }
    }
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // ≥ 6
    let sub = (v >> (e - 4)) & u64::from(SUB - 1);
    (LINEAR as usize + (e as usize - 6) * SUB as usize + sub as usize).min(LINEAR as usize + 40 * SUB as usize - 1)
}

/// The smallest value of bucket `i`.
fn lower(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let k = i - LINEAR as usize;
    let e = (k / SUB as usize) as u32 + 6;
    let sub = (k % SUB as usize) as u64;
    (1u64 << e) | (sub << (e - 4))
}

impl Hist {
    pub fn add(&mut self, v: u64) {
        self.buckets[index(v)] += 1;
        self.count += 1;
    }

    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.count += o.count;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1), as its bucket's lower bound; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((self.count as f64 * q).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(lower(i));
            }
        }
        None
    }

    /// Everything counted after `earlier` (a copy taken before).
    pub fn since(&self, earlier: &Hist) -> Hist {
        Hist { buckets: self.buckets.iter().zip(&earlier.buckets).map(|(a, b)| a - b).collect(), count: self.count - earlier.count }
    }
}

/// Counts of one group of connections, or of all.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Responses to announces.
    pub announced: u64,
    /// Offers relayed to us.
    pub offers: u64,
    /// Answers relayed to us.
    pub answers: u64,
    /// Answers we sent.
    pub answers_sent: u64,
    /// Messages with a `failure reason`.
    pub failures: u64,
    pub other: u64,
    /// Connections the tracker closed (or that broke).
    pub closed: u64,
    /// Connections that sent something that is not a server frame.
    pub broken: u64,
    pub offer_relay: Hist,
    pub answer_relay: Hist,
}

impl Counts {
    pub fn messages(&self) -> u64 {
        self.announced + self.offers + self.answers + self.failures + self.other
    }

    pub fn merge(&mut self, o: &Counts) {
        self.announced += o.announced;
        self.offers += o.offers;
        self.answers += o.answers;
        self.answers_sent += o.answers_sent;
        self.failures += o.failures;
        self.other += o.other;
        self.closed += o.closed;
        self.broken += o.broken;
        self.offer_relay.merge(&o.offer_relay);
        self.answer_relay.merge(&o.answer_relay);
    }

    /// Moves the plain counts (not the histograms) of `from` onto these: what a reader hands
    /// over after each read, so that the run sees its progress at once.
    pub fn take_scalars(&mut self, from: &mut Counts) {
        use std::mem::take;
        self.announced += take(&mut from.announced);
        self.offers += take(&mut from.offers);
        self.answers += take(&mut from.answers);
        self.answers_sent += take(&mut from.answers_sent);
        self.failures += take(&mut from.failures);
        self.other += take(&mut from.other);
        self.closed += take(&mut from.closed);
        self.broken += take(&mut from.broken);
    }

    /// Takes what a reader counted since it last did: its plain counts (`from`'s become zero)
    /// and its relay latencies (`true`: an offer's, `false`: an answer's; `relays` is emptied).
    /// A reader's latencies go to its group's histograms, which stay in the cache, where one
    /// per reader (a thousand of them) would not.
    pub fn hand_over(&mut self, from: &mut Counts, relays: &mut Vec<(bool, u64)>) {
        self.take_scalars(from);
        for (offer, micros) in relays.drain(..) {
            if offer {
                self.offer_relay.add(micros);
            } else {
                self.answer_relay.add(micros);
            }
        }
    }

    /// What was counted after `earlier`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            announced: self.announced - earlier.announced,
            offers: self.offers - earlier.offers,
            answers: self.answers - earlier.answers,
            answers_sent: self.answers_sent - earlier.answers_sent,
            failures: self.failures - earlier.failures,
            other: self.other - earlier.other,
            closed: self.closed - earlier.closed,
            broken: self.broken - earlier.broken,
            offer_relay: self.offer_relay.since(&earlier.offer_relay),
            answer_relay: self.answer_relay.since(&earlier.answer_relay),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_close() {
        let mut last = 0;
        for v in (0..100_000u64).step_by(7).chain([1 << 30, 1 << 39]) {
            let i = index(v);
            assert!(i >= last, "monotonic at {v}");
            last = i;
            let lo = lower(i);
            assert!(lo <= v && (v - lo) as f64 <= v as f64 * 0.0625 + 1.0, "{v} in bucket from {lo}");
        }
        assert_eq!(index(u64::MAX), LINEAR as usize + 40 * SUB as usize - 1, "the last bucket holds the rest");
    }

    #[test]
    fn quantiles_and_differences() {
        let mut h = Hist::default();
        assert_eq!(h.quantile(0.99), None);
        for v in 1..=100 {
            h.add(v * 10);
        }
        let p50 = h.quantile(0.5).unwrap();
        assert!((470..=500).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99).unwrap();
        assert!((930..=990).contains(&p99), "{p99}");
        let before = h.clone();
        h.add(5);
        let d = h.since(&before);
        assert_eq!((d.count(), d.quantile(1.0)), (1, Some(5)));
        let mut c = Counts { announced: 3, offers: 2, ..Counts::default() };
        let base = c.clone();
        c.merge(&Counts { announced: 1, answers_sent: 4, ..Counts::default() });
        let d = c.since(&base);
        assert_eq!((d.announced, d.offers, d.answers_sent, d.messages()), (1, 0, 4, 1));
        let mut reader = Counts { offers: 2, ..Counts::default() };
        reader.offer_relay.add(7);
        c.take_scalars(&mut reader);
        assert_eq!((c.offers, reader.offers, reader.offer_relay.count(), c.offer_relay.count()), (4, 0, 1, 0), "histograms stay with the reader");
    }

    #[test]
    fn relays_go_to_their_own_histogram_and_leave_the_reader() {
        let mut group = Counts::default();
        let mut reader = Counts { offers: 3, answers: 1, ..Counts::default() };
        let mut relays = vec![(true, 100), (false, 3), (true, 200), (true, 300)];
        group.hand_over(&mut reader, &mut relays);
        assert!(relays.is_empty());
        assert_eq!((group.offers, group.answers, reader.offers, reader.answers), (3, 1, 0, 0));
        assert_eq!((group.offer_relay.count(), group.answer_relay.count()), (3, 1));
        assert_eq!(group.answer_relay.quantile(1.0), Some(3));
        let max = group.offer_relay.quantile(1.0).unwrap();
        assert!((288..=300).contains(&max), "{max}");
    }
}
