//! Statistics imported from other tools as day sums (AWStats's history now, exports of other
//! tools later): the request that carries them (admin API, CLI), its checks, and the rows
//! the store keeps. The dashboard and `include.imports` add them on days without native
//! events (`stats::archive`).

use super::archive::archived_dimensions;
use crate::logs::traffic::day_number;
use crate::store::{ArchiveRow, ImportedRow};
use chrono::NaiveDate;

/// Most days one request replaces.
pub const MAX_DAYS: usize = 4000;
/// Most rows in one request.
pub const MAX_ROWS: usize = 200_000;

/// One day's sums of one dimension value (`dim` empty: the day's totals).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedDay {
    pub date: NaiveDate,
    #[serde(default)]
    pub dim: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub visitors: u64,
    #[serde(default)]
    pub pageviews: u64,
    #[serde(default)]
    pub events: u64,
    #[serde(default)]
    pub visits: u64,
    #[serde(default)]
    pub visit_pageviews: u64,
    #[serde(default)]
    pub bounces: u64,
    /// Seconds, summed over the visits.
    #[serde(default)]
    pub duration: u64,
    /// Whether the visits carry bounces and durations.
    #[serde(default)]
    pub timed: bool,
}

/// What an import sends: the source's statistics for `days`, replacing what the same source
/// imported for them before (importing again changes nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Where the statistics come from (`awstats`): 1-32 of a-z, 0-9, `-`.
    pub source: String,
    pub days: Vec<NaiveDate>,
    pub rows: Vec<ImportedDay>,
}

/// Why an import request is refused: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ImportError {
    pub field: String,
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError {
        field: field.into(),
        message: message.into(),
    }
}

impl ImportRequest {
    /// The days (local day numbers) and rows to store, or what is wrong.
    pub fn checked(self) -> Result<(String, Vec<i32>, Vec<ImportedRow>), ImportError> {
        let ok_source = !self.source.is_empty()
            && self.source.len() <= 32
            && self
                .source
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok_source {
            return Err(refuse("source", "1-32 of a-z, 0-9 and -"));
        }
        if self.days.len() > MAX_DAYS {
            return Err(refuse("days", format!("at most {MAX_DAYS} days at once")));
        }
        if self.rows.len() > MAX_ROWS {
            return Err(refuse("rows", format!("at most {MAX_ROWS} rows at once")));
        }
        let dims: Vec<String> = archived_dimensions().iter().map(|d| d.api_name()).collect();
        let days: std::collections::BTreeSet<NaiveDate> = self.days.iter().copied().collect();
        let mut rows = Vec::with_capacity(self.rows.len());
        for (i, r) in self.rows.into_iter().enumerate() {
            let field = |f: &str| format!("rows[{i}].{f}");
            if !days.contains(&r.date) {
                return Err(refuse(field("date"), "not among the days replaced"));
            }
            if !r.dim.is_empty() && !dims.contains(&r.dim) {
                return Err(refuse(field("dim"), format!("one of {}", dims.join(", "))));
            }
            // An empty value of a dimension is "none" (direct visits, an unknown browser).
            if (r.dim.is_empty() && !r.value.is_empty()) || r.value.len() > 2048 {
                return Err(refuse(
                    field("value"),
                    "empty for the day's totals, else at most 2048 bytes",
                ));
            }
            let int = |v: u64, f: &str| i64::try_from(v).map_err(|_| refuse(field(f), "too large"));
            if r.bounces > r.visits {
                return Err(refuse(field("bounces"), "more than the visits"));
            }
            rows.push(ImportedRow {
                day: day_number(r.date),
                timed: r.timed,
                row: ArchiveRow {
                    dim: r.dim,
                    value: r.value,
                    visitors: r.visitors,
                    pageviews: r.pageviews,
                    events: r.events,
                    visits: int(r.visits, "visits")?,
                    visit_pageviews: int(r.visit_pageviews, "visit_pageviews")?,
                    bounces: int(r.bounces, "bounces")?,
                    duration: int(r.duration, "duration")?,
                },
            });
        }
        Ok((
            self.source,
            days.into_iter().map(day_number).collect(),
            rows,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let d = NaiveDate::from_ymd_opt(2016, 4, 1).unwrap();
        let ok = ImportRequest {
            source: "awstats".into(),
            days: vec![d],
            rows: vec![ImportedDay {
                date: d,
                visitors: 3,
                pageviews: 9,
                visits: 3,
                ..Default::default()
            }],
        };
        let (source, days, rows) = ok.clone().checked().unwrap();
        assert_eq!(
            (source.as_str(), days, rows.len()),
            ("awstats", vec![16892], 1)
        );
        let bad = |f: fn(&mut ImportRequest)| {
            let mut r = ok.clone();
            f(&mut r);
            r.checked().unwrap_err().field
        };
        assert_eq!(bad(|r| r.source = "AW Stats".into()), "source");
        assert_eq!(bad(|r| r.days.clear()), "rows[0].date");
        assert_eq!(bad(|r| r.rows[0].dim = "visit:ip".into()), "rows[0].dim");
        assert_eq!(bad(|r| r.rows[0].value = "x".into()), "rows[0].value");
        assert_eq!(bad(|r| r.rows[0].bounces = 4), "rows[0].bounces");
        assert_eq!(bad(|r| r.rows[0].visits = u64::MAX), "rows[0].visits");
    }
}
