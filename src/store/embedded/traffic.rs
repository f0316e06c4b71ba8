//! The embedded store's traffic sums: rows added per imported batch, summed per site and day
//! when read.

use super::{db, query_rows, Embedded};
use crate::store::{StoreFuture, TrafficRow, TrafficStore};

impl TrafficStore for Embedded {
    fn traffic_add(&self, rows: Vec<TrafficRow>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(());
            }
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("adding traffic"))?;
                {
                    let mut app = tx.appender("traffic").map_err(db("adding traffic"))?;
                    for r in &rows {
                        app.append_row(duckdb::params![r.site_id, r.day, r.requests, r.bytes])
                            .map_err(db("adding traffic"))?;
                    }
                    app.flush().map_err(db("adding traffic"))?;
                }
                tx.commit().map_err(db("committing traffic"))
            })
            .await
        })
    }

    fn traffic(&self, site_ids: Vec<u32>, from: i32, to: i32) -> StoreFuture<'_, Vec<TrafficRow>> {
        Box::pin(async move {
            if site_ids.is_empty() {
                return Ok(Vec::new());
            }
            self.with_reader(move |conn| {
                let list = site_ids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                query_rows(
                    conn,
                    &format!(
                        "SELECT site_id, day, sum(requests)::UBIGINT, sum(bytes)::UBIGINT FROM traffic \
                         WHERE site_id IN ({list}) AND day >= ? AND day <= ? \
                         GROUP BY site_id, day ORDER BY site_id, day"
                    ),
                    duckdb::params![from, to],
                    "reading traffic",
                    |r| {
                        Ok(TrafficRow {
                            site_id: r.get(0)?,
                            day: r.get(1)?,
                            requests: r.get(2)?,
                            bytes: r.get(3)?,
                        })
                    },
                )
            })
            .await
        })
    }
}
