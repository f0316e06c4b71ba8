//! The ClickHouse store: events and sessions in (optionally sharded) MergeTree tables, written
//! in batches with RowBinary inserts, every other kind of state as versioned documents; batches
//! ClickHouse does not take wait in an on-disk spool. Schema in `migrations/clickhouse/`, stats
//! SQL shared with the embedded store in [`super::sql`].

mod archive;
mod imported;
mod meta;
pub mod rows;
mod salts;
mod schema;
pub mod spool;
mod traffic;

use super::sql::{self, Dialect};
use super::{
    Batch, Deleted, EventAgg, EventStore, SessionAgg, SessionRow, Store, StoreError, StoreFuture,
};
use crate::config::ClickHouseConfig;
use crate::stats::model::AggregateQuery;
use clickhouse::Client;
use rows::{EventRecord, EventSums, SessionRecord, SessionSums};
use spool::{Spool, SpooledBatch};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A batch insert that does not progress for this long fails (and the batch is spooled; if it
/// arrived after all, the replay finds it and skips it).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for ClickHouse to confirm a batch insert.
const END_TIMEOUT: Duration = Duration::from_secs(60);

/// Directory of the spool under the data directory.
pub const SPOOL_DIR: &str = "clickhouse-spool";

fn ch(context: &'static str) -> impl FnOnce(clickhouse::error::Error) -> StoreError {
    move |source| StoreError::ClickHouse { context, source }
}

/// Binds a statement's parameters in order.
fn bound(client: &Client, st: &sql::Statement) -> clickhouse::query::Query {
    let mut q = client.query(&st.sql);
    for p in &st.params {
        q = match p {
            sql::Value::Text(t) => q.bind(t.as_str()),
            sql::Value::UInt(n) => q.bind(*n),
            sql::Value::BigInt(n) => q.bind(*n),
        };
    }
    q
}

/// The ClickHouse store.
pub struct ClickHouse {
    /// The server spurlos talks to (reads, inserts, documents).
    client: Client,
    /// The same server for statistics queries, with the query time limit.
    stats_client: Client,
    /// Every node with local event tables (DDL and deletions); the main server when unsharded.
    shards: Vec<Client>,
    /// Cluster mode: local tables are `events_local` and `sessions_local`.
    clustered: bool,
    /// Version counter for documents (nanoseconds, strictly increasing in this process).
    version: AtomicU64,
    spool: Arc<Spool>,
    /// Serialises batch writes so that spooled batches stay in order.
    write_order: tokio::sync::Mutex<()>,
    replay: Arc<tokio::sync::Notify>,
    /// Stored events per site, to choose exact or estimated visitor counts.
    site_events: super::EventCounts,
}

fn client_for(config: &ClickHouseConfig, url: &str) -> Client {
    let compression = if config.compression {
        clickhouse::Compression::Lz4
    } else {
        clickhouse::Compression::None
    };
    Client::default()
        .with_compression(compression)
        .with_url(url)
        .with_user(&config.user)
        .with_password(&config.password)
        .with_validation(false)
}

/// Bounds of the statistics queries ClickHouse runs for spurlos.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub timeout: Duration,
    /// `max_memory_usage` per query, in bytes, when `SPURLOS_STORE_MEMORY_MB` sets it; by
    /// default the server's own limits apply (ClickHouse runs on its own machine, whose memory
    /// spurlos does not know).
    pub memory_bytes: Option<u64>,
}

impl QueryLimits {
    /// The limits the configuration sets.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            timeout: Duration::from_millis(config.query_timeout_ms),
            memory_bytes: (config.store_memory_mb > 0).then(|| config.store_memory_bytes()),
        }
    }
}

impl ClickHouse {
    /// Connects, creates the database and applies pending migrations, opens the spool under
    /// `data_dir` and starts replaying what waits in it.
    pub async fn open(
        config: &ClickHouseConfig,
        data_dir: &Path,
        limits: QueryLimits,
    ) -> Result<Self, StoreError> {
        let db = config.database.clone();
        let mut urls = vec![config.url.clone()];
        for u in &config.shard_urls {
            if !urls.contains(u) {
                urls.push(u.clone());
            }
        }
        if !config.shard_urls.is_empty() && !config.shard_urls.contains(&config.url) {
            // The main server only holds documents; shards are exactly the listed nodes.
            urls.remove(0);
        }
        for url in std::iter::once(&config.url).chain(&urls) {
            client_for(config, url)
                .query(&format!("CREATE DATABASE IF NOT EXISTS {db}"))
                .execute()
                .await
                .map_err(ch("creating the database"))?;
        }
        let client = client_for(config, &config.url).with_database(&db);
        let shards: Vec<Client> = urls
            .iter()
            .map(|u| client_for(config, u).with_database(&db))
            .collect();
        let clustered = config.cluster.is_some();
        let client = if clustered {
            // Subqueries on Distributed tables run on each shard's local tables: a site's rows
            // all live on one shard (sharding key site_id).
            client
                .with_setting("distributed_product_mode", "local")
                .with_setting("insert_distributed_sync", "1")
        } else {
            client
        };
        schema::migrate(config, &client, &shards).await?;
        let spool = Arc::new(Spool::open(
            &data_dir.join(SPOOL_DIR),
            config.spool_max_bytes,
        )?);
        // Statistics queries stop on the server at the query time limit too, and stay within
        // the memory limit when one is set (grouping spills to disk from half of it).
        let mut stats_client = client.clone().with_setting(
            "max_execution_time",
            limits.timeout.as_secs().max(1).to_string(),
        );
        if let Some(bytes) = limits.memory_bytes {
            stats_client = stats_client
                .with_setting("max_memory_usage", bytes.to_string())
                .with_setting(
                    "max_bytes_before_external_group_by",
                    (bytes / 2).to_string(),
                );
        }
        let store = Self {
            client,
            stats_client,
            shards,
            clustered,
            version: AtomicU64::new(0),
            spool,
            write_order: tokio::sync::Mutex::new(()),
            replay: Arc::new(tokio::sync::Notify::new()),
            site_events: super::EventCounts::default(),
        };
        store.count_events().await?;
        store.start_replay();
        Ok(store)
    }

    async fn count_events(&self) -> Result<(), StoreError> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Count {
            site_id: u32,
            n: u64,
        }
        let counts = self
            .client
            .query("SELECT site_id, count() AS n FROM events GROUP BY site_id")
            .fetch_all::<Count>()
            .await
            .map_err(ch("counting events"))?;
        self.site_events
            .replace(counts.into_iter().map(|c| (c.site_id, c.n)));
        Ok(())
    }

    /// Events and session versions stored per site (checks after a migration).
    pub async fn row_counts(&self) -> Result<Vec<(u32, u64, u64)>, StoreError> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Counts {
            site_id: u32,
            events: u64,
            sessions: u64,
        }
        let rows = self
            .client
            .query(
                "SELECT site_id, sum(e) AS events, sum(s) AS sessions FROM ( \
                   SELECT site_id, count() AS e, toUInt64(0) AS s FROM events GROUP BY site_id \
                   UNION ALL SELECT site_id, toUInt64(0) AS e, count() AS s FROM sessions GROUP BY site_id \
                 ) GROUP BY site_id ORDER BY site_id",
            )
            .fetch_all::<Counts>()
            .await
            .map_err(ch("counting rows"))?;
        Ok(rows
            .into_iter()
            .map(|c| (c.site_id, c.events, c.sessions))
            .collect())
    }

    /// A new document version: wall-clock nanoseconds, strictly increasing.
    fn next_version(&self) -> u64 {
        let now = chrono::Utc::now()
            .timestamp_nanos_opt()
            .map_or(0, |n| n.max(0) as u64);
        let mut cur = self.version.load(Ordering::Relaxed);
        loop {
            let next = now.max(cur + 1);
            match self
                .version
                .compare_exchange(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Name of a local (per-shard) event table.
    fn local(&self, table: &str) -> String {
        if self.clustered {
            format!("{table}_local")
        } else {
            table.to_string()
        }
    }

    /// Rows of a query with a site and a time window as JSON (owned rows; for exports).
    async fn json_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        site_id: u32,
        from_ts: i64,
        to_ts: i64,
        context: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let bytes = self
            .client
            .query(sql)
            .bind(site_id)
            .bind(from_ts)
            .bind(to_ts)
            .with_setting("output_format_json_quote_64bit_integers", "0")
            .fetch_bytes("JSONEachRow")
            .map_err(ch(context))?
            .collect()
            .await
            .map_err(ch(context))?;
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(serde_json::from_slice::<T>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Task(format!("{context}: {e}")))
    }

    /// Deletes rows of the local event tables on every shard and waits until it is done.
    async fn delete_events_where(&self, cond: &str, site_ids: &[u32]) -> Result<(), StoreError> {
        for table in ["events", "sessions"] {
            let local = self.local(table);
            for shard in &self.shards {
                shard
                    .query(&format!("ALTER TABLE {local} DELETE WHERE {cond}"))
                    .bind(site_ids)
                    .execute()
                    .await
                    .map_err(ch("deleting events"))?;
            }
        }
        for shard in &self.shards {
            wait_for_mutations(shard).await?;
        }
        Ok(())
    }

    /// Stores one batch's rows. With `replay`, a table that already holds rows of this batch
    /// (an insert that arrived although its answer did not) is skipped.
    async fn insert_records(
        client: &Client,
        batch: u64,
        events: &[EventRecord<'_>],
        sessions: &[SessionRecord<'_>],
        replay: bool,
    ) -> Result<(), StoreError> {
        // Sessions first: whoever sees a batch's events also sees its visits.
        if !sessions.is_empty() {
            let (lo, hi) = bounds(sessions.iter().map(|s| s.start_ts));
            let present =
                replay && stored_rows(client, "sessions", "start_ts", lo, hi, batch).await? > 0;
            if !present {
                let mut insert = client
                    .insert::<SessionRecord<'_>>("sessions")
                    .await
                    .map_err(ch("inserting sessions"))?
                    .with_timeouts(Some(SEND_TIMEOUT), Some(END_TIMEOUT));
                for s in sessions {
                    insert.write(s).await.map_err(ch("inserting sessions"))?;
                }
                insert.end().await.map_err(ch("inserting sessions"))?;
            }
        }
        if !events.is_empty() {
            let (lo, hi) = bounds(events.iter().map(|e| e.ts));
            let present = replay && stored_rows(client, "events", "ts", lo, hi, batch).await? > 0;
            if !present {
                let mut insert = client
                    .insert::<EventRecord<'_>>("events")
                    .await
                    .map_err(ch("inserting events"))?
                    .with_timeouts(Some(SEND_TIMEOUT), Some(END_TIMEOUT));
                for e in events {
                    insert.write(e).await.map_err(ch("inserting events"))?;
                }
                insert.end().await.map_err(ch("inserting events"))?;
            }
        }
        Ok(())
    }

    async fn write(&self, batch: Arc<Batch>) -> Result<(), StoreError> {
        let _order = self.write_order.lock().await;
        let id = rand::random::<u64>();
        let events: Vec<EventRecord<'_>> = batch
            .events
            .iter()
            .map(|e| EventRecord::from_row(e, id))
            .collect();
        let sessions: Vec<SessionRecord<'_>> = batch
            .sessions
            .iter()
            .map(|s| SessionRecord::from_row(s, id))
            .collect();
        if batch.journal_hi.is_none() && self.spool.is_empty() {
            match Self::insert_records(&self.client, id, &events, &sessions, false).await {
                Ok(()) => {
                    self.count(&batch);
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ClickHouse did not take a batch; spooling it")
                }
            }
        }
        // Journaled hits go through the spool first: once the batch is on disk here it is
        // handed over (the spool stores it in ClickHouse exactly once), so the journal never
        // replays it, whenever a crash comes.
        let _replaying = self.spool.replaying.lock().await;
        let first_in_line = self.spool.is_empty();
        let spooled = SpooledBatch {
            batch: id,
            journal_hi: batch.journal_hi,
            events,
            sessions,
        };
        let data = serde_json::to_vec(&spooled)
            .map_err(|e| StoreError::Task(format!("serialising a batch: {e}")))?;
        let spool = self.spool.clone();
        let passing = first_in_line && batch.journal_hi.is_some();
        let path = tokio::task::spawn_blocking(move || spool.push_as(&data, passing))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        self.count(&batch);
        if let (true, Some(hi)) = (first_in_line, batch.journal_hi) {
            let stored =
                Self::insert_records(&self.client, id, &spooled.events, &spooled.sessions, false)
                    .await;
            match stored {
                Ok(()) => {
                    self.spool.set_mark(hi)?;
                    self.spool.pop(&path)?;
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ClickHouse did not take a batch; it waits in the spool")
                }
            }
        }
        self.replay.notify_one();
        Ok(())
    }

    /// Records that the journal's hits up to `hi` are stored (`migrate-store` copies them).
    pub fn set_journal_mark(&self, hi: u64) -> Result<(), StoreError> {
        self.spool.set_mark(hi)
    }

    fn count(&self, batch: &Batch) {
        self.site_events.add(batch);
    }

    /// Replays spooled batches in the background until the store is dropped.
    fn start_replay(&self) {
        let spool = Arc::downgrade(&self.spool);
        let client = self.client.clone();
        let notify = self.replay.clone();
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(200);
            loop {
                let woken = tokio::time::timeout(pause, notify.notified()).await.is_ok();
                match replay_all(&spool, &client).await {
                    Ok(true) => return,
                    Ok(false) => pause = Duration::from_millis(if woken { 50 } else { 200 }),
                    Err(e) => {
                        tracing::warn!(error = %e, "replaying the ClickHouse spool failed; retrying");
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                }
            }
        });
    }
}

/// Stores every spooled batch, oldest first; true when the store is gone.
async fn replay_all(spool: &Weak<Spool>, client: &Client) -> Result<bool, StoreError> {
    loop {
        let Some(spool) = spool.upgrade() else {
            return Ok(true);
        };
        let _replaying = spool.replaying.lock().await;
        let next = {
            let s = spool.clone();
            tokio::task::spawn_blocking(move || s.oldest())
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??
        };
        let Some((path, data)) = next else {
            return Ok(false);
        };
        let batch: SpooledBatch<'static> =
            serde_json::from_slice(&data).map_err(|e| StoreError::Spool {
                path: path.display().to_string(),
                message: format!("unreadable batch: {e}"),
            })?;
        ClickHouse::insert_records(client, batch.batch, &batch.events, &batch.sessions, true)
            .await?;
        if let Some(hi) = batch.journal_hi {
            spool.set_mark(hi)?;
        }
        spool.pop(&path)?;
        tracing::info!(
            events = batch.events.len(),
            "replayed a spooled batch into ClickHouse"
        );
    }
}

fn bounds(values: impl Iterator<Item = i64>) -> (i64, i64) {
    values.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

async fn stored_rows(
    client: &Client,
    table: &str,
    ts: &str,
    lo: i64,
    hi: i64,
    batch: u64,
) -> Result<u64, StoreError> {
    client
        .query(&format!(
            "SELECT count() FROM {table} WHERE {ts} >= ? AND {ts} <= ? AND batch = ?"
        ))
        .bind(lo)
        .bind(hi)
        .bind(batch)
        .fetch_one::<u64>()
        .await
        .map_err(ch("checking a replayed batch"))
}

/// Waits until the current database's mutations on this server are done.
async fn wait_for_mutations(client: &Client) -> Result<(), StoreError> {
    for _ in 0..1200 {
        let pending = client
            .query("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0")
            .fetch_one::<u64>()
            .await
            .map_err(ch("waiting for a deletion"))?;
        if pending == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(StoreError::Task(
        "a ClickHouse deletion did not finish within two minutes".into(),
    ))
}

impl EventStore for ClickHouse {
    fn journal_mark(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let spool = self.spool.clone();
            tokio::task::spawn_blocking(move || spool.mark())
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
        })
    }

    fn write_batch(&self, batch: Arc<Batch>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(batch))
    }

    fn live_sessions(&self, since_ts: i64) -> StoreFuture<'_, Vec<SessionRow>> {
        Box::pin(async move {
            let attrs = "referrer, source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country_code, region, city, browser, browser_version, os, os_version, device, screen";
            let cols = format!("site_id, session_id, visitor_id, version, start_ts, end_ts, pageviews, events, interactive, entry_page, exit_page, hostname, {attrs}");
            // JSON, not RowBinary: the rows are few (read once at start) and owned.
            let sql = format!(
                "SELECT {cols} FROM sessions WHERE end_ts >= ? GROUP BY {cols} HAVING sum(sign) > 0"
            );
            let bytes = self
                .client
                .query(&sql)
                .bind(since_ts)
                .with_setting("output_format_json_quote_64bit_integers", "0")
                .fetch_bytes("JSONEachRow")
                .map_err(ch("reading live sessions"))?
                .collect()
                .await
                .map_err(ch("reading live sessions"))?;
            let rows = bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(serde_json::from_slice::<SessionRecord<'static>>)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Task(format!("reading live sessions: {e}")))?;
            Ok(rows.into_iter().map(SessionRecord::into_session).collect())
        })
    }

    fn event_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<EventAgg>> {
        let st = sql::event_aggregate(q, self.site_events.approximate(q), Dialect::ClickHouse);
        Box::pin(async move {
            let rows = bound(&self.stats_client, &st)
                .fetch_all::<EventSums>()
                .await
                .map_err(ch("running a stats query"))?;
            Ok(rows
                .into_iter()
                .map(|r| EventAgg {
                    dims: r.dims,
                    visitors: r.visitors,
                    pageviews: r.pageviews,
                    events: r.events,
                })
                .collect())
        })
    }

    fn session_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<SessionAgg>> {
        let st = sql::session_aggregate(q, Dialect::ClickHouse);
        Box::pin(async move {
            let rows = bound(&self.stats_client, &st)
                .fetch_all::<SessionSums>()
                .await
                .map_err(ch("running a stats query"))?;
            Ok(rows
                .into_iter()
                .map(|r| SessionAgg {
                    dims: r.dims,
                    visits: r.visits,
                    pageviews: r.pageviews,
                    bounces: r.bounces,
                    duration: r.duration,
                    untimed: 0,
                })
                .collect())
        })
    }

    fn prop_keys(
        &self,
        site_id: u32,
        from_ts: i64,
        to_ts: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<(String, u64)>> {
        Box::pin(async move {
            #[derive(clickhouse::Row, serde::Deserialize)]
            struct KeyCount {
                key: String,
                n: u64,
            }
            let rows = self
                .stats_client
                .query(
                    "SELECT prop_key, count() AS n FROM events ARRAY JOIN prop_keys AS prop_key \
                     WHERE site_id = ? AND ts >= ? AND ts < ? GROUP BY prop_key ORDER BY n DESC, prop_key LIMIT ?",
                )
                .bind(site_id)
                .bind(from_ts)
                .bind(to_ts)
                .bind(limit)
                .fetch_all::<KeyCount>()
                .await
                .map_err(ch("listing prop keys"))?;
            Ok(rows.into_iter().map(|r| (r.key, r.n)).collect())
        })
    }

    fn first_events(&self) -> StoreFuture<'_, Vec<(u32, i64)>> {
        Box::pin(async move {
            #[derive(clickhouse::Row, serde::Deserialize)]
            struct First {
                site_id: u32,
                ts: i64,
            }
            let rows = self
                .client
                .query("SELECT site_id, min(ts) AS first_ts FROM events GROUP BY site_id")
                .fetch_all::<First>()
                .await
                .map_err(ch("finding the first events"))?;
            Ok(rows.into_iter().map(|r| (r.site_id, r.ts)).collect())
        })
    }

    fn event_hours(
        &self,
        site_ids: Vec<u32>,
        from_ts: i64,
        to_ts: i64,
    ) -> StoreFuture<'_, Vec<(u32, i64, u64)>> {
        Box::pin(async move {
            if site_ids.is_empty() {
                return Ok(Vec::new());
            }
            #[derive(clickhouse::Row, serde::Deserialize)]
            struct Hour {
                site_id: u32,
                h: i64,
                n: u64,
            }
            let rows = self
                .client
                .query("SELECT site_id, intDiv(ts, 3600) * 3600 AS h, count() AS n FROM events WHERE has(?, site_id) AND ts >= ? AND ts < ? GROUP BY site_id, h")
                .bind(site_ids)
                .bind(from_ts)
                .bind(to_ts)
                .fetch_all::<Hour>()
                .await
                .map_err(ch("listing the hours with events"))?;
            Ok(rows.into_iter().map(|r| (r.site_id, r.h, r.n)).collect())
        })
    }

    fn delete_site_data(&self, site_ids: Vec<u32>) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.delete_site_rows(&site_ids).await })
    }

    fn window(&self, site_id: u32, from_ts: i64, to_ts: i64) -> StoreFuture<'_, Batch> {
        Box::pin(async move {
            let events: Vec<EventRecord<'static>> = self
                .json_rows(
                    "SELECT * FROM events WHERE site_id = ? AND ts >= ? AND ts < ? ORDER BY ts",
                    site_id,
                    from_ts,
                    to_ts,
                    "exporting events",
                )
                .await?;
            let sessions: Vec<SessionRecord<'static>> = self
                .json_rows(
                    "SELECT * FROM sessions WHERE site_id = ? AND start_ts >= ? AND start_ts < ?",
                    site_id,
                    from_ts,
                    to_ts,
                    "exporting visits",
                )
                .await?;
            Ok(Batch {
                events: events.into_iter().map(EventRecord::into_event).collect(),
                sessions: sessions
                    .into_iter()
                    .map(|s| {
                        let sign = s.sign;
                        let mut row = s.into_session();
                        row.sign = sign;
                        row
                    })
                    .collect(),
                journal_hi: None,
            })
        })
    }

    fn delete_range(&self, site_id: u32, from_ts: i64, to_ts: i64) -> StoreFuture<'_, Deleted> {
        Box::pin(async move { self.delete_range_rows(site_id, from_ts, to_ts).await })
    }
}

impl Store for ClickHouse {
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.client
                .query("SELECT 1")
                .execute()
                .await
                .map_err(ch("checking the connection"))
        })
    }

    fn spool_usage(&self) -> Option<(usize, u64)> {
        Some(self.spool.usage())
    }

    fn checkpoint(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // One last attempt to hand spooled batches over; what remains is replayed at the
            // next start.
            let weak = Arc::downgrade(&self.spool);
            if let Err(e) = replay_all(&weak, &self.client).await {
                let (batches, bytes) = self.spool.usage();
                tracing::warn!(error = %e, batches, bytes, "spooled batches stay on disk until the next start");
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::QueryLimits;
    use crate::config::Config;

    /// ClickHouse gets a memory limit only when one is set: by default its server's own
    /// limits apply (spurlos does not know that machine).
    #[test]
    fn the_memory_limit_is_only_sent_when_set() {
        let mut config = Config::default();
        assert_eq!(QueryLimits::of(&config).memory_bytes, None);
        config.store_memory_mb = 512;
        assert_eq!(QueryLimits::of(&config).memory_bytes, Some(512 << 20));
    }
}
