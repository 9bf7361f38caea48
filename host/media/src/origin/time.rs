//! Time formatting for manifests: ISO 8601 UTC instants with milliseconds (MPD
//! `availabilityStartTime`, `/media/time`, HLS `PROGRAM-DATE-TIME`), `xs:duration` values,
//! decimal seconds, and conversions between nanoseconds and a track's timescale.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2024-05-01T12:34:56.789Z`. Instants before 1970 print as the epoch.
pub fn iso8601(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()) as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fff…]Z` (what [`iso8601`] writes).
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let frac = s.get(19..s.len() - 1)?;
    let nanos = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<u64>().ok()? * 10u64.pow(9 - f.len() as u32)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos as u32))
}

/// Whole milliseconds since the epoch.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn from_epoch_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Decimal seconds with up to millisecond precision, no trailing zeros: `2`, `0.8`, `1.25`.
pub fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    let (s, f) = (ms / 1000, ms % 1000);
    if f == 0 {
        return s.to_string();
    }
    let frac = format!("{f:03}");
    format!("{s}.{}", frac.trim_end_matches('0'))
}

/// `xs:duration`: `PT2S`, `PT0.8S`, `PT7325.5S`.
pub fn xs_duration(d: Duration) -> String {
    format!("PT{}S", secs(d))
}

/// Nanoseconds → ticks of `timescale`, rounded to nearest.
pub fn to_timescale(ns: u64, timescale: u32) -> u64 {
    ((ns as u128 * timescale as u128 + 500_000_000) / 1_000_000_000) as u64
}

/// Ticks of `timescale` → a duration.
pub fn from_timescale(ticks: u64, timescale: u32) -> Duration {
    let ns = ticks as u128 * 1_000_000_000 / timescale.max(1) as u128;
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_714_566_896_789);
        assert_eq!(iso8601(t), "2024-05-01T12:34:56.789Z");
        assert_eq!(parse_iso8601("2024-05-01T12:34:56.789Z"), Some(t));
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(from_epoch_ms(951_782_400_000)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            parse_iso8601("2000-02-29T00:00:00Z"),
            Some(from_epoch_ms(951_782_400_000))
        );
        for bad in [
            "",
            "2024-05-01 12:34:56Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T00:00:00.Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_and_timescales() {
        assert_eq!(xs_duration(Duration::from_secs(2)), "PT2S");
        assert_eq!(xs_duration(Duration::from_millis(800)), "PT0.8S");
        assert_eq!(secs(Duration::from_millis(1250)), "1.25");
        assert_eq!(to_timescale(2_000_000_000, 90_000), 180_000);
        assert_eq!(to_timescale(1_000_000, 48_000), 48);
        assert_eq!(to_timescale(20_833, 48_000), 1); // 0.99999 ticks rounds to 1
        assert_eq!(from_timescale(90_000, 90_000), Duration::from_secs(1));
        assert_eq!(
            from_timescale(1024, 48_000),
            Duration::from_nanos(21_333_333)
        );
    }
}
