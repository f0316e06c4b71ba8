//! Operational metrics, served as Prometheus text at `/metrics`: hits accepted and excluded by
//! reason, client errors by code, batch writes and their latency, store errors, query latency
//! by kind, and (read when scraped) queue depth, spool usage, pending archive days and the
//! process's resident memory. One `Metrics` per server, shared by everything that counts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Code {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

fn latency() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// What is read from the rest of spurlos when metrics are scraped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    pub queue_depth: i64,
    pub spool_batches: i64,
    pub spool_bytes: i64,
    pub archive_pending_days: i64,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    hits_accepted: Counter,
    hits_excluded: Family<Reason, Counter>,
    client_errors: Family<Code, Counter>,
    batch_write: Histogram,
    events_stored: Counter,
    store_errors: Counter,
    query_seconds: Family<Kind, Histogram, fn() -> Histogram>,
    queue_depth: Gauge,
    spool_batches: Gauge,
    spool_bytes: Gauge,
    archive_pending: Gauge,
    resident: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            hits_accepted: Counter::default(),
            hits_excluded: Family::default(),
            client_errors: Family::default(),
            batch_write: latency(),
            events_stored: Counter::default(),
            store_errors: Counter::default(),
            query_seconds: Family::new_with_constructor(latency as fn() -> Histogram),
            queue_depth: Gauge::default(),
            spool_batches: Gauge::default(),
            spool_bytes: Gauge::default(),
            archive_pending: Gauge::default(),
            resident: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "spurlos_hits_accepted",
            "Hits accepted (answered 202 or Matomo's 200/204) and queued",
            m.hits_accepted.clone(),
        );
        registry.register(
            "spurlos_hits_excluded",
            "Hits answered alike but not recorded, by reason",
            m.hits_excluded.clone(),
        );
        registry.register(
            "spurlos_client_errors",
            "4xx answers, by error code",
            m.client_errors.clone(),
        );
        registry.register(
            "spurlos_batch_write_seconds",
            "Time to store one batch",
            m.batch_write.clone(),
        );
        registry.register(
            "spurlos_events_stored",
            "Events stored by the batch writer",
            m.events_stored.clone(),
        );
        registry.register(
            "spurlos_store_errors",
            "Failed batch writes (retried) and store errors answered with 503",
            m.store_errors.clone(),
        );
        registry.register(
            "spurlos_query_seconds",
            "Time to answer statistics requests, by kind",
            m.query_seconds.clone(),
        );
        registry.register(
            "spurlos_queue_depth",
            "Accepted events waiting to be stored",
            m.queue_depth.clone(),
        );
        registry.register(
            "spurlos_spool_batches",
            "Batches waiting in the ClickHouse spool",
            m.spool_batches.clone(),
        );
        registry.register(
            "spurlos_spool_bytes",
            "Bytes waiting in the ClickHouse spool",
            m.spool_bytes.clone(),
        );
        registry.register(
            "spurlos_archive_pending_days",
            "Finished site-days without a day archive, as of the last archive run",
            m.archive_pending.clone(),
        );
        registry.register(
            "spurlos_resident_memory_bytes",
            "Resident memory of the process",
            m.resident.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    pub fn accepted(&self, hits: u64) {
        self.hits_accepted.inc_by(hits);
    }

    pub fn excluded(&self, reason: &'static str) {
        self.hits_excluded.get_or_create(&Reason { reason }).inc();
    }

    pub fn client_error(&self, code: &'static str) {
        self.client_errors.get_or_create(&Code { code }).inc();
    }

    pub fn batch_written(&self, events: u64, seconds: f64) {
        self.batch_write.observe(seconds);
        self.events_stored.inc_by(events);
    }

    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    pub fn query(&self, kind: &'static str, seconds: f64) {
        self.query_seconds
            .get_or_create(&Kind { kind })
            .observe(seconds);
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, now: Snapshot) -> Result<String, std::fmt::Error> {
        self.queue_depth.set(now.queue_depth);
        self.spool_batches.set(now.spool_batches);
        self.spool_bytes.set(now.spool_bytes);
        self.archive_pending.set(now.archive_pending_days);
        self.resident.set(resident_bytes());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Resident memory from `/proc/self/statm` (0 where there is none).
fn resident_bytes() -> i64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * i64::from(page.max(0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels_and_gauges() {
        let m = Metrics::default();
        m.accepted(3);
        m.excluded("bot");
        m.client_error("invalid_request");
        m.batch_written(3, 0.004);
        m.query("stats_api", 0.02);
        let text = m
            .render(Snapshot {
                queue_depth: 7,
                ..Default::default()
            })
            .unwrap();
        for line in [
            "spurlos_hits_accepted_total 3",
            "spurlos_hits_excluded_total{reason=\"bot\"} 1",
            "spurlos_client_errors_total{code=\"invalid_request\"} 1",
            "spurlos_queue_depth 7",
            "spurlos_batch_write_seconds_count 1",
            "spurlos_query_seconds_count{kind=\"stats_api\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(resident_bytes() > 0);
    }
}
