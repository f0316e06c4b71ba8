//! Site time zones: local day boundaries in UTC, and the UTC→local offsets (with DST changes)
//! over a query window, so stores can bucket by local time without time zone support.

use crate::stats::model::Offsets;
use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The UTC instant (seconds) at which local `date` begins in `tz`.
pub fn day_start(tz: Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    local_to_utc(tz, midnight)
}

fn local_to_utc(tz: Tz, local: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp(),
        LocalResult::Ambiguous(a, _) => a.timestamp(),
        // A gap (DST starts at midnight somewhere): the first instant after it.
        LocalResult::None => {
            let later = local + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.timestamp())
                .unwrap_or_else(|| local.and_utc().timestamp())
        }
    }
}

/// Offset (seconds east of UTC) of `tz` at UTC second `ts`.
pub fn offset_at(tz: Tz, ts: i64) -> i64 {
    let utc = Utc.timestamp_opt(ts, 0).single().unwrap_or_default();
    i64::from(
        tz.offset_from_utc_datetime(&utc.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// The offsets of `tz` over `[from, to)`.
pub fn offsets(tz: Tz, from: i64, to: i64) -> Offsets {
    let base = offset_at(tz, from);
    let mut transitions = Vec::new();
    let mut current = base;
    let mut t = from;
    const STEP: i64 = 6 * 3600;
    while t < to {
        let next = (t + STEP).min(to);
        let off = offset_at(tz, next);
        if off != current {
            // Find the first second with the new offset in (t, next].
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            transitions.push((hi, off));
            current = off;
        }
        t = next;
    }
    Offsets { base, transitions }
}

/// Local-time (seconds, as if UTC) starts of the months that `[from, to)` touches in `tz`.
pub fn month_starts(tz: Tz, from: i64, to: i64) -> Vec<i64> {
    let local = |ts: i64| {
        Utc.timestamp_opt(ts + offset_at(tz, ts), 0)
            .single()
            .unwrap_or_default()
            .date_naive()
    };
    let (first, last) = (local(from), local(to.max(from + 1) - 1));
    let mut out = Vec::new();
    let mut y = first.year();
    let mut m = first.month();
    while (y, m) <= (last.year(), last.month()) {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m, 1) {
            out.push(
                d.and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc()
                    .timestamp(),
            );
        }
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dst_transitions() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let from = day_start(tz, NaiveDate::from_ymd_opt(2024, 3, 30).unwrap());
        let to = day_start(tz, NaiveDate::from_ymd_opt(2024, 4, 2).unwrap());
        let o = offsets(tz, from, to);
        assert_eq!(o.base, 3600);
        // 2024-03-31 01:00 UTC Berlin moves to +02:00.
        assert_eq!(o.transitions, vec![(1711846800, 7200)]);
        assert_eq!(from, 1711753200);
    }

    #[test]
    fn lists_month_starts() {
        let tz: Tz = "UTC".parse().unwrap();
        let from = day_start(tz, NaiveDate::from_ymd_opt(2024, 1, 15).unwrap());
        let to = day_start(tz, NaiveDate::from_ymd_opt(2024, 3, 2).unwrap());
        assert_eq!(month_starts(tz, from, to).len(), 3);
    }
}
