//! The storing half of a log import, the same in the server (admin API) and in the CLI on a
//! data directory: entries whose addresses the reader already truncated go through the live
//! hits' rules (`ingest::prepare_hits`) with the salt of their own day, a session tracker of
//! their own run, and one atomic batch write each. Lines imported before are recognised by
//! the time ranges already imported from the same source (see [`Coverage`]).

use crate::geo::Geo;
use crate::ingest::identify::SessionTracker;
use crate::ingest::privacy::{ClientAddr, Exclusion, PrivacySignals};
use crate::ingest::{prepare_hits, IngestError, Prepared, RawHit};
use crate::salt::{CurrentSalts, Salts};
use crate::stats::archive::Archive;
use crate::store::{Batch, DocChange, Store, StoreError, TrafficRow};
use crate::tenancy::sites::{Site, SiteRegistry};
use crate::tenancy::SiteId;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most entries in one batch.
pub const MAX_BATCH_ENTRIES: usize = 10_000;
/// Most other lines (traffic only) in one batch.
pub const MAX_BATCH_OTHERS: usize = 100_000;
/// Lines this close to the start or end of an imported range are told apart by their digest
/// (web servers write lines when a request ends, so neighbouring files overlap by seconds).
const EDGE_SECONDS: i64 = 120;
/// Imported ranges closer than this are one range (the time between two batches of a file).
const MERGE_GAP: i64 = 300;
/// Most separate ranges remembered per site and source; beyond, the closest are joined.
const MAX_RANGES: usize = 2_000;
/// A run without a batch for this long is forgotten.
const RUN_IDLE: Duration = Duration::from_secs(15 * 60);
const COVERAGE_KIND: &str = "logs-coverage";
const KEY_KIND: &str = "logs";
const KEY_KEY: &str = "digest-key";

/// What a counted log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Pageview,
    NotFound,
    Download,
}

/// One counted log line as the reader hands it over: the client address already truncated by
/// the site's mask (the storing half truncates it again, by construction).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The site's main domain.
    pub site: String,
    pub ip: IpAddr,
    pub ts: i64,
    pub kind: EntryKind,
    /// The host the request was for (the virtual host, else the site's domain).
    pub host: String,
    /// Path and query as requested.
    pub target: String,
    #[serde(default)]
    pub referrer: Option<String>,
    #[serde(default)]
    pub ua: String,
    /// The log has no User-Agent field (common format): bots cannot be told apart, and the
    /// visitor is the address alone.
    #[serde(default)]
    pub no_agent_field: bool,
    pub status: u16,
    /// Bytes sent, for the traffic sums (not part of what makes two lines the same: the
    /// same request in the logs of two servers may differ in it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Lines of one site that count only as traffic (static files, other methods and statuses,
/// excluded addresses): `(ts, bytes, digest)`, the digest a hash the reader made of the
/// line's fields with the address truncated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OtherLines {
    /// The site's main domain.
    pub site: String,
    pub lines: Vec<(i64, u64, u64)>,
}

/// What the reader sends at once: entries, and the lines that count only as traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogBatch {
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub others: Vec<OtherLines>,
}

impl LogBatch {
    pub fn other_count(&self) -> usize {
        self.others.iter().map(|o| o.lines.len()).sum()
    }
}

/// What became of one site's entries in a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteCounts {
    pub pageviews: u64,
    pub events: u64,
    /// Imported before (same source, same time range).
    pub duplicates: u64,
    pub bots: u64,
    /// Other exclusions of the live rules.
    pub excluded: u64,
    /// Requests that make no page address.
    pub invalid: u64,
    /// Requests and bytes added to the traffic sums (every line not imported before).
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub bytes: u64,
}

impl SiteCounts {
    pub fn add(&mut self, o: &SiteCounts) {
        self.pageviews += o.pageviews;
        self.events += o.events;
        self.duplicates += o.duplicates;
        self.bots += o.bots;
        self.excluded += o.excluded;
        self.invalid += o.invalid;
        self.requests += o.requests;
        self.bytes += o.bytes;
    }
}

/// What became of a batch, per site domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchResult {
    pub sites: BTreeMap<String, SiteCounts>,
    /// Entries naming no registered site.
    pub unknown_sites: u64,
}

/// Why a log import request failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("no log import run {0} (finished, or idle for 15 minutes)")]
    UnknownRun(String),
    #[error("at most {MAX_BATCH_ENTRIES} entries and {MAX_BATCH_OTHERS} other lines per batch")]
    TooMany,
    #[error("source: 1-64 of a-z, 0-9, '.', '_', '-'")]
    Source,
    #[error("batch {0} came out of order (stored already, or one before it never came)")]
    OutOfOrder(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A site's time ranges already imported from one source, with the digests of the lines near
/// their edges: a line inside a range is a duplicate, except within [`EDGE_SECONDS`] of its
/// edges, where it is one only if its digest was seen. Digests are keyed hashes of the
/// truncated entry (a key stored in the metadata store), never of a full address.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Coverage {
    ranges: Vec<[i64; 2]>,
    /// `(ts, digest)`, sorted.
    edges: Vec<(i64, u64)>,
}

impl Coverage {
    /// Whether a line of time `ts` and digest `digest` was imported before.
    pub fn covers(&self, ts: i64, digest: u64) -> bool {
        self.ranges.iter().any(|&[from, to]| {
            ts >= from
                && ts <= to
                && ((ts > from + EDGE_SECONDS && ts < to - EDGE_SECONDS)
                    || self.edges.binary_search(&(ts, digest)).is_ok())
        })
    }

    /// Records newly imported lines.
    pub fn add(&mut self, lines: &[(i64, u64)]) {
        let (Some(lo), Some(hi)) = (
            lines.iter().map(|l| l.0).min(),
            lines.iter().map(|l| l.0).max(),
        ) else {
            return;
        };
        self.ranges.push([lo, hi]);
        self.ranges.sort_unstable();
        let mut merged: Vec<[i64; 2]> = Vec::with_capacity(self.ranges.len());
        for r in self.ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if r[0] <= last[1] + MERGE_GAP => last[1] = last[1].max(r[1]),
                _ => merged.push(r),
            }
        }
        while merged.len() > MAX_RANGES {
            let i = (1..merged.len())
                .min_by_key(|&i| merged[i][0] - merged[i - 1][1])
                .unwrap_or(1);
            merged[i - 1][1] = merged[i][1];
            merged.remove(i);
        }
        self.ranges = merged;
        self.edges.extend_from_slice(lines);
        let ranges = &self.ranges;
        self.edges.retain(|&(ts, _)| {
            ranges.iter().any(|&[from, to]| {
                (ts >= from && ts <= from + EDGE_SECONDS) || (ts <= to && ts >= to - EDGE_SECONDS)
            })
        });
        self.edges.sort_unstable();
        self.edges.dedup();
    }
}

/// One import run: its own visits, and the salts it made for days whose salt is gone.
struct Run {
    source: String,
    /// Makes the salts of days without a kept salt; never stored, gone with the run.
    key: [u8; 32],
    tracker: SessionTracker,
    newest: i64,
    /// The number of the batch whose turn it is (batches sent at once are stored in order).
    next: u64,
}

/// A run and the signal that its next batch may go.
struct RunSlot {
    run: tokio::sync::Mutex<Run>,
    turn: tokio::sync::Notify,
}

/// Runs by id, with when they were last used.
type Runs = HashMap<String, (Instant, Arc<RunSlot>)>;

/// The log importer of a store.
pub struct LogImporter {
    store: Arc<dyn Store>,
    sites: SiteRegistry,
    geo: Arc<Geo>,
    salts: Arc<Salts>,
    archive: Arc<Archive>,
    runs: Mutex<Runs>,
    /// One batch at a time writes, in the order the batches were prepared.
    writing: tokio::sync::Mutex<()>,
    /// The imported ranges read or written so far, by document key.
    ranges: Mutex<HashMap<String, Coverage>>,
    digest_key: tokio::sync::OnceCell<[u8; 32]>,
}

impl LogImporter {
    pub fn new(
        store: Arc<dyn Store>,
        sites: SiteRegistry,
        geo: Arc<Geo>,
        salts: Arc<Salts>,
        archive: Arc<Archive>,
    ) -> Self {
        Self {
            store,
            sites,
            geo,
            salts,
            archive,
            runs: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
            ranges: Mutex::new(HashMap::new()),
            digest_key: tokio::sync::OnceCell::new(),
        }
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ranges(&self) -> std::sync::MutexGuard<'_, HashMap<String, Coverage>> {
        self.ranges.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a run for lines of `source` (a name for where the lines come from: the same
    /// lines from the same source are imported once); answers its id.
    pub fn start(&self, source: &str) -> Result<String, LogError> {
        let valid = !source.is_empty()
            && source.len() <= 64
            && source
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !valid {
            return Err(LogError::Source);
        }
        let id = format!("{:032x}", rand::random::<u128>());
        let run = Run {
            source: source.to_string(),
            key: rand::random(),
            tracker: SessionTracker::default(),
            newest: i64::MIN,
            next: 0,
        };
        let mut runs = self.runs();
        runs.retain(|_, (used, _)| used.elapsed() < RUN_IDLE);
        let slot = RunSlot {
            run: tokio::sync::Mutex::new(run),
            turn: tokio::sync::Notify::new(),
        };
        runs.insert(id.clone(), (Instant::now(), Arc::new(slot)));
        Ok(id)
    }

    /// Ends a run (its visits are stored already); false when there was none.
    pub fn finish(&self, id: &str) -> bool {
        self.runs().remove(id).is_some()
    }

    async fn key(&self) -> Result<[u8; 32], StoreError> {
        let store = self.store.clone();
        let key = self
            .digest_key
            .get_or_try_init(|| async move {
                if let Some(hex) = store.doc(KEY_KIND, KEY_KEY).await? {
                    if let Some(k) = parse_key(&hex) {
                        return Ok(k);
                    }
                }
                let k: [u8; 32] = rand::random();
                store
                    .apply(vec![DocChange {
                        kind: KEY_KIND,
                        key: KEY_KEY.into(),
                        body: Some(serde_json::to_string(&hex_key(&k)).unwrap_or_default()),
                    }])
                    .await?;
                // Several nodes may race: the stored one wins.
                match store
                    .doc(KEY_KIND, KEY_KEY)
                    .await?
                    .as_deref()
                    .and_then(parse_key)
                {
                    Some(stored) => Ok(stored),
                    None => Ok::<_, StoreError>(k),
                }
            })
            .await?;
        Ok(*key)
    }

    /// Stores one batch of a run: all of it, or (on an error) nothing. Batches numbered by
    /// `seq` (0, 1, 2, ...) are stored in that order however they arrive; `None` is stored
    /// when it comes.
    pub async fn batch(
        &self,
        id: &str,
        seq: Option<u64>,
        batch: LogBatch,
    ) -> Result<BatchResult, LogError> {
        if batch.entries.len() > MAX_BATCH_ENTRIES || batch.other_count() > MAX_BATCH_OTHERS {
            return Err(LogError::TooMany);
        }
        let slot = {
            let mut runs = self.runs();
            let (used, slot) = runs
                .get_mut(id)
                .ok_or_else(|| LogError::UnknownRun(id.to_string()))?;
            *used = Instant::now();
            slot.clone()
        };
        let mut run = loop {
            let notified = slot.turn.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let run = slot.run.lock().await;
            match seq {
                Some(s) if s > run.next => {
                    drop(run);
                    if tokio::time::timeout(RUN_IDLE, notified).await.is_err() {
                        return Err(LogError::OutOfOrder(s));
                    }
                }
                Some(s) if s < run.next => return Err(LogError::OutOfOrder(s)),
                _ => break run,
            }
        };
        run.next += 1;
        slot.turn.notify_waiters();
        let key = self.key().await?;
        let started = Instant::now();
        let mut result = BatchResult::default();
        let mut seen = Novelty::default();
        let mut hits = Vec::with_capacity(batch.entries.len());
        let mut salts: HashMap<chrono::NaiveDate, [u8; 32]> = HashMap::new();
        for mut e in batch.entries {
            let Some(site) = self.sites.by_domain(&e.site) else {
                result.unknown_sites += 1;
                continue;
            };
            self.load_coverage(&mut seen, site.id.0, &run.source)
                .await?;
            let bytes = std::mem::take(&mut e.bytes);
            let d = digest(&key, &e);
            let counts = result.sites.entry(site.domain.clone()).or_default();
            // The same line twice in one batch (a log read again) is one line too.
            if !seen.is_new(site.id.0, e.ts, d, true) {
                counts.duplicates += 1;
                continue;
            }
            seen.traffic(&site, counts, e.ts, bytes);
            let day = chrono::DateTime::from_timestamp(e.ts, 0)
                .map(|t| t.date_naive())
                .unwrap_or_default();
            let today = self.salt(&run, &mut salts, day).await;
            let yesterday = match day.pred_opt() {
                Some(y) => Some(self.salt(&run, &mut salts, y).await),
                None => None,
            };
            let kind = e.kind;
            let raw = raw_hit(e);
            match prepare_hits(
                &self.sites,
                &self.geo,
                raw,
                CurrentSalts { today, yesterday },
                0,
            ) {
                Ok(Prepared::Hits(h)) => {
                    match kind {
                        EntryKind::Pageview => counts.pageviews += h.len() as u64,
                        _ => counts.events += h.len() as u64,
                    }
                    hits.extend(h);
                }
                Ok(Prepared::Excluded(Exclusion::Bot)) => counts.bots += 1,
                Ok(Prepared::Excluded(_)) => counts.excluded += 1,
                Err(IngestError::Invalid { .. }) => counts.invalid += 1,
                Err(e) => return Err(LogError::Store(StoreError::Task(e.to_string()))),
            }
        }
        for group in batch.others {
            let Some(site) = self.sites.by_domain(&group.site) else {
                result.unknown_sites += group.lines.len() as u64;
                continue;
            };
            self.load_coverage(&mut seen, site.id.0, &run.source)
                .await?;
            let counts = result.sites.entry(site.domain.clone()).or_default();
            for (ts, bytes, line_digest) in group.lines {
                // Identical requests in one second are real requests (of several visitors
                // behind one truncated address): only lines imported before are repeats.
                if seen.is_new(site.id.0, ts, other_digest(&key, line_digest), false) {
                    seen.traffic(&site, counts, ts, bytes);
                } else {
                    counts.duplicates += 1;
                }
            }
        }
        let Novelty {
            mut coverage,
            fresh,
            traffic,
            ..
        } = seen;
        let traffic: Vec<TrafficRow> = traffic
            .into_iter()
            .map(|((site_id, day), (requests, bytes))| TrafficRow {
                site_id,
                day,
                requests,
                bytes,
            })
            .collect();
        hits.sort_by_key(|h| h.ts);
        run.newest = hits.iter().map(|h| h.ts).fold(run.newest, i64::max);
        let stored = run.tracker.assign(hits);
        let newest = run.newest;
        run.tracker.expire(newest);
        let mut changes = Vec::with_capacity(fresh.len());
        let mut updated = Vec::with_capacity(fresh.len());
        for (site_id, lines) in fresh {
            let mut c = coverage.remove(&site_id).unwrap_or_default();
            c.add(&lines);
            let doc_key = coverage_key(site_id, &run.source);
            changes.push(DocChange {
                kind: COVERAGE_KIND,
                key: doc_key.clone(),
                body: Some(serde_json::to_string(&c).map_err(|e| StoreError::Task(e.to_string()))?),
            });
            updated.push((doc_key, c));
        }
        // The next batch sees these lines as imported at once (it is prepared while this one
        // is written); if the write fails, the ranges are read from the store again.
        let keys: Vec<String> = updated.iter().map(|(k, _)| k.clone()).collect();
        self.ranges().extend(updated);
        let prepared = started.elapsed();
        let (events, sessions) = (stored.events.len(), stored.sessions.len());
        // Batches are written in the order they were prepared: the write turn is taken before
        // the run is let go.
        let _turn = self.writing.lock().await;
        drop(run);
        let written = async {
            self.write(stored).await?;
            self.store.traffic_add(traffic).await?;
            if !changes.is_empty() {
                self.store.apply(changes).await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = written {
            let mut ranges = self.ranges();
            for k in keys {
                ranges.remove(&k);
            }
            return Err(e.into());
        }
        tracing::debug!(
            events,
            sessions,
            prepare_ms = prepared.as_millis() as u64,
            write_ms = (started.elapsed() - prepared).as_millis() as u64,
            "stored a batch of log lines"
        );
        Ok(result)
    }

    /// Reads the imported ranges of a site from this run's source into `seen` (once).
    async fn load_coverage(
        &self,
        seen: &mut Novelty,
        site_id: u32,
        source: &str,
    ) -> Result<(), StoreError> {
        if seen.coverage.contains_key(&site_id) {
            return Ok(());
        }
        let doc_key = coverage_key(site_id, source);
        let cached = self.ranges().get(&doc_key).cloned();
        let c = match cached {
            Some(c) => c,
            None => self
                .store
                .doc(COVERAGE_KIND, &doc_key)
                .await?
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or_default(),
        };
        seen.coverage.insert(site_id, c);
        Ok(())
    }

    /// Writes a batch like the live writer does: archives of the days it reaches into are
    /// dropped before and after, rows of sites deleted meanwhile left out.
    async fn write(&self, mut batch: Batch) -> Result<(), StoreError> {
        if batch.events.is_empty() && batch.sessions.is_empty() {
            return Ok(());
        }
        self.archive.touch(&batch).await?;
        let batch = {
            let _sites = self.sites.writing().await;
            let known = |id: u32| self.sites.by_id(SiteId(id)).is_some();
            batch.events.retain(|e| known(e.site_id));
            batch.sessions.retain(|s| known(s.site_id));
            let batch = Arc::new(batch);
            self.store.write_batch(batch.clone()).await?;
            batch
        };
        self.archive.touch(&batch).await
    }

    /// The salt of a UTC day: the kept one while it exists (today, yesterday), else one made
    /// from the run's key.
    async fn salt(
        &self,
        run: &Run,
        made: &mut HashMap<chrono::NaiveDate, [u8; 32]>,
        day: chrono::NaiveDate,
    ) -> [u8; 32] {
        if let Some(s) = made.get(&day) {
            return *s;
        }
        let s = match self.salts.kept(day).await {
            Some(s) => s,
            None => *blake3::keyed_hash(&run.key, day.to_string().as_bytes()).as_bytes(),
        };
        made.insert(day, s);
        s
    }
}

/// What a batch learns about its lines: which are new, and the traffic of those.
#[derive(Default)]
struct Novelty {
    /// The imported ranges before this batch, by site.
    coverage: HashMap<u32, Coverage>,
    /// The batch's new lines, by site: `(ts, digest)`.
    fresh: HashMap<u32, Vec<(i64, u64)>>,
    in_batch: std::collections::HashSet<(u32, u64)>,
    /// Requests and bytes by site and local day.
    traffic: HashMap<(u32, i32), (u64, u64)>,
    /// The sites' time zones, parsed once per batch.
    zones: HashMap<u32, chrono_tz::Tz>,
}

impl Novelty {
    /// Whether a line was not imported before (and, with `once_in_batch`, is not the same as
    /// one earlier in the batch); a new line is recorded as imported.
    fn is_new(&mut self, site_id: u32, ts: i64, d: u64, once_in_batch: bool) -> bool {
        if self.coverage.get(&site_id).is_some_and(|c| c.covers(ts, d))
            || (once_in_batch && !self.in_batch.insert((site_id, d)))
        {
            return false;
        }
        self.fresh.entry(site_id).or_default().push((ts, d));
        true
    }

    /// Adds a new line's request to the site's traffic of its local day.
    fn traffic(&mut self, site: &Site, counts: &mut SiteCounts, ts: i64, bytes: u64) {
        let tz = *self.zones.entry(site.id.0).or_insert_with(|| site.tz());
        let day = crate::stats::archive::local_day(tz, ts);
        let sum = self.traffic.entry((site.id.0, day)).or_default();
        sum.0 += 1;
        sum.1 += bytes;
        counts.requests += 1;
        counts.bytes += bytes;
    }
}

fn coverage_key(site_id: u32, source: &str) -> String {
    format!("{site_id}/{source}")
}

fn hex_key(k: &[u8; 32]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_key(s: &str) -> Option<[u8; 32]> {
    let s: String = serde_json::from_str(s).ok()?;
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(k)
}

/// A keyed digest of a (truncated) entry.
fn digest(key: &[u8; 32], e: &Entry) -> u64 {
    let bytes = serde_json::to_vec(e).unwrap_or_default();
    first_u64(&blake3::keyed_hash(key, &bytes))
}

/// A keyed digest of the reader's digest of an other line.
fn other_digest(key: &[u8; 32], line_digest: u64) -> u64 {
    first_u64(&blake3::keyed_hash(key, &line_digest.to_le_bytes()))
}

/// The first eight bytes of a hash as a number (the digests the imported ranges keep).
pub(super) fn first_u64(hash: &blake3::Hash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// The entry as a hit of the live pipeline: a page view, a `404` event with the path, or a
/// `File Download` event with the file's address.
fn raw_hit(e: Entry) -> RawHit {
    let url = format!("http://{}{}", e.host, e.target);
    let path = super::classify::path_of(&e.target).to_string();
    let (name, props) = match e.kind {
        EntryKind::Pageview => ("pageview", Vec::new()),
        EntryKind::NotFound => ("404", vec![("path".to_string(), path)]),
        EntryKind::Download => (
            "File Download",
            vec![("url".to_string(), format!("http://{}{path}", e.host))],
        ),
    };
    RawHit {
        domains: vec![e.site],
        site_id: None,
        name: name.into(),
        url,
        referrer: e.referrer,
        props,
        hash_mode: false,
        interactive: true,
        screen_width: None,
        user_agent: e.ua,
        signals: PrivacySignals::default(),
        client: ClientAddr::reported(e.ip),
        ts: Some(e.ts),
        track_bots: e.no_agent_field,
        new_visit: false,
        heartbeat: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_tells_repeats_from_neighbours() {
        let mut c = Coverage::default();
        let first: Vec<(i64, u64)> = (0..1000).map(|i| (1_000_000 + i, i as u64)).collect();
        c.add(&first);
        // The same lines again: all covered, inside and at the edges.
        assert!(first.iter().all(|&(ts, d)| c.covers(ts, d)));
        // Other lines at the edges (the next file overlapping by seconds) are not.
        assert!(!c.covers(1_000_999, 77_777));
        assert!(!c.covers(1_000_000, 77_777));
        // Deep inside, any line is (the same source has no other lines there).
        assert!(c.covers(1_000_500, 77_777));
        assert!(!c.covers(999_999, 1));
        // Later batches extend the range; the edge between them becomes inside.
        let next: Vec<(i64, u64)> = (990..2000)
            .map(|i| (1_000_000 + i, 10_000 + i as u64))
            .collect();
        c.add(&next);
        assert_eq!(c.ranges, vec![[1_000_000, 1_001_999]]);
        assert!(c.covers(1_000_995, 10_995));
        assert!(c.edges.len() <= 2 * (EDGE_SECONDS as usize + 1));
        // A distant range stays separate.
        c.add(&[(5_000_000, 1)]);
        assert_eq!(c.ranges.len(), 2);
        assert!(!c.covers(3_000_000, 1));
    }

    #[test]
    fn keys_round_trip() {
        let k: [u8; 32] = rand::random();
        let doc = serde_json::to_string(&hex_key(&k)).unwrap();
        assert_eq!(parse_key(&doc), Some(k));
        assert_eq!(parse_key("\"zz\""), None);
    }
}
