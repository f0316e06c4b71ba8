//! The ClickHouse store's documents: the tenancy model's (`crate::tenancy` decides what they
//! mean) and the archived-day index, as JSON in the `meta` table, one new version per change
//! (the newest wins, a version with `deleted = 1` removes).

use super::rows::{MetaDoc, MetaRecord};
use super::{ch, ClickHouse};
use crate::store::{Deleted, DocChange, MetaStore, StoreError, StoreFuture};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const ARCHIVED_DAY: &str = "archived_day";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedDoc {
    pub site_id: u32,
    pub day: i32,
    pub timezone: String,
    pub build: u64,
    /// Whether the build holds rollups (absent in documents of older versions).
    #[serde(default)]
    pub rollups: bool,
}

fn json_err(kind: &str, e: serde_json::Error) -> StoreError {
    StoreError::Task(format!("a stored {kind} document cannot be read: {e}"))
}

impl ClickHouse {
    /// The newest live documents of a kind (optionally one key), by key.
    async fn raw_docs(&self, kind: &str, key: Option<&str>) -> Result<Vec<MetaDoc>, StoreError> {
        let filter = if key.is_some() { " AND key = ?" } else { "" };
        let mut q = self
            .client
            .query(&format!(
                "SELECT key, argMax(doc, version) AS newest FROM meta WHERE kind = ?{filter} \
                 GROUP BY key HAVING argMax(deleted, version) = 0 ORDER BY key"
            ))
            .bind(kind);
        if let Some(k) = key {
            q = q.bind(k);
        }
        q.fetch_all::<MetaDoc>()
            .await
            .map_err(ch("reading documents"))
    }

    async fn doc_values<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, StoreError> {
        self.raw_docs(kind, None)
            .await?
            .into_iter()
            .map(|r| serde_json::from_str(&r.doc).map_err(|e| json_err(kind, e)))
            .collect()
    }

    /// Writes changes as one insert (all of them or none).
    async fn write_docs(&self, changes: Vec<DocChange>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<MetaRecord>("meta")
            .await
            .map_err(ch("writing documents"))?;
        for c in changes {
            let record = MetaRecord {
                kind: c.kind.to_string(),
                key: c.key,
                version: self.next_version(),
                deleted: u8::from(c.body.is_none()),
                doc: c.body.unwrap_or_default(),
            };
            insert
                .write(&record)
                .await
                .map_err(ch("writing documents"))?;
        }
        insert.end().await.map_err(ch("writing documents"))
    }

    pub(super) async fn delete_docs(
        &self,
        kind: &'static str,
        keys: Vec<String>,
    ) -> Result<(), StoreError> {
        self.write_docs(
            keys.into_iter()
                .map(|key| DocChange {
                    kind,
                    key,
                    body: None,
                })
                .collect(),
        )
        .await
    }

    /// Deletes the events, sessions and archives of sites and waits until they are gone.
    pub(super) async fn delete_site_rows(&self, site_ids: &[u32]) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        self.site_events.forget(site_ids);
        // Spooled batches replayed later must not bring any of the sites back.
        {
            let _replaying = self.spool.replaying.lock().await;
            let spool = self.spool.clone();
            let ids = site_ids.to_vec();
            tokio::task::spawn_blocking(move || {
                spool.rewrite(|data| super::spool::without_sites(data, &ids))
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        }
        let days: Vec<String> = self
            .archived_docs()
            .await?
            .into_iter()
            .filter(|d| site_ids.contains(&d.site_id))
            .map(|d| format!("{}:{}", d.site_id, d.day))
            .collect();
        self.delete_docs(ARCHIVED_DAY, days).await?;
        self.client
            .query("ALTER TABLE archive DELETE WHERE has(?, site_id)")
            .bind(site_ids)
            .execute()
            .await
            .map_err(ch("deleting archives"))?;
        self.client
            .query("ALTER TABLE traffic DELETE WHERE has(?, site_id)")
            .bind(site_ids)
            .execute()
            .await
            .map_err(ch("deleting traffic"))?;
        self.client
            .query("ALTER TABLE imported DELETE WHERE has(?, site_id)")
            .bind(site_ids)
            .execute()
            .await
            .map_err(ch("deleting imported statistics"))?;
        self.delete_events_where("has(?, site_id)", site_ids)
            .await?;
        super::wait_for_mutations(&self.client).await
    }

    /// Deletes a site's events in `[from_ts, to_ts)` and its visits that started then, also
    /// from spooled batches, and waits until ClickHouse has rewritten the parts.
    pub(super) async fn delete_range_rows(
        &self,
        site_id: u32,
        from_ts: i64,
        to_ts: i64,
    ) -> Result<Deleted, StoreError> {
        let gone = move |site: u32, ts: i64| site == site_id && ts >= from_ts && ts < to_ts;
        {
            let _replaying = self.spool.replaying.lock().await;
            let spool = self.spool.clone();
            tokio::task::spawn_blocking(move || {
                spool.rewrite(|data| super::spool::without_rows(data, gone))
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        }
        let events = self
            .client
            .query("SELECT count() FROM events WHERE site_id = ? AND ts >= ? AND ts < ?")
            .bind(site_id)
            .bind(from_ts)
            .bind(to_ts)
            .fetch_one::<u64>()
            .await
            .map_err(ch("counting the events to delete"))?;
        // Visits with a hit in the period: those that began in it, and the few that began
        // before and went on into it.
        let before: Vec<u64> = self
            .client
            .query(
                "SELECT DISTINCT session_id FROM sessions \
                 WHERE site_id = ? AND start_ts < ? AND end_ts >= ?",
            )
            .bind(site_id)
            .bind(from_ts)
            .bind(from_ts)
            .fetch_all::<u64>()
            .await
            .map_err(ch("finding the visits to delete"))?;
        // (An empty array has no element type in ClickHouse: left out then.)
        let visit_cond = if before.is_empty() {
            "site_id = ? AND start_ts >= ? AND start_ts < ?"
        } else {
            "site_id = ? AND ((start_ts >= ? AND start_ts < ?) OR has(?, session_id))"
        };
        let visit_query = |q: clickhouse::query::Query| {
            let q = q.bind(site_id).bind(from_ts).bind(to_ts);
            if before.is_empty() {
                q
            } else {
                q.bind(&before)
            }
        };
        let (visits, first, last, rows) = visit_query(self.client.query(&format!(
            "SELECT sum(sign), min(start_ts), max(end_ts), count() FROM sessions WHERE {visit_cond}"
        )))
        .fetch_one::<(i64, i64, i64, u64)>()
        .await
        .map_err(ch("counting the visits to delete"))?;
        for shard in &self.shards {
            shard
                .query(&format!(
                    "ALTER TABLE {} DELETE WHERE site_id = ? AND ts >= ? AND ts < ?",
                    self.local("events")
                ))
                .bind(site_id)
                .bind(from_ts)
                .bind(to_ts)
                .execute()
                .await
                .map_err(ch("deleting events"))?;
            visit_query(shard.query(&format!(
                "ALTER TABLE {} DELETE WHERE {visit_cond}",
                self.local("sessions")
            )))
            .execute()
            .await
            .map_err(ch("deleting visits"))?;
        }
        for shard in &self.shards {
            super::wait_for_mutations(shard).await?;
        }
        self.site_events.subtract(site_id, events);
        Ok(Deleted {
            events,
            visits: visits.max(0) as u64,
            reach: (rows > 0).then_some((first, last)),
        })
    }

    pub(super) async fn archived_docs(&self) -> Result<Vec<ArchivedDoc>, StoreError> {
        self.doc_values(ARCHIVED_DAY).await
    }

    pub(super) async fn put_archived(
        &self,
        days: &[crate::store::ArchivedDay],
        build: u64,
    ) -> Result<(), StoreError> {
        let mut changes = Vec::with_capacity(days.len());
        for day in days {
            let d = ArchivedDoc {
                site_id: day.site_id,
                day: day.day,
                timezone: day.timezone.clone(),
                build,
                rollups: day.rollups,
            };
            let body = serde_json::to_string(&d).map_err(|e| json_err(ARCHIVED_DAY, e))?;
            changes.push(DocChange {
                kind: ARCHIVED_DAY,
                key: format!("{}:{}", day.site_id, day.day),
                body: Some(body),
            });
        }
        self.write_docs(changes).await
    }

    pub(super) async fn forget_archived(
        &self,
        site_id: u32,
        days: &[i32],
    ) -> Result<(), StoreError> {
        self.delete_docs(
            ARCHIVED_DAY,
            days.iter().map(|d| format!("{site_id}:{d}")).collect(),
        )
        .await
    }

    /// Whether the store holds no sites and no events (a migration's target must be empty).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let events = self
            .client
            .query("SELECT count() FROM events")
            .fetch_one::<u64>()
            .await
            .map_err(ch("counting events"))?;
        Ok(events == 0
            && self
                .raw_docs(crate::tenancy::docs::SITE, None)
                .await?
                .is_empty())
    }
}

impl MetaStore for ClickHouse {
    fn docs(&self, kind: &'static str) -> StoreFuture<'_, Vec<(String, String)>> {
        Box::pin(async move {
            Ok(self
                .raw_docs(kind, None)
                .await?
                .into_iter()
                .map(|d| (d.key, d.doc))
                .collect())
        })
    }

    fn doc(&self, kind: &'static str, key: &str) -> StoreFuture<'_, Option<String>> {
        let key = key.to_string();
        Box::pin(async move { Ok(self.raw_docs(kind, Some(&key)).await?.pop().map(|d| d.doc)) })
    }

    fn apply(&self, changes: Vec<DocChange>) -> StoreFuture<'_, ()> {
        Box::pin(self.write_docs(changes))
    }

    /// Above every key of the kind ever written: removed documents keep their newest
    /// (deleted) version, and a new id is written at once as a removed document, so it is not
    /// handed out again either.
    fn next_id(&self, kind: &'static str) -> StoreFuture<'_, u32> {
        Box::pin(async move {
            let max = self
                .client
                .query("SELECT max(toUInt32OrZero(key)) FROM meta WHERE kind = ?")
                .bind(kind)
                .fetch_one::<u32>()
                .await
                .map_err(ch("choosing an id"))?;
            let id = max
                .checked_add(1)
                .ok_or_else(|| StoreError::Task(format!("no {kind} ids are left")))?;
            self.delete_docs(kind, vec![id.to_string()]).await?;
            Ok(id)
        })
    }
}
