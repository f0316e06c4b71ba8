//! Plausible CE's CSV export (the `imported_*_YYYYMMDD_YYYYMMDD.csv` files its "Import from
//! CSV" takes, and spurlos's own export writes) read into imported day sums: which table a
//! file is, its columns by name, values summed per day and dimension value (locations per
//! country, browsers and systems without versions, sources without UTM tags), Plausible's
//! names mapped to spurlos's. Errors name the file, the line and the column.

use super::imported::{ImportRequest, ImportedDay};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// The import source name of Plausible's statistics.
pub const SOURCE: &str = "plausible";
/// Largest CSV file read.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// Where a file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line}{}: {message}", column.as_ref().map(|c| format!(", column {c}")).unwrap_or_default())]
pub struct CsvError {
    pub file: String,
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

/// The records of a CSV text (RFC 4180: quoted fields may hold commas, quotes doubled and
/// line breaks), each with the line it starts on.
pub fn records(text: &str) -> impl Iterator<Item = Result<(u64, Vec<String>), (u64, String)>> + '_ {
    let mut chars = text.chars().peekable();
    let mut line = 1u64;
    std::iter::from_fn(move || {
        chars.peek()?;
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut was_quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Some(Err((start, "a quoted field is not closed".into())));
                }
                fields.push(std::mem::take(&mut field));
                return Some(Ok((start, fields)));
            };
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if field.is_empty() && !was_quoted => {
                    quoted = true;
                    was_quoted = true;
                }
                '"' => return Some(Err((line, "a quote inside an unquoted field".into()))),
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    return Some(Ok((start, fields)));
                }
                _ if was_quoted => {
                    return Some(Err((line, "text after a quoted field".into())));
                }
                _ => field.push(c),
            }
        }
    })
}

/// The table a file name names and its first and last day (Plausible's rule: `imported_`
/// may be left out).
pub fn parse_name(name: &str) -> Option<(&'static str, NaiveDate, NaiveDate)> {
    let base = name.rsplit('/').next()?.strip_suffix(".csv")?;
    let (rest, to) = base.rsplit_once('_')?;
    let (table, from) = rest.rsplit_once('_')?;
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y%m%d")
            .ok()
            .filter(|_| s.len() == 8)
    };
    let (from, to) = (date(from)?, date(to)?);
    let table = table.strip_prefix("imported_").unwrap_or(table);
    let known = TABLES.iter().find(|t| t.name == table)?;
    Some((known.name, from, to))
}

/// A Plausible table: its name (without `imported_`), the dimension it fills and the column
/// holding the value, and the columns it must have.
struct Table {
    name: &'static str,
    dim: &'static str,
    value: &'static str,
    required: &'static [&'static str],
}

const TABLES: [Table; 10] = [
    Table {
        name: "visitors",
        dim: "",
        value: "",
        required: &[
            "date",
            "visitors",
            "pageviews",
            "bounces",
            "visits",
            "visit_duration",
        ],
    },
    Table {
        name: "sources",
        dim: "visit:source",
        value: "source",
        required: &[
            "date",
            "source",
            "visitors",
            "visits",
            "visit_duration",
            "bounces",
        ],
    },
    Table {
        name: "pages",
        dim: "event:page",
        value: "page",
        required: &["date", "page", "visitors", "pageviews"],
    },
    Table {
        name: "entry_pages",
        dim: "visit:entry_page",
        value: "entry_page",
        required: &[
            "date",
            "entry_page",
            "visitors",
            "entrances",
            "visit_duration",
            "bounces",
        ],
    },
    Table {
        name: "exit_pages",
        dim: "visit:exit_page",
        value: "exit_page",
        required: &["date", "exit_page", "visitors", "exits"],
    },
    Table {
        name: "custom_events",
        dim: "event:name",
        value: "name",
        required: &["date", "name", "visitors", "events"],
    },
    Table {
        name: "locations",
        dim: "visit:country",
        value: "country",
        required: &[
            "date",
            "country",
            "visitors",
            "visits",
            "visit_duration",
            "bounces",
        ],
    },
    Table {
        name: "devices",
        dim: "visit:device",
        value: "device",
        required: &[
            "date",
            "device",
            "visitors",
            "visits",
            "visit_duration",
            "bounces",
        ],
    },
    Table {
        name: "browsers",
        dim: "visit:browser",
        value: "browser",
        required: &[
            "date",
            "browser",
            "visitors",
            "visits",
            "visit_duration",
            "bounces",
        ],
    },
    Table {
        name: "operating_systems",
        dim: "visit:os",
        value: "operating_system",
        required: &[
            "date",
            "operating_system",
            "visitors",
            "visits",
            "visit_duration",
            "bounces",
        ],
    },
];

/// A Plausible value as spurlos names it.
fn spurlos_value(dim: &str, value: &str) -> String {
    match (dim, value) {
        ("visit:device", "Desktop") => "desktop".into(),
        ("visit:device", "Mobile") => "mobile".into(),
        ("visit:device", "Tablet") => "tablet".into(),
        ("visit:os", "Mac") => "macOS".into(),
        _ => value.to_string(),
    }
}

/// Day sums read so far, by day, dimension and value.
#[derive(Default)]
pub struct Collected {
    rows: BTreeMap<(NaiveDate, &'static str, String), ImportedDay>,
    days: BTreeSet<NaiveDate>,
}

impl Collected {
    /// Reads one file: `name` says which table and which days it covers, `label` is how
    /// errors name it (the name, or the zip and the name).
    pub fn add_file(&mut self, label: &str, name: &str, text: &str) -> Result<(), CsvError> {
        let fail = |line: u64, column: Option<&str>, message: String| CsvError {
            file: label.to_string(),
            line,
            column: column.map(String::from),
            message,
        };
        let (table, from, to) = parse_name(name).ok_or_else(|| {
            fail(
                0,
                None,
                "not a Plausible export file (imported_TABLE_YYYYMMDD_YYYYMMDD.csv)".into(),
            )
        })?;
        if from > to || (to - from).num_days() > 40 * 366 {
            return Err(fail(
                0,
                None,
                format!("the days {from} to {to} in the name are not a period"),
            ));
        }
        let t = TABLES
            .iter()
            .find(|t| t.name == table)
            .ok_or_else(|| fail(0, None, "unknown table".into()))?;
        let mut it = records(text);
        let header = match it.next() {
            Some(Ok((_, h))) => h,
            Some(Err((line, m))) => return Err(fail(line, None, m)),
            None => return Err(fail(1, None, "the file is empty (no header)".into())),
        };
        let col = |c: &str| header.iter().position(|h| h.trim() == c);
        for c in t.required {
            if col(c).is_none() {
                return Err(fail(
                    1,
                    Some(c),
                    "this column is missing from the header".into(),
                ));
            }
        }
        let mut d = from;
        loop {
            self.days.insert(d);
            match d.succ_opt() {
                Some(next) if next <= to => d = next,
                _ => break,
            }
        }
        for rec in it {
            let (line, fields) = rec.map_err(|(line, m)| fail(line, None, m))?;
            if fields.len() == 1 && fields[0].is_empty() {
                continue;
            }
            if fields.len() != header.len() {
                return Err(fail(
                    line,
                    None,
                    format!(
                        "{} fields where the header has {}",
                        fields.len(),
                        header.len()
                    ),
                ));
            }
            let text = |c: &str| col(c).map(|i| fields[i].as_str()).unwrap_or("");
            let num = |c: &str| -> Result<u64, CsvError> {
                match col(c) {
                    None => Ok(0),
                    Some(i) if fields[i].is_empty() || fields[i] == "\\N" => Ok(0),
                    Some(i) => fields[i].trim().parse::<u64>().map_err(|_| {
                        fail(
                            line,
                            Some(c),
                            format!("{:?} is not a whole number", fields[i]),
                        )
                    }),
                }
            };
            let date = NaiveDate::parse_from_str(text("date"), "%Y-%m-%d").map_err(|_| {
                fail(
                    line,
                    Some("date"),
                    format!("{:?} is not a date like 2024-01-31", text("date")),
                )
            })?;
            if date < from || date > to {
                return Err(fail(
                    line,
                    Some("date"),
                    format!("{date} is outside the file's days {from} to {to}"),
                ));
            }
            let value = spurlos_value(t.dim, text(t.value));
            if value.len() > 2048 {
                return Err(fail(line, Some(t.value), "longer than 2048 bytes".into()));
            }
            if t.name == "locations" && value.is_empty() {
                continue;
            }
            if t.name == "custom_events" && value == "pageview" {
                continue;
            }
            let visits = match t.name {
                "entry_pages" => num("entrances")?,
                "exit_pages" => num("exits")?,
                _ => num("visits")?,
            };
            let bounces = num("bounces")?;
            if bounces > visits && t.name != "pages" && t.name != "custom_events" {
                return Err(fail(
                    line,
                    Some("bounces"),
                    "more bounces than visits".into(),
                ));
            }
            let is_event_table = matches!(t.name, "pages" | "custom_events");
            let pageviews = num("pageviews")?;
            let row = ImportedDay {
                date,
                dim: t.dim.to_string(),
                value: if t.dim.is_empty() {
                    String::new()
                } else {
                    value.clone()
                },
                visitors: num("visitors")?,
                pageviews: if is_event_table || t.dim.is_empty() {
                    pageviews
                } else {
                    0
                },
                events: num("events")?,
                visits,
                visit_pageviews: if is_event_table { 0 } else { pageviews },
                bounces,
                duration: num("visit_duration")?,
                timed: true,
            };
            let key = (date, t.dim, row.value.clone());
            match self.rows.get_mut(&key) {
                Some(sum) => {
                    sum.visitors += row.visitors;
                    sum.pageviews += row.pageviews;
                    sum.events += row.events;
                    sum.visits += row.visits;
                    sum.visit_pageviews += row.visit_pageviews;
                    sum.bounces += row.bounces;
                    sum.duration += row.duration;
                }
                None => {
                    self.rows.insert(key, row);
                }
            }
        }
        Ok(())
    }

    /// The import requests (at most `max_rows` rows and `max_days` days each), oldest first.
    pub fn requests(self, max_days: usize, max_rows: usize) -> Vec<ImportRequest> {
        let mut out: Vec<ImportRequest> = Vec::new();
        let mut by_day: BTreeMap<NaiveDate, Vec<ImportedDay>> =
            self.days.iter().map(|d| (*d, Vec::new())).collect();
        for ((date, _, _), row) in self.rows {
            by_day.entry(date).or_default().push(row);
        }
        for (day, rows) in by_day {
            let full = out
                .last()
                .is_none_or(|r| r.days.len() >= max_days || r.rows.len() + rows.len() > max_rows);
            if full {
                out.push(ImportRequest {
                    source: SOURCE.into(),
                    days: Vec::new(),
                    rows: Vec::new(),
                });
            }
            if let Some(r) = out.last_mut() {
                r.days.push(day);
                r.rows.extend(rows);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_rfc_4180() {
        let text = "a,b\n\"x,1\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",3\n";
        let recs: Vec<_> = records(text).map(|r| r.unwrap()).collect();
        assert_eq!(recs[0], (1, vec!["a".into(), "b".into()]));
        assert_eq!(recs[1], (2, vec!["x,1".into(), "say \"hi\"".into()]));
        assert_eq!(recs[2], (3, vec!["two\nlines".into(), "3".into()]));
        assert!(records("\"open").next().unwrap().is_err());
        assert!(records("a\"b").next().unwrap().is_err());
    }

    #[test]
    fn file_names_name_table_and_days() {
        let (t, f, to) = parse_name("imported_devices_20240101_20241231.csv").unwrap();
        assert_eq!(
            (t, f.to_string(), to.to_string()),
            ("devices", "2024-01-01".into(), "2024-12-31".into())
        );
        assert_eq!(
            parse_name("export/pages_20240101_20240102.csv").unwrap().0,
            "pages"
        );
        assert!(parse_name("my_data.csv").is_none());
        assert!(parse_name("imported_cats_20240101_20240102.csv").is_none());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let mut c = Collected::default();
        let e = c
            .add_file(
                "imported_visitors_20240101_20240102.csv",
                "imported_visitors_20240101_20240102.csv",
                "date,visitors,pageviews,bounces,visits,visit_duration\n2024-01-01,1,2,0,1,5\n2024-01-02,x,1,0,1,0\n",
            )
            .unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (3, Some("visitors")));
        assert!(
            e.to_string()
                .starts_with("imported_visitors_20240101_20240102.csv, line 3, column visitors"),
            "{e}"
        );
        let e = c
            .add_file(
                "x.zip: devices",
                "imported_devices_20240101_20240101.csv",
                "date,device\n",
            )
            .unwrap_err();
        assert_eq!(e.column.as_deref(), Some("visitors"));
    }

    #[test]
    fn rows_are_summed_per_value_in_spurlos_names() {
        let mut c = Collected::default();
        c.add_file(
            "b",
            "imported_browsers_20240101_20240101.csv",
            "date,browser,browser_version,visitors,visits,visit_duration,bounces,pageviews\n\
             \"2024-01-01\",\"Chrome\",\"120\",2,2,30,1,3\n2024-01-01,Chrome,121,1,1,10,0,2\n",
        )
        .unwrap();
        c.add_file(
            "d",
            "imported_devices_20240101_20240101.csv",
            "date,device,visitors,visits,visit_duration,bounces,pageviews\n2024-01-01,Desktop,3,3,40,1,5\n",
        )
        .unwrap();
        let reqs = c.requests(4000, 200_000);
        assert_eq!(reqs.len(), 1);
        let chrome = reqs[0].rows.iter().find(|r| r.value == "Chrome").unwrap();
        assert_eq!(
            (
                chrome.visitors,
                chrome.visits,
                chrome.duration,
                chrome.visit_pageviews
            ),
            (3, 3, 40, 5)
        );
        assert!(reqs[0].rows.iter().any(|r| r.value == "desktop"));
        reqs[0].clone().checked().unwrap();
    }

    proptest::proptest! {
        /// Any text: records or an error with a line, never a panic; a field written with
        /// the export's quoting reads back as itself.
        #[test]
        fn any_text_is_read_or_refused(text in "(?s).{0,200}", field in "(?s).{0,40}") {
            for r in records(&text) {
                if let Err((line, _)) = r {
                    proptest::prop_assert!(line >= 1);
                }
            }
            let quoted = format!("\"{}\"\n", field.replace('"', "\"\""));
            let back: Vec<_> = records(&quoted).collect();
            proptest::prop_assert_eq!(back.len(), 1);
            let (_, fields) = back[0].clone().unwrap();
            proptest::prop_assert_eq!(fields, vec![field]);
        }
    }
}
