//! AWStats's monthly data files (`awstatsMMYYYY.CONFIG.txt`) as imported day sums: the
//! `BEGIN_DAY` section (date, pages, hits, bandwidth, visits per day) becomes each day's
//! visitors (AWStats's visits: it has no daily unique visitors), visits and page views. No
//! other section is kept: `BEGIN_VISITOR` holds client addresses and is never read into
//! anything. Lines are bounded; a broken line is an error naming file, line and field.

use super::read::next_line;
use crate::stats::imported::{ImportRequest, ImportedDay};
use chrono::{Datelike as _, NaiveDate};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The import source of AWStats's history.
pub const SOURCE: &str = "awstats";

/// One day of an AWStats month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwDay {
    pub date: NaiveDate,
    pub pages: u64,
    pub hits: u64,
    pub bandwidth: u64,
    pub visits: u64,
}

/// One month's data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwMonth {
    /// The first day of the month.
    pub month: NaiveDate,
    pub days: Vec<AwDay>,
}

/// Why a data file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AwError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}, line {line}, field {field}: {message}")]
    Line {
        file: String,
        line: u64,
        field: usize,
        message: String,
    },
}

/// The month (its first day) and configuration name of a data file name, like
/// `awstats042016.example.com.txt` (`awstats042016.txt` has no configuration name).
pub fn file_month(name: &str) -> Option<(NaiveDate, String)> {
    let rest = name.strip_prefix("awstats")?.strip_suffix(".txt")?;
    let digits = rest.get(..6)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month: u32 = digits[..2].parse().ok()?;
    let year: i32 = digits[2..].parse().ok()?;
    let config = match &rest[6..] {
        "" => String::new(),
        c => c.strip_prefix('.')?.to_string(),
    };
    Some((NaiveDate::from_ymd_opt(year, month, 1)?, config))
}

/// The data files among `paths` (files, or directories read one level deep) for the
/// configuration `config` (or, when `None`, the only configuration there is), by month.
pub fn find_files(paths: &[PathBuf], config: Option<&str>) -> Result<Vec<PathBuf>, AwError> {
    let mut found: Vec<(NaiveDate, String, PathBuf)> = Vec::new();
    for p in paths {
        let err = |e: std::io::Error| AwError::File {
            file: p.display().to_string(),
            message: e.to_string(),
        };
        let entries: Vec<PathBuf> = if p.is_dir() {
            std::fs::read_dir(p)
                .map_err(err)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect()
        } else {
            vec![p.clone()]
        };
        for e in entries {
            let name = e.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if let Some((month, c)) = file_month(name) {
                found.push((month, c, e));
            } else if !p.is_dir() {
                return Err(AwError::File {
                    file: p.display().to_string(),
                    message: "not named like an AWStats data file (awstatsMMYYYY.CONFIG.txt)"
                        .into(),
                });
            }
        }
    }
    let mut configs: Vec<String> = found.iter().map(|f| f.1.clone()).collect();
    configs.sort();
    configs.dedup();
    let chosen = match config {
        Some(c) => c.to_string(),
        None if configs.len() == 1 => configs[0].clone(),
        None if configs.is_empty() => {
            return Err(AwError::File {
                file: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                message: "no AWStats data files (awstatsMMYYYY.CONFIG.txt)".into(),
            })
        }
        None => {
            return Err(AwError::File {
                file: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                message: format!(
                    "data files of several configurations ({}): choose one with --awstats-config",
                    configs.join(", ")
                ),
            })
        }
    };
    let mut files: Vec<(NaiveDate, PathBuf)> = found
        .into_iter()
        .filter(|f| f.1 == chosen)
        .map(|f| (f.0, f.2))
        .collect();
    files.sort();
    Ok(files.into_iter().map(|f| f.1).collect())
}

/// Reads one data file (`name` for messages and its month).
pub fn parse(name: &str, input: &mut dyn BufRead) -> Result<AwMonth, AwError> {
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name);
    let file_err = |message: &str| AwError::File {
        file: name.to_string(),
        message: message.to_string(),
    };
    let (month, _) = file_month(base).ok_or_else(|| {
        file_err("not named like an AWStats data file (awstatsMMYYYY.CONFIG.txt)")
    })?;
    let io = |e: std::io::Error| AwError::File {
        file: name.to_string(),
        message: e.to_string(),
    };
    let mut buf = Vec::new();
    if !next_line(input, &mut buf).map_err(io)? || !buf.starts_with(b"AWSTATS DATA FILE") {
        return Err(file_err(
            "not an AWStats data file (no AWSTATS DATA FILE header)",
        ));
    }
    let mut line_no = 1u64;
    let mut in_day = false;
    let mut seen_day = false;
    let mut days: Vec<AwDay> = Vec::new();
    while next_line(input, &mut buf).map_err(io)? {
        line_no += 1;
        let bad = |field: usize, message: &str| AwError::Line {
            file: name.to_string(),
            line: line_no,
            field,
            message: message.to_string(),
        };
        if !in_day {
            if buf.starts_with(b"BEGIN_DAY") {
                if seen_day {
                    return Err(bad(1, "a second BEGIN_DAY section"));
                }
                in_day = true;
                seen_day = true;
            }
            continue;
        }
        if buf.starts_with(b"END_DAY") {
            in_day = false;
            continue;
        }
        let text = std::str::from_utf8(&buf).map_err(|_| bad(1, "not UTF-8"))?;
        if text.trim().is_empty() || text.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() < 5 {
            return Err(bad(
                fields.len() + 1,
                "a day needs date, pages, hits, bandwidth and visits",
            ));
        }
        let date = NaiveDate::parse_from_str(fields[0], "%Y%m%d")
            .map_err(|_| bad(1, "not a date like 20240131"))?;
        if date.with_day0(0) != Some(month) {
            return Err(bad(1, "a day of another month than the file's"));
        }
        let num = |i: usize| -> Result<u64, AwError> {
            fields[i]
                .parse::<u64>()
                .ok()
                .filter(|n| *n < 1 << 53)
                .ok_or_else(|| bad(i + 1, "not a count"))
        };
        let day = AwDay {
            date,
            pages: num(1)?,
            hits: num(2)?,
            bandwidth: num(3)?,
            visits: num(4)?,
        };
        if days.iter().any(|d| d.date == date) {
            return Err(bad(1, "the same day twice"));
        }
        days.push(day);
    }
    if in_day {
        return Err(file_err("BEGIN_DAY without END_DAY (a cut file?)"));
    }
    days.sort_by_key(|d| d.date);
    Ok(AwMonth { month, days })
}

/// The months as an import request: every day of every month is replaced (days without
/// visits included), so importing again changes nothing.
pub fn request(months: &[AwMonth]) -> ImportRequest {
    let mut days = Vec::new();
    let mut rows = Vec::new();
    for m in months {
        let mut d = m.month;
        while d.month() == m.month.month() {
            days.push(d);
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        for day in &m.days {
            if day.pages == 0 && day.visits == 0 {
                continue;
            }
            rows.push(ImportedDay {
                date: day.date,
                visitors: day.visits,
                pageviews: day.pages,
                events: day.pages,
                visits: day.visits,
                visit_pageviews: day.pages,
                timed: false,
                ..Default::default()
            });
        }
    }
    ImportRequest {
        source: SOURCE.into(),
        days,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FILE: &str = "AWSTATS DATA FILE 7.8 (build 20200416)
# If you remove this file, all statistics for date 202402 will be lost/reset.

BEGIN_MAP 3
POS_GENERAL 100
POS_DAY 200
POS_VISITOR 300
END_MAP

BEGIN_GENERAL 3
LastLine 20240229235959 12 3456 789
TotalVisits 31
TotalUnique 20
END_GENERAL

# Host - Pages - Hits - Bandwidth - Last visit date - [Start date of last visit] - [Last page of last visit]
BEGIN_VISITOR 1
198.51.100.23 12 40 123456 20240229235959
END_VISITOR

# Date - Pages - Hits - Bandwidth - Visits
BEGIN_DAY 2
20240201 30 120 4567890 10
20240229 61 200 9876543 21
END_DAY
";

    fn read(name: &str, text: &str) -> Result<AwMonth, AwError> {
        parse(name, &mut text.as_bytes())
    }

    #[test]
    fn days_are_read_and_nothing_else() {
        let m = read("/x/awstats022024.example.com.txt", FILE).unwrap();
        assert_eq!(m.month, NaiveDate::from_ymd_opt(2024, 2, 1).unwrap());
        assert_eq!(m.days.len(), 2);
        assert_eq!(
            (
                m.days[1].pages,
                m.days[1].hits,
                m.days[1].bandwidth,
                m.days[1].visits
            ),
            (61, 200, 9_876_543, 21)
        );
        let r = request(&[m]);
        // Every day of February 2024 is replaced; two carry sums.
        assert_eq!((r.days.len(), r.rows.len()), (29, 2));
        assert_eq!((r.rows[0].visitors, r.rows[0].pageviews), (10, 30));
        assert!(!format!("{r:?}").contains("198.51.100"));
    }

    #[test]
    fn file_names_and_broken_files() {
        assert_eq!(
            file_month("awstats042016.readytorace.ru.txt"),
            Some((
                NaiveDate::from_ymd_opt(2016, 4, 1).unwrap(),
                "readytorace.ru".into()
            ))
        );
        assert_eq!(
            file_month("awstats122023.txt").map(|m| m.1),
            Some(String::new())
        );
        assert_eq!(file_month("awstats132023.x.txt"), None);
        assert_eq!(file_month("awstats0420xx.x.txt"), None);
        assert_eq!(file_month("access.log"), None);
        let name = "awstats022024.example.com.txt";
        let e = read(name, &FILE.replace("20240229 61", "20240229 6x1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{name}, line 24, field 2: not a count")
        );
        let e = read(name, &FILE.replace("20240229 61", "20240329 61")).unwrap_err();
        assert!(
            e.to_string().contains("field 1: a day of another month"),
            "{e}"
        );
        let e = read(name, &FILE.replace("END_DAY\n", "")).unwrap_err();
        assert!(e.to_string().contains("without END_DAY"), "{e}");
        let e = read(name, "hello\n").unwrap_err();
        assert!(e.to_string().contains("no AWSTATS DATA FILE header"), "{e}");
        assert!(read("awstats.txt", FILE).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_give_an_answer(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut text = b"AWSTATS DATA FILE 7.8\nBEGIN_DAY 1\n".to_vec();
            text.extend_from_slice(&bytes);
            let _ = parse("awstats022024.x.txt", &mut text.as_slice());
        }

        #[test]
        fn mutated_files_give_an_answer(at in 0usize..700, byte in any::<u8>()) {
            let mut text = FILE.as_bytes().to_vec();
            let at = at % text.len();
            text[at] = byte;
            let _ = parse("awstats022024.x.txt", &mut text.as_slice());
        }
    }
}
