//! Wall-clock times as the federation writes them (ActivityPub's `published`, the `created` of
//! Linked Data Signatures, a CacheFile's `expires`): ISO 8601 in UTC with milliseconds, written
//! and read back. Pure.

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

/// Milliseconds since the epoch of an ISO 8601 time as the federation writes them
/// (`2026-11-27T06:55:09.123Z`, fractions and a `±hh:mm` offset allowed); `None` if it is not one.
pub fn parse_iso_8601(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let (y, m, day): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    if date.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        (t, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
        (t, sign * (oh * 60 + om))
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (hh, mm, ss): (i64, i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    if hh > 23 || mm > 59 || ss > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    // Days since 1970-01-01 from a civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss - offset_min * 60;
    secs.checked_mul(1000)?.checked_add(millis)
}

/// The ISO 8601 text of a time in milliseconds since the epoch (a time before it: the epoch).
pub fn iso_of_ms(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    let text = iso_8601(t);
    // iso_8601 writes whole seconds; keep the milliseconds.
    format!("{}{:03}Z", &text[..text.len() - 4], ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{iso_8601, iso_of_ms, parse_iso_8601};

    #[test]
    fn iso_dates_read_back() {
        assert_eq!(parse_iso_8601("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_iso_8601("2026-11-27T06:55:09.000Z"), Some(1_795_762_509_000));
        assert_eq!(parse_iso_8601("2026-11-27T06:55:09.5Z"), Some(1_795_762_509_500));
        assert_eq!(parse_iso_8601("2026-11-27T07:55:09+01:00"), Some(1_795_762_509_000));
        assert_eq!(parse_iso_8601("2000-02-29T23:59:59Z"), Some(951_868_799_000));
        for bad in ["", "2026-11-27", "yesterday", "2026-13-01T00:00:00Z", "2026-11-27T25:00:00Z", "2026-11-27T06:55:09.x1Z", "2026-11-27T06:55:09"] {
            assert_eq!(parse_iso_8601(bad), None, "{bad}");
        }
        assert_eq!(iso_of_ms(1_795_762_509_123), "2026-11-27T06:55:09.123Z");
        assert_eq!(parse_iso_8601(&iso_of_ms(1_795_762_509_123)), Some(1_795_762_509_123));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_8601(UNIX_EPOCH + Duration::from_secs(1_795_762_509)), "2026-11-27T06:55:09.000Z");
        assert_eq!(iso_8601(UNIX_EPOCH + Duration::from_secs(951_868_799)), "2000-02-29T23:59:59.000Z");
    }
}
