use proptest::prelude::*;

use super::*;

fn r(start: u64, end: u64) -> ByteRange {
    ByteRange { start, end }
}

fn p(s: &str, size: u64) -> RangeOutcome {
    parse_range(s.as_bytes(), size)
}

#[test]
fn single_forms() {
    assert_eq!(p("bytes=0-99", 1000), RangeOutcome::Single(r(0, 99)));
    assert_eq!(p("bytes=100-", 1000), RangeOutcome::Single(r(100, 999)));
    assert_eq!(p("bytes=-100", 1000), RangeOutcome::Single(r(900, 999)));
    assert_eq!(p("bytes=-5000", 1000), RangeOutcome::Single(r(0, 999)));
    assert_eq!(p("bytes=990-5000", 1000), RangeOutcome::Single(r(990, 999)));
    assert_eq!(p("BYTES=0-0", 1), RangeOutcome::Single(r(0, 0)));
    assert_eq!(p("bytes=999-999", 1000), RangeOutcome::Single(r(999, 999)));
}

#[test]
fn unsatisfiable() {
    assert_eq!(p("bytes=1000-", 1000), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=1000-2000", 1000), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=-0", 1000), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=0-", 0), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=-10", 0), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=2000-3000, 5000-", 1000), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=99999999999999999999999-", 1000), RangeOutcome::Unsatisfiable);
}

#[test]
fn invalid_is_ignored() {
    for s in [
        "", "bytes", "bytes=", "bytes=,", "bytes=abc", "bytes=5-1", "bytes=1-2-3", "items=0-1",
        "bytes =0-1", "bytes=0x10-", "bytes=-", "bytes=1- 2", "bytes=0-1,x", "bytes=+1-2",
    ] {
        assert_eq!(p(s, 1000), RangeOutcome::Ignore, "{s:?}");
    }
}

#[test]
fn lists_with_whitespace_and_empty_elements() {
    assert_eq!(p("bytes= 0-1 ,, 5-6 ", 10), RangeOutcome::Multi(vec![r(0, 1), r(5, 6)]));
    assert_eq!(p("bytes=0-1,\t", 10), RangeOutcome::Single(r(0, 1)));
    // Only one of two is satisfiable: a plain single range.
    assert_eq!(p("bytes=0-1,50-60", 10), RangeOutcome::Single(r(0, 1)));
    assert_eq!(p("bytes=50-60,-3", 10), RangeOutcome::Single(r(7, 9)));
    assert_eq!(
        p("bytes=0-0,2-2,-1", 10),
        RangeOutcome::Multi(vec![r(0, 0), r(2, 2), r(9, 9)])
    );
}

#[test]
fn overlapping_and_adjacent_ranges_are_merged() {
    // The amplification: 32 times the whole file asked in one request gets it once.
    let all = vec!["0-"; MAX_RANGES].join(",");
    assert_eq!(p(&format!("bytes={all}"), 20_000_000), RangeOutcome::Single(r(0, 19_999_999)));
    assert_eq!(p("bytes=0-9,5-14", 100), RangeOutcome::Single(r(0, 14)));
    assert_eq!(p("bytes=0-4,5-9", 100), RangeOutcome::Single(r(0, 9)), "adjacent");
    assert_eq!(p("bytes=10-19,0-1,3-4,1-3", 100), RangeOutcome::Multi(vec![r(0, 4), r(10, 19)]));
    assert_eq!(p("bytes=-10,90-", 100), RangeOutcome::Single(r(90, 99)));
    assert_eq!(p("bytes=0-0,0-0,0-0", 100), RangeOutcome::Single(r(0, 0)));
    // Apart: kept as asked, in the order asked.
    assert_eq!(p("bytes=50-59,0-1", 100), RangeOutcome::Multi(vec![r(50, 59), r(0, 1)]));
    assert_eq!(p("bytes=0-1,3-4", 100), RangeOutcome::Multi(vec![r(0, 1), r(3, 4)]));
}

#[test]
fn too_many_ranges_are_ignored() {
    let many: Vec<String> = (0..=MAX_RANGES).map(|i| format!("{i}-{i}")).collect();
    assert_eq!(p(&format!("bytes={}", many.join(",")), 1000), RangeOutcome::Ignore);
    let ok: Vec<String> = (0..MAX_RANGES).map(|i| format!("{0}-{0}", 2 * i)).collect();
    assert!(matches!(p(&format!("bytes={}", ok.join(",")), 1000), RangeOutcome::Multi(v) if v.len() == MAX_RANGES));
}

#[test]
fn huge_last_pos_is_clamped() {
    assert_eq!(p("bytes=5-99999999999999999999999", 10), RangeOutcome::Single(r(5, 9)));
}

/// A deliberately naive model of RFC 9110's rules, written with string operations.
fn model(s: &str, size: u64) -> RangeOutcome {
    let Some((unit, set)) = s.split_once('=') else { return RangeOutcome::Ignore };
    if !unit.eq_ignore_ascii_case("bytes") {
        return RangeOutcome::Ignore;
    }
    let elems: Vec<&str> =
        set.split(',').map(|e| e.trim_matches([' ', '\t'])).filter(|e| !e.is_empty()).collect();
    if elems.is_empty() || elems.len() > MAX_RANGES {
        return RangeOutcome::Ignore;
    }
    let num = |t: &str| -> Option<u128> {
        (!t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
            .then(|| t.parse::<u128>().unwrap_or(u128::MAX))
    };
    let size = size as u128;
    let mut out = vec![];
    for e in elems {
        let Some((a, b)) = e.split_once('-') else { return RangeOutcome::Ignore };
        if a.is_empty() {
            let Some(n) = num(b) else { return RangeOutcome::Ignore };
            if n > 0 && size > 0 {
                out.push((size.saturating_sub(n), size - 1));
            }
        } else {
            let Some(first) = num(a) else { return RangeOutcome::Ignore };
            let last = if b.is_empty() {
                u128::MAX
            } else {
                match num(b) {
                    Some(l) => l,
                    None => return RangeOutcome::Ignore,
                }
            };
            if last < first {
                return RangeOutcome::Ignore;
            }
            if first < size {
                out.push((first, last.min(size - 1)));
            }
        }
    }
    // Overlapping or adjacent ranges are merged (then listed in file order); apart, they stay
    // in the order asked.
    let touch = |a: (u128, u128), b: (u128, u128)| a.0 <= b.1 + 1 && b.0 <= a.1 + 1;
    let any_touch = (0..out.len()).any(|i| (i + 1..out.len()).any(|j| touch(out[i], out[j])));
    if any_touch {
        'merge: loop {
            for i in 0..out.len() {
                for j in i + 1..out.len() {
                    if touch(out[i], out[j]) {
                        out[i] = (out[i].0.min(out[j].0), out[i].1.max(out[j].1));
                        out.remove(j);
                        continue 'merge;
                    }
                }
            }
            break;
        }
        out.sort();
    }
    let out: Vec<ByteRange> =
        out.into_iter().map(|(a, b)| ByteRange { start: a as u64, end: b as u64 }).collect();
    match out.len() {
        0 => RangeOutcome::Unsatisfiable,
        1 => RangeOutcome::Single(out[0]),
        _ => RangeOutcome::Multi(out),
    }
}

fn spec_strategy() -> impl Strategy<Value = String> {
    let pos = prop_oneof![0u64..2000, Just(u64::MAX), Just(0u64)].prop_map(|n| n.to_string());
    prop_oneof![
        (pos.clone(), pos.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        pos.clone().prop_map(|a| format!("{a}-")),
        pos.clone().prop_map(|b| format!("-{b}")),
        Just(String::new()),
        "[ \t0-9,x=-]{0,6}",
    ]
}

fn header_strategy() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("bytes="), Just("Bytes="), Just("bits="), Just("bytes"), Just("")],
        prop::collection::vec((spec_strategy(), prop_oneof![Just(","), Just(", "), Just(" ,\t")]), 0..40),
    )
        .prop_map(|(unit, specs)| {
            let mut s = unit.to_string();
            for (i, (spec, sep)) in specs.iter().enumerate() {
                if i > 0 {
                    s.push_str(sep);
                }
                s.push_str(spec);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn agrees_with_model(h in header_strategy(), size in prop_oneof![0u64..3000, Just(u64::MAX)]) {
        prop_assert_eq!(parse_range(h.as_bytes(), size), model(&h, size));
    }

    #[test]
    fn resolved_ranges_are_inside(h in header_strategy(), size in 0u64..3000) {
        match parse_range(h.as_bytes(), size) {
            RangeOutcome::Single(r) => prop_assert!(r.start <= r.end && r.end < size),
            RangeOutcome::Multi(v) => {
                prop_assert!(v.len() >= 2 && v.len() <= MAX_RANGES);
                for r in &v { prop_assert!(r.start <= r.end && r.end < size); }
                // Never a byte twice: the parts hold fewer bytes than the file.
                let total: u64 = v.iter().map(ByteRange::len).sum();
                prop_assert!(total < size, "{} bytes of {}", total, size);
                for (i, a) in v.iter().enumerate() {
                    for b in &v[i + 1..] {
                        prop_assert!(a.end + 1 < b.start || b.end + 1 < a.start, "{:?} and {:?} touch", a, b);
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..64), size in any::<u64>()) {
        let _ = parse_range(&b, size);
    }
}
