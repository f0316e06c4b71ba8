//! spurlos's own export brought back into a site with full fidelity: its visits and events
//! (`visits.csv`, `events.csv`), the export's numbers turned back into ids (the same number,
//! the same visitor or visit; nothing links them to the exporting installation's ids). The
//! site's statistics of the export's days are replaced (importing twice doubles nothing), and
//! those days are archived again from the events.

use super::archive::local_day;
use super::erase::{Eraser, Period};
use super::plausible_csv::{records, CsvError};
use crate::store::{Batch, EventRow, SessionRow, Store, StoreError, VisitAttrs};
use crate::tenancy::sites::Site;
use std::sync::Arc;

/// Rows written at a time.
const BATCH_ROWS: usize = 20_000;

/// Why an export cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What was imported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Restored {
    pub events: u64,
    pub visits: u64,
}

fn attrs_from(f: &[String], at: usize) -> VisitAttrs {
    let g = |i: usize| f.get(at + i).cloned().unwrap_or_default();
    VisitAttrs {
        referrer: g(0),
        source: g(1),
        utm_source: g(2),
        utm_medium: g(3),
        utm_campaign: g(4),
        utm_content: g(5),
        utm_term: g(6),
        country_code: g(7),
        region: g(8),
        city: g(9),
        browser: g(10),
        browser_version: g(11),
        os: g(12),
        os_version: g(13),
        device: g(14),
        screen: g(15),
    }
}

/// Parses a checked file's rows: each with its line, after the header named `header`.
fn rows<'t>(
    label: &'t str,
    text: &'t str,
    header: &'t str,
) -> Result<impl Iterator<Item = Result<(u64, Vec<String>), CsvError>> + 't, CsvError> {
    let fail = move |line: u64, message: String| CsvError {
        file: label.to_string(),
        line,
        column: None,
        message,
    };
    let mut it = records(text);
    match it.next() {
        Some(Ok((_, h))) if h.join(",") == header => {}
        Some(Ok(_)) | None => {
            return Err(fail(1, format!("the header is not spurlos's ({header})")))
        }
        Some(Err((line, m))) => return Err(fail(line, m)),
    }
    let width = header.split(',').count();
    Ok(it
        .filter(|r| !matches!(r, Ok((_, f)) if f.len() == 1 && f[0].is_empty()))
        .map(move |r| {
            let (line, f) = r.map_err(|(line, m)| fail(line, m))?;
            if f.len() != width {
                return Err(fail(
                    line,
                    format!("{} fields where the header has {width}", f.len()),
                ));
            }
            Ok((line, f))
        }))
}

fn field_err(label: &str, line: u64, column: &str, value: &str, what: &str) -> CsvError {
    CsvError {
        file: label.to_string(),
        line,
        column: Some(column.to_string()),
        message: format!("{value:?} is not {what}"),
    }
}

fn id(label: &str, line: u64, column: &str, v: &str) -> Result<u64, CsvError> {
    u64::from_str_radix(v, 16)
        .ok()
        .filter(|n| *n != 0 && v.len() == 16)
        .ok_or_else(|| field_err(label, line, column, v, "an export's number (16 hex digits)"))
}

fn time(label: &str, line: u64, column: &str, v: &str) -> Result<i64, CsvError> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp())
        .map_err(|_| field_err(label, line, column, v, "a time like 2024-06-01T10:00:00Z"))
}

fn count(label: &str, line: u64, column: &str, v: &str) -> Result<u32, CsvError> {
    v.parse()
        .map_err(|_| field_err(label, line, column, v, "a whole number"))
}

/// An export's visits and events, checked, as this site's rows.
#[derive(Debug, Default)]
pub struct Parsed {
    pub visits: Vec<SessionRow>,
    pub events: Vec<EventRow>,
}

/// Reads `visits.csv` and `events.csv` of an export for site `site_id`; every row is checked
/// before anything is stored.
pub fn parse(site_id: u32, visits: (&str, &str), events: (&str, &str)) -> Result<Parsed, CsvError> {
    let mut out = Parsed::default();
    let (label, text) = visits;
    for r in rows(label, text, super::export::VISIT_HEADER)? {
        let (line, f) = r?;
        let start = time(label, line, "start", &f[2])?;
        let end = time(label, line, "end", &f[3])?;
        out.visits.push(SessionRow {
            site_id,
            session_id: id(label, line, "visit", &f[0])?,
            visitor_id: id(label, line, "visitor", &f[1])?,
            sign: 1,
            version: count(label, line, "events", &f[5])?.max(1),
            start_ts: start,
            end_ts: end.max(start),
            pageviews: count(label, line, "pageviews", &f[4])?,
            events: count(label, line, "events", &f[5])?,
            interactive: count(label, line, "interactive", &f[6])?,
            entry_page: f[7].clone(),
            exit_page: f[8].clone(),
            hostname: f[9].clone(),
            attrs: Arc::new(attrs_from(&f, 10)),
        });
    }
    let (label, text) = events;
    for r in rows(label, text, super::export::EVENT_HEADER)? {
        let (line, f) = r?;
        let props: Vec<(String, String)> = if f[23].is_empty() {
            Vec::new()
        } else {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&f[23])
                .map_err(|_| field_err(label, line, "props", &f[23], "a JSON object"))?;
            map.into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k, s)),
                    other => Ok((k, other.to_string())),
                })
                .collect::<Result<_, CsvError>>()?
        };
        out.events.push(EventRow {
            site_id,
            ts: time(label, line, "time", &f[0])?,
            event_id: if props.is_empty() {
                0
            } else {
                rand::random::<u64>().max(1)
            },
            session_id: id(label, line, "visit", &f[1])?,
            visitor_id: id(label, line, "visitor", &f[2])?,
            name: f[3].clone(),
            interactive: f[6] == "1",
            hostname: f[4].clone(),
            pathname: f[5].clone(),
            attrs: Arc::new(attrs_from(&f, 7)),
            props,
        });
    }
    Ok(out)
}

/// Stores an export's rows as `site`'s statistics, replacing those of the export's days,
/// and archives those days again.
pub async fn restore(
    eraser: &Eraser,
    store: &Arc<dyn Store>,
    site: &Site,
    parsed: Parsed,
) -> Result<Restored, StoreError> {
    let tz = site.tz();
    let times = parsed
        .events
        .iter()
        .map(|e| e.ts)
        .chain(parsed.visits.iter().map(|v| v.start_ts));
    let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
        return Ok(Restored::default());
    };
    let date = |ts: i64| Some(crate::logs::traffic::date_of(local_day(tz, ts)));
    eraser
        .erase(
            site,
            Period {
                from: date(first),
                to: date(last),
            },
        )
        .await?;
    let restored = Restored {
        events: parsed.events.len() as u64,
        visits: parsed.visits.len() as u64,
    };
    for chunk in parsed.visits.chunks(BATCH_ROWS) {
        let batch = Batch {
            events: Vec::new(),
            sessions: chunk.to_vec(),
            journal_hi: None,
        };
        store.write_batch(Arc::new(batch)).await?;
    }
    for chunk in parsed.events.chunks(BATCH_ROWS) {
        let batch = Batch {
            events: chunk.to_vec(),
            sessions: Vec::new(),
            journal_hi: None,
        };
        store.write_batch(Arc::new(batch)).await?;
    }
    eraser.archive().run_once().await?;
    Ok(restored)
}

/// The rows of spurlos's own export in a zip (`None`: the zip holds no `events.csv` and
/// `visits.csv`, e.g. Plausible's export).
pub fn from_zip<R: std::io::Read + std::io::Seek>(
    label: &str,
    reader: R,
    site_id: u32,
) -> Result<Option<Parsed>, CsvError> {
    use std::io::Read;
    let fail = |message: String| CsvError {
        file: label.to_string(),
        line: 0,
        column: None,
        message,
    };
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| fail(format!("not a zip file: {e}")))?;
    let mut text = |name: &str| -> Result<Option<String>, CsvError> {
        let Ok(entry) = zip.by_name(name) else {
            return Ok(None);
        };
        let limit = super::plausible_csv::MAX_FILE_BYTES;
        if entry.size() > limit {
            return Err(fail(format!("{name} is larger than {limit} bytes")));
        }
        let mut s = String::new();
        entry
            .take(limit)
            .read_to_string(&mut s)
            .map_err(|e| fail(format!("{name}: {e}")))?;
        Ok(Some(s))
    };
    let (Some(visits), Some(events)) = (text("visits.csv")?, text("events.csv")?) else {
        return Ok(None);
    };
    let (vl, el) = (
        format!("{label}: visits.csv"),
        format!("{label}: events.csv"),
    );
    parse(site_id, (&vl, &visits), (&el, &events)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::export::{EVENT_HEADER, VISIT_HEADER};

    #[test]
    fn rows_are_checked_before_anything_is_stored() {
        let attrs = ",".repeat(16);
        let visits = format!(
            "{VISIT_HEADER}\n00000000000000a1,00000000000000b2,2024-06-01T10:00:00Z,2024-06-01T10:02:00Z,2,2,2,/a,/b,x.example{attrs}\n"
        );
        let events = format!(
            "{EVENT_HEADER}\n2024-06-01T10:00:00Z,00000000000000a1,00000000000000b2,pageview,x.example,/a,1{attrs},\n\
             2024-06-01T10:02:00Z,00000000000000a1,00000000000000b2,signup,x.example,/b,1{attrs},\"{{\"\"plan\"\":\"\"pro\"\"}}\"\n"
        );
        let p = parse(7, ("v", &visits), ("e", &events)).unwrap();
        assert_eq!((p.visits.len(), p.events.len()), (1, 2));
        assert_eq!(
            p.events[1].props,
            vec![("plan".to_string(), "pro".to_string())]
        );
        assert_eq!(p.events[0].session_id, p.visits[0].session_id);
        assert!(p.events[1].event_id != 0 && p.events[0].event_id == 0);
        let bad = events.replace("00000000000000b2,signup", "visitor-17,signup");
        let e = parse(7, ("v", &visits), ("e", &bad)).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.column.as_deref()),
            ("e", 3, Some("visitor"))
        );
        let e = parse(7, ("v", "visit,who\n"), ("e", &events)).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("v", 1));
    }
}
