use super::*;

/// A worker's clock and CPU time, and the cost of a response each way.
struct Sim {
    now: Instant,
    cpu: Duration,
    copy_ns: u64,
    sendfile_ns: u64,
}

impl Sim {
    fn new(copy_ns: u64, sendfile_ns: u64) -> Self {
        Sim { now: Instant::now(), cpu: Duration::ZERO, copy_ns, sendfile_ns }
    }

    /// Serves `small` small bodies and `large` other responses over one epoch, then ends it.
    fn epoch(&mut self, s: &mut SmallSend, small: u64, large: u64) {
        let per = match s.way() {
            Way::Copy => self.copy_ns,
            Way::Sendfile => self.sendfile_ns,
        };
        for _ in 0..small {
            s.responded(true);
            self.cpu += Duration::from_nanos(per);
        }
        for _ in 0..large {
            s.responded(false);
            self.cpu += Duration::from_nanos(20_000);
        }
        self.now += EPOCH;
        assert!(s.due(self.now));
        s.epoch_over(self.now, self.cpu);
    }

    /// A whole trial's epochs, each with `small` small bodies; returns the way then kept.
    fn trial(&mut self, s: &mut SmallSend, small: u64) -> Way {
        for _ in 0..TRIAL.len() {
            self.epoch(s, small, 0);
        }
        s.way()
    }

    /// An `auto` chooser and its worker, the first epoch started (the worker's first turn).
    fn started(copy_ns: u64, sendfile_ns: u64) -> (SmallSend, Sim) {
        let (mut s, sim) = (SmallSend::new(SmallBodies::Auto), Sim::new(copy_ns, sendfile_ns));
        assert!(s.due(sim.now));
        s.epoch_over(sim.now, sim.cpu);
        (s, sim)
    }
}

#[test]
fn fixed_modes_never_measure_and_never_change() {
    for (mode, way) in [(SmallBodies::Copy, Way::Copy), (SmallBodies::Sendfile, Way::Sendfile)] {
        let mut s = SmallSend::new(mode);
        let now = Instant::now();
        assert!(!s.due(now));
        assert!(!s.due(now + Duration::from_secs(3600)));
        for _ in 0..10_000 {
            s.responded(true);
        }
        assert_eq!(s.way(), way);
    }
}

#[test]
fn a_trial_runs_copy_sendfile_sendfile_copy_and_keeps_the_cheaper() {
    let (mut s, mut sim) = Sim::started(10_000, 7_500);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(s.way());
        sim.epoch(&mut s, 5000, 0);
    }
    assert_eq!(seen, TRIAL);
    assert_eq!(s.decisions, 1);
    assert_eq!(s.kept(), Way::Sendfile);
    assert_eq!(s.way(), Way::Sendfile);

    // And back when the host changes its mind (e.g. another load on the core's cache).
    sim.copy_ns = 6_000;
    for _ in 0..KEEP_EPOCHS {
        assert_eq!(s.way(), Way::Sendfile, "kept between trials");
        sim.epoch(&mut s, 5000, 0);
    }
    assert_eq!(sim.trial(&mut s, 5000), Way::Copy);
    assert_eq!(s.decisions, 2);
}

#[test]
fn copy_is_kept_where_it_is_cheaper() {
    let (mut s, mut sim) = Sim::started(7_000, 9_000);
    assert_eq!(sim.trial(&mut s, 2000), Way::Copy);
    assert_eq!(s.decisions, 1);
}

#[test]
fn a_difference_inside_the_margin_changes_nothing() {
    // Sendfile 2 % cheaper: under the 3 % margin, copy stays.
    let (mut s, mut sim) = Sim::started(10_000, 9_800);
    assert_eq!(sim.trial(&mut s, 2000), Way::Copy);
    assert_eq!(s.decisions, 1);
    // 5 % cheaper: taken.
    sim.sendfile_ns = 9_500;
    for _ in 0..KEEP_EPOCHS + 4 {
        sim.epoch(&mut s, 2000, 0);
    }
    assert_eq!(s.decisions, 2);
    assert_eq!(s.way(), Way::Sendfile);
}

#[test]
fn quiet_epochs_and_large_ranges_decide_nothing() {
    let (mut s, mut sim) = Sim::started(10_000, 5_000);
    // A quiet worker, then one busy with large ranges only: the trial does not move on.
    for _ in 0..20 {
        sim.epoch(&mut s, MIN_SMALL - 1, 0);
        sim.epoch(&mut s, 0, 50_000);
    }
    assert_eq!(s.way(), Way::Copy, "still the trial's first epoch");
    assert_eq!(s.decisions, 0);
    assert_eq!(sim.trial(&mut s, MIN_SMALL), Way::Sendfile);
    assert_eq!(s.decisions, 1);
    // Nor do they count down the time kept.
    for _ in 0..10 * KEEP_EPOCHS {
        sim.epoch(&mut s, 10, 0);
    }
    assert_eq!(s.way(), Way::Sendfile);
    for _ in 0..KEEP_EPOCHS {
        assert_eq!(s.way(), Way::Sendfile);
        sim.epoch(&mut s, MIN_SMALL, 0);
    }
    assert_eq!(s.way(), Way::Copy, "the next trial has begun");
}

#[test]
fn the_measure_is_per_response_so_a_busier_epoch_does_not_look_dearer() {
    // Sendfile is cheaper per response but its epochs carry twice the traffic (a load rising
    // during the trial): per response it still wins.
    let (mut s, mut sim) = Sim::started(10_000, 8_000);
    for small in [2000, 4000, 4000, 2000] {
        sim.epoch(&mut s, small, 0);
    }
    assert_eq!(s.way(), Way::Sendfile);
}

#[test]
fn an_epoch_is_not_over_before_its_time() {
    let mut s = SmallSend::new(SmallBodies::Auto);
    let t0 = Instant::now();
    assert!(s.due(t0), "the first epoch starts at the first turn");
    s.epoch_over(t0, Duration::ZERO);
    assert!(!s.due(t0 + EPOCH / 2));
    assert!(s.due(t0 + EPOCH));
}
