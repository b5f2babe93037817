//! The timestamp after a name on a `---`/`+++` line. `diff -N` (and `diff -u` on a missing file)
//! marks a side that does not exist with the Unix epoch, written in the local time zone of the
//! machine that made the diff: `1970-01-01 00:00:00 +0000`, `1969-12-31 16:00:00.000000000 -0800`,
//! or ctime style `Thu Jan  1 00:00:00 1970`. Reading that side as a file would merge a creation
//! into an existing file or empty a file the diff deletes.

/// Split `name<TAB>stamp` (or `name stamp`, when the tab became spaces and what follows the
/// name reads as a date) into the name and the stamp.
pub(super) fn split(raw: &str) -> (&str, Option<&str>) {
    if let Some((name, stamp)) = raw.split_once('\t') {
        return (name, Some(stamp.trim()));
    }
    // The tab turned into spaces: the name ends where a date starts (`2024-01-31`, or a weekday).
    for (i, _) in raw.match_indices(' ') {
        let rest = raw[i..].trim_start();
        if seconds(rest).is_some() || looks_dated(rest) {
            return (raw[..i].trim_end(), Some(rest));
        }
    }
    (raw, None)
}

/// `YYYY-MM-DD` starting the text: a timestamp we cannot read still is not part of the name.
fn looks_dated(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b.get(10).is_none_or(|c| *c == b' ' || *c == b'T')
}

/// The stamp is the epoch in some time zone: exactly, where it names its zone; within the
/// range of real zones (UTC-12 to UTC+14, on a quarter hour) where it does not.
pub(super) fn is_epoch(stamp: &str) -> bool {
    match seconds(stamp) {
        Some((secs, true)) => secs == 0,
        Some((secs, false)) => (-12 * 3600..=14 * 3600).contains(&secs) && secs % 900 == 0,
        None => false,
    }
}

/// Seconds since the epoch a stamp names, and whether it gave its zone. Fractions must be zero
/// (they are for the epoch, and nothing else matters here).
fn seconds(stamp: &str) -> Option<(i64, bool)> {
    let parts: Vec<&str> = stamp.split_whitespace().collect();
    let (date, time, zone) = match parts.as_slice() {
        [date, time] => ((*date, None), *time, None),
        [date, time, zone] if date.contains('-') => ((*date, None), *time, Some(*zone)),
        // ctime: `Thu Jan  1 00:00:00 1970`, maybe with a zone last.
        [_, month, day, time, year] => (("", Some((*month, *day, *year))), *time, None),
        [_, month, day, time, year, zone] => (("", Some((*month, *day, *year))), *time, Some(*zone)),
        _ => return None,
    };
    let (y, m, d) = match date {
        (iso, None) => {
            let mut f = iso.splitn(3, '-').map(|n| n.parse::<i64>().ok());
            (f.next()??, f.next()??, f.next()??)
        }
        (_, Some((month, day, year))) => {
            let m = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .iter()
                .position(|&n| n == month)? as i64
                + 1;
            (year.parse().ok()?, m, day.parse().ok()?)
        }
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    let mut t = hms.splitn(3, ':').map(|n| n.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    let offset = match zone {
        None => 0,
        Some(z) => {
            let (sign, digits) = match z.as_bytes().first()? {
                b'+' => (1, &z[1..]),
                b'-' => (-1, &z[1..]),
                _ => return None,
            };
            let digits = digits.replace(':', "");
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            sign * (digits[..2].parse::<i64>().ok()? * 3600 + digits[2..].parse::<i64>().ok()? * 60)
        }
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s - offset, zone.is_some()))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_in_any_zone_and_nothing_else() {
        for epoch in [
            "1970-01-01 00:00:00.000000000 +0000",
            "1969-12-31 16:00:00.000000000 -0800",
            "1969-12-31 16:00:00 -0800",
            "1970-01-01 05:30:00 +0530",
            "1970-01-01 01:00:00 +01:00",
            "1970-01-01 00:00:00",
            "1969-12-31 19:00:00",
            "Thu Jan  1 00:00:00 1970",
            "Wed Dec 31 16:00:00 1969",
        ] {
            assert!(is_epoch(epoch), "{epoch}");
        }
        for not in [
            "1969-12-31 16:00:00 +0000",
            "1970-01-01 00:00:01 +0000",
            "1970-01-01 00:00:00.5 +0000",
            "2024-05-01 12:00:00 +0200",
            "1970-01-02 00:00:00",
            "Thu Jan  1 00:00:01 1970",
            "1970-01-01",
            "",
            "garbage",
        ] {
            assert!(!is_epoch(not), "{not}");
        }
    }

    #[test]
    fn stamps_split_off_after_a_tab_or_spaces() {
        assert_eq!(split("a/f.py\t1970-01-01 00:00:00 +0000"), ("a/f.py", Some("1970-01-01 00:00:00 +0000")));
        assert_eq!(
            split("a/my file.py  1969-12-31 16:00:00 -0800"),
            ("a/my file.py", Some("1969-12-31 16:00:00 -0800"))
        );
        assert_eq!(split("a/f.py Thu Jan  1 00:00:00 1970"), ("a/f.py", Some("Thu Jan  1 00:00:00 1970")));
        assert_eq!(split("a/my file.py"), ("a/my file.py", None));
        assert_eq!(split("a/notes 2024.md"), ("a/notes 2024.md", None));
    }
}
