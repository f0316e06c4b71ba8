//! The storage boundary: small traits by reason to change (events and visits, day archives,
//! salts, a metadata document store), the rows that cross them, and `open` (the configured
//! store). Stores only persist: the tenancy rules live in `crate::tenancy`.

pub mod clickhouse;
pub mod embedded;
pub mod sql;

use crate::stats::model::AggregateQuery;
use chrono::NaiveDate;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Attributes that belong to a visit; every event of a session carries the session's values.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VisitAttrs {
    pub referrer: String,
    pub source: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    pub country_code: String,
    pub region: String,
    pub city: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    pub device: String,
    pub screen: String,
}

/// One stored event (a page view or a custom event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub site_id: u32,
    /// Seconds since the Unix epoch, UTC.
    pub ts: i64,
    /// Links the event's `props` rows to it: random and not 0 for events with properties,
    /// 0 for the others.
    pub event_id: u64,
    pub session_id: u64,
    pub visitor_id: u64,
    pub name: String,
    pub interactive: bool,
    pub hostname: String,
    pub pathname: String,
    /// Shared with the session's other events.
    pub attrs: Arc<VisitAttrs>,
    pub props: Vec<(String, String)>,
}

/// One version of a session. Sessions are append-only: a change is written as the old
/// version with `sign = -1` and the new one with `sign = 1`, so sums over `sign` are exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub site_id: u32,
    pub session_id: u64,
    pub visitor_id: u64,
    pub sign: i8,
    /// Number of hits the session had when this version was written.
    pub version: u32,
    pub start_ts: i64,
    pub end_ts: i64,
    pub pageviews: u32,
    pub events: u32,
    /// Interactive events other than page views.
    pub interactive: u32,
    pub entry_page: String,
    pub exit_page: String,
    pub hostname: String,
    pub attrs: Arc<VisitAttrs>,
}

/// What the batch writer stores in one go: all of it or none of it.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub events: Vec<EventRow>,
    pub sessions: Vec<SessionRow>,
    /// The highest journal sequence number of the batch's hits: the store records it with
    /// the batch (`EventStore::journal_mark`), so replay after a crash stores nothing twice.
    pub journal_hi: Option<u64>,
}

/// Per-group sums over events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventAgg {
    pub dims: Vec<String>,
    pub visitors: u64,
    pub pageviews: u64,
    pub events: u64,
}

/// Per-group sums over sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionAgg {
    pub dims: Vec<String>,
    pub visits: i64,
    pub pageviews: i64,
    pub bounces: i64,
    pub duration: i64,
    /// Visits of imported history without bounces and durations (AWStats): left out of the
    /// bounce rate's and the visit duration's denominators.
    pub untimed: i64,
}

/// Every sum of one dimension value on one archived day (see `stats::archive`). `dim` is the
/// dimension's API name, or empty for the day's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveRow {
    pub dim: String,
    pub value: String,
    pub visitors: u64,
    pub pageviews: u64,
    pub events: u64,
    pub visits: i64,
    pub visit_pageviews: i64,
    pub bounces: i64,
    pub duration: i64,
}

impl ArchiveRow {
    /// Adds another day's sums of the same value (every sum adds up over days).
    pub fn add(&mut self, o: &ArchiveRow) {
        self.visitors += o.visitors;
        self.pageviews += o.pageviews;
        self.events += o.events;
        self.visits += o.visits;
        self.visit_pageviews += o.visit_pageviews;
        self.bounces += o.bounces;
        self.duration += o.duration;
    }
}

/// Requests and bytes sent of one site on one local day (days since 1970-01-01 in the site's
/// time zone), from imported web-server logs: every request, static files and bots included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrafficRow {
    pub site_id: u32,
    pub day: i32,
    pub requests: u64,
    pub bytes: u64,
}

/// One archived day of a site: local day number (days since 1970-01-01 in the site's time
/// zone) and the time zone it was cut in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedDay {
    pub site_id: u32,
    pub day: i32,
    pub timezone: String,
    /// Whether the day's archive holds rollups (`stats::archive::rollup_filters`).
    pub rollups: bool,
}

/// A failure below the storage boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {path} cannot be used: {message}")]
    DataDir { path: String, message: String },
    #[error("database error while {context}: {source}")]
    Database {
        context: &'static str,
        source: duckdb::Error,
    },
    #[error("migration {name} failed: {source}")]
    Migration { name: String, source: duckdb::Error },
    #[error("ClickHouse error while {context}: {source}")]
    ClickHouse {
        context: &'static str,
        source: ::clickhouse::error::Error,
    },
    #[error("ClickHouse migration {name} failed: {source}")]
    ClickHouseMigration {
        name: String,
        source: ::clickhouse::error::Error,
    },
    #[error("ClickHouse did not take a batch and the spool under {path} is full ({bytes} bytes)")]
    SpoolFull { path: String, bytes: u64 },
    #[error("spool {path}: {message}")]
    Spool { path: String, message: String },
    #[error("a site with domain {0} exists already")]
    DuplicateDomain(String),
    #[error("{0}")]
    Invalid(#[from] crate::tenancy::sites::SiteSpecError),
    #[error("{0}")]
    InvalidCustomer(#[from] crate::tenancy::customers::InvalidHandle),
    #[error("{0}")]
    InvalidEmail(#[from] crate::tenancy::users::InvalidEmail),
    #[error("{0}")]
    NotFound(String),
    #[error("salt file: {0}")]
    Salts(String),
    #[error("storage task failed: {0}")]
    Task(String),
    /// A query needs raw events of days whose raw events the site's retention deleted (only
    /// their daily sums are left); raised by the archive, which knows which days those are.
    #[error("{0}")]
    Expired(String),
}

/// Opens the store the configuration names (creating and migrating it when needed).
pub async fn open(config: &crate::config::Config) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match config.store {
        crate::config::StoreKind::Embedded => Arc::new(embedded::Embedded::open_with_memory(
            &config.data_dir,
            config.store_memory_bytes(),
        )?),
        crate::config::StoreKind::ClickHouse => {
            let limits = clickhouse::QueryLimits::of(config);
            Arc::new(
                clickhouse::ClickHouse::open(&config.clickhouse, &config.data_dir, limits).await?,
            )
        }
    })
}

/// Stored events per site, kept by each store to choose exact or estimated visitor counts
/// (`EXACT_VISITORS_LIMIT`), the same rule in both.
#[derive(Debug, Default)]
pub(crate) struct EventCounts(std::sync::Mutex<std::collections::HashMap<u32, u64>>);

impl EventCounts {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u32, u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts over from counts read from the store.
    pub fn replace(&self, counts: impl IntoIterator<Item = (u32, u64)>) {
        let mut map = self.map();
        map.clear();
        map.extend(counts);
    }

    /// Counts a stored batch.
    pub fn add(&self, batch: &Batch) {
        let mut map = self.map();
        for e in &batch.events {
            *map.entry(e.site_id).or_default() += 1;
        }
    }

    /// Counts deleted events of a site.
    pub fn subtract(&self, site_id: u32, n: u64) {
        if let Some(c) = self.map().get_mut(&site_id) {
            *c = c.saturating_sub(n);
        }
    }

    /// Forgets removed sites.
    pub fn forget(&self, site_ids: &[u32]) {
        let mut map = self.map();
        for id in site_ids {
            map.remove(id);
        }
    }

    /// Whether the visitors of `q` are estimated rather than counted exactly.
    pub fn approximate(&self, q: &AggregateQuery) -> bool {
        let stored = self.map().get(&q.site_id).copied().unwrap_or(0);
        !q.exact && stored > crate::stats::model::EXACT_VISITORS_LIMIT
    }
}

/// Salt for one UTC day.
pub type DaySalt = (NaiveDate, [u8; 32]);

/// The future a store method returns (boxed, so stores can be chosen at start as `dyn Store`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One change of the metadata store: a document's new body, or its removal (`body: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocChange {
    pub kind: &'static str,
    pub key: String,
    pub body: Option<String>,
}

/// Events and visits: the batch writer's target and the statistics' source.
pub trait EventStore: Send + Sync {
    /// Stores a batch atomically (shared, so a retry does not copy it).
    fn write_batch(&self, batch: Arc<Batch>) -> StoreFuture<'_, ()>;
    /// The highest journal sequence number stored (or handed over durably), 0 for none.
    fn journal_mark(&self) -> StoreFuture<'_, u64>;
    /// Live versions of the sessions that had a hit at or after `since_ts` (for restarts).
    fn live_sessions(&self, since_ts: i64) -> StoreFuture<'_, Vec<SessionRow>>;
    /// Sums over events, grouped by the query's dimensions.
    fn event_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<EventAgg>>;
    /// Sums over sessions, grouped by the query's dimensions.
    fn session_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<SessionAgg>>;

    /// The most used event property keys of a site in `[from_ts, to_ts)`, with how many events
    /// carry each, most used first.
    fn prop_keys(
        &self,
        site_id: u32,
        from_ts: i64,
        to_ts: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<(String, u64)>>;

    /// Every site with stored events and the time of its first one.
    fn first_events(&self) -> StoreFuture<'_, Vec<(u32, i64)>>;
    /// The UTC hours (their start) in `[from_ts, to_ts)` that hold events of these sites,
    /// with how many: `(site, hour, events)`. The archiver builds only days with data, and
    /// sizes its builds by it.
    fn event_hours(
        &self,
        site_ids: Vec<u32>,
        from_ts: i64,
        to_ts: i64,
    ) -> StoreFuture<'_, Vec<(u32, i64, u64)>>;
    /// Deletes every event, session, day archive, traffic sum and imported day of these sites
    /// and returns once they are gone.
    fn delete_site_data(&self, site_ids: Vec<u32>) -> StoreFuture<'_, ()>;
    /// Deletes a site's events in `[from_ts, to_ts)` (with their properties) and every version
    /// of its visits that had a hit then (also those that began before or went on after),
    /// and returns once they are gone, with how many.
    fn delete_range(&self, site_id: u32, from_ts: i64, to_ts: i64) -> StoreFuture<'_, Deleted>;
    /// A site's events (with their properties) in `[from_ts, to_ts)`, by time, and every
    /// version of its visits that started then (exports, `migrate-store`).
    fn window(&self, site_id: u32, from_ts: i64, to_ts: i64) -> StoreFuture<'_, Batch>;
}

/// Events and visits a deletion removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    pub events: u64,
    pub visits: u64,
    /// The first start and the last hit of the deleted visits (none: no visit), so that the
    /// archives of days they reached beyond the period are built again without them.
    pub reach: Option<(i64, i64)>,
}

/// Day archives (see `stats::archive`).
pub trait ArchiveStore: Send + Sync {
    /// Every archived day of every site.
    fn archived_days(&self) -> StoreFuture<'_, Vec<ArchivedDay>>;
    /// Replaces the archive of one day atomically.
    fn archive_put(&self, days: Vec<(ArchivedDay, Vec<ArchiveRow>)>) -> StoreFuture<'_, ()>;
    /// Archive rows of one dimension (`""`: totals) for the local days `from..=to`, with their day.
    fn archive_get(
        &self,
        site_id: u32,
        from: i32,
        to: i32,
        dim: &str,
    ) -> StoreFuture<'_, Vec<(i32, ArchiveRow)>>;
    /// Archive rows of one dimension summed over the local days `from..=to`, one per value.
    /// By default the days' rows added up here; a store may add them up itself.
    fn archive_sum(
        &self,
        site_id: u32,
        from: i32,
        to: i32,
        dim: &str,
    ) -> StoreFuture<'_, Vec<ArchiveRow>> {
        let rows = self.archive_get(site_id, from, to, dim);
        Box::pin(async move {
            let mut sums: std::collections::HashMap<String, ArchiveRow> = Default::default();
            for (_, r) in rows.await? {
                match sums.get_mut(&r.value) {
                    Some(sum) => sum.add(&r),
                    None => {
                        sums.insert(r.value.clone(), r);
                    }
                }
            }
            Ok(sums.into_values().collect())
        })
    }
    /// Forgets the archives of these days.
    fn archive_delete(&self, site_id: u32, days: Vec<i32>) -> StoreFuture<'_, ()>;
    /// Deletes every stored row of these days' archives (also of builds in the making) and
    /// returns once they are gone: statistics deleted for good.
    fn archive_purge(&self, site_id: u32, days: Vec<i32>) -> StoreFuture<'_, ()> {
        self.archive_delete(site_id, days)
    }
}

/// The daily salts of the visitor hash.
pub trait SaltStore: Send + Sync {
    /// The salts kept now.
    fn salts(&self) -> StoreFuture<'_, Vec<DaySalt>>;
    /// Replaces the kept salts; salts not in `salts` are gone afterwards.
    fn replace_salts(&self, salts: &[DaySalt]) -> StoreFuture<'_, ()>;
}

/// One imported day's rows of one dimension value, and whether its visits carry bounces and
/// durations (AWStats's history does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRow {
    pub day: i32,
    pub row: ArchiveRow,
    pub timed: bool,
}

/// Statistics imported from another tool as day sums (`stats::imported`), by site, day and
/// import source: shown with the native statistics on days without native data.
pub trait ImportedStore: Send + Sync {
    /// Replaces what `source` imported for a site on `days` with `rows` (all on those days).
    fn imported_put(
        &self,
        site_id: u32,
        source: String,
        days: Vec<i32>,
        rows: Vec<ImportedRow>,
    ) -> StoreFuture<'_, ()>;
    /// Every site and day with imported rows.
    fn imported_days(&self) -> StoreFuture<'_, Vec<(u32, i32)>>;
    /// Deletes a site's imported rows of the days `from..=to` (every source); answers how
    /// many days had some.
    fn imported_delete(&self, site_id: u32, from: i32, to: i32) -> StoreFuture<'_, u64>;
    /// Imported rows of one dimension (`""`: totals) for the days `from..=to`, every source.
    fn imported_get(
        &self,
        site_id: u32,
        from: i32,
        to: i32,
        dim: &str,
    ) -> StoreFuture<'_, Vec<ImportedRow>>;
}

/// Traffic sums for billing (see `logs::traffic`): rows are added, never changed.
pub trait TrafficStore: Send + Sync {
    /// Adds requests and bytes to the sums of these sites' days.
    fn traffic_add(&self, rows: Vec<TrafficRow>) -> StoreFuture<'_, ()>;
    /// The sums per site and day for these sites in the local days `from..=to`, by site and
    /// day.
    fn traffic(&self, site_ids: Vec<u32>, from: i32, to: i32) -> StoreFuture<'_, Vec<TrafficRow>>;
}

/// A small document store for the tenancy model (`crate::tenancy`): JSON documents by kind and
/// key, changed in atomic groups, and numeric ids that are never handed out twice. It only
/// persists: every rule about what the documents mean lives in `crate::tenancy`.
pub trait MetaStore: Send + Sync {
    /// Every document of a kind as `(key, body)`, by key.
    fn docs(&self, kind: &'static str) -> StoreFuture<'_, Vec<(String, String)>>;
    /// One document's body.
    fn doc(&self, kind: &'static str, key: &str) -> StoreFuture<'_, Option<String>>;
    /// Applies changes all at once (all of them or none).
    fn apply(&self, changes: Vec<DocChange>) -> StoreFuture<'_, ()>;
    /// A new id of a kind, greater than every id of that kind handed out or stored before
    /// (also of removed documents).
    fn next_id(&self, kind: &'static str) -> StoreFuture<'_, u32>;
}

/// Everything spurlos keeps, chosen at start-up as `Arc<dyn Store>`.
pub trait Store:
    EventStore + ArchiveStore + SaltStore + MetaStore + TrafficStore + ImportedStore + 'static
{
    /// Writes everything buffered to durable storage.
    fn checkpoint(&self) -> StoreFuture<'_, ()>;
    /// Makes deleted rows unrecoverable from the store's files: the embedded store rewrites
    /// its database file (DuckDB keeps deleted rows in free blocks); ClickHouse has removed
    /// them when its deletion returned (mutations are waited for).
    fn compact(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    /// Answers when the store can be used (readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// Writes a consistent copy of everything stored to `path` (a new file), while the store
    /// stays in use. Only the embedded store can; ClickHouse has its own backup tools.
    fn backup_to(&self, path: std::path::PathBuf) -> StoreFuture<'_, ()> {
        let _ = path;
        Box::pin(async {
            Err(StoreError::Task(
                "the ClickHouse store is backed up with ClickHouse's own tools (README, Backups)"
                    .into(),
            ))
        })
    }
    /// Batches and bytes waiting in a spool, for stores that have one.
    fn spool_usage(&self) -> Option<(usize, u64)> {
        None
    }
}
