//! Deleting a site's statistics for a period or entirely: what a period means in the site's
//! time zone, what was deleted, and the order that makes it final (queued hits of the period
//! dropped, writes and archive builds held off, then the store's rows, its files compacted and
//! the ingest journal rolled over), the same for owners, the admin API and the CLI.

use crate::ingest::journal::Journal;
use crate::ingest::purge::{Purge, Purges};
use crate::stats::archive::{day_start, Archive};
use crate::store::{Store, StoreError};
use crate::tenancy::sites::Site;
use chrono::{Datelike as _, NaiveDate};
use std::sync::Arc;

/// Local days of a site, both ends included; an open end reaches as far as data goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Why a period cannot be deleted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct BadPeriod {
    /// `from` or `to`.
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: String) -> BadPeriod {
    BadPeriod { field, message }
}

impl Period {
    /// A period from `YYYY-MM-DD` ends (absent or empty: open), checked.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, BadPeriod> {
        let end = |name: &'static str, v: Option<&str>| -> Result<Option<NaiveDate>, BadPeriod> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| bad(name, format!("{name}: {v:?} is not a date like 2024-03-01"))),
            }
        };
        Self {
            from: end("from", from)?,
            to: end("to", to)?,
        }
        .checked()
    }

    /// The period in words (`2024-06-01 – 2024-06-30`, `everything`), English or German.
    pub fn describe(&self, german: bool) -> String {
        let d = |x: Option<NaiveDate>| x.map(|d| d.to_string());
        match (d(self.from), d(self.to)) {
            (None, None) if german => "alle Statistiken".into(),
            (None, None) => "all statistics".into(),
            (Some(f), Some(t)) if f == t => f,
            (Some(f), Some(t)) => format!("{f} – {t}"),
            (Some(f), None) if german => format!("ab {f}"),
            (Some(f), None) => format!("from {f} on"),
            (None, Some(t)) if german => format!("bis {t}"),
            (None, Some(t)) => format!("up to {t}"),
        }
    }

    /// Checks the order of the ends (and that they lie between 1970 and 9999).
    pub fn checked(self) -> Result<Self, BadPeriod> {
        for (name, end) in [("from", self.from), ("to", self.to)] {
            if let Some(d) = end.filter(|d| !(1970..=9999).contains(&d.year())) {
                return Err(bad(
                    name,
                    format!("{name}: {d} is not between 1970 and 9999"),
                ));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(bad(
                    "from",
                    format!("the period's start {from} is after its end {to}"),
                ));
            }
        }
        Ok(self)
    }

    /// Whether the period is everything.
    pub fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// The period in the site's time zone.
    pub fn span(&self, tz: chrono_tz::Tz) -> Span {
        let day = crate::logs::traffic::day_number;
        let (from_day, from_ts) = match self.from {
            Some(d) => (day(d), day_start(tz, day(d))),
            None => (i32::MIN, i64::MIN),
        };
        let (to_day, to_ts) = match self.to {
            Some(d) => (day(d), day_start(tz, day(d) + 1)),
            None => (i32::MAX, i64::MAX),
        };
        Span {
            from_day,
            to_day,
            from_ts,
            to_ts,
        }
    }
}

/// A period as stored: local days `from_day..=to_day` and the times `[from_ts, to_ts)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from_day: i32,
    pub to_day: i32,
    pub from_ts: i64,
    pub to_ts: i64,
}

/// What a deletion removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erased {
    pub events: u64,
    pub visits: u64,
    pub archived_days: u64,
    pub imported_days: u64,
}

/// Deletes statistics for good.
pub struct Eraser {
    store: Arc<dyn Store>,
    archive: Arc<Archive>,
    /// The running server's ingestion: deletions it must honour, and its journal.
    live: Option<(Arc<Purges>, Arc<Journal>)>,
}

impl Eraser {
    /// For the running server.
    pub fn live(
        store: Arc<dyn Store>,
        archive: Arc<Archive>,
        purges: Arc<Purges>,
        journal: Arc<Journal>,
    ) -> Self {
        Self {
            store,
            archive,
            live: Some((purges, journal)),
        }
    }

    /// For a data directory no server runs on.
    pub fn offline(store: Arc<dyn Store>, archive: Arc<Archive>) -> Self {
        Self {
            store,
            archive,
            live: None,
        }
    }

    /// Deletes a site's statistics of `period`: events, visits, day archives and imported
    /// days. When it returns, none of it is in any file the store or the journal keeps.
    pub async fn erase(&self, site: &Site, period: Period) -> Result<Erased, StoreError> {
        let span = period.span(site.tz());
        if let Some((purges, journal)) = &self.live {
            purges.add(Purge {
                site_id: site.id.0,
                from_ts: span.from_ts,
                to_ts: span.to_ts,
                through_seq: journal.last_seq(),
            });
        }
        let erased = self.archive.erase(site.id.0, span).await?;
        let deleted_any =
            erased.events + erased.visits + erased.archived_days + erased.imported_days > 0;
        self.seal(deleted_any).await?;
        Ok(erased)
    }

    /// The archive deletions go through.
    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    /// After deletions: the store's files compacted (when anything was deleted from the
    /// store: on the embedded store a rewrite of the file, 19 s for 10 million events, see
    /// BENCHMARKS.md) and the journal rolled over (always: hits of the period dropped from the
    /// queue are still in it), so that nothing deleted is left in any file.
    pub async fn seal(&self, deleted_any: bool) -> Result<(), StoreError> {
        if deleted_any {
            self.store.compact().await?;
        }
        if let Some((_, journal)) = &self.live {
            journal
                .roll()
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_local_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let span = Period {
            from: d("2024-06-01"),
            to: d("2024-06-02"),
        }
        .span(berlin);
        // 2024-06-01 00:00 in Berlin is 2024-05-31 22:00 UTC.
        assert_eq!(span.from_ts, 1_717_192_800);
        assert_eq!(span.to_ts, 1_717_192_800 + 2 * 86_400);
        assert_eq!(span.to_day - span.from_day, 1);
        let all = Period::default().span(berlin);
        assert_eq!((all.from_ts, all.to_ts), (i64::MIN, i64::MAX));
        assert!(Period {
            from: d("2024-06-02"),
            to: d("2024-06-01"),
        }
        .checked()
        .is_err());
        assert_eq!(
            Period::parse(Some("2024-06-01"), Some(" ")),
            Ok(Period {
                from: d("2024-06-01"),
                to: None
            })
        );
        let bad = Period::parse(None, Some("06/01/2024")).unwrap_err();
        assert_eq!(bad.field, "to");
        assert!(bad.message.starts_with("to: "), "{bad}");
        assert_eq!(Period::default().describe(false), "all statistics");
    }

    proptest::proptest! {
        /// Any text as a period's ends: a period or an error, never a panic; a period's
        /// span is ordered.
        #[test]
        fn any_period_text_is_parsed_or_refused(from in ".{0,12}", to in "[0-9-]{0,12}") {
            if let Ok(p) = Period::parse(Some(&from), Some(&to)) {
                let span = p.span(chrono_tz::Europe::Berlin);
                proptest::prop_assert!(span.from_ts < span.to_ts);
                proptest::prop_assert!(span.from_day <= span.to_day);
            }
        }
    }
}
