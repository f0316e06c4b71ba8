//! Sessions: a visit ends after 30 minutes without a hit. The tracker keeps the live session
//! of each visitor in memory and turns each batch of hits into events plus session versions.

use super::Hit;
use crate::store::{Batch, EventRow, SessionRow};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

/// Seconds without a hit after which the next hit starts a new visit.
pub const SESSION_TIMEOUT: i64 = 30 * 60;

/// Most live sessions kept in memory (about 1 KiB each). Beyond it the sessions idle the
/// longest are forgotten: their visitors' next hits start new visits. Visitor ids come from
/// attacker-chosen User-Agents and addresses, so the table must not grow with them.
pub const MAX_LIVE_SESSIONS: usize = 500_000;

/// Live sessions by visitor id.
pub struct SessionTracker {
    live: HashMap<u64, SessionRow>,
    max_live: usize,
}

impl Default for SessionTracker {
    fn default() -> Self {
        Self::with_sessions(Vec::new())
    }
}

impl SessionTracker {
    /// Starts from sessions recovered from the store.
    pub fn with_sessions(rows: Vec<SessionRow>) -> Self {
        let mut live = HashMap::new();
        for r in rows {
            live.insert(r.visitor_id, r);
        }
        Self {
            live,
            max_live: MAX_LIVE_SESSIONS,
        }
    }

    /// Keeps at most `max` live sessions (tests use small bounds).
    pub fn bounded(mut self, max: usize) -> Self {
        self.max_live = max.max(1);
        self
    }

    /// Live sessions held.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Over the bound: forgets the sessions idle the longest, down to nine tenths of it.
    fn shed(&mut self) {
        if self.live.len() <= self.max_live {
            return;
        }
        let keep = self.max_live - self.max_live / 10;
        let mut ends: Vec<i64> = self.live.values().map(|s| s.end_ts).collect();
        let cut = ends.len() - keep;
        let (_, threshold, _) = ends.select_nth_unstable(cut);
        let threshold = *threshold;
        let mut over = self.live.len() - keep;
        self.live.retain(|_, s| {
            if over > 0 && s.end_ts <= threshold {
                over -= 1;
                false
            } else {
                true
            }
        });
        tracing::warn!(
            kept = self.live.len(),
            "more live visits than the tracker holds; the longest idle were forgotten"
        );
    }

    /// Forgets a site's sessions with a hit in `[from_ts, to_ts)` (their statistics were
    /// deleted): their visitors' next hits start new visits.
    pub fn forget(&mut self, site_id: u32, from_ts: i64, to_ts: i64) {
        self.live
            .retain(|_, s| !(s.site_id == site_id && s.start_ts < to_ts && s.end_ts >= from_ts));
    }

    /// Forgets sessions that ended before `now - SESSION_TIMEOUT`.
    pub fn expire(&mut self, now: i64) {
        self.live.retain(|_, s| now - s.end_ts <= SESSION_TIMEOUT);
    }

    /// Assigns sessions to `hits` and returns what to store: every event, and for each session
    /// touched, its version before the batch (sign -1, if it existed) and after (sign 1).
    pub fn assign(&mut self, hits: Vec<Hit>) -> Batch {
        // Session id → its version before this batch (None: new in this batch), and the
        // visitor key under which its latest version lives.
        let mut before: HashMap<u64, Option<SessionRow>> = HashMap::new();
        let mut touched: Vec<(u64, u64)> = Vec::new();
        let mut ended: HashMap<u64, SessionRow> = HashMap::new();
        let mut events = Vec::with_capacity(hits.len());
        for hit in hits {
            let key = self.visitor_key(&hit);
            let is_pageview = hit.name == "pageview";
            let live = self.live.get_mut(&key).filter(|s| {
                hit.ts - s.end_ts <= SESSION_TIMEOUT && s.site_id == hit.site_id && !hit.new_visit
            });
            if hit.heartbeat {
                // A heartbeat only extends a visit that is still going.
                if let Some(s) = live {
                    if let Entry::Vacant(v) = before.entry(s.session_id) {
                        v.insert(Some(s.clone()));
                        touched.push((s.session_id, key));
                    }
                    s.version += 1;
                    s.end_ts = s.end_ts.max(hit.ts);
                }
                continue;
            }
            let session = match live {
                Some(s) => {
                    if let Entry::Vacant(v) = before.entry(s.session_id) {
                        v.insert(Some(s.clone()));
                        touched.push((s.session_id, key));
                    }
                    s.version += 1;
                    s.end_ts = s.end_ts.max(hit.ts);
                    if is_pageview {
                        s.pageviews += 1;
                        if s.entry_page.is_empty() {
                            s.entry_page.clone_from(&hit.pathname);
                        }
                        s.exit_page.clone_from(&hit.pathname);
                    } else {
                        s.events += 1;
                        if hit.interactive {
                            s.interactive += 1;
                        }
                    }
                    s
                }
                None => {
                    let page = if is_pageview {
                        hit.pathname.clone()
                    } else {
                        String::new()
                    };
                    let s = SessionRow {
                        site_id: hit.site_id,
                        session_id: rand::random(),
                        visitor_id: key,
                        sign: 1,
                        version: 1,
                        start_ts: hit.ts,
                        end_ts: hit.ts,
                        pageviews: u32::from(is_pageview),
                        events: u32::from(!is_pageview),
                        interactive: u32::from(!is_pageview && hit.interactive),
                        entry_page: page.clone(),
                        exit_page: page,
                        hostname: hit.hostname.clone(),
                        attrs: Arc::new(hit.attrs),
                    };
                    before.insert(s.session_id, None);
                    touched.push((s.session_id, key));
                    match self.live.entry(key) {
                        Entry::Vacant(v) => v.insert(s),
                        Entry::Occupied(mut o) => {
                            // The visitor's previous visit ended; keep its final version if
                            // this batch changed it.
                            let old = o.insert(s);
                            if before.contains_key(&old.session_id) {
                                ended.insert(old.session_id, old);
                            }
                            o.into_mut()
                        }
                    }
                }
            };
            // A visitor id belongs to one local day: a visit that goes on past midnight
            // continues under an id of the new day, so daily visitor counts add up.
            let day = |ts: i64| (ts + hit.utc_offset).div_euclid(86_400);
            let hit_day = day(hit.ts);
            let visitor_id = if day(session.start_ts) == hit_day {
                key
            } else {
                day_visitor_id(key, hit_day)
            };
            events.push(EventRow {
                site_id: hit.site_id,
                ts: hit.ts,
                // Only events with properties need an id (their props rows point to it); the
                // others get 0, which the store compresses to nothing (8 bytes per event
                // otherwise, a fifth of the data directory).
                event_id: if hit.props.is_empty() {
                    0
                } else {
                    rand::random::<u64>().max(1)
                },
                session_id: session.session_id,
                visitor_id,
                name: hit.name,
                interactive: hit.interactive,
                hostname: hit.hostname,
                pathname: hit.pathname,
                // Every event of a visit carries the visit's attributes.
                attrs: session.attrs.clone(),
                props: hit.props,
            });
        }
        let mut sessions = Vec::with_capacity(touched.len() * 2);
        for (session_id, key) in touched {
            if let Some(Some(mut old)) = before.remove(&session_id) {
                old.sign = -1;
                sessions.push(old);
            }
            // A session replaced later in the same batch by the visitor's next visit was final
            // when replaced; its last version is in `ended`.
            match self.live.get(&key) {
                Some(now) if now.session_id == session_id => sessions.push(now.clone()),
                _ => {
                    if let Some(last) = ended.remove(&session_id) {
                        sessions.push(last);
                    }
                }
            }
        }
        self.shed();
        Batch {
            events,
            sessions,
            journal_hi: None,
        }
    }

    /// The visitor id a hit continues: today's, or yesterday's when that visitor has a session
    /// that is still going (a visit across midnight).
    fn visitor_key(&self, hit: &Hit) -> u64 {
        if self.live.contains_key(&hit.visitor_id) {
            return hit.visitor_id;
        }
        match hit.prev_visitor_id {
            Some(prev)
                if self
                    .live
                    .get(&prev)
                    .is_some_and(|s| hit.ts - s.end_ts <= SESSION_TIMEOUT) =>
            {
                prev
            }
            _ => hit.visitor_id,
        }
    }
}

/// The id a visitor continues under on a later local day of the same visit.
fn day_visitor_id(key: u64, day: i64) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&key.to_le_bytes());
    h.update(&day.to_le_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(visitor: u64, ts: i64, name: &str, path: &str) -> Hit {
        Hit {
            site_id: 1,
            ts,
            name: name.into(),
            interactive: true,
            hostname: "example.com".into(),
            pathname: path.into(),
            attrs: Default::default(),
            props: Vec::new(),
            visitor_id: visitor,
            prev_visitor_id: None,
            utc_offset: 0,
            new_visit: false,
            heartbeat: false,
            seq: 0,
        }
    }

    #[test]
    fn the_live_table_stays_bounded_and_keeps_the_latest() {
        let mut t = SessionTracker::default().bounded(100);
        for v in 0..1_000u64 {
            t.assign(vec![hit(v, v as i64, "pageview", "/")]);
            assert!(t.len() <= 100);
        }
        // The most recent visitor still continues its visit.
        let b = t.assign(vec![hit(999, 1_100, "pageview", "/next")]);
        assert_eq!(b.sessions.iter().filter(|s| s.sign == -1).count(), 1);
    }

    #[test]
    fn sessions_end_after_thirty_idle_minutes() {
        let mut t = SessionTracker::default();
        let b = t.assign(vec![
            hit(1, 0, "pageview", "/a"),
            hit(1, 60, "pageview", "/b"),
        ]);
        assert_eq!(b.events.len(), 2);
        assert_eq!(b.events[0].session_id, b.events[1].session_id);
        // New within the batch: only the final version, with sign +1.
        assert_eq!(b.sessions.len(), 1);
        let s = &b.sessions[0];
        assert_eq!(
            (
                s.sign,
                s.pageviews,
                s.entry_page.as_str(),
                s.exit_page.as_str()
            ),
            (1, 2, "/a", "/b")
        );
        assert_eq!(s.end_ts - s.start_ts, 60);

        // Exactly 30 minutes later: same visit; the old version is cancelled.
        let b = t.assign(vec![hit(1, 60 + SESSION_TIMEOUT, "Signup", "/b")]);
        assert_eq!(b.sessions.len(), 2);
        let signs: i32 = b.sessions.iter().map(|s| i32::from(s.sign)).sum();
        assert_eq!(signs, 0);
        assert_eq!(b.sessions.iter().filter(|s| s.sign == 1).count(), 1);
        let now = b.sessions.iter().find(|s| s.sign == 1).unwrap();
        assert_eq!((now.events, now.interactive, now.version), (1, 1, 3));

        // One second more than 30 minutes: a new visit.
        let b = t.assign(vec![hit(1, 61 + 2 * SESSION_TIMEOUT, "pageview", "/c")]);
        assert_eq!(b.sessions.len(), 1);
        assert_ne!(b.sessions[0].session_id, s.session_id);
    }

    #[test]
    fn a_visit_ending_inside_a_batch_keeps_its_final_version() {
        let mut t = SessionTracker::default();
        t.assign(vec![hit(1, 0, "pageview", "/a")]);
        let b = t.assign(vec![
            hit(1, 60, "pageview", "/b"),
            hit(1, 60 + SESSION_TIMEOUT + 1, "pageview", "/c"),
        ]);
        // First visit: old version cancelled, final version (2 page views, exit /b) added;
        // second visit: new.
        let sum: i64 = b.sessions.iter().map(|s| i64::from(s.sign)).sum();
        assert_eq!(sum, 1);
        let finals: Vec<_> = b.sessions.iter().filter(|s| s.sign == 1).collect();
        assert_eq!(finals.len(), 2);
        assert!(finals
            .iter()
            .any(|s| s.pageviews == 2 && s.exit_page == "/b"));
        assert!(finals
            .iter()
            .any(|s| s.pageviews == 1 && s.exit_page == "/c"));
        assert_eq!(b.sessions.len(), 3);
    }

    #[test]
    fn a_visit_continues_across_midnight_with_yesterdays_id() {
        let mut t = SessionTracker::default();
        t.assign(vec![hit(1, 0, "pageview", "/")]);
        let mut h = hit(2, 300, "pageview", "/next");
        h.prev_visitor_id = Some(1);
        let b = t.assign(vec![h]);
        assert_eq!(b.sessions.len(), 2);
        assert!(b.sessions.iter().all(|s| s.visitor_id == 1));
        // Same visit, same day: the session's id.
        assert_eq!(b.events[0].visitor_id, 1);
    }

    #[test]
    fn heartbeats_extend_visits_and_new_visit_starts_one() {
        let mut t = SessionTracker::default();
        let mut ping = hit(1, 600, "heartbeat", "/a");
        ping.heartbeat = true;
        let b = t.assign(vec![hit(1, 0, "pageview", "/a"), ping]);
        assert_eq!(b.events.len(), 1, "a heartbeat is not an event");
        assert_eq!(b.sessions.len(), 1);
        assert_eq!(b.sessions[0].end_ts - b.sessions[0].start_ts, 600);
        // A heartbeat without a visit records nothing.
        let mut lone = hit(2, 600, "heartbeat", "/a");
        lone.heartbeat = true;
        let b = t.assign(vec![lone]);
        assert!(b.events.is_empty() && b.sessions.is_empty());
        // new_visit ends the current visit although it is still going.
        let mut fresh = hit(1, 700, "pageview", "/b");
        fresh.new_visit = true;
        let b = t.assign(vec![fresh]);
        assert_eq!(b.sessions.len(), 1);
        assert_eq!(b.sessions[0].start_ts, 700);
    }

    #[test]
    fn a_visit_past_local_midnight_counts_under_an_id_of_the_new_day() {
        let mut t = SessionTracker::default();
        // 23:50 and 00:10 in UTC+2 are 21:50 and 22:10 UTC.
        let day = 19_900 * 86_400;
        let mut a = hit(1, day + 21 * 3600 + 50 * 60, "pageview", "/a");
        a.utc_offset = 7200;
        let mut b = hit(1, day + 22 * 3600 + 10 * 60, "pageview", "/b");
        b.utc_offset = 7200;
        let mut c = hit(1, day + 22 * 3600 + 20 * 60, "pageview", "/c");
        c.utc_offset = 7200;
        let out = t.assign(vec![a, b, c]);
        let ids: Vec<u64> = out.events.iter().map(|e| e.visitor_id).collect();
        assert_eq!(ids[0], 1);
        assert_ne!(ids[1], 1);
        assert_eq!(ids[1], ids[2]);
        // Still one visit.
        assert!(out
            .events
            .iter()
            .all(|e| e.session_id == out.events[0].session_id));
    }
}
