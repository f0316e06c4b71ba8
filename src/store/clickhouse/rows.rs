//! Rows as they travel to and from ClickHouse (RowBinary), and as they wait in the spool (JSON).

use crate::store::{ArchiveRow, EventRow, SessionRow, VisitAttrs};
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

/// One row of the `events` table. Borrowed when written straight from a batch, owned when read
/// back from the spool.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct EventRecord<'a> {
    pub site_id: u32,
    pub ts: i64,
    pub event_id: u64,
    pub session_id: u64,
    pub visitor_id: u64,
    pub name: Cow<'a, str>,
    pub interactive: u8,
    pub hostname: Cow<'a, str>,
    pub pathname: Cow<'a, str>,
    pub referrer: Cow<'a, str>,
    pub source: Cow<'a, str>,
    pub utm_source: Cow<'a, str>,
    pub utm_medium: Cow<'a, str>,
    pub utm_campaign: Cow<'a, str>,
    pub utm_content: Cow<'a, str>,
    pub utm_term: Cow<'a, str>,
    pub country_code: Cow<'a, str>,
    pub region: Cow<'a, str>,
    pub city: Cow<'a, str>,
    pub browser: Cow<'a, str>,
    pub browser_version: Cow<'a, str>,
    pub os: Cow<'a, str>,
    pub os_version: Cow<'a, str>,
    pub device: Cow<'a, str>,
    pub screen: Cow<'a, str>,
    pub prop_keys: Vec<Cow<'a, str>>,
    pub prop_values: Vec<Cow<'a, str>>,
    /// The batch the row was written in (replays skip batches that arrived).
    pub batch: u64,
}

/// One row of the `sessions` table.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct SessionRecord<'a> {
    pub site_id: u32,
    pub session_id: u64,
    pub visitor_id: u64,
    #[serde(default)]
    pub sign: i8,
    pub version: u32,
    pub start_ts: i64,
    pub end_ts: i64,
    pub pageviews: u32,
    pub events: u32,
    pub interactive: u32,
    pub entry_page: Cow<'a, str>,
    pub exit_page: Cow<'a, str>,
    pub hostname: Cow<'a, str>,
    pub referrer: Cow<'a, str>,
    pub source: Cow<'a, str>,
    pub utm_source: Cow<'a, str>,
    pub utm_medium: Cow<'a, str>,
    pub utm_campaign: Cow<'a, str>,
    pub utm_content: Cow<'a, str>,
    pub utm_term: Cow<'a, str>,
    pub country_code: Cow<'a, str>,
    pub region: Cow<'a, str>,
    pub city: Cow<'a, str>,
    pub browser: Cow<'a, str>,
    pub browser_version: Cow<'a, str>,
    pub os: Cow<'a, str>,
    pub os_version: Cow<'a, str>,
    pub device: Cow<'a, str>,
    pub screen: Cow<'a, str>,
    #[serde(default)]
    pub batch: u64,
}

/// The visit attributes of a read record (events and sessions carry the same ones), owned.
macro_rules! owned_attrs {
    ($r:expr) => {
        VisitAttrs {
            referrer: $r.referrer.into_owned(),
            source: $r.source.into_owned(),
            utm_source: $r.utm_source.into_owned(),
            utm_medium: $r.utm_medium.into_owned(),
            utm_campaign: $r.utm_campaign.into_owned(),
            utm_content: $r.utm_content.into_owned(),
            utm_term: $r.utm_term.into_owned(),
            country_code: $r.country_code.into_owned(),
            region: $r.region.into_owned(),
            city: $r.city.into_owned(),
            browser: $r.browser.into_owned(),
            browser_version: $r.browser_version.into_owned(),
            os: $r.os.into_owned(),
            os_version: $r.os_version.into_owned(),
            device: $r.device.into_owned(),
            screen: $r.screen.into_owned(),
        }
    };
}

fn b(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

impl<'a> EventRecord<'a> {
    pub fn from_row(e: &'a EventRow, batch: u64) -> Self {
        let a = e.attrs.as_ref();
        Self {
            site_id: e.site_id,
            ts: e.ts,
            event_id: e.event_id,
            session_id: e.session_id,
            visitor_id: e.visitor_id,
            name: b(&e.name),
            interactive: u8::from(e.interactive),
            hostname: b(&e.hostname),
            pathname: b(&e.pathname),
            referrer: b(&a.referrer),
            source: b(&a.source),
            utm_source: b(&a.utm_source),
            utm_medium: b(&a.utm_medium),
            utm_campaign: b(&a.utm_campaign),
            utm_content: b(&a.utm_content),
            utm_term: b(&a.utm_term),
            country_code: b(&a.country_code),
            region: b(&a.region),
            city: b(&a.city),
            browser: b(&a.browser),
            browser_version: b(&a.browser_version),
            os: b(&a.os),
            os_version: b(&a.os_version),
            device: b(&a.device),
            screen: b(&a.screen),
            prop_keys: e.props.iter().map(|(k, _)| b(k)).collect(),
            prop_values: e.props.iter().map(|(_, v)| b(v)).collect(),
            batch,
        }
    }
}

impl EventRecord<'_> {
    /// The row as the store's type (owned).
    pub fn into_event(self) -> EventRow {
        let o = |c: Cow<'_, str>| c.into_owned();
        EventRow {
            site_id: self.site_id,
            ts: self.ts,
            event_id: self.event_id,
            session_id: self.session_id,
            visitor_id: self.visitor_id,
            name: o(self.name),
            interactive: self.interactive != 0,
            hostname: o(self.hostname),
            pathname: o(self.pathname),
            attrs: Arc::new(owned_attrs!(self)),
            props: self
                .prop_keys
                .into_iter()
                .map(o)
                .zip(self.prop_values.into_iter().map(o))
                .collect(),
        }
    }
}

impl<'a> SessionRecord<'a> {
    pub fn from_row(s: &'a SessionRow, batch: u64) -> Self {
        let a = s.attrs.as_ref();
        Self {
            site_id: s.site_id,
            session_id: s.session_id,
            visitor_id: s.visitor_id,
            sign: s.sign,
            version: s.version,
            start_ts: s.start_ts,
            end_ts: s.end_ts,
            pageviews: s.pageviews,
            events: s.events,
            interactive: s.interactive,
            entry_page: b(&s.entry_page),
            exit_page: b(&s.exit_page),
            hostname: b(&s.hostname),
            referrer: b(&a.referrer),
            source: b(&a.source),
            utm_source: b(&a.utm_source),
            utm_medium: b(&a.utm_medium),
            utm_campaign: b(&a.utm_campaign),
            utm_content: b(&a.utm_content),
            utm_term: b(&a.utm_term),
            country_code: b(&a.country_code),
            region: b(&a.region),
            city: b(&a.city),
            browser: b(&a.browser),
            browser_version: b(&a.browser_version),
            os: b(&a.os),
            os_version: b(&a.os_version),
            device: b(&a.device),
            screen: b(&a.screen),
            batch,
        }
    }

    /// The live session this version describes (for recovery after a restart).
    pub fn into_session(self) -> SessionRow {
        let o = |c: Cow<'_, str>| c.into_owned();
        SessionRow {
            site_id: self.site_id,
            session_id: self.session_id,
            visitor_id: self.visitor_id,
            sign: 1,
            version: self.version,
            start_ts: self.start_ts,
            end_ts: self.end_ts,
            pageviews: self.pageviews,
            events: self.events,
            interactive: self.interactive,
            entry_page: o(self.entry_page),
            exit_page: o(self.exit_page),
            hostname: o(self.hostname),
            attrs: Arc::new(owned_attrs!(self)),
        }
    }
}

/// A grouped event sum (`dims` holds the group's values as text).
#[derive(Debug, Row, Deserialize)]
pub struct EventSums {
    pub dims: Vec<String>,
    pub visitors: u64,
    pub pageviews: u64,
    pub events: u64,
}

/// A grouped session sum.
#[derive(Debug, Row, Deserialize)]
pub struct SessionSums {
    pub dims: Vec<String>,
    pub visits: i64,
    pub pageviews: i64,
    pub bounces: i64,
    pub duration: i64,
}

/// One row of the `archive` table.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ArchiveRecord {
    pub site_id: u32,
    pub day: i32,
    pub build: u64,
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

impl ArchiveRecord {
    pub fn new(site_id: u32, day: i32, build: u64, r: ArchiveRow) -> Self {
        Self {
            site_id,
            day,
            build,
            dim: r.dim,
            value: r.value,
            visitors: r.visitors,
            pageviews: r.pageviews,
            events: r.events,
            visits: r.visits,
            visit_pageviews: r.visit_pageviews,
            bounces: r.bounces,
            duration: r.duration,
        }
    }

    pub fn into_row(self) -> (i32, ArchiveRow) {
        (
            self.day,
            ArchiveRow {
                dim: self.dim,
                value: self.value,
                visitors: self.visitors,
                pageviews: self.pageviews,
                events: self.events,
                visits: self.visits,
                visit_pageviews: self.visit_pageviews,
                bounces: self.bounces,
                duration: self.duration,
            },
        )
    }
}

/// One version of a metadata document.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct MetaRecord {
    pub kind: String,
    pub key: String,
    pub version: u64,
    pub deleted: u8,
    pub doc: String,
}

/// The newest live version of a metadata document.
#[derive(Debug, Row, Deserialize)]
pub struct MetaDoc {
    pub key: String,
    pub doc: String,
}

/// One day's salt.
#[derive(Debug, Row, Serialize, Deserialize)]
pub struct SaltRecord {
    pub day: String,
    pub salt: String,
    pub created: u64,
}
