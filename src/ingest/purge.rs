//! Deletions of statistics the batch writer honours: hits accepted before a site's
//! statistics of a period were deleted, and still queued or in a batch in the making, are not
//! stored afterwards; visits of that period still live in memory end.

use super::Hit;
use crate::store::Batch;
use std::sync::Mutex;

/// A purge stays in force at most this long (hits without journal numbers).
const PURGE_SECONDS: u64 = 600;

/// One deletion: a site's hits in `[from_ts, to_ts)` numbered up to `through_seq` (accepted
/// before it) are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purge {
    pub site_id: u32,
    pub from_ts: i64,
    pub to_ts: i64,
    /// The highest journal number when the deletion began.
    pub through_seq: u64,
}

impl Purge {
    fn covers(&self, site_id: u32, ts: i64) -> bool {
        site_id == self.site_id && ts >= self.from_ts && ts < self.to_ts
    }

    /// Whether a hit was accepted before the deletion and falls in it.
    pub fn drops(&self, hit: &Hit) -> bool {
        hit.seq <= self.through_seq && self.covers(hit.site_id, hit.ts)
    }

    /// Takes the rows of the period out of a batch assigned before the deletion: its events,
    /// and every version of the visits with a hit in it.
    pub fn scrub(&self, batch: &mut Batch) {
        batch.events.retain(|e| !self.covers(e.site_id, e.ts));
        let gone: std::collections::HashSet<u64> = batch
            .sessions
            .iter()
            .filter(|s| {
                s.site_id == self.site_id && s.start_ts < self.to_ts && s.end_ts >= self.from_ts
            })
            .map(|s| s.session_id)
            .collect();
        batch
            .sessions
            .retain(|s| !(s.site_id == self.site_id && gone.contains(&s.session_id)));
    }
}

/// The purges in force, numbered in the order they were made.
#[derive(Default)]
pub struct Purges(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    /// (number, when made, purge)
    list: Vec<(u64, std::time::Instant, Purge)>,
    made: u64,
}

impl Purges {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a purge in force.
    pub fn add(&self, purge: Purge) {
        let mut inner = self.inner();
        inner.made += 1;
        let n = inner.made;
        inner.list.push((n, std::time::Instant::now(), purge));
    }

    /// How many purges were ever made (to ask for the newer ones later).
    pub fn made(&self) -> u64 {
        self.inner().made
    }

    /// The purges in force made after the `since`th.
    pub fn since(&self, since: u64) -> Vec<Purge> {
        self.inner()
            .list
            .iter()
            .filter(|(n, _, _)| *n > since)
            .map(|(_, _, p)| *p)
            .collect()
    }

    /// Ends the purges whose hits have all gone through the writer (every hit numbered up
    /// to `seq` was taken from the queue), and those older than `PURGE_SECONDS`.
    pub fn retire(&self, seq: u64) {
        self.inner()
            .list
            .retain(|(_, made, p)| p.through_seq > seq && made.elapsed().as_secs() < PURGE_SECONDS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purges_cover_their_site_period_and_earlier_hits_only() {
        let p = Purge {
            site_id: 1,
            from_ts: 100,
            to_ts: 200,
            through_seq: 10,
        };
        let hit = |site_id, ts, seq| Hit {
            site_id,
            ts,
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
            seq,
        };
        assert!(p.drops(&hit(1, 100, 10)));
        assert!(!p.drops(&hit(1, 200, 10)), "the end is not in the period");
        assert!(!p.drops(&hit(1, 150, 11)), "accepted after the deletion");
        assert!(!p.drops(&hit(2, 150, 5)), "another site");
        let purges = Purges::default();
        purges.add(p);
        let seen = purges.made();
        purges.add(Purge { site_id: 2, ..p });
        assert_eq!(purges.since(seen).len(), 1);
        purges.retire(9);
        assert_eq!(purges.since(0).len(), 2);
        purges.retire(10);
        assert!(purges.since(0).is_empty());
    }
}
