//! Day archives: every sum per site, local day, dimension and value, made once a day is over,
//! so that a dashboard over weeks or months reads a few thousand archived rows plus the raw
//! events of the days not archived yet (today) instead of scanning every event.
//!
//! Archives answer unfiltered queries with no dimension, one time dimension (day, week,
//! month) or one archived dimension; everything else scans raw events. Their answers are the
//! raw answers: visitor ids belong to one local day (`ingest::identify`), so a period's
//! visitors are the sum of its days' visitors, and every other metric is a sum anyway. A write
//! that touches an archived day (a late visit, an import) deletes that day's archive; the next
//! run builds it again.

use super::model::{
    AggregateQuery, Dimension, FilterOp, Metric, TimeBucket, VisitField, VISIT_FIELDS,
};
use crate::clock::SharedClock;
use crate::store::{
    ArchiveRow, ArchivedDay, Batch, EventAgg, ImportedRow, SessionAgg, Store, StoreError,
    StoreFuture,
};
use crate::tenancy::sites::{Site, SiteRegistry};
use crate::tenancy::SiteId;
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Time after the end of a local day before it is archived: visits still going at midnight
/// and hits still in the queue land first.
pub const GRACE_SECONDS: i64 = 2 * 3600;

const DAY: i64 = 86_400;
/// A build's rows: per site and local day, per (dimension, value).
type BuildRows = HashMap<(u32, i32), HashMap<(String, String), ArchiveRow>>;
/// (time zone, days) → the sites that need exactly those days, with their events.
type SameDays = std::collections::BTreeMap<(String, Vec<i32>), Vec<(Arc<Site>, u64)>>;

/// A build covers about this many events (more only when one site-day holds more) ...
const BUILD_EVENTS: u64 = 2_000_000;
/// ... and at most this many sites.
const BUILD_SITES: usize = 2_000;
/// Days with at least this many events get rollups (`rollup_filters`) by default: below it,
/// a filtered month scans at most about 1.5 million events (fast enough), and rollups of
/// small days would take more room than their events (each event is in up to ~110 rollup rows:
/// 7 filters × the totals and 15 panels).
pub const ROLLUP_MIN_EVENTS: u64 = 50_000;
/// Days without events recorded in one write.
const EMPTY_DAYS_PER_WRITE: usize = 5_000;

/// The archives' layout, kept in the store (document `archive/format`): archives of another
/// layout are deleted at start and built again. 2: with the rollups of `rollup_filters`;
/// 3: rollups of pages too, of the dashboard's panels only.
const FORMAT: &str = "3";
const FORMAT_KIND: &str = "archive";
const FORMAT_KEY: &str = "format";

/// The dimensions that have archives, besides the day's totals.
pub fn archived_dimensions() -> Vec<Dimension> {
    let mut dims = vec![
        Dimension::Page,
        Dimension::Hostname,
        Dimension::EventName,
        Dimension::EntryPage,
        Dimension::ExitPage,
    ];
    dims.extend(VISIT_FIELDS.iter().map(|(_, f)| Dimension::Visit(*f)));
    dims
}

/// The filters whose values have rollups: for each value, the sums of every
/// [`rollup_panels`] dimension among the events (visits) with that value, so that a dashboard
/// filtered by one of them reads archives too. The filters clicked most.
pub fn rollup_filters() -> Vec<Dimension> {
    vec![
        Dimension::Visit(VisitField::Source),
        Dimension::Visit(VisitField::Country),
        Dimension::Visit(VisitField::Browser),
        Dimension::Visit(VisitField::Os),
        Dimension::Visit(VisitField::Device),
        Dimension::EventName,
        Dimension::Page,
    ]
}

/// The dimensions rollups hold (besides the totals): the dashboard's panels.
pub fn rollup_panels() -> Vec<Dimension> {
    use VisitField::*;
    let mut dims: Vec<Dimension> = [Source, Referrer, UtmSource, UtmMedium, UtmCampaign]
        .into_iter()
        .map(Dimension::Visit)
        .collect();
    dims.extend([Dimension::Page, Dimension::EntryPage, Dimension::ExitPage]);
    dims.extend(
        [Country, Region, City, Browser, Os, Device]
            .into_iter()
            .map(Dimension::Visit),
    );
    dims.push(Dimension::EventName);
    dims
}

/// What a rollup of `filter` holds of `panel`: (event sums, visit sums). Visit pages hold
/// the visits only (their visitors would join every event with its visit), and nothing
/// under a page filter (a page and the entry pages of its visits are too many pairs).
fn rollup_holds(filter: &Dimension, panel: Option<&Dimension>) -> (bool, bool) {
    let visit_page = matches!(panel, Some(Dimension::EntryPage | Dimension::ExitPage));
    match panel {
        Some(p) if !rollup_panels().contains(p) => (false, false),
        _ if visit_page => (false, *filter != Dimension::Page),
        _ => (true, true),
    }
}

/// The archive's dimension name of a rollup: `filter=value>panel` (`panel` empty for the
/// totals), e.g. `visit:country=DE>event:page`. Unambiguous: filter and panel names come
/// from fixed lists and contain neither `=` nor `>`.
pub fn rollup_key(filter: &Dimension, value: &str, panel: &str) -> String {
    format!("{}={value}>{panel}", filter.api_name())
}

/// The local day (days since 1970-01-01 in `tz`) that holds `ts`.
pub fn local_day(tz: Tz, ts: i64) -> i32 {
    ((ts + crate::timezone::offset_at(tz, ts)).div_euclid(DAY)) as i32
}

/// UTC start of a local day.
pub fn day_start(tz: Tz, day: i32) -> i64 {
    let date = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(i64::from(day))))
        .unwrap_or_default();
    crate::timezone::day_start(tz, date)
}

#[derive(Default)]
struct State {
    /// Archived local days per site.
    days: HashMap<u32, BTreeSet<i32>>,
    /// The archived days that have rollups, per site.
    rollups: HashMap<u32, BTreeSet<i32>>,
    /// Days with imported statistics, per site.
    imported: HashMap<u32, BTreeSet<i32>>,
    /// Per site, the first local day whose raw events are kept (retention deleted the ones
    /// before; their archives are final).
    horizon: HashMap<u32, i32>,
    /// Bumped by every invalidation; an archive built across a bump is thrown away.
    epoch: u64,
}

/// Which days of a query come from archives and which windows are scanned raw.
struct Plan {
    dim: String,
    bucket: Option<TimeBucket>,
    archived: BTreeSet<i32>,
    raw: Vec<(i64, i64)>,
}

/// The archive: builds day archives and answers queries from them where it can.
pub struct Archive {
    store: Arc<dyn Store>,
    sites: SiteRegistry,
    clock: SharedClock,
    state: Mutex<State>,
    /// Held while an archive is committed or deleted, so the two never interleave.
    commit: tokio::sync::Mutex<()>,
    /// Writes of events before this UTC time may touch an archived day.
    boundary: AtomicI64,
    /// Set at shutdown: runs stop after the day they are on.
    stopping: std::sync::atomic::AtomicBool,
    /// Finished site-days without an archive, as of the last run (a metric).
    pending: std::sync::atomic::AtomicU64,
    /// Days with at least this many events get rollups.
    rollup_min_events: u64,
    /// Recent sums over archived days (they change only with the epoch).
    sums: Mutex<SumCache>,
}

/// Archive sums recently read, by site, dimension and days, valid for one epoch.
#[derive(Default)]
struct SumCache {
    epoch: u64,
    rows: HashMap<(u32, String, i32, i32), Arc<Vec<ArchiveRow>>>,
}

/// At most this many sums are kept, each of at most `SUM_CACHE_ROWS` rows (a few MB at most).
const SUM_CACHE_ENTRIES: usize = 1_000;
const SUM_CACHE_ROWS: usize = 2_000;

impl Archive {
    /// Loads the list of archived days; archives cut in a time zone the site no longer has
    /// (or of sites that are gone) are deleted.
    pub async fn load(
        store: Arc<dyn Store>,
        sites: SiteRegistry,
        clock: SharedClock,
    ) -> Result<Self, StoreError> {
        let mut state = State::default();
        let mut stale: HashMap<u32, Vec<i32>> = HashMap::new();
        // Archives of an older layout (without the rollups) are built again.
        let current = store.doc(FORMAT_KIND, FORMAT_KEY).await?.as_deref() == Some(FORMAT);
        for d in store.archived_days().await? {
            match sites.by_id(SiteId(d.site_id)) {
                Some(site) if current && site.timezone == d.timezone => {
                    state.days.entry(d.site_id).or_default().insert(d.day);
                    if d.rollups {
                        state.rollups.entry(d.site_id).or_default().insert(d.day);
                    }
                }
                _ => stale.entry(d.site_id).or_default().push(d.day),
            }
        }
        for (site_id, days) in stale {
            store.archive_delete(site_id, days).await?;
        }
        state.imported = imported_map(store.imported_days().await?);
        if !current {
            store
                .apply(vec![crate::store::DocChange {
                    kind: FORMAT_KIND,
                    key: FORMAT_KEY.into(),
                    body: Some(FORMAT.into()),
                }])
                .await?;
        }
        let archive = Self {
            store,
            sites,
            clock,
            state: Mutex::new(state),
            commit: tokio::sync::Mutex::new(()),
            boundary: AtomicI64::new(i64::MIN),
            stopping: std::sync::atomic::AtomicBool::new(false),
            pending: std::sync::atomic::AtomicU64::new(0),
            rollup_min_events: ROLLUP_MIN_EVENTS,
            sums: Mutex::new(SumCache::default()),
        };
        archive.update_boundary();
        Ok(archive)
    }

    /// Days with at least `n` events get rollups (default [`ROLLUP_MIN_EVENTS`]).
    pub fn with_rollup_min_events(mut self, n: u64) -> Self {
        self.rollup_min_events = n;
        self
    }

    /// Adopts the store's list of archived days: where several spurlos nodes share one
    /// ClickHouse, another node may have archived days or dropped them (a late write).
    async fn refresh(&self) -> Result<(), StoreError> {
        let stored = self.store.archived_days().await?;
        let _commit = self.commit.lock().await;
        let mut days: HashMap<u32, BTreeSet<i32>> = HashMap::new();
        let mut rollups: HashMap<u32, BTreeSet<i32>> = HashMap::new();
        for d in stored {
            if self
                .sites
                .by_id(SiteId(d.site_id))
                .is_some_and(|site| site.timezone == d.timezone)
            {
                days.entry(d.site_id).or_default().insert(d.day);
                if d.rollups {
                    rollups.entry(d.site_id).or_default().insert(d.day);
                }
            }
        }
        // Another node may have rebuilt a day meanwhile (the same days, other sums).
        self.sums
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rows
            .clear();
        let imported = imported_map(self.store.imported_days().await?);
        {
            let mut state = self.state();
            if state.days != days || state.rollups != rollups || state.imported != imported {
                state.epoch += 1;
                state.days = days;
                state.rollups = rollups;
                state.imported = imported;
            }
        }
        self.update_boundary();
        Ok(())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update_boundary(&self) {
        let state = self.state();
        let mut boundary = i64::MIN;
        for (site_id, days) in &state.days {
            if let (Some(site), Some(last)) = (self.sites.by_id(SiteId(*site_id)), days.last()) {
                boundary = boundary.max(day_start(site.tz(), last + 1));
            }
        }
        self.boundary.store(boundary, Ordering::Relaxed);
    }

    /// Archived days of a site, ascending.
    pub fn days(&self, site_id: u32) -> Vec<i32> {
        self.state()
            .days
            .get(&site_id)
            .map(|d| d.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Days of a site with imported statistics, ascending.
    pub fn imported_days(&self, site_id: u32) -> Vec<i32> {
        self.state()
            .imported
            .get(&site_id)
            .map(|d| d.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Stores statistics imported from `source` for a site's `days` (replacing what the
    /// source imported there before).
    pub async fn put_imported(
        &self,
        site_id: u32,
        source: String,
        days: Vec<i32>,
        rows: Vec<ImportedRow>,
    ) -> Result<(), StoreError> {
        let _commit = self.commit.lock().await;
        self.store.imported_put(site_id, source, days, rows).await?;
        let imported = imported_map(self.store.imported_days().await?);
        let mut state = self.state();
        state.imported = imported;
        state.epoch += 1;
        Ok(())
    }

    /// Deletes a site's statistics in `span`: its events and visits, the archives of its
    /// days (builds running meanwhile are thrown away) and imported days. The next run
    /// archives the days again, now empty.
    pub async fn erase(
        &self,
        site_id: u32,
        span: crate::stats::erase::Span,
    ) -> Result<crate::stats::erase::Erased, StoreError> {
        // Another node may have archived days this one does not know of yet.
        self.refresh().await?;
        let _commit = self.commit.lock().await;
        // No batch is written meanwhile (in this order, as archive commits take them).
        let _no_writes = self.sites.deleting().await;
        let within = |d: &i32| *d >= span.from_day && *d <= span.to_day;
        let archived: Vec<i32> = {
            let mut guard = self.state();
            let state = &mut *guard;
            state.epoch += 1;
            let mut gone = Vec::new();
            if let Some(days) = state.days.get_mut(&site_id) {
                gone = days.iter().copied().filter(within).collect();
                days.retain(|d| !within(d));
            }
            for map in [&mut state.rollups, &mut state.imported] {
                if let Some(days) = map.get_mut(&site_id) {
                    days.retain(|d| !within(d));
                }
            }
            gone
        };
        let archived_days = archived.len() as u64;
        self.store.archive_purge(site_id, archived).await?;
        let imported_days = self
            .store
            .imported_delete(site_id, span.from_day, span.to_day)
            .await?;
        let deleted = self
            .store
            .delete_range(site_id, span.from_ts, span.to_ts)
            .await?;
        // Days outside the period that deleted visits reached (a visit across midnight):
        // their archives describe those visits, so they are built again without them.
        if let (Some((first, last)), Some(site)) =
            (deleted.reach, self.sites.by_id(SiteId(site_id)))
        {
            let (first, last) = (local_day(site.tz(), first), local_day(site.tz(), last));
            let reached: Vec<i32> = {
                let mut guard = self.state();
                let state = &mut *guard;
                let mut reached = Vec::new();
                if let Some(days) = state.days.get_mut(&site_id) {
                    reached = days.range(first..=last).copied().collect();
                    days.retain(|d| !reached.contains(d));
                }
                if let Some(days) = state.rollups.get_mut(&site_id) {
                    days.retain(|d| !reached.contains(d));
                }
                reached
            };
            self.store.archive_purge(site_id, reached).await?;
        }
        self.update_boundary();
        tracing::info!(
            site_id,
            events = deleted.events,
            visits = deleted.visits,
            archived_days,
            imported_days,
            "statistics deleted"
        );
        Ok(crate::stats::erase::Erased {
            events: deleted.events,
            visits: deleted.visits,
            archived_days,
            imported_days,
        })
    }

    /// The last day up to which every day of a site from its first archived one is archived.
    pub fn archived_through(&self, site_id: u32) -> Option<i32> {
        let state = self.state();
        let days = state.days.get(&site_id)?;
        let mut last = *days.first()?;
        while days.contains(&(last + 1)) {
            last += 1;
        }
        Some(last)
    }

    /// The first local day of a site whose raw events are kept, once retention has deleted
    /// older ones.
    pub fn horizon(&self, site_id: u32) -> Option<i32> {
        self.state().horizon.get(&site_id).copied()
    }

    /// Deletes a site's raw events and visits before `cutoff_ts` (the start of local day
    /// `cutoff_day`; the days before are archived), keeping their archives: from now on
    /// those archives are final, and queries that need raw events there are refused.
    pub async fn expire_raw(
        &self,
        site_id: u32,
        cutoff_day: i32,
        cutoff_ts: i64,
    ) -> Result<crate::store::Deleted, StoreError> {
        let _commit = self.commit.lock().await;
        let _no_writes = self.sites.deleting().await;
        {
            let mut state = self.state();
            let horizon = state.horizon.entry(site_id).or_insert(i32::MIN);
            *horizon = (*horizon).max(cutoff_day);
        }
        self.store.delete_range(site_id, i64::MIN, cutoff_ts).await
    }

    /// Deletes every archive of a site (its time zone changed, so its days did too).
    pub async fn reset_site(&self, site_id: u32) -> Result<(), StoreError> {
        let days = self.days(site_id);
        if days.is_empty() {
            return Ok(());
        }
        self.invalidate(site_id, days).await
    }

    /// Forgets a removed site's archives (the store deleted them with the site).
    pub fn forget_site(&self, site_id: u32) {
        {
            let mut state = self.state();
            state.days.remove(&site_id);
            state.rollups.remove(&site_id);
            state.imported.remove(&site_id);
            state.epoch += 1;
        }
        self.update_boundary();
    }

    /// Deletes the archives of the days a batch touches (called before and after storing it).
    pub async fn touch(&self, batch: &Batch) -> Result<(), StoreError> {
        let boundary = self.boundary.load(Ordering::Relaxed);
        let old_events = batch.events.iter().map(|e| (e.site_id, e.ts));
        let old_sessions = batch.sessions.iter().map(|s| (s.site_id, s.start_ts));
        let touched: Vec<(u32, i64)> = old_events
            .chain(old_sessions)
            .filter(|(_, ts)| *ts < boundary)
            .collect();
        if touched.is_empty() {
            return Ok(());
        }
        let mut hit: HashMap<u32, BTreeSet<i32>> = HashMap::new();
        {
            let state = self.state();
            for (site_id, ts) in touched {
                let (Some(site), Some(days)) =
                    (self.sites.by_id(SiteId(site_id)), state.days.get(&site_id))
                else {
                    continue;
                };
                let day = local_day(site.tz(), ts);
                // Days before the retention horizon keep their archives: their raw events
                // are gone, and late ones are deleted by the next retention run.
                let final_day = state.horizon.get(&site_id).is_some_and(|h| day < *h);
                if days.contains(&day) && !final_day {
                    hit.entry(site_id).or_default().insert(day);
                }
            }
        }
        for (site_id, days) in hit {
            self.invalidate(site_id, days.into_iter().collect()).await?;
        }
        Ok(())
    }

    /// Deletes the archives of `days`.
    pub async fn invalidate(&self, site_id: u32, days: Vec<i32>) -> Result<(), StoreError> {
        let _commit = self.commit.lock().await;
        {
            let mut guard = self.state();
            let state = &mut *guard;
            state.epoch += 1;
            for map in [&mut state.days, &mut state.rollups] {
                if let Some(set) = map.get_mut(&site_id) {
                    for d in &days {
                        set.remove(d);
                    }
                }
            }
        }
        self.update_boundary();
        tracing::info!(
            site_id,
            days = days.len(),
            "archived days changed; rebuilding later"
        );
        self.store.archive_delete(site_id, days).await
    }

    /// Finished site-days without an archive, as of the last run.
    pub fn pending_days(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Stops running archive builds after their current day (shutdown); later runs do nothing.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Archives every finished day of every site that has no archive yet; returns how many
    /// days it archived.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        self.run_with_progress(|_, _| {}).await
    }

    /// Like [`Archive::run_once`], telling `progress(done, total)` (in days) after each
    /// write.
    ///
    /// The work follows the data: days without events are recorded as archived (empty)
    /// without a query, many in one write; days with events are built in groups, a query per
    /// dimension for a whole group of days and of sites (sites of one time zone that need the
    /// same days, like every site's yesterday in the nightly run), each build about
    /// `BUILD_EVENTS` events. A sparse history of years is a handful of queries, and ten
    /// thousand small sites' nightly run a few dozen.
    pub async fn run_with_progress(
        &self,
        progress: impl Fn(u64, u64),
    ) -> Result<usize, StoreError> {
        self.refresh().await?;
        let now = self.clock.now().timestamp();
        let first_events: HashMap<u32, i64> =
            self.store.first_events().await?.into_iter().collect();
        // The finished days without an archive, per site.
        let mut wanted: Vec<(Arc<Site>, Vec<i32>)> = Vec::new();
        for site in self.sites.all() {
            let Some(&first_ts) = first_events.get(&site.id.0) else {
                continue;
            };
            let tz = site.tz();
            let first = local_day(tz, first_ts);
            // The last day whose end (plus the grace time) has passed.
            let mut last = local_day(tz, now);
            while last >= first && day_start(tz, last + 1) + GRACE_SECONDS > now {
                last -= 1;
            }
            let done: BTreeSet<i32> = self.days(site.id.0).into_iter().collect();
            let days: Vec<i32> = (first..=last).filter(|d| !done.contains(d)).collect();
            if !days.is_empty() {
                wanted.push((site, days));
            }
        }
        let per_day = self.events_per_day(&wanted).await?;
        let mut empty: Vec<(Arc<Site>, Vec<i32>)> = Vec::new();
        // (time zone, days) → the sites that need exactly those days, with their events.
        let mut groups: SameDays = Default::default();
        for (site, days) in wanted {
            let counts = per_day.get(&site.id.0).cloned().unwrap_or_default();
            let (busy, none): (Vec<i32>, Vec<i32>) =
                days.into_iter().partition(|d| counts.contains_key(d));
            if !none.is_empty() {
                empty.push((site.clone(), none));
            }
            for (days, size) in day_groups(&busy, &counts) {
                groups
                    .entry((site.timezone.clone(), days))
                    .or_default()
                    .push((site.clone(), size));
            }
        }
        // The site-days that get rollups.
        let rollups: BTreeSet<(u32, i32)> = per_day
            .iter()
            .flat_map(|(site, counts)| {
                counts
                    .iter()
                    .filter(|(_, n)| **n >= self.rollup_min_events)
                    .map(move |(day, _)| (*site, *day))
            })
            .collect();
        let mut builds: Vec<(Vec<Arc<Site>>, Vec<i32>)> = Vec::new();
        for ((_, days), sites) in groups {
            let mut batch: Vec<Arc<Site>> = Vec::new();
            let mut size = 0u64;
            for (site, n) in sites {
                if !batch.is_empty() && (size + n > BUILD_EVENTS || batch.len() >= BUILD_SITES) {
                    builds.push((std::mem::take(&mut batch), days.clone()));
                    size = 0;
                }
                batch.push(site);
                size += n;
            }
            if !batch.is_empty() {
                builds.push((batch, days));
            }
        }
        let total: u64 = empty
            .iter()
            .map(|(_, d)| d.len() as u64)
            .chain(builds.iter().map(|(s, d)| (s.len() * d.len()) as u64))
            .sum();
        self.pending.store(total, Ordering::Relaxed);
        let mut made = 0;
        let mut finished = 0u64;
        let mut step = |n: usize| {
            finished += n as u64;
            progress(finished, total);
            self.pending.store(total - finished, Ordering::Relaxed);
        };
        // Empty days first, many sites' in one write.
        let mut write: Vec<(Arc<Site>, Vec<i32>)> = Vec::new();
        let mut count = 0usize;
        for (site, days) in empty {
            if self.stopped(made) {
                return Ok(made);
            }
            for chunk in days.chunks(EMPTY_DAYS_PER_WRITE) {
                count += chunk.len();
                write.push((site.clone(), chunk.to_vec()));
                if count >= EMPTY_DAYS_PER_WRITE {
                    let epoch = self.state().epoch;
                    let batch = std::mem::take(&mut write);
                    made += self
                        .commit_days(batch, HashMap::new(), &BTreeSet::new(), epoch)
                        .await?;
                    step(count);
                    count = 0;
                }
            }
        }
        if !write.is_empty() {
            let epoch = self.state().epoch;
            made += self
                .commit_days(write, HashMap::new(), &BTreeSet::new(), epoch)
                .await?;
            step(count);
        }
        for (sites, days) in builds {
            if self.stopped(made) {
                return Ok(made);
            }
            let n = sites.len() * days.len();
            made += self.build(&sites, &days, &rollups).await?;
            step(n);
        }
        if made > 0 {
            tracing::info!(days = made, "archived days");
        }
        Ok(made)
    }

    /// Whether a shutdown asked runs to stop (said in the log with the days made so far).
    fn stopped(&self, made: usize) -> bool {
        let stopping = self.stopping.load(Ordering::Relaxed);
        if stopping {
            tracing::info!(
                days = made,
                "archiving stopped for shutdown; the rest later"
            );
        }
        stopping
    }

    /// Events per local day of the wanted days, per site, from the store's hours with
    /// events (an hour that straddles two local days, in zones with half-hour offsets,
    /// counts for both). Sites whose wanted days lie close together are asked in one query.
    async fn events_per_day(
        &self,
        wanted: &[(Arc<Site>, Vec<i32>)],
    ) -> Result<HashMap<u32, std::collections::BTreeMap<i32, u64>>, StoreError> {
        let mut spans: Vec<(i64, i64, &Site)> = wanted
            .iter()
            .filter_map(|(site, days)| {
                let tz = site.tz();
                Some((
                    day_start(tz, *days.first()?),
                    day_start(tz, days.last()? + 1),
                    site.as_ref(),
                ))
            })
            .collect();
        spans.sort_by_key(|(from, _, _)| *from);
        let mut out: HashMap<u32, std::collections::BTreeMap<i32, u64>> = HashMap::new();
        let mut i = 0;
        while i < spans.len() {
            // A batch: sites whose spans fit in a window of a week (or one site alone).
            let (from, mut to) = (spans[i].0, spans[i].1);
            let mut j = i + 1;
            while j < spans.len() && j - i < BUILD_SITES && spans[j].1.max(to) - from <= 8 * DAY {
                to = to.max(spans[j].1);
                j += 1;
            }
            let batch = &spans[i..j];
            let ids = batch.iter().map(|(_, _, s)| s.id.0).collect();
            let sites: HashMap<u32, &Site> = batch.iter().map(|(_, _, s)| (s.id.0, *s)).collect();
            for (site_id, hour, n) in self.store.event_hours(ids, from, to).await? {
                let Some(site) = sites.get(&site_id) else {
                    continue;
                };
                let tz = site.tz();
                let days = out.entry(site_id).or_default();
                let (a, b) = (local_day(tz, hour), local_day(tz, hour + 3599));
                *days.entry(a).or_default() += n;
                if b != a {
                    *days.entry(b).or_default() += n;
                }
            }
            i = j;
        }
        Ok(out)
    }

    /// Builds and stores the archives of `days` (ascending) of `sites` (one time zone) in
    /// one write; returns how many site-days it stored: none when a write touched the
    /// archives meanwhile (the next run tries again).
    async fn build(
        &self,
        sites: &[Arc<Site>],
        days: &[i32],
        rollups: &BTreeSet<(u32, i32)>,
    ) -> Result<usize, StoreError> {
        let (Some(&first), Some(&last), Some(site0)) = (days.first(), days.last(), sites.first())
        else {
            return Ok(0);
        };
        let epoch = self.state().epoch;
        let tz = site0.tz();
        let window = (day_start(tz, first), day_start(tz, last + 1));
        let wanted: BTreeSet<i32> = days.iter().copied().collect();
        let mut rows: BuildRows = HashMap::new();
        let q = AggregateQuery {
            site_id: site0.id.0,
            from_ts: window.0,
            to_ts: window.1,
            offsets: crate::timezone::offsets(tz, window.0, window.1),
            month_starts: Vec::new(),
            dimensions: Vec::new(),
            filters: Vec::new(),
            metrics: vec![Metric::Visitors, Metric::Pageviews, Metric::Visits],
            exact: true,
            max_groups: None,
            by_site: sites.iter().map(|s| s.id.0).collect(),
        };
        // The unfiltered sums, then those of each rollup filter's values (see `rollup_key`),
        // one grouping at a time: events and visits at once.
        // Rollups only where some site-day of the build gets them (rows of the others are
        // dropped below).
        let rolled: BTreeSet<(u32, i32)> = sites
            .iter()
            .flat_map(|s| days.iter().map(move |d| (s.id.0, *d)))
            .filter(|k| rollups.contains(k))
            .collect();
        let filters = if rolled.is_empty() {
            Vec::new()
        } else {
            rollup_filters()
        };
        let filters = std::iter::once(None).chain(filters.into_iter().map(Some));
        for filter in filters {
            let panel_dims = match filter {
                None => archived_dimensions(),
                Some(_) => rollup_panels(),
            };
            let panels = std::iter::once(None).chain(panel_dims.into_iter().map(Some));
            for panel in panels {
                let mut dimensions = vec![Dimension::Time(TimeBucket::Day)];
                dimensions.extend(filter.iter().cloned());
                dimensions.extend(panel.iter().cloned());
                let q = AggregateQuery {
                    dimensions,
                    ..q.clone()
                };
                let (with_events, with_visits) = match &filter {
                    None => (true, true),
                    Some(f) => rollup_holds(f, panel.as_ref()),
                };
                let events = async {
                    if with_events {
                        self.store.event_aggregate(&q).await
                    } else {
                        Ok(Vec::new())
                    }
                };
                let sessions = async {
                    if with_visits {
                        self.store.session_aggregate(&q).await
                    } else {
                        Ok(Vec::new())
                    }
                };
                let (events, sessions) = tokio::try_join!(events, sessions)?;
                let panel_name = panel.as_ref().map(Dimension::api_name).unwrap_or_default();
                // The dimensions are the site, the local day's start (local seconds), the
                // filter's value (rollups), the panel's value.
                let split = |dims: Vec<String>| -> Option<((u32, i32), String, String)> {
                    let mut it = dims.into_iter();
                    let site: u32 = it.next()?.parse().ok()?;
                    let local: i64 = it.next()?.parse().ok()?;
                    let day = local.div_euclid(DAY) as i32;
                    let name = match &filter {
                        None => panel_name.clone(),
                        Some(f) => rollup_key(f, &it.next()?, &panel_name),
                    };
                    let keep = wanted.contains(&day)
                        && (filter.is_none() || rolled.contains(&(site, day)));
                    keep.then(|| ((site, day), name, it.next().unwrap_or_default()))
                };
                for e in events {
                    if let Some((key, name, value)) = split(e.dims) {
                        let r = archive_row(&mut rows, key, &name, value);
                        r.visitors = e.visitors;
                        r.pageviews = e.pageviews;
                        r.events = e.events;
                    }
                }
                for s in sessions {
                    if let Some((key, name, value)) = split(s.dims) {
                        let r = archive_row(&mut rows, key, &name, value);
                        r.visits = s.visits;
                        r.visit_pageviews = s.pageviews;
                        r.bounces = s.bounces;
                        r.duration = s.duration;
                    }
                }
            }
        }
        let put = sites.iter().map(|s| (s.clone(), days.to_vec())).collect();
        self.commit_days(put, rows, &rolled, epoch).await
    }

    /// Stores the archives of these sites' days (rows from a build; days without rows are
    /// empty; `rollups`: the site-days whose rollups the rows hold) unless a write touched
    /// the archives since `epoch`; returns the site-days stored.
    async fn commit_days(
        &self,
        days: Vec<(Arc<Site>, Vec<i32>)>,
        mut rows: BuildRows,
        rollups: &BTreeSet<(u32, i32)>,
        epoch: u64,
    ) -> Result<usize, StoreError> {
        let _commit = self.commit.lock().await;
        if self.state().epoch != epoch {
            return Ok(0);
        }
        // Sites deleted meanwhile get no archive back.
        let _writing = self.sites.writing().await;
        let mut put = Vec::new();
        for (site, list) in &days {
            if self.sites.by_id(site.id).is_none() {
                continue;
            }
            for day in list {
                let day_rows = rows
                    .remove(&(site.id.0, *day))
                    .map(|m| m.into_values().collect())
                    .unwrap_or_default();
                let archived = ArchivedDay {
                    site_id: site.id.0,
                    day: *day,
                    timezone: site.timezone.clone(),
                    rollups: rollups.contains(&(site.id.0, *day)),
                };
                put.push((archived, day_rows));
            }
        }
        if put.is_empty() {
            return Ok(0);
        }
        let n = put.len();
        self.store.archive_put(put).await?;
        {
            let mut state = self.state();
            for (site, list) in &days {
                if self.sites.by_id(site.id).is_some() {
                    let id = site.id.0;
                    state
                        .days
                        .entry(id)
                        .or_default()
                        .extend(list.iter().copied());
                    let rolled = list.iter().filter(|d| rollups.contains(&(id, **d)));
                    state.rollups.entry(id).or_default().extend(rolled);
                }
            }
        }
        self.update_boundary();
        Ok(n)
    }

    /// Which days of `q` archives answer (of its event sums, `events`, or its visit sums);
    /// `None` when the query needs raw events only.
    fn plan(&self, site: &Site, q: &AggregateQuery, events: bool) -> Option<Plan> {
        let (dim, bucket) = archive_dimension(q, events)?;
        let state = self.state();
        // Filtered queries: the days with rollups.
        let days = if q.filters.is_empty() {
            state.days.get(&site.id.0)?
        } else {
            state.rollups.get(&site.id.0)?
        };
        let (first_archived, last_archived) = (*days.first()?, *days.last()?);
        let tz = site.tz();
        let first = local_day(tz, q.from_ts).max(first_archived - 1);
        let last = local_day(tz, q.to_ts - 1).min(last_archived + 1);
        let mut archived = BTreeSet::new();
        for day in first..=last {
            if days.contains(&day)
                && day_start(tz, day) >= q.from_ts
                && day_start(tz, day + 1) <= q.to_ts
            {
                archived.insert(day);
            }
        }
        if archived.is_empty() {
            return None;
        }
        // Everything of the window outside the archived days is read raw.
        let mut raw = Vec::new();
        let mut at = q.from_ts;
        for day in &archived {
            let start = day_start(tz, *day);
            if start > at {
                raw.push((at, start));
            }
            at = day_start(tz, day + 1);
        }
        if at < q.to_ts {
            raw.push((at, q.to_ts));
        }
        Some(Plan {
            dim,
            bucket,
            archived,
            raw,
        })
    }

    /// The archive rows a plan uses, keyed like the store's result rows.
    async fn archived_rows(
        &self,
        site_id: u32,
        plan: &Plan,
        q: &AggregateQuery,
    ) -> Result<Vec<(Vec<String>, ArchiveRow)>, StoreError> {
        let (Some(first), Some(last)) = (plan.archived.first(), plan.archived.last()) else {
            return Ok(Vec::new());
        };
        // Without time buckets, over days without gaps: summed by the store (a month of a
        // page list is 400 rows instead of 12,000).
        let unbroken = plan.archived.len() as i64 == i64::from(*last) - i64::from(*first) + 1;
        if plan.bucket.is_none() && unbroken {
            let rows = self.archive_sum(site_id, *first, *last, &plan.dim).await?;
            return Ok(rows
                .iter()
                .cloned()
                .map(|row| {
                    let key = if q.dimensions.is_empty() {
                        Vec::new()
                    } else {
                        vec![row.value.clone()]
                    };
                    (key, row)
                })
                .collect());
        }
        let rows = self
            .store
            .archive_get(site_id, *first, *last, &plan.dim)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|(day, _)| plan.archived.contains(day))
            .map(|(day, row)| {
                let key = match plan.bucket {
                    Some(b) => vec![bucket_value(b, day, q).to_string()],
                    None if q.dimensions.is_empty() => Vec::new(),
                    None => vec![row.value.clone()],
                };
                (key, row)
            })
            .collect())
    }

    /// The store's [`ArchiveStore::archive_sum`](crate::store::ArchiveStore::archive_sum),
    /// remembered until the archives change: dashboards ask the same sums again and again.
    async fn archive_sum(
        &self,
        site_id: u32,
        first: i32,
        last: i32,
        dim: &str,
    ) -> Result<Arc<Vec<ArchiveRow>>, StoreError> {
        let key = (site_id, dim.to_string(), first, last);
        let epoch = self.state().epoch;
        {
            let mut cache = self.sums.lock().unwrap_or_else(|e| e.into_inner());
            if cache.epoch != epoch {
                cache.rows.clear();
                cache.epoch = epoch;
            }
            if let Some(rows) = cache.rows.get(&key) {
                return Ok(rows.clone());
            }
        }
        let rows = Arc::new(self.store.archive_sum(site_id, first, last, dim).await?);
        // Kept only if no archive changed meanwhile.
        let mut cache = self.sums.lock().unwrap_or_else(|e| e.into_inner());
        if cache.epoch == epoch && self.state().epoch == epoch && rows.len() <= SUM_CACHE_ROWS {
            if cache.rows.len() >= SUM_CACHE_ENTRIES {
                cache.rows.clear();
            }
            cache.rows.insert(key, rows.clone());
        }
        Ok(rows)
    }

    /// Event sums for `q`, from archives where they exist and raw events elsewhere.
    pub async fn event_aggregate(
        &self,
        site: &Site,
        q: &AggregateQuery,
    ) -> Result<Vec<EventAgg>, StoreError> {
        self.answer(site, q, true, |sub| self.store.event_aggregate(sub))
            .await
    }

    /// Session sums for `q`, from archives where they exist and raw sessions elsewhere.
    pub async fn session_aggregate(
        &self,
        site: &Site,
        q: &AggregateQuery,
    ) -> Result<Vec<SessionAgg>, StoreError> {
        self.answer(site, q, false, |sub| self.store.session_aggregate(sub))
            .await
    }

    /// [`Archive::event_aggregate`] with imported statistics added on the days of the window
    /// without native events (unfiltered queries; imported sums cannot be filtered).
    pub async fn event_aggregate_with_imports(
        &self,
        site: &Site,
        q: &AggregateQuery,
    ) -> Result<Vec<EventAgg>, StoreError> {
        let native = self.event_aggregate(site, q).await?;
        self.with_imports(site, q, true, native).await
    }

    /// [`Archive::session_aggregate`] with imported statistics, like
    /// [`Archive::event_aggregate_with_imports`].
    pub async fn session_aggregate_with_imports(
        &self,
        site: &Site,
        q: &AggregateQuery,
    ) -> Result<Vec<SessionAgg>, StoreError> {
        let native = self.session_aggregate(site, q).await?;
        self.with_imports(site, q, false, native).await
    }

    /// Adds the imported rows of the window's days without native events to `native`.
    async fn with_imports<T: Sums>(
        &self,
        site: &Site,
        q: &AggregateQuery,
        events: bool,
        native: Vec<T>,
    ) -> Result<Vec<T>, StoreError> {
        if !q.filters.is_empty() {
            return Ok(native);
        }
        let Some((dim, bucket)) = archive_dimension(q, events) else {
            return Ok(native);
        };
        let tz = site.tz();
        let days: BTreeSet<i32> = self
            .state()
            .imported
            .get(&site.id.0)
            .map(|d| {
                d.iter()
                    .copied()
                    .filter(|d| day_start(tz, *d) >= q.from_ts && day_start(tz, d + 1) <= q.to_ts)
                    .collect()
            })
            .unwrap_or_default();
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
            return Ok(native);
        };
        // Days with native events are answered by them alone.
        let native_days: BTreeSet<i32> = self
            .store
            .event_hours(
                vec![site.id.0],
                day_start(tz, first),
                day_start(tz, last + 1),
            )
            .await?
            .into_iter()
            .map(|(_, hour, _)| local_day(tz, hour))
            .collect();
        let imported = self
            .store
            .imported_get(site.id.0, first, last, &dim)
            .await?;
        let mut sums: HashMap<Vec<String>, T> =
            native.into_iter().map(|r| (r.dims().clone(), r)).collect();
        for r in imported {
            if !days.contains(&r.day) || native_days.contains(&r.day) {
                continue;
            }
            let key = match bucket {
                Some(b) => vec![bucket_value(b, r.day, q).to_string()],
                None if q.dimensions.is_empty() => Vec::new(),
                None => vec![r.row.value.clone()],
            };
            let row = T::from_imported(key, &r.row, r.timed);
            match sums.get_mut(row.dims()) {
                Some(sum) => sum.add(&row),
                None => {
                    sums.insert(row.dims().clone(), row);
                }
            }
        }
        let mut rows: Vec<T> = sums.into_values().filter(|r| !r.is_empty()).collect();
        if rows.is_empty() && q.dimensions.is_empty() {
            rows.push(T::default());
        }
        Ok(rows)
    }

    /// Refuses a scan of raw events in `[from_ts, to_ts)` where retention deleted them: on
    /// archived days before the horizon (before the first archived day there never was
    /// anything, or nothing is kept).
    fn check_raw(&self, site: &Site, from_ts: i64, to_ts: i64) -> Result<(), StoreError> {
        let (Some(horizon), Some(first)) = (
            self.horizon(site.id.0),
            self.state()
                .days
                .get(&site.id.0)
                .and_then(|d| d.first().copied()),
        ) else {
            return Ok(());
        };
        let tz = site.tz();
        if from_ts >= day_start(tz, horizon) || to_ts <= day_start(tz, first) {
            return Ok(());
        }
        let first = NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|d| d.checked_add_signed(chrono::Duration::days(i64::from(horizon))))
            .unwrap_or_default();
        Err(StoreError::Expired(format!(
            "before {first} only the daily sums of {} are kept (its retention deleted the \
             single page views and visits): this query needs them; choose a period from \
             {first} on, or one without filters",
            site.domain
        )))
    }

    /// Sums for `q`: archived days plus `raw` over the windows the archives do not cover.
    async fn answer<'a, T: Sums>(
        &'a self,
        site: &Site,
        q: &AggregateQuery,
        events: bool,
        raw: impl Fn(&AggregateQuery) -> StoreFuture<'a, Vec<T>>,
    ) -> Result<Vec<T>, StoreError> {
        let Some(plan) = self.plan(site, q, events) else {
            self.check_raw(site, q.from_ts, q.to_ts)?;
            return raw(q).await;
        };
        for (from, to) in &plan.raw {
            self.check_raw(site, *from, *to)?;
        }
        let raw_rows = async {
            let mut out = Vec::new();
            for (from, to) in &plan.raw {
                out.extend(raw(&window(q, *from, *to)).await?);
            }
            Ok(out)
        };
        let (archived, raw_rows) =
            tokio::try_join!(self.archived_rows(site.id.0, &plan, q), raw_rows)?;
        let mut sums: HashMap<Vec<String>, T> = HashMap::new();
        let rows = archived
            .into_iter()
            .map(|(dims, r)| T::from_archive(dims, &r))
            .chain(raw_rows);
        for row in rows.filter(|r| !r.is_empty()) {
            match sums.get_mut(row.dims()) {
                Some(sum) => sum.add(&row),
                None => {
                    sums.insert(row.dims().clone(), row);
                }
            }
        }
        let mut rows: Vec<T> = sums.into_values().collect();
        if rows.is_empty() && q.dimensions.is_empty() {
            rows.push(T::default());
        }
        Ok(rows)
    }
}

/// Result rows that add up across days.
trait Sums: Default + Send {
    fn dims(&self) -> &Vec<String>;
    fn from_archive(dims: Vec<String>, r: &ArchiveRow) -> Self;
    /// An imported row; `timed`: whether its visits carry bounces and durations.
    fn from_imported(dims: Vec<String>, r: &ArchiveRow, timed: bool) -> Self {
        let _ = timed;
        Self::from_archive(dims, r)
    }
    fn add(&mut self, other: &Self);
    fn is_empty(&self) -> bool;
}

impl Sums for EventAgg {
    fn dims(&self) -> &Vec<String> {
        &self.dims
    }
    fn from_archive(dims: Vec<String>, r: &ArchiveRow) -> Self {
        EventAgg {
            dims,
            visitors: r.visitors,
            pageviews: r.pageviews,
            events: r.events,
        }
    }
    fn add(&mut self, o: &Self) {
        self.visitors += o.visitors;
        self.pageviews += o.pageviews;
        self.events += o.events;
    }
    fn is_empty(&self) -> bool {
        self.visitors == 0 && self.pageviews == 0 && self.events == 0
    }
}

impl Sums for SessionAgg {
    fn dims(&self) -> &Vec<String> {
        &self.dims
    }
    fn from_archive(dims: Vec<String>, r: &ArchiveRow) -> Self {
        SessionAgg {
            dims,
            visits: r.visits,
            pageviews: r.visit_pageviews,
            bounces: r.bounces,
            duration: r.duration,
            untimed: 0,
        }
    }
    fn from_imported(dims: Vec<String>, r: &ArchiveRow, timed: bool) -> Self {
        SessionAgg {
            untimed: if timed { 0 } else { r.visits },
            ..Self::from_archive(dims, r)
        }
    }
    fn add(&mut self, o: &Self) {
        self.visits += o.visits;
        self.pageviews += o.pageviews;
        self.bounces += o.bounces;
        self.duration += o.duration;
        self.untimed += o.untimed;
    }
    fn is_empty(&self) -> bool {
        self.visits == 0 && self.pageviews == 0 && self.bounces == 0 && self.duration == 0
    }
}

/// Days with imported statistics by site.
fn imported_map(days: Vec<(u32, i32)>) -> HashMap<u32, BTreeSet<i32>> {
    let mut map: HashMap<u32, BTreeSet<i32>> = HashMap::new();
    for (site, day) in days {
        map.entry(site).or_default().insert(day);
    }
    map
}

/// Groups of a site's days with events (ascending) for builds, with their sizes: a build
/// scans every day between its first and last (archived ones too), so their events count
/// against its size.
fn day_groups(busy: &[i32], counts: &std::collections::BTreeMap<i32, u64>) -> Vec<(Vec<i32>, u64)> {
    let mut out = Vec::new();
    let mut group: Vec<i32> = Vec::new();
    let mut size = 0u64;
    for &day in busy {
        let added: u64 = match group.last() {
            Some(&prev) => counts.range(prev + 1..=day).map(|(_, n)| n).sum(),
            None => counts.get(&day).copied().unwrap_or(0),
        };
        if !group.is_empty() && size + added > BUILD_EVENTS {
            out.push((std::mem::take(&mut group), size));
            size = counts.get(&day).copied().unwrap_or(0);
        } else {
            size += added;
        }
        group.push(day);
    }
    if !group.is_empty() {
        out.push((group, size));
    }
    out
}

/// The archive dimension that answers `q`'s event sums (`events`) or visit sums, with the
/// time bucket its days add up to; `None` when archives cannot answer `q`.
fn archive_dimension(q: &AggregateQuery, events: bool) -> Option<(String, Option<TimeBucket>)> {
    let (dim, bucket) = match q.dimensions.as_slice() {
        [] => (String::new(), None),
        [Dimension::Time(b @ (TimeBucket::Day | TimeBucket::Week | TimeBucket::Month))] => {
            (String::new(), Some(*b))
        }
        [d] if archived_dimensions().contains(d) => (d.api_name(), None),
        _ => return None,
    };
    match q.filters.as_slice() {
        [] => Some((dim, bucket)),
        // One value of a rollup filter: its rollup, where it holds what is asked.
        [f] if f.op == FilterOp::Is
            && f.values.len() == 1
            && rollup_filters().contains(&f.dimension) =>
        {
            // Time buckets add up the days' totals.
            let panel = q.dimensions.first().filter(|_| bucket.is_none());
            let (with_events, with_visits) = rollup_holds(&f.dimension, panel);
            let holds = if events { with_events } else { with_visits };
            holds.then(|| (rollup_key(&f.dimension, &f.values[0], &dim), bucket))
        }
        _ => None,
    }
}

/// The row of a site-day for `dim` = `value` in a build, made on first use.
fn archive_row<'a>(
    rows: &'a mut BuildRows,
    key: (u32, i32),
    dim: &str,
    value: String,
) -> &'a mut ArchiveRow {
    rows.entry(key)
        .or_default()
        .entry((dim.to_string(), value.clone()))
        .or_insert_with(|| ArchiveRow {
            dim: dim.to_string(),
            value,
            ..Default::default()
        })
}

/// `q` narrowed to `[from, to)`.
fn window(q: &AggregateQuery, from: i64, to: i64) -> AggregateQuery {
    AggregateQuery {
        from_ts: from,
        to_ts: to,
        ..q.clone()
    }
}

/// The raw value the store gives the time bucket holding local day `day`.
fn bucket_value(bucket: TimeBucket, day: i32, q: &AggregateQuery) -> i64 {
    let local = i64::from(day) * DAY;
    match bucket {
        TimeBucket::Week => ((i64::from(day) + 3).div_euclid(7) * 7 - 3) * DAY,
        TimeBucket::Month => q
            .month_starts
            .iter()
            .rev()
            .find(|m| local >= **m)
            .copied()
            .unwrap_or(0),
        _ => local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::model::{Filter, Offsets};

    fn query(dimensions: Vec<Dimension>, filters: Vec<Filter>) -> AggregateQuery {
        AggregateQuery {
            site_id: 1,
            from_ts: 0,
            to_ts: DAY,
            offsets: Offsets::default(),
            month_starts: Vec::new(),
            dimensions,
            filters,
            metrics: vec![Metric::Visitors],
            exact: false,
            max_groups: None,
            by_site: Vec::new(),
        }
    }

    fn is(dimension: Dimension, values: &[&str]) -> Filter {
        Filter {
            op: FilterOp::Is,
            dimension,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn one_value_of_a_rollup_filter_is_read_from_its_rollup() {
        let country = Dimension::Visit(VisitField::Country);
        let de = || vec![is(country.clone(), &["DE"])];
        let page = || vec![Dimension::Page];
        let entry = || vec![Dimension::EntryPage];
        assert_eq!(
            archive_dimension(&query(page(), de()), true),
            Some(("visit:country=DE>event:page".into(), None))
        );
        assert_eq!(
            archive_dimension(&query(vec![], de()), false),
            Some(("visit:country=DE>".into(), None))
        );
        assert_eq!(
            archive_dimension(&query(vec![Dimension::Time(TimeBucket::Week)], de()), true),
            Some(("visit:country=DE>".into(), Some(TimeBucket::Week)))
        );
        // The empty value (shown as "(none)") has its rollup too.
        let none = vec![is(Dimension::EventName, &[""])];
        assert_eq!(
            archive_dimension(&query(vec![], none), true),
            Some(("event:name=>".into(), None))
        );
        // Visit pages: the rollup holds their visits, not their visitors.
        assert!(archive_dimension(&query(entry(), de()), false).is_some());
        assert_eq!(archive_dimension(&query(entry(), de()), true), None);
        // Pages are a rollup filter (but not for visit pages, see above).
        assert_eq!(
            archive_dimension(&query(vec![], vec![is(Dimension::Page, &["/"])]), false),
            Some(("event:page=/>".into(), None))
        );
        // Raw events answer everything else.
        let raw = [
            query(page(), vec![is(country.clone(), &["DE", "FR"])]),
            query(entry(), vec![is(Dimension::Page, &["/"])]),
            query(vec![Dimension::Visit(VisitField::Screen)], de()),
            query(
                page(),
                vec![Filter {
                    op: FilterOp::IsNot,
                    ..is(country.clone(), &["DE"])
                }],
            ),
            query(
                page(),
                vec![
                    is(country.clone(), &["DE"]),
                    is(Dimension::EventName, &["x"]),
                ],
            ),
            query(vec![Dimension::Time(TimeBucket::Hour)], de()),
            query(vec![Dimension::Page, Dimension::EventName], vec![]),
        ];
        for q in raw {
            assert_eq!(archive_dimension(&q, true), None, "{q:?}");
        }
    }

    #[test]
    fn rollup_keys_tell_value_and_panel_apart() {
        let source = Dimension::Visit(VisitField::Source);
        // Values may hold the separators; the panel is what follows the last `>`.
        let a = rollup_key(&source, "a>event:page", "");
        let b = rollup_key(&source, "a", "event:page");
        assert_ne!(a, b);
        assert_eq!(b, "visit:source=a>event:page");
    }
}
