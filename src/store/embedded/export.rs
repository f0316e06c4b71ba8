//! Reading events and session versions out of the embedded store, one site and window at a
//! time, and the imported statistics as they are, for `spurlos migrate-store` (the tenancy
//! documents, salts and traffic sums go through their traits).

use super::{query_rows, read_attrs, read_session, Embedded, ATTR_COLUMNS, SESSION_COLUMNS};
use crate::store::{Batch, EventRow, ImportedRow, StoreError};
use duckdb::params;
use std::collections::HashMap;
use std::sync::Arc;

/// What one site holds: its events and session versions, and the first and last UTC second
/// with any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteSpan {
    pub site_id: u32,
    pub rows: u64,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// Imported statistics of one site and source.
pub struct ImportedSource {
    pub site_id: u32,
    pub source: String,
    pub days: Vec<i32>,
    pub rows: Vec<ImportedRow>,
}

impl Embedded {
    /// Every imported row, by site and source.
    pub async fn export_imported(&self) -> Result<Vec<ImportedSource>, StoreError> {
        let rows = self
            .with_reader(|conn| {
                query_rows(
                    conn,
                    "SELECT site_id, source, day, dim, value, visitors::BIGINT, pageviews::BIGINT, \
                     events::BIGINT, visits, visit_pageviews, bounces, duration, timed \
                     FROM imported ORDER BY site_id, source, day",
                    [],
                    "exporting imported statistics",
                    |r| {
                        Ok((
                            r.get::<_, u32>(0)?,
                            r.get::<_, String>(1)?,
                            ImportedRow {
                                day: r.get(2)?,
                                row: super::archive::archive_row(r, r.get(3)?, 4)?,
                                timed: r.get(12)?,
                            },
                        ))
                    },
                )
            })
            .await?;
        let mut out: Vec<ImportedSource> = Vec::new();
        for (site_id, source, row) in rows {
            match out.last_mut() {
                Some(last) if last.site_id == site_id && last.source == source => {
                    if last.days.last() != Some(&row.day) {
                        last.days.push(row.day);
                    }
                    last.rows.push(row);
                }
                _ => out.push(ImportedSource {
                    site_id,
                    source,
                    days: vec![row.day],
                    rows: vec![row],
                }),
            }
        }
        Ok(out)
    }

    /// Every site's span, by site.
    pub async fn export_spans(&self) -> Result<Vec<SiteSpan>, StoreError> {
        self.with_reader(|conn| {
            query_rows(
                conn,
                "SELECT site_id, sum(n), min(lo), max(hi) FROM ( \
                   SELECT site_id, count(*) AS n, min(ts) AS lo, max(ts) AS hi FROM events GROUP BY site_id \
                   UNION ALL SELECT site_id, count(*), min(start_ts), max(start_ts) FROM sessions GROUP BY site_id \
                 ) GROUP BY site_id ORDER BY site_id",
                [],
                "measuring the export",
                |r| {
                    Ok(SiteSpan {
                        site_id: r.get(0)?,
                        rows: r.get::<_, i64>(1)? as u64,
                        first_ts: r.get(2)?,
                        last_ts: r.get(3)?,
                    })
                },
            )
        })
        .await
    }

    /// The events (with props) of one site in `[from, to)` and its session versions that
    /// started then.
    pub async fn export_window(
        &self,
        site_id: u32,
        from: i64,
        to: i64,
    ) -> Result<Batch, StoreError> {
        self.with_reader(move |conn| {
            let mut props: HashMap<u64, Vec<(String, String)>> = HashMap::new();
            for (id, k, v) in query_rows(
                conn,
                "SELECT event_id, key, value FROM props WHERE site_id = ? AND ts >= ? AND ts < ?",
                params![site_id, from, to],
                "exporting props",
                |r| Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
            )? {
                props.entry(id).or_default().push((k, v));
            }
            let events = query_rows(
                conn,
                &format!(
                    "SELECT ts, event_id, session_id, visitor_id, name, interactive, hostname, pathname, {ATTR_COLUMNS} \
                     FROM events WHERE site_id = ? AND ts >= ? AND ts < ? ORDER BY ts"
                ),
                params![site_id, from, to],
                "exporting events",
                |r| {
                    let event_id: u64 = r.get(1)?;
                    Ok(EventRow {
                        site_id,
                        ts: r.get(0)?,
                        event_id,
                        session_id: r.get(2)?,
                        visitor_id: r.get(3)?,
                        name: r.get(4)?,
                        interactive: r.get(5)?,
                        hostname: r.get(6)?,
                        pathname: r.get(7)?,
                        attrs: Arc::new(read_attrs(r, 8)?),
                        props: props.remove(&event_id).unwrap_or_default(),
                    })
                },
            )?;
            let sessions = query_rows(
                conn,
                &format!(
                    "SELECT {SESSION_COLUMNS}, sign FROM sessions \
                     WHERE site_id = ? AND start_ts >= ? AND start_ts < ?"
                ),
                params![site_id, from, to],
                "exporting sessions",
                |r| read_session(r, 0, site_id, r.get(27)?),
            )?;
            Ok(Batch {
                events,
                sessions,
                journal_hi: None,
            })
        })
        .await
    }
}
