//! Imported statistics in ClickHouse: a source's days are replaced by a deletion (waited for)
//! and an insert; reads sum over sources per day and value.

use super::{ch, ClickHouse};
use crate::store::{ArchiveRow, ImportedRow, ImportedStore, StoreFuture};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// One row of the `imported` table.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
struct ImportedRecord {
    site_id: u32,
    day: i32,
    source: String,
    dim: String,
    value: String,
    visitors: u64,
    pageviews: u64,
    events: u64,
    visits: i64,
    visit_pageviews: i64,
    bounces: i64,
    duration: i64,
    timed: u8,
}

/// A summed row as read.
#[derive(Debug, Clone, Row, Deserialize)]
struct ImportedSum {
    day: i32,
    value: String,
    visitors: u64,
    pageviews: u64,
    events: u64,
    visits: i64,
    visit_pageviews: i64,
    bounces: i64,
    duration: i64,
    timed: u8,
}

impl ImportedStore for ClickHouse {
    fn imported_put(
        &self,
        site_id: u32,
        source: String,
        days: Vec<i32>,
        rows: Vec<ImportedRow>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if !days.is_empty() {
                self.client
                    .query("ALTER TABLE imported DELETE WHERE site_id = ? AND source = ? AND has(?, day)")
                    .bind(site_id)
                    .bind(&source)
                    .bind(&days)
                    .execute()
                    .await
                    .map_err(ch("replacing imported statistics"))?;
                super::wait_for_mutations(&self.client).await?;
            }
            if rows.is_empty() {
                return Ok(());
            }
            let mut insert = self
                .client
                .insert::<ImportedRecord>("imported")
                .await
                .map_err(ch("importing statistics"))?;
            for r in rows {
                let a = r.row;
                let record = ImportedRecord {
                    site_id,
                    day: r.day,
                    source: source.clone(),
                    dim: a.dim,
                    value: a.value,
                    visitors: a.visitors,
                    pageviews: a.pageviews,
                    events: a.events,
                    visits: a.visits,
                    visit_pageviews: a.visit_pageviews,
                    bounces: a.bounces,
                    duration: a.duration,
                    timed: u8::from(r.timed),
                };
                insert
                    .write(&record)
                    .await
                    .map_err(ch("importing statistics"))?;
            }
            insert.end().await.map_err(ch("importing statistics"))
        })
    }

    fn imported_delete(&self, site_id: u32, from: i32, to: i32) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let days = self
                .client
                .query("SELECT uniqExact(day) FROM imported WHERE site_id = ? AND day >= ? AND day <= ?")
                .bind(site_id)
                .bind(from)
                .bind(to)
                .fetch_one::<u64>()
                .await
                .map_err(ch("counting imported days"))?;
            if days > 0 {
                self.client
                    .query(
                        "ALTER TABLE imported DELETE WHERE site_id = ? AND day >= ? AND day <= ?",
                    )
                    .bind(site_id)
                    .bind(from)
                    .bind(to)
                    .execute()
                    .await
                    .map_err(ch("deleting imported statistics"))?;
                super::wait_for_mutations(&self.client).await?;
            }
            Ok(days)
        })
    }

    fn imported_days(&self) -> StoreFuture<'_, Vec<(u32, i32)>> {
        Box::pin(async move {
            self.client
                .query("SELECT DISTINCT site_id, day FROM imported ORDER BY site_id, day")
                .fetch_all::<(u32, i32)>()
                .await
                .map_err(ch("listing imported days"))
        })
    }

    fn imported_get(
        &self,
        site_id: u32,
        from: i32,
        to: i32,
        dim: &str,
    ) -> StoreFuture<'_, Vec<ImportedRow>> {
        let dim = dim.to_string();
        Box::pin(async move {
            let rows = self
                .client
                .query(
                    "SELECT day, value, sum(visitors) AS visitors, sum(pageviews) AS pageviews, \
                     sum(events) AS events, sum(visits) AS visits, \
                     sum(visit_pageviews) AS visit_pageviews, sum(bounces) AS bounces, \
                     sum(duration) AS duration, min(timed) AS timed \
                     FROM imported WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ? \
                     GROUP BY day, value ORDER BY day, value",
                )
                .bind(site_id)
                .bind(&dim)
                .bind(from)
                .bind(to)
                .fetch_all::<ImportedSum>()
                .await
                .map_err(ch("reading imported statistics"))?;
            Ok(rows
                .into_iter()
                .map(|r| ImportedRow {
                    day: r.day,
                    row: ArchiveRow {
                        dim: dim.clone(),
                        value: r.value,
                        visitors: r.visitors,
                        pageviews: r.pageviews,
                        events: r.events,
                        visits: r.visits,
                        visit_pageviews: r.visit_pageviews,
                        bounces: r.bounces,
                        duration: r.duration,
                    },
                    timed: r.timed != 0,
                })
                .collect())
        })
    }
}
