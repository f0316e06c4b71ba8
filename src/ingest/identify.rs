//! Sessions: a visit ends after 30 minutes without a hit. The tracker keeps the live session
//! of each visitor in memory and turns each batch of hits into events plus session versions.

use super::Hit;
use crate::store::{Batch, EventRow, SessionRow};
use std::collections::HashMap;

/// Seconds without a hit after which the next hit starts a new visit.
pub const SESSION_TIMEOUT: i64 = 30 * 60;

/// Live sessions by visitor id.
#[derive(Default)]
pub struct SessionTracker {
    live: HashMap<u64, SessionRow>,
}

impl SessionTracker {
    /// Starts from sessions recovered from the store.
    pub fn with_sessions(rows: Vec<SessionRow>) -> Self {
        let mut live = HashMap::new();
        for r in rows {
            live.insert(r.visitor_id, r);
        }
        Self { live }
    }

    /// Number of sessions held in memory.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Forgets sessions that ended before `now - SESSION_TIMEOUT`.
    pub fn expire(&mut self, now: i64) {
        self.live.retain(|_, s| now - s.end_ts <= SESSION_TIMEOUT);
    }

    /// Assigns sessions to `hits` and returns what to store: every event, and for each session
    /// touched, its version before the batch (sign -1, if it existed) and after (sign 1).
    pub fn assign(&mut self, hits: Vec<Hit>) -> Batch {
        let mut before: HashMap<u64, Option<SessionRow>> = HashMap::new();
        let mut after: HashMap<u64, SessionRow> = HashMap::new();
        let mut events = Vec::with_capacity(hits.len());
        for hit in hits {
            let key = self.visitor_key(&hit);
            let is_pageview = hit.name == "pageview";
            let continuing = self
                .live
                .get(&key)
                .filter(|s| hit.ts - s.end_ts <= SESSION_TIMEOUT && s.site_id == hit.site_id)
                .cloned();
            let session = match continuing {
                Some(mut s) => {
                    before
                        .entry(s.session_id)
                        .or_insert_with(|| Some(s.clone()));
                    s.version += 1;
                    s.end_ts = s.end_ts.max(hit.ts);
                    if is_pageview {
                        s.pageviews += 1;
                        if s.entry_page.is_empty() {
                            s.entry_page = hit.pathname.clone();
                        }
                        s.exit_page = hit.pathname.clone();
                    } else {
                        s.events += 1;
                        if hit.interactive {
                            s.interactive += 1;
                        }
                    }
                    s
                }
                None => {
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
                        entry_page: if is_pageview {
                            hit.pathname.clone()
                        } else {
                            String::new()
                        },
                        exit_page: if is_pageview {
                            hit.pathname.clone()
                        } else {
                            String::new()
                        },
                        hostname: hit.hostname.clone(),
                        attrs: hit.attrs.clone(),
                    };
                    before.insert(s.session_id, None);
                    s
                }
            };
            after.insert(session.session_id, session.clone());
            events.push(EventRow {
                site_id: hit.site_id,
                ts: hit.ts,
                event_id: rand::random(),
                session_id: session.session_id,
                visitor_id: key,
                name: hit.name,
                interactive: hit.interactive,
                hostname: hit.hostname,
                pathname: hit.pathname,
                // Every event of a visit carries the visit's attributes.
                attrs: session.attrs.clone(),
                props: hit.props,
            });
            self.live.insert(key, session);
        }
        let mut sessions = Vec::with_capacity(before.len() * 2);
        for (session_id, old) in before {
            if let Some(mut old) = old {
                old.sign = -1;
                sessions.push(old);
            }
            if let Some(now) = after.remove(&session_id) {
                sessions.push(now);
            }
        }
        Batch { events, sessions }
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
        }
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
    fn a_visit_continues_across_midnight_with_yesterdays_id() {
        let mut t = SessionTracker::default();
        t.assign(vec![hit(1, 0, "pageview", "/")]);
        let mut h = hit(2, 300, "pageview", "/next");
        h.prev_visitor_id = Some(1);
        let b = t.assign(vec![h]);
        assert_eq!(b.events[0].visitor_id, 1);
        assert_eq!(b.sessions.len(), 2);
    }
}
