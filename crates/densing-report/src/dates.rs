//! Calendar dates as day numbers, so date axes are plain `f64` coordinates and the
//! crate needs no date library.

/// Days since 1970-01-01 for a `YYYY-MM-DD` string (the civil-from-days inverse of
/// Howard Hinnant's algorithm); `None` if it is not such a date.
pub fn parse_days(date: &str) -> Option<i64> {
    let mut parts = date.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.get(..2)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `(year, month, day)` of a day number.
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `YYYY-MM` of a (possibly fractional) day number, for axis ticks.
pub fn month_label(days: f64) -> String {
    let (y, m, _) = civil(days.round() as i64);
    format!("{y}-{m:02}")
}

/// `YYYY-MM-DD` of a day number.
pub fn date_label(days: i64) -> String {
    let (y, m, d) = civil(days);
    format!("{y}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_dates() {
        assert_eq!(parse_days("1970-01-01"), Some(0));
        assert_eq!(parse_days("2023-02-24"), Some(19_412));
        for s in ["2000-02-29", "2023-02-24", "2024-12-31", "1999-03-01"] {
            assert_eq!(date_label(parse_days(s).unwrap()), s);
        }
        assert_eq!(parse_days("2023-13-01"), None);
        assert_eq!(parse_days("soon"), None);
    }
}
