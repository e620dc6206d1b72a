use std::cell::Cell;

use super::*;

/// A table and counters of the questions it asked: (region questions, exact questions).
fn ask(r: &mut Residency, addr: usize, len: usize, now: Instant, region: Option<bool>, exact: bool, asked: &Cell<(u32, u32)>) -> bool {
    let mut by_region = |_: usize| {
        asked.set((asked.get().0 + 1, asked.get().1));
        region
    };
    let mut by_body = || {
        asked.set((asked.get().0, asked.get().1 + 1));
        exact
    };
    r.check(addr, len, now, &mut by_region, &mut by_body)
}

#[test]
fn a_region_found_in_memory_is_not_asked_about_again_for_a_second() {
    let (mut r, asked, t0) = (Residency::default(), Cell::new((0, 0)), Instant::now());
    let at = 7 * REGION + 4096;
    assert!(ask(&mut r, at, 256 << 10, t0, Some(true), false, &asked));
    assert_eq!(asked.get(), (1, 0), "one question about the region, none about the body");
    for i in 0..100 {
        assert!(ask(&mut r, 7 * REGION + i * 8192, 16 << 10, t0 + Duration::from_millis(i as u64), Some(true), false, &asked));
    }
    assert_eq!(asked.get(), (1, 0), "bodies in the same region within the second: no question");
    assert!(ask(&mut r, at, 4096, t0 + FRESH, Some(true), false, &asked));
    assert_eq!(asked.get(), (2, 0), "asked again once the answer is a second old");
}

#[test]
fn a_region_with_a_page_on_disk_sends_every_body_to_the_exact_question() {
    let (mut r, asked, t0) = (Residency::default(), Cell::new((0, 0)), Instant::now());
    assert!(!ask(&mut r, 3 * REGION, 4096, t0, Some(false), false, &asked), "the body is on disk");
    assert!(ask(&mut r, 3 * REGION + 8192, 4096, t0, Some(false), true, &asked), "this body is in memory");
    assert_eq!(asked.get(), (1, 2), "the region once, then each body exactly");
    // A region mincore cannot answer for (part of it is not mapped) is treated the same way.
    assert!(!ask(&mut r, 9 * REGION, 4096, t0, None, false, &asked));
    assert_eq!(asked.get(), (2, 3));
    // Once fresh answers say otherwise, the region is remembered as in memory.
    assert!(ask(&mut r, 3 * REGION, 4096, t0 + FRESH, Some(true), false, &asked));
    assert!(ask(&mut r, 3 * REGION, 4096, t0 + FRESH, Some(true), false, &asked));
    assert_eq!(asked.get(), (3, 3));
}

#[test]
fn a_body_is_in_memory_only_if_every_region_it_spans_is() {
    let (mut r, asked, t0) = (Residency::default(), Cell::new((0, 0)), Instant::now());
    // Two regions: the first in memory, the second not.
    assert!(ask(&mut r, 20 * REGION, REGION, t0, Some(true), false, &asked));
    assert!(!ask(&mut r, 21 * REGION - 4096, 8192, t0, Some(false), false, &asked), "spans into a region on disk");
    assert_eq!(asked.get(), (2, 1));
    // Larger than MAX_REGIONS regions: always the exact question.
    assert!(ask(&mut r, 40 * REGION, MAX_REGIONS * REGION + 1, t0, Some(true), true, &asked));
    assert_eq!(asked.get(), (2, 2));
    assert!(ask(&mut r, 1234, 0, t0, None, false, &asked), "nothing to send is in memory");
    assert_eq!(asked.get(), (2, 2));
}

#[test]
fn pages_in_memory_are_told_from_pages_on_disk() {
    let heap = vec![7u8; 100_000];
    assert!(in_memory(&heap), "the heap is resident");
    assert!(in_memory(&[]));
    // On the build's disk (a tmpfs keeps its pages: they could not be dropped).
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let dir = tempfile::tempdir_in(if target.is_dir() { target } else { std::env::temp_dir() }).unwrap();
    let path = dir.path().join("cold.bin");
    std::fs::write(&path, vec![1u8; 4 << 20]).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    // SAFETY: the file is not changed while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    // Drop its pages from the page cache (written pages must reach the disk first).
    file.sync_all().unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    assert!(!in_memory(&map[..]), "just dropped from the page cache");
    let mut table = Residency::default();
    let now = Instant::now();
    assert!(!table.in_memory(&map[REGION..REGION + 4096], now), "the table asks the kernel too");
    // Read by read(2), not through the mapping: pages mapped into this process could not be
    // dropped again below.
    assert_eq!(std::fs::read(&path).unwrap().len(), 4 << 20);
    assert!(in_memory(&map[4096..8192]), "read since");
    assert!(table.in_memory(&map[REGION..REGION + 4096], now), "a region not wholly in memory is not remembered as such: its bodies are asked about");
    let later = now + FRESH;
    assert!(table.in_memory(&map[REGION + 8192..REGION + 16384], later), "in memory, region and all");
    // Evicted again: once the remembered answer is a second old, the kernel is asked again.
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    assert!(!table.in_memory(&map[REGION + 8192..REGION + 16384], later + FRESH), "asked again, and on disk");
}
