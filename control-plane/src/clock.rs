//! Wall-clock times as the federation writes them (ActivityPub's `published`, the `created` of
//! Linked Data Signatures): ISO 8601 in UTC with milliseconds. Pure.

/// `2026-11-27T06:55:00.000Z` for a time.
pub fn iso_8601(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::iso_8601;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_8601(UNIX_EPOCH + Duration::from_secs(1_795_762_509)), "2026-11-27T06:55:09.000Z");
        assert_eq!(iso_8601(UNIX_EPOCH + Duration::from_secs(951_868_799)), "2000-02-29T23:59:59.000Z");
    }
}
