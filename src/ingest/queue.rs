//! The bounded queue between the request path and the store, and the batch writer that drains
//! it: hits are gathered by count and time, given sessions, and stored a batch at a time.
//! A full queue is reported to the client (503), never dropped silently.

use super::identify::SessionTracker;
use super::journal::Journal;
use super::{Hit, IngestError};
use crate::clock::SharedClock;
use crate::stats::archive::Archive;
use crate::store::{Batch, Store};
use crate::tenancy::sites::SiteRegistry;
use crate::tenancy::SiteId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The sending half, held by the request path.
#[derive(Clone)]
pub struct QueueSender {
    tx: mpsc::Sender<Hit>,
    /// Hits are made durable here before they are queued (and answered).
    journal: Option<Arc<Journal>>,
}

impl QueueSender {
    /// Accepted hits waiting for the writer.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues all hits or none of them; with a journal, only once they are durable.
    pub async fn send_all(&self, hits: Vec<Hit>) -> Result<(), IngestError> {
        if hits.is_empty() {
            return Ok(());
        }
        let mut permits = Vec::with_capacity(hits.len());
        for _ in 0..hits.len() {
            let permit = self.tx.clone().try_reserve_owned().map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => IngestError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => IngestError::ShuttingDown,
            })?;
            permits.push(permit);
        }
        match &self.journal {
            Some(journal) => Ok(journal.commit(hits, permits).await?),
            None => {
                for (permit, hit) in permits.into_iter().zip(hits) {
                    permit.send(hit);
                }
                Ok(())
            }
        }
    }

    /// Queues hits replayed from the journal at start (already durable), waiting for room.
    pub async fn replay(&self, hits: Vec<Hit>) -> Result<(), IngestError> {
        for hit in hits {
            self.tx
                .send(hit)
                .await
                .map_err(|_| IngestError::ShuttingDown)?;
        }
        Ok(())
    }
}

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    pub capacity: usize,
    pub batch_size: usize,
    pub flush_interval: Duration,
}

/// The running writer: tell it to stop, then wait until everything accepted is stored.
pub struct Writer {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Writer {
    /// Refuses new hits (they get 503), stores everything queued, then returns.
    pub async fn drain(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "the batch writer failed");
        }
    }
}

/// Creates the queue and starts its writer.
pub fn start(settings: WriterSettings, parts: WriterParts) -> (QueueSender, Writer) {
    let (tx, rx) = mpsc::channel(settings.capacity);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let journal = parts.journal.clone();
    let handle = tokio::spawn(run_writer(rx, stop_rx, settings, parts));
    (QueueSender { tx, journal }, Writer { stop, handle })
}

/// What the writer works with.
pub struct WriterParts {
    pub store: Arc<dyn Store>,
    pub tracker: SessionTracker,
    pub clock: SharedClock,
    pub archive: Arc<Archive>,
    pub sites: SiteRegistry,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where accepted hits are made durable first (none: straight into the queue).
    pub journal: Option<Arc<Journal>>,
    /// Deletions of statistics that queued hits must not undo.
    pub purges: Arc<super::purge::Purges>,
}

async fn run_writer(
    mut rx: mpsc::Receiver<Hit>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    settings: WriterSettings,
    parts: WriterParts,
) {
    let WriterParts {
        store,
        mut tracker,
        clock,
        archive,
        sites,
        metrics,
        journal,
        purges,
    } = parts;
    // The purges the tracker has applied.
    let mut purges_seen = 0u64;
    let mut buf: Vec<Hit> = Vec::with_capacity(settings.batch_size);
    let mut last_expiry = clock.now().timestamp();
    // The newest hit time stored so far: visits are expired against it (and never beyond the
    // clock), not against the clock alone: a writer that lags behind (a busy machine, a
    // backlog) must not end visits whose next hits are still waiting in the queue.
    let mut newest_hit = i64::MIN;
    let mut stopping = false;
    loop {
        let got = if stopping {
            rx.recv_many(&mut buf, settings.batch_size).await
        } else {
            tokio::select! {
                n = rx.recv_many(&mut buf, settings.batch_size) => n,
                _ = stop.changed() => {
                    // No new hits from here on; what is queued is still stored.
                    rx.close();
                    stopping = true;
                    continue;
                }
            }
        };
        if got == 0 {
            break;
        }
        // Gather for one flush interval without being woken for every hit: sleep, then take
        // what has arrived (up to a full batch).
        if buf.len() < settings.batch_size && rx.len() < settings.batch_size - buf.len() {
            tokio::time::sleep(settings.flush_interval).await;
        }
        while buf.len() < settings.batch_size {
            match rx.try_recv() {
                Ok(hit) => buf.push(hit),
                Err(_) => break,
            }
        }
        let mut hits = std::mem::take(&mut buf);
        let journal_hi = hits.iter().map(|h| h.seq).max().filter(|s| *s > 0);
        newest_hit = hits.iter().map(|h| h.ts).fold(newest_hit, i64::max);
        // Deletions made since the last batch: their live visits end, their hits go.
        let assigned_after = purges.made();
        for p in purges.since(purges_seen) {
            tracker.forget(p.site_id, p.from_ts, p.to_ts);
        }
        purges_seen = assigned_after;
        let in_force = purges.since(0);
        if !in_force.is_empty() {
            hits.retain(|h| !in_force.iter().any(|p| p.drops(h)));
        }
        let mut batch = tracker.assign(hits);
        batch.journal_hi = journal_hi;
        // Archives of days this batch reaches back into are out of date: drop them before the
        // write (queries read raw events meanwhile) and again after it (in case a day was
        // archived in between).
        drop_stale_archives(&archive, &batch).await;
        let batch = {
            // Sites deleted since their hits were accepted get nothing written.
            let _writing = sites.writing().await;
            let mut batch = registered_only(batch, &sites);
            // A deletion that ran while the batch was made: its rows are taken out.
            for p in purges.since(assigned_after) {
                p.scrub(&mut batch);
            }
            let batch = Arc::new(batch);
            let count = batch.events.len();
            let mut delay = Duration::from_millis(50);
            let started = std::time::Instant::now();
            // A failed batch is retried until it is stored; meanwhile the queue fills up and
            // clients are told to come back (503), so nothing accepted is lost.
            while let Err(e) = store.write_batch(batch.clone()).await {
                metrics.store_error();
                tracing::error!(error = %e, events = count, "storing a batch failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            metrics.batch_written(count as u64, started.elapsed().as_secs_f64());
            if let (Some(journal), Some(hi)) = (&journal, batch.journal_hi) {
                journal.stored_through(hi);
            }
            purges.retire(batch.journal_hi.unwrap_or(0));
            tracing::debug!(events = count, "stored a batch");
            batch
        };
        drop_stale_archives(&archive, &batch).await;
        let now = clock.now().timestamp();
        if now - last_expiry >= 60 {
            tracker.expire(now.min(newest_hit));
            last_expiry = now;
        }
    }
    if let Err(e) = store.checkpoint().await {
        tracing::error!(error = %e, "final checkpoint failed");
    }
    tracing::info!("ingest queue drained");
}

/// The batch without rows of sites that are no longer registered (deleted meanwhile).
fn registered_only(mut batch: Batch, sites: &SiteRegistry) -> Batch {
    let known = |id: u32| sites.by_id(SiteId(id)).is_some();
    batch.events.retain(|e| known(e.site_id));
    batch.sessions.retain(|s| known(s.site_id));
    batch
}

async fn drop_stale_archives(archive: &Archive, batch: &Batch) {
    if let Err(e) = archive.touch(batch).await {
        tracing::error!(error = %e, "dropping out-of-date day archives failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit() -> Hit {
        Hit {
            site_id: 1,
            ts: 0,
            name: "pageview".into(),
            interactive: true,
            hostname: "example.com".into(),
            pathname: "/".into(),
            attrs: Default::default(),
            props: Vec::new(),
            visitor_id: 1,
            prev_visitor_id: None,
            utc_offset: 0,
            new_visit: false,
            heartbeat: false,
            seq: 0,
        }
    }

    #[tokio::test]
    async fn reservation_is_all_or_nothing() {
        let (tx, mut rx) = mpsc::channel(2);
        let q = QueueSender { tx, journal: None };
        assert!(matches!(
            q.send_all(vec![hit(), hit(), hit()]).await,
            Err(IngestError::QueueFull)
        ));
        q.send_all(vec![hit(), hit()]).await.unwrap();
        assert!(matches!(
            q.send_all(vec![hit()]).await,
            Err(IngestError::QueueFull)
        ));
        assert_eq!(rx.recv().await.map(|h| h.site_id), Some(1));
        q.send_all(vec![hit()]).await.unwrap();
        rx.close();
        assert!(matches!(
            q.send_all(vec![hit()]).await,
            Err(IngestError::ShuttingDown)
        ));
    }
}
