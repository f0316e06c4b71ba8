//! A site's statistics handed over as one zip, written as a stream (memory stays flat however
//! big the site): the daily sums in Plausible CE's CSV import layout (`imported_*_FROM_TO.csv`,
//! the files Plausible's "Import from CSV" takes), the single events and visits as CSV (visitor
//! and visit ids replaced by numbers keyed for this export only: the stored ids never leave),
//! the site's settings as JSON, and `manifest.json` with every file's rows and SHA-256.

use crate::stats::archive::local_day;
use crate::stats::erase::Period;
use crate::store::{ArchiveRow, EventRow, SessionRow, Store, StoreError};
use crate::tenancy::sites::Site;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

/// The export's layout (`manifest.json`'s `format`).
pub const FORMAT: &str = "spurlos-export/1";
/// Events read from the store at a time.
const WINDOW_EVENTS: u64 = 50_000;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(String),
}

fn werr(e: impl std::fmt::Display) -> ExportError {
    ExportError::Write(e.to_string())
}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    pub name: String,
    /// Data rows (the header not counted).
    pub rows: u64,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: String,
    pub site: String,
    pub timezone: String,
    /// The exported local days (both included); absent: from the first, up to the last.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// When the export was made (UTC, RFC 3339).
    pub created: String,
    pub files: Vec<FileEntry>,
}

/// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// A zip entry being written: counts rows and hashes what it writes.
struct Entry<'z, W: Write> {
    zip: &'z mut zip::ZipWriter<zip::write::StreamWriter<W>>,
    hash: Sha256,
    rows: u64,
    name: String,
}

impl<'z, W: Write> Entry<'z, W> {
    fn start(
        zip: &'z mut zip::ZipWriter<zip::write::StreamWriter<W>>,
        name: String,
        header: &str,
    ) -> Result<Self, ExportError> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file(name.as_str(), options).map_err(werr)?;
        let mut e = Self {
            zip,
            hash: Sha256::new(),
            rows: 0,
            name,
        };
        if !header.is_empty() {
            e.bytes(format!("{header}\n").as_bytes())?;
        }
        Ok(e)
    }

    fn bytes(&mut self, b: &[u8]) -> Result<(), ExportError> {
        self.hash.update(b);
        self.zip.write_all(b).map_err(werr)
    }

    /// One CSV row.
    fn row(&mut self, fields: &[&str]) -> Result<(), ExportError> {
        let mut line = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&field(f));
        }
        line.push('\n');
        self.rows += 1;
        self.bytes(line.as_bytes())
    }

    fn finish(self) -> FileEntry {
        let digest = self.hash.finalize();
        FileEntry {
            name: self.name,
            rows: self.rows,
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// One of Plausible's `imported_*` tables: its name, the archived dimension it is made of
/// (`""`: the day's totals), and its columns.
struct PlausibleTable {
    table: &'static str,
    dim: &'static str,
    header: &'static str,
}

const PLAUSIBLE: [PlausibleTable; 10] = [
    PlausibleTable { table: "imported_visitors", dim: "", header: "date,visitors,pageviews,bounces,visits,visit_duration" },
    PlausibleTable { table: "imported_sources", dim: "visit:source", header: "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces" },
    PlausibleTable { table: "imported_pages", dim: "event:page", header: "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors" },
    PlausibleTable { table: "imported_entry_pages", dim: "visit:entry_page", header: "date,entry_page,visitors,entrances,visit_duration,bounces,pageviews" },
    PlausibleTable { table: "imported_exit_pages", dim: "visit:exit_page", header: "date,exit_page,visitors,visit_duration,exits,bounces,pageviews" },
    PlausibleTable { table: "imported_custom_events", dim: "event:name", header: "date,name,link_url,path,visitors,events" },
    PlausibleTable { table: "imported_locations", dim: "visit:country", header: "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews" },
    PlausibleTable { table: "imported_devices", dim: "visit:device", header: "date,device,visitors,visits,visit_duration,bounces,pageviews" },
    PlausibleTable { table: "imported_browsers", dim: "visit:browser", header: "date,browser,browser_version,visitors,visits,visit_duration,bounces,pageviews" },
    PlausibleTable { table: "imported_operating_systems", dim: "visit:os", header: "date,operating_system,operating_system_version,visitors,visits,visit_duration,bounces,pageviews" },
];

/// A value as Plausible names it (its device classes and `Mac`).
fn plausible_value(dim: &str, value: &str) -> String {
    match (dim, value) {
        ("visit:device", "desktop") => "Desktop".into(),
        ("visit:device", "mobile") => "Mobile".into(),
        ("visit:device", "tablet") => "Tablet".into(),
        ("visit:os", "macOS") => "Mac".into(),
        _ => value.to_string(),
    }
}

/// The CSV row of one archived value in a Plausible table (`None`: not in that table).
fn plausible_row(t: &PlausibleTable, date: &str, r: &ArchiveRow) -> Option<Vec<String>> {
    let n = |x: i64| x.max(0).to_string();
    let u = |x: u64| x.to_string();
    let v = plausible_value(t.dim, &r.value);
    let visit_sums = || {
        vec![
            u(r.visitors),
            n(r.visits),
            n(r.duration),
            n(r.bounces),
            n(r.visit_pageviews),
        ]
    };
    let mut row = vec![date.to_string()];
    match t.table {
        "imported_visitors" => row.extend([
            u(r.visitors),
            u(r.pageviews),
            n(r.bounces),
            n(r.visits),
            n(r.duration),
        ]),
        "imported_sources" => {
            row.extend([
                v,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            row.extend([
                n(r.visit_pageviews),
                u(r.visitors),
                n(r.visits),
                n(r.duration),
                n(r.bounces),
            ]);
        }
        "imported_pages" => row.extend([
            String::new(),
            v,
            n(r.visits),
            u(r.visitors),
            u(r.pageviews),
            String::new(),
            "0".into(),
        ]),
        "imported_entry_pages" => row.extend([
            v,
            u(r.visitors),
            n(r.visits),
            n(r.duration),
            n(r.bounces),
            n(r.visit_pageviews),
        ]),
        "imported_exit_pages" => row.extend([
            v,
            u(r.visitors),
            n(r.duration),
            n(r.visits),
            n(r.bounces),
            n(r.visit_pageviews),
        ]),
        "imported_custom_events" => {
            if r.value == "pageview" || r.events == 0 {
                return None;
            }
            row.extend([v, String::new(), String::new(), u(r.visitors), u(r.events)]);
        }
        "imported_locations" => {
            if r.value.is_empty() {
                return None;
            }
            row.extend([v, String::new(), "0".into()]);
            row.extend(visit_sums());
        }
        "imported_browsers" | "imported_operating_systems" => {
            row.extend([v, String::new()]);
            row.extend(visit_sums());
        }
        _ => {
            row.push(v);
            row.extend(visit_sums());
        }
    }
    Some(row)
}

/// The columns of `events.csv` and `visits.csv`.
pub const EVENT_HEADER: &str = "time,visit,visitor,name,hostname,pathname,interactive,referrer,source,utm_source,utm_medium,utm_campaign,utm_content,utm_term,country_code,region,city,browser,browser_version,os,os_version,device,screen,props";
pub const VISIT_HEADER: &str = "visit,visitor,start,end,pageviews,events,interactive,entry_page,exit_page,hostname,referrer,source,utm_source,utm_medium,utm_campaign,utm_content,utm_term,country_code,region,city,browser,browser_version,os,os_version,device,screen";

fn attrs(a: &crate::store::VisitAttrs) -> [&str; 16] {
    [
        &a.referrer,
        &a.source,
        &a.utm_source,
        &a.utm_medium,
        &a.utm_campaign,
        &a.utm_content,
        &a.utm_term,
        &a.country_code,
        &a.region,
        &a.city,
        &a.browser,
        &a.browser_version,
        &a.os,
        &a.os_version,
        &a.device,
        &a.screen,
    ]
}

fn iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Writes the export of `site` for `period` to `out` as a zip. Runs on a blocking thread;
/// store calls are made on `rt`. `progress(done, total)` is told in events and visits.
pub fn write_export<W: Write>(
    rt: &tokio::runtime::Handle,
    store: &Arc<dyn Store>,
    site: &Site,
    period: Period,
    out: W,
    progress: &dyn Fn(u64, u64),
) -> Result<Manifest, ExportError> {
    let tz = site.tz();
    let span = period.span(tz);
    // Random for this export: the numbers that stand for visitors and visits.
    let key: [u8; 32] = rand::random();
    let pseudonym = |kind: u8, id: u64| -> String {
        let mut input = [0u8; 9];
        input[0] = kind;
        input[1..].copy_from_slice(&id.to_le_bytes());
        let h = blake3::keyed_hash(&key, &input);
        h.as_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    // The windows of at most WINDOW_EVENTS events each, from the hours with events.
    let hours = rt.block_on(store.event_hours(vec![site.id.0], span.from_ts, span.to_ts))?;
    let mut hours: Vec<(i64, u64)> = hours.into_iter().map(|(_, h, n)| (h, n)).collect();
    hours.sort();
    let total: u64 = hours.iter().map(|(_, n)| n).sum();
    let mut windows: Vec<(i64, i64)> = Vec::new();
    let mut acc = 0u64;
    for (h, n) in &hours {
        match windows.last_mut() {
            Some(w) if acc + n <= WINDOW_EVENTS => {
                w.1 = h + 3600;
                acc += n;
            }
            _ => {
                windows.push((*h, h + 3600));
                acc = *n;
            }
        }
    }
    // Visits that start before the first hour with events (none do) or in gaps: the windows
    // cover every hour from the first to the last event.
    for i in 1..windows.len() {
        windows[i].0 = windows[i - 1].1;
    }
    // Hours of zones with half-hour offsets reach over the period's ends.
    for w in &mut windows {
        w.0 = w.0.max(span.from_ts);
        w.1 = w.1.min(span.to_ts);
    }
    let mut zip = zip::ZipWriter::new_stream(out);
    let mut files = Vec::new();
    // The daily sums, Plausible's layout.
    let days: Vec<i32> = match (hours.first(), hours.last()) {
        (Some((first, _)), Some((last, _))) => (local_day(tz, *first).max(span.from_day)
            ..=local_day(tz, *last).min(span.to_day))
            .collect(),
        _ => Vec::new(),
    };
    let date = crate::logs::traffic::date_of;
    let (first_day, last_day) = match (days.first(), days.last()) {
        (Some(f), Some(l)) => (date(*f), date(*l)),
        _ => {
            let today = chrono::Utc::now().date_naive();
            (period.from.unwrap_or(today), period.to.unwrap_or(today))
        }
    };
    let suffix = format!(
        "{}_{}",
        first_day.format("%Y%m%d"),
        last_day.format("%Y%m%d")
    );
    for t in &PLAUSIBLE {
        let mut e = Entry::start(&mut zip, format!("{}_{suffix}.csv", t.table), t.header)?;
        for chunk in days.chunks(31) {
            let (Some(a), Some(b)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let mut rows = rt.block_on(store.archive_get(site.id.0, *a, *b, t.dim))?;
            rows.sort_by(|x, y| (x.0, &x.1.value).cmp(&(y.0, &y.1.value)));
            for (day, r) in rows {
                let d = date(day).to_string();
                if let Some(row) = plausible_row(t, &d, &r) {
                    let refs: Vec<&str> = row.iter().map(String::as_str).collect();
                    e.row(&refs)?;
                }
            }
        }
        files.push(e.finish());
    }
    // The single visits, then the single events, window by window.
    let mut done = 0u64;
    let mut e = Entry::start(&mut zip, "visits.csv".into(), VISIT_HEADER)?;
    for (from, to) in &windows {
        let batch = rt.block_on(store.window(site.id.0, *from, *to))?;
        for s in current_versions(batch.sessions) {
            let (start, end) = (iso(s.start_ts), iso(s.end_ts));
            let (pv, ev, ia) = (
                s.pageviews.to_string(),
                s.events.to_string(),
                s.interactive.to_string(),
            );
            let (visit, visitor) = (pseudonym(b'v', s.session_id), pseudonym(b'u', s.visitor_id));
            let mut fields: Vec<&str> = vec![
                &visit,
                &visitor,
                &start,
                &end,
                &pv,
                &ev,
                &ia,
                &s.entry_page,
                &s.exit_page,
                &s.hostname,
            ];
            fields.extend(attrs(&s.attrs));
            e.row(&fields)?;
        }
    }
    files.push(e.finish());
    let mut e = Entry::start(&mut zip, "events.csv".into(), EVENT_HEADER)?;
    for (from, to) in &windows {
        let batch = rt.block_on(store.window(site.id.0, *from, *to))?;
        for ev in &batch.events {
            event_row(&mut e, ev, &pseudonym)?;
            done += 1;
        }
        progress(done, total);
    }
    files.push(e.finish());
    // The settings, then the manifest.
    let mut e = Entry::start(&mut zip, "site.json".into(), "")?;
    let settings = serde_json::to_vec_pretty(site).map_err(werr)?;
    e.bytes(&settings)?;
    files.push(e.finish());
    let manifest = Manifest {
        format: FORMAT.into(),
        site: site.domain.clone(),
        timezone: site.timezone.clone(),
        from: period.from,
        to: period.to,
        created: chrono::Utc::now().to_rfc3339(),
        files,
    };
    zip.start_file("manifest.json", zip::write::SimpleFileOptions::default())
        .map_err(werr)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).map_err(werr)?)
        .map_err(werr)?;
    zip.finish().map_err(werr)?;
    Ok(manifest)
}

fn event_row<W: Write>(
    e: &mut Entry<'_, W>,
    ev: &EventRow,
    pseudonym: &dyn Fn(u8, u64) -> String,
) -> Result<(), ExportError> {
    let (time, visit, visitor) = (
        iso(ev.ts),
        pseudonym(b'v', ev.session_id),
        pseudonym(b'u', ev.visitor_id),
    );
    let interactive = if ev.interactive { "1" } else { "0" };
    let props = if ev.props.is_empty() {
        String::new()
    } else {
        let map: serde_json::Map<String, serde_json::Value> = ev
            .props
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::Value::Object(map).to_string()
    };
    let mut fields: Vec<&str> = vec![
        &time,
        &visit,
        &visitor,
        &ev.name,
        &ev.hostname,
        &ev.pathname,
        interactive,
    ];
    fields.extend(attrs(&ev.attrs));
    fields.push(&props);
    e.row(&fields)
}

/// The current version of each visit among `versions` (those not cancelled by a later one).
fn current_versions(versions: Vec<SessionRow>) -> Vec<SessionRow> {
    let cancelled: HashSet<(u64, u32)> = versions
        .iter()
        .filter(|s| s.sign < 0)
        .map(|s| (s.session_id, s.version))
        .collect();
    let mut out: Vec<SessionRow> = versions
        .into_iter()
        .filter(|s| s.sign > 0 && !cancelled.contains(&(s.session_id, s.version)))
        .collect();
    out.sort_by_key(|s| (s.start_ts, s.session_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("/a"), "/a");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }

    #[test]
    fn plausible_tables_have_as_many_fields_as_columns() {
        let r = ArchiveRow {
            dim: String::new(),
            value: "x".into(),
            visitors: 3,
            pageviews: 4,
            events: 5,
            visits: 2,
            visit_pageviews: 4,
            bounces: 1,
            duration: 60,
        };
        for t in &PLAUSIBLE {
            let row = plausible_row(t, "2024-06-01", &r).unwrap();
            assert_eq!(row.len(), t.header.split(',').count(), "{}", t.table);
        }
    }
}
