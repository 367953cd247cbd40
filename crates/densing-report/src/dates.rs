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
    Some(days_from_civil(y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Tick positions on a date axis: first days of months, every 1, 2, 3, 6, 12 or
/// 24 months (aligned to the calendar), whichever gives at most ten ticks. Ticks at
/// "nice" day numbers would repeat or skip month names.
pub fn month_ticks(d0: f64, d1: f64) -> Vec<f64> {
    // Beyond ±1e7 days (±27,000 years) a value is not a date; walking its months
    // would take forever (a hand-edited report.json once hung here).
    const MAX_DAYS: f64 = 1e7;
    if !(d0.is_finite() && d1.is_finite() && d1 > d0 && d0 > -MAX_DAYS && d1 < MAX_DAYS) {
        return vec![];
    }
    let (y, m, _) = civil(d0.floor() as i64);
    let mut firsts = Vec::new();
    let mut index = y * 12 + (m - 1);
    loop {
        let day = days_from_civil(index.div_euclid(12), index.rem_euclid(12) + 1, 1) as f64;
        if day > d1 {
            break;
        }
        if day >= d0 {
            firsts.push((index, day));
        }
        index += 1;
    }
    for step in [1, 2, 3, 6, 12, 24] {
        let ticks: Vec<f64> = firsts
            .iter()
            .filter(|(i, _)| i.rem_euclid(step) == 0)
            .map(|(_, d)| *d)
            .collect();
        if ticks.len() <= 10 {
            return ticks;
        }
    }
    firsts
        .iter()
        .filter(|(i, _)| i.rem_euclid(60) == 0)
        .map(|(_, d)| *d)
        .collect()
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
    fn absurd_spans_give_no_ticks_instead_of_hanging() {
        assert!(month_ticks(-1e308, 100.0).is_empty());
        assert!(month_ticks(0.0, 1e308).is_empty());
        assert!(!month_ticks(19_000.0, 20_000.0).is_empty());
    }

    #[test]
    fn round_trips_known_dates() {
        assert_eq!(parse_days("1970-01-01"), Some(0));
        assert_eq!(parse_days("2023-02-24"), Some(19_412));
        for s in ["2000-02-29", "2023-02-24", "2024-12-31", "1999-03-01"] {
            assert_eq!(date_label(parse_days(s).unwrap()), s);
        }
        assert_eq!(parse_days("2023-13-01"), None);
        let ticks = month_ticks(
            parse_days("2024-04-15").unwrap() as f64,
            parse_days("2024-07-20").unwrap() as f64,
        );
        let labels: Vec<String> = ticks.iter().map(|d| month_label(*d)).collect();
        assert_eq!(labels, ["2024-05", "2024-06", "2024-07"]);
        let wide = month_ticks(0.0, 3650.0);
        assert!(wide.len() <= 10 && wide.len() >= 4, "{wide:?}");
        assert_eq!(parse_days("soon"), None);
    }
}
