//! The embedded store's imported statistics: a source's days replaced in one transaction,
//! read back per dimension and day range (summed over sources).

use super::archive::archive_row;
use super::{db, query_rows, Embedded};
use crate::store::{ImportedRow, ImportedStore, StoreFuture};

impl ImportedStore for Embedded {
    fn imported_put(
        &self,
        site_id: u32,
        source: String,
        days: Vec<i32>,
        rows: Vec<ImportedRow>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("importing statistics"))?;
                for day in &days {
                    tx.execute(
                        "DELETE FROM imported WHERE site_id = ? AND source = ? AND day = ?",
                        duckdb::params![site_id, source, day],
                    )
                    .map_err(db("replacing imported statistics"))?;
                }
                {
                    let mut app = tx
                        .appender("imported")
                        .map_err(db("importing statistics"))?;
                    for r in &rows {
                        let a = &r.row;
                        app.append_row(duckdb::params![
                            site_id,
                            r.day,
                            source,
                            a.dim,
                            a.value,
                            a.visitors,
                            a.pageviews,
                            a.events,
                            a.visits,
                            a.visit_pageviews,
                            a.bounces,
                            a.duration,
                            r.timed
                        ])
                        .map_err(db("importing statistics"))?;
                    }
                    app.flush().map_err(db("importing statistics"))?;
                }
                tx.commit().map_err(db("committing imported statistics"))
            })
            .await
        })
    }

    fn imported_delete(&self, site_id: u32, from: i32, to: i32) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn
                    .transaction()
                    .map_err(db("deleting imported statistics"))?;
                let args = duckdb::params![site_id, from, to];
                let days: i64 = tx
                    .query_row(
                        "SELECT count(DISTINCT day) FROM imported \
                         WHERE site_id = ? AND day >= ? AND day <= ?",
                        args,
                        |r| r.get(0),
                    )
                    .map_err(db("counting imported days"))?;
                tx.execute(
                    "DELETE FROM imported WHERE site_id = ? AND day >= ? AND day <= ?",
                    args,
                )
                .map_err(db("deleting imported statistics"))?;
                tx.commit().map_err(db("deleting imported statistics"))?;
                Ok(days.max(0) as u64)
            })
            .await
        })
    }

    fn imported_days(&self) -> StoreFuture<'_, Vec<(u32, i32)>> {
        Box::pin(async move {
            self.with_reader(|conn| {
                query_rows(
                    conn,
                    "SELECT DISTINCT site_id, day FROM imported ORDER BY site_id, day",
                    [],
                    "listing imported days",
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .await
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
            self.with_reader(move |conn| {
                query_rows(
                    conn,
                    "SELECT day, value, sum(visitors)::BIGINT, sum(pageviews)::BIGINT, \
                     sum(events)::BIGINT, sum(visits)::BIGINT, sum(visit_pageviews)::BIGINT, \
                     sum(bounces)::BIGINT, sum(duration)::BIGINT, bool_and(timed) \
                     FROM imported WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ? \
                     GROUP BY day, value ORDER BY day, value",
                    duckdb::params![site_id, dim, from, to],
                    "reading imported statistics",
                    |r| {
                        Ok(ImportedRow {
                            day: r.get(0)?,
                            row: archive_row(r, dim.clone(), 1)?,
                            timed: r.get(9)?,
                        })
                    },
                )
            })
            .await
        })
    }
}
