//! The Stats API's engine: parses Plausible-style v2 queries, checks the caller may see the
//! site (the one place tenant scoping happens), resolves date ranges in the site's time zone,
//! asks the store for sums and turns them into metrics.

pub mod archive;
pub mod erase;
pub mod export;
pub mod imported;
pub mod model;
pub mod plausible_csv;
pub mod request;
pub mod restore;
pub mod retention;

use crate::clock::SharedClock;
use crate::store::{EventAgg, SessionAgg, Store, StoreError};
use crate::tenancy::sites::{Site, SiteRegistry};
use crate::tenancy::{CustomerId, SiteId, TokenScope};
use model::{AggregateQuery, Dimension, Metric, TimeBucket, VisitField};
use request::{ParsedQuery, SortKey};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The hosting provider's admin token: every site.
    Admin,
    /// A Stats API token.
    Token(TokenScope),
    /// A signed-in user: the sites of these customers.
    Customers(Vec<CustomerId>),
}

impl Caller {
    /// Whether the caller may read `site`.
    pub fn may_read(&self, site: &Site) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Token(TokenScope::Site(id)) => *id == site.id,
            Caller::Token(TokenScope::Customer(id)) => site.customer_id == Some(*id),
            Caller::Customers(ids) => site.customer_id.is_some_and(|c| ids.contains(&c)),
        }
    }
}

/// A query that cannot be answered, naming the part at fault.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("site {0:?} does not exist or is not readable with this token")]
    NoAccess(String),
    #[error("too many queries at once")]
    Busy,
    #[error("the query took longer than {0:?}")]
    Timeout(std::time::Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bounds on the work one query may cause.
pub struct QueryLimits {
    /// Longest a query may run (waiting for a slot included); the store stops it then.
    pub timeout: std::time::Duration,
    /// Queries that run at once; others wait (up to `timeout`) or get `Busy`.
    pub slots: tokio::sync::Semaphore,
    /// Most groups (result rows before pagination) a query may have.
    pub max_rows: usize,
}

impl QueryLimits {
    /// Limits with `slots` queries at once.
    pub fn new(timeout: std::time::Duration, slots: usize, max_rows: usize) -> Self {
        Self {
            timeout,
            slots: tokio::sync::Semaphore::new(slots.max(1)),
            max_rows: max_rows.max(1),
        }
    }
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self::new(std::time::Duration::from_secs(15), 4, 100_000)
    }
}

/// Most time buckets a query may ask for (a year by hour is 8,784).
pub const MAX_TIME_BUCKETS: i64 = 10_000;

/// Label for visits without a source.
pub const DIRECT: &str = "Direct / None";

/// The Stats API service.
pub struct Stats {
    pub store: Arc<dyn Store>,
    /// Day archives; unfiltered queries over finished days are answered from them.
    pub archive: Arc<archive::Archive>,
    pub sites: SiteRegistry,
    pub clock: SharedClock,
    pub limits: QueryLimits,
}

impl Stats {
    /// Finds a site the caller may read, by domain or numeric id.
    pub fn readable_site(&self, caller: &Caller, site_id: &str) -> Result<Arc<Site>, StatsError> {
        let site = site_id
            .parse::<u32>()
            .ok()
            .and_then(|id| self.sites.by_id(SiteId(id)))
            .or_else(|| self.sites.by_domain(site_id))
            .filter(|s| caller.may_read(s));
        site.ok_or_else(|| StatsError::NoAccess(site_id.to_string()))
    }

    /// Answers a v2 query body (the JSON edge of [`Stats::run`]).
    pub async fn query(&self, caller: &Caller, body: &Value) -> Result<Value, StatsError> {
        let parsed = request::parse(body)?;
        let answer = self.run(caller, &parsed).await?;
        let filters = body.get("filters").cloned().unwrap_or(json!([]));
        tokio::task::spawn_blocking(move || answer_json(&parsed, &answer, filters))
            .await
            .map_err(|e| StatsError::Store(StoreError::Task(e.to_string())))
    }
    /// Answers a typed query for `caller`: the rows of the requested page, each with its
    /// metrics in the order asked and, when asked, the previous period's.
    pub async fn run(&self, caller: &Caller, parsed: &Query) -> Result<QueryResponse, StatsError> {
        let site = self.readable_site(caller, &parsed.site_id)?;
        let now = self.clock.now().timestamp();
        let window = request::resolve_range(&parsed.date_range, &site, now)?;
        check_buckets(parsed, window)?;
        self.bounded(self.answer(parsed, site, window)).await
    }

    /// Runs `work` within the query limits: a slot, and the time limit (dropping the work
    /// stops the store's query).
    async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, StatsError>>,
    ) -> Result<T, StatsError> {
        let limit = self.limits.timeout;
        let deadline = tokio::time::Instant::now() + limit;
        let _slot = tokio::time::timeout_at(deadline, self.limits.slots.acquire())
            .await
            .map_err(|_| StatsError::Busy)?
            .map_err(|_| StatsError::Busy)?;
        tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| StatsError::Timeout(limit))?
    }

    async fn answer(
        &self,
        parsed: &Query,
        site: Arc<Site>,
        window: (i64, i64),
    ) -> Result<QueryResponse, StatsError> {
        // The previous period, whole (not paginated), by comparison key: time buckets are
        // matched by their position in the period. Both periods are asked at once.
        let len = window.1 - window.0;
        let current = self.rows(parsed, &site, window, true);
        let previous = async {
            if parsed.compare_previous {
                let prev = self
                    .rows(parsed, &site, (window.0 - len, window.0), false)
                    .await?;
                Ok(Some(prev))
            } else {
                Ok(None)
            }
        };
        let (results, previous) = tokio::try_join!(current, previous)?;
        let previous: Option<HashMap<Vec<String>, Row>> =
            previous.map(|p| p.into_iter().map(|r| (r.key.clone(), r)).collect());
        let total_rows = results.len();
        let rows = results
            .into_iter()
            .map(|row| {
                let comparison = previous.as_ref().map(|previous| {
                    let prev = previous.get(&row.key);
                    let metrics: Vec<f64> = prev
                        .map(|p| p.metrics.clone())
                        .unwrap_or_else(|| vec![0.0; parsed.metrics.len()]);
                    let change = row
                        .metrics
                        .iter()
                        .zip(&metrics)
                        .zip(&parsed.metrics)
                        .map(|((now, before), m)| change(*m, *now, *before))
                        .collect();
                    Comparison {
                        dims: prev.map_or_else(|| row.dims.clone(), |p| p.dims.clone()),
                        metrics,
                        change,
                    }
                });
                ResultRow {
                    dims: row.dims,
                    metrics: row.metrics,
                    comparison,
                }
            })
            .collect();
        let time_labels = parsed
            .dimensions
            .iter()
            .find_map(|d| match d {
                Dimension::Time(bucket) if parsed.time_labels => Some(*bucket),
                _ => None,
            })
            .map(|bucket| time_labels(bucket, &site, window));
        Ok(QueryResponse {
            site,
            window,
            rows,
            total_rows,
            time_labels,
        })
    }

    /// Visitors in the last five minutes.
    pub async fn realtime_visitors(
        &self,
        caller: &Caller,
        site_id: &str,
    ) -> Result<u64, StatsError> {
        let site = self.readable_site(caller, site_id)?;
        let now = self.clock.now().timestamp();
        let q = aggregate_query(
            &site,
            (now - 300, now + 1),
            Vec::new(),
            Vec::new(),
            vec![Metric::Visitors],
        );
        let rows = self
            .bounded(async { Ok(self.archive.event_aggregate(&site, &q).await?) })
            .await?;
        Ok(rows.first().map(|r| r.visitors).unwrap_or(0))
    }

    /// The most used event property keys (at most `limit`) of the site and period a query
    /// names, most used first.
    pub async fn prop_keys(
        &self,
        caller: &Caller,
        parsed: &Query,
        limit: u32,
    ) -> Result<Vec<String>, StatsError> {
        let site = self.readable_site(caller, &parsed.site_id)?;
        let now = self.clock.now().timestamp();
        let window = request::resolve_range(&parsed.date_range, &site, now)?;
        let keys = self
            .bounded(async {
                Ok(self
                    .store
                    .prop_keys(site.id.0, window.0, window.1, limit)
                    .await?)
            })
            .await?;
        Ok(keys.into_iter().map(|(k, _)| k).collect())
    }

    /// The rows of one period, sorted, the requested page when `paginate`.
    async fn rows(
        &self,
        parsed: &ParsedQuery,
        site: &Site,
        window: (i64, i64),
        paginate: bool,
    ) -> Result<Vec<Row>, StatsError> {
        let mut q = aggregate_query(
            site,
            window,
            parsed.dimensions.clone(),
            parsed.filters.clone(),
            parsed.metrics.clone(),
        );
        // One more than allowed tells that there are too many.
        q.max_groups = Some(self.limits.max_rows + 1);
        let need_sessions = parsed.metrics.iter().any(|m| m.needs_sessions());
        let need_events = parsed.metrics.iter().any(|m| !m.needs_sessions());
        let imports = parsed.imports;
        let events = async {
            match (need_events, imports) {
                (false, _) => Ok(Vec::new()),
                (true, false) => self.archive.event_aggregate(site, &q).await,
                (true, true) => self.archive.event_aggregate_with_imports(site, &q).await,
            }
        };
        let sessions = async {
            match (need_sessions, imports) {
                (false, _) => Ok(Vec::new()),
                (true, false) => self.archive.session_aggregate(site, &q).await,
                (true, true) => self.archive.session_aggregate_with_imports(site, &q).await,
            }
        };
        let total = async {
            if parsed.metrics.contains(&Metric::Percentage) {
                let all = AggregateQuery {
                    dimensions: Vec::new(),
                    metrics: vec![Metric::Visitors],
                    ..q.clone()
                };
                let rows = if imports {
                    self.archive
                        .event_aggregate_with_imports(site, &all)
                        .await?
                } else {
                    self.archive.event_aggregate(site, &all).await?
                };
                Ok(rows.first().map_or(0, |r| r.visitors))
            } else {
                Ok(0)
            }
        };
        let (events, sessions, total) = tokio::try_join!(events, sessions, total)?;
        if events.len().max(sessions.len()) > self.limits.max_rows {
            return Err(StatsError::Invalid {
                field: "dimensions".into(),
                message: format!(
                    "the answer has more than {} rows; add a filter or choose a shorter period",
                    self.limits.max_rows
                ),
            });
        }
        let start_local = window.0 + crate::timezone::offset_at(site.tz(), window.0);
        // Merging and sorting many groups is CPU work: off the HTTP workers, so that they keep
        // answering (tracking above all) while big answers are put together.
        let parsed = parsed.clone();
        tokio::task::spawn_blocking(move || {
            shape_rows(events, sessions, total, &parsed, start_local, paginate)
        })
        .await
        .map_err(|e| StatsError::Store(StoreError::Task(e.to_string())))
    }
}

/// Rows from the store's sums: metrics, shown and comparison keys, sorted, paginated.
fn shape_rows(
    events: Vec<EventAgg>,
    sessions: Vec<SessionAgg>,
    total: u64,
    parsed: &ParsedQuery,
    start_local: i64,
    paginate: bool,
) -> Vec<Row> {
    let mut rows: Vec<Row> = merge(events, sessions, &parsed.metrics, total)
        .into_iter()
        .map(|(raw, metrics)| {
            let key = raw
                .iter()
                .zip(&parsed.dimensions)
                .map(|(value, dim)| match dim {
                    Dimension::Time(b) => {
                        bucket_index(*b, value.parse().unwrap_or(0), start_local).to_string()
                    }
                    _ => value.clone(),
                })
                .collect();
            let dims = raw
                .iter()
                .zip(&parsed.dimensions)
                .map(|(value, dim)| display_dim(dim, value))
                .collect();
            Row { dims, key, metrics }
        })
        .collect();
    sort(&mut rows, parsed);
    if !paginate {
        return rows;
    }
    let offset = parsed.offset.min(rows.len());
    let end = (offset + parsed.limit).min(rows.len());
    rows.truncate(end);
    rows.split_off(offset)
}

/// The v2 answer's JSON (for many rows CPU work: built off the HTTP workers).
fn answer_json(parsed: &ParsedQuery, answer: &QueryResponse, filters: Value) -> Value {
    let metric_values = |values: &[f64]| -> Vec<Value> {
        values
            .iter()
            .zip(&parsed.metrics)
            .map(|(v, m)| metric_json(*m, *v))
            .collect()
    };
    let rows: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let mut out = json!({
                "dimensions": row.dims,
                "metrics": metric_values(&row.metrics),
            });
            if let Some(c) = &row.comparison {
                out["comparison"] = json!({
                    "dimensions": c.dims,
                    "metrics": metric_values(&c.metrics),
                    "change": c.change,
                });
            }
            out
        })
        .collect();
    let site = &answer.site;
    let (from, to) = answer.window;
    let mut meta = json!({"time_zone": site.timezone, "total_rows": answer.total_rows});
    if parsed.imports {
        // As Plausible says it: imported statistics cannot be filtered.
        meta["imports_included"] = json!(parsed.filters.is_empty());
        if !parsed.filters.is_empty() {
            meta["imports_skip_reason"] = json!("unsupported_query");
            meta["imports_warning"] =
                json!("Imported statistics are left out: they cannot be filtered.");
        }
    }
    if let Some(labels) = &answer.time_labels {
        meta["time_labels"] = json!(labels);
    }
    json!({
        "results": rows,
        "meta": meta,
        "query": {
            "site_id": site.domain,
            "metrics": parsed.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
            "date_range": [rfc3339(from, site), rfc3339(to - 1, site)],
            "dimensions": parsed.dimension_names,
            "filters": filters,
        }
    })
}

/// A query, typed (what [`request::parse`] makes of a v2 body, or what spurlos's own pages
/// build with [`ParsedQuery::new`]).
pub type Query = ParsedQuery;

/// The answer to a query.
#[derive(Debug, Clone)]
pub struct QueryResponse {
    /// The site asked about.
    pub site: Arc<Site>,
    /// The UTC window `[from, to)` of the period.
    pub window: (i64, i64),
    /// The requested page of rows.
    pub rows: Vec<ResultRow>,
    /// Rows before pagination.
    pub total_rows: usize,
    /// Every bucket of the period (`include.time_labels`).
    pub time_labels: Option<Vec<String>>,
}

/// One row of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// The shown dimension values.
    pub dims: Vec<String>,
    /// The metric values, in the order asked.
    pub metrics: Vec<f64>,
    /// The same row in the previous period, when asked.
    pub comparison: Option<Comparison>,
}

/// A row's values in the previous period and the change against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub dims: Vec<String>,
    pub metrics: Vec<f64>,
    /// Per metric: the change in per cent (percentage points for rates).
    pub change: Vec<i64>,
}

/// One result row: shown dimensions, the key that matches it with the previous period, and
/// the metric values in the order asked.
#[derive(Debug, Clone)]
struct Row {
    dims: Vec<String>,
    key: Vec<String>,
    metrics: Vec<f64>,
}

/// Every bucket of `window` in the site's local time, formatted like result dimensions.
fn time_labels(bucket: TimeBucket, site: &Site, window: (i64, i64)) -> Vec<String> {
    let tz = site.tz();
    let local = |ts: i64| ts + crate::timezone::offset_at(tz, ts);
    let (start, end) = (local(window.0), local(window.1 - 1));
    let starts: Vec<i64> = match bucket {
        TimeBucket::Month => crate::timezone::month_starts(tz, window.0, window.1),
        TimeBucket::Week => {
            let monday = ((start.div_euclid(86_400) + 3).div_euclid(7) * 7 - 3) * 86_400;
            (0..)
                .map(|i| monday + i * 7 * 86_400)
                .take_while(|t| *t <= end)
                .collect()
        }
        b => {
            let size = match b {
                TimeBucket::Minute => 60,
                TimeBucket::Hour => 3600,
                _ => 86_400,
            };
            let first = start.div_euclid(size) * size;
            (0..)
                .map(|i| first + i * size)
                .take_while(|t| *t <= end)
                .take(600_000)
                .collect()
        }
    };
    starts
        .iter()
        .map(|t| display_dim(&Dimension::Time(bucket), &t.to_string()))
        .collect()
}

/// Position of a time bucket (local seconds) counted from the bucket holding `start_local`.
fn bucket_index(bucket: TimeBucket, raw: i64, start_local: i64) -> i64 {
    let steps = |size: i64| raw.div_euclid(size) - start_local.div_euclid(size);
    match bucket {
        TimeBucket::Minute => steps(60),
        TimeBucket::Hour => steps(3600),
        TimeBucket::Day => steps(86_400),
        TimeBucket::Week => {
            let week = |v: i64| (v.div_euclid(86_400) + 3).div_euclid(7);
            week(raw) - week(start_local)
        }
        TimeBucket::Month => {
            use chrono::Datelike;
            let month = |v: i64| {
                let d = chrono::DateTime::from_timestamp(v, 0).unwrap_or_default();
                i64::from(d.year()) * 12 + i64::from(d.month0())
            };
            month(raw) - month(start_local)
        }
    }
}

fn aggregate_query(
    site: &Site,
    window: (i64, i64),
    dimensions: Vec<Dimension>,
    filters: Vec<model::Filter>,
    metrics: Vec<Metric>,
) -> AggregateQuery {
    let tz = site.tz();
    AggregateQuery {
        site_id: site.id.0,
        from_ts: window.0,
        to_ts: window.1,
        offsets: crate::timezone::offsets(tz, window.0, window.1),
        month_starts: crate::timezone::month_starts(tz, window.0, window.1),
        dimensions,
        filters,
        metrics,
        exact: false,
        max_groups: None,
        by_site: Vec::new(),
    }
}

/// Refuses time series with more than [`MAX_TIME_BUCKETS`] buckets.
fn check_buckets(parsed: &Query, window: (i64, i64)) -> Result<(), StatsError> {
    for dim in &parsed.dimensions {
        let Dimension::Time(bucket) = dim else {
            continue;
        };
        let size = match bucket {
            TimeBucket::Minute => 60,
            TimeBucket::Hour => 3600,
            TimeBucket::Day => 86_400,
            TimeBucket::Week => 7 * 86_400,
            TimeBucket::Month => 28 * 86_400,
        };
        let buckets = (window.1 - window.0) / size;
        if buckets > MAX_TIME_BUCKETS {
            return Err(StatsError::Invalid {
                field: "dimensions".into(),
                message: format!(
                    "{} makes about {buckets} buckets over this period; at most {MAX_TIME_BUCKETS}: choose a coarser time dimension or a shorter period",
                    dim.api_name()
                ),
            });
        }
    }
    Ok(())
}

fn rfc3339(ts: i64, site: &Site) -> String {
    use chrono::TimeZone;
    site.tz()
        .timestamp_opt(ts, 0)
        .single()
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

fn merge(
    events: Vec<EventAgg>,
    sessions: Vec<SessionAgg>,
    metrics: &[Metric],
    total_visitors: u64,
) -> Vec<(Vec<String>, Vec<f64>)> {
    let mut by_dims: HashMap<Vec<String>, (Option<EventAgg>, Option<SessionAgg>)> = HashMap::new();
    for e in events {
        let key = e.dims.clone();
        by_dims.entry(key).or_default().0 = Some(e);
    }
    for s in sessions {
        let key = s.dims.clone();
        by_dims.entry(key).or_default().1 = Some(s);
    }
    let mut out = Vec::with_capacity(by_dims.len());
    for (dims, (e, s)) in by_dims {
        let e = e.unwrap_or_default();
        let s = s.unwrap_or_default();
        if e.visitors == 0 && e.events == 0 && s.visits <= 0 {
            continue;
        }
        let visits = s.visits.max(0) as f64;
        let per_visit = |x: i64| if visits > 0.0 { x as f64 / visits } else { 0.0 };
        // Imported visits without bounces and durations count in neither's denominator.
        let timed = (s.visits - s.untimed).max(0) as f64;
        let per_timed = |x: i64| if timed > 0.0 { x as f64 / timed } else { 0.0 };
        let values = metrics
            .iter()
            .map(|m| match m {
                Metric::Visitors => e.visitors as f64,
                Metric::Visits => visits,
                Metric::Pageviews => e.pageviews as f64,
                Metric::Events => e.events as f64,
                Metric::ViewsPerVisit => (per_visit(s.pageviews) * 100.0).round() / 100.0,
                Metric::BounceRate => (per_timed(s.bounces) * 100.0).round(),
                Metric::VisitDuration => per_timed(s.duration).round(),
                Metric::Percentage if total_visitors > 0 => {
                    (e.visitors as f64 * 1000.0 / total_visitors as f64).round() / 10.0
                }
                Metric::Percentage => 0.0,
            })
            .collect();
        out.push((dims, values));
    }
    out
}

fn display_dim(dim: &Dimension, raw: &str) -> String {
    match dim {
        Dimension::Time(bucket) => {
            let ts: i64 = raw.parse().unwrap_or(0);
            let t = chrono::DateTime::from_timestamp(ts, 0)
                .unwrap_or_default()
                .naive_utc();
            let fmt = match bucket {
                TimeBucket::Minute => "%Y-%m-%d %H:%M:00",
                TimeBucket::Hour => "%Y-%m-%d %H:00:00",
                TimeBucket::Day | TimeBucket::Week | TimeBucket::Month => "%Y-%m-%d",
            };
            t.format(fmt).to_string()
        }
        Dimension::Visit(VisitField::Source) if raw.is_empty() => DIRECT.to_string(),
        Dimension::Visit(_) | Dimension::EntryPage | Dimension::ExitPage if raw.is_empty() => {
            "(none)".to_string()
        }
        _ => raw.to_string(),
    }
}

fn sort(rows: &mut [Row], parsed: &ParsedQuery) {
    rows.sort_by(|a, b| {
        for (key, desc) in &parsed.order_by {
            let ord = match key {
                SortKey::Metric(i) => a.metrics[*i].total_cmp(&b.metrics[*i]),
                SortKey::Dimension(i) => a.dims[*i].cmp(&b.dims[*i]),
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.dims.cmp(&b.dims)
    });
}

/// A metric value as the Stats API writes it (a whole number, or a decimal for ratios).
pub fn metric_json(m: Metric, v: f64) -> Value {
    match m {
        Metric::ViewsPerVisit | Metric::Percentage => json!(v),
        _ => json!(v as i64),
    }
}

fn change(m: Metric, now: f64, before: f64) -> i64 {
    match m {
        // Percentage points for a rate.
        Metric::BounceRate => (now - before) as i64,
        _ if before == 0.0 => {
            if now > 0.0 {
                100
            } else {
                0
            }
        }
        _ => ((now - before) / before * 100.0).round() as i64,
    }
}
