//! Traffic sums in ClickHouse: a `SummingMergeTree` per site and day, summed again when read
//! (merges happen when ClickHouse likes).

use super::{ch, ClickHouse};
use crate::store::{StoreFuture, TrafficRow, TrafficStore};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// One row of the `traffic` table.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
struct TrafficRecord {
    site_id: u32,
    day: i32,
    requests: u64,
    bytes: u64,
}

impl TrafficStore for ClickHouse {
    fn traffic_add(&self, rows: Vec<TrafficRow>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(());
            }
            let mut insert = self
                .client
                .insert::<TrafficRecord>("traffic")
                .await
                .map_err(ch("adding traffic"))?;
            for r in rows {
                let record = TrafficRecord {
                    site_id: r.site_id,
                    day: r.day,
                    requests: r.requests,
                    bytes: r.bytes,
                };
                insert.write(&record).await.map_err(ch("adding traffic"))?;
            }
            insert.end().await.map_err(ch("adding traffic"))
        })
    }

    fn traffic(&self, site_ids: Vec<u32>, from: i32, to: i32) -> StoreFuture<'_, Vec<TrafficRow>> {
        Box::pin(async move {
            if site_ids.is_empty() {
                return Ok(Vec::new());
            }
            let rows = self
                .client
                .query(
                    "SELECT site_id, day, sum(requests) AS requests, sum(bytes) AS bytes \
                     FROM traffic WHERE has(?, site_id) AND day >= ? AND day <= ? \
                     GROUP BY site_id, day ORDER BY site_id, day",
                )
                .bind(site_ids)
                .bind(from)
                .bind(to)
                .fetch_all::<TrafficRecord>()
                .await
                .map_err(ch("reading traffic"))?;
            Ok(rows
                .into_iter()
                .map(|r| TrafficRow {
                    site_id: r.site_id,
                    day: r.day,
                    requests: r.requests,
                    bytes: r.bytes,
                })
                .collect())
        })
    }
}
