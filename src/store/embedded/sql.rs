//! DuckDB SQL for the Stats API: turns an [`AggregateQuery`] into one statement with bound
//! parameters. Visitor-controlled values only ever travel as parameters.

use crate::stats::model::{
    AggregateQuery, Dimension, Filter, FilterOp, Metric, Offsets, TimeBucket, VisitField,
};
use duckdb::types::Value;

/// How far past a query window the events of visits that started inside it are looked at.
pub const VISIT_EVENTS_SPAN: i64 = 86_400;

/// A statement and its parameters, in order.
#[derive(Debug, Default)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

fn visit_column(f: VisitField) -> &'static str {
    match f {
        VisitField::Source => "source",
        VisitField::Referrer => "referrer",
        VisitField::UtmSource => "utm_source",
        VisitField::UtmMedium => "utm_medium",
        VisitField::UtmCampaign => "utm_campaign",
        VisitField::UtmContent => "utm_content",
        VisitField::UtmTerm => "utm_term",
        VisitField::Country => "country_code",
        VisitField::Region => "region",
        VisitField::City => "city",
        VisitField::Browser => "browser",
        VisitField::BrowserVersion => "browser_version",
        VisitField::Os => "os",
        VisitField::OsVersion => "os_version",
        VisitField::Device => "device",
        VisitField::Screen => "screen",
    }
}

/// Local time of a UTC seconds column.
fn local_time(col: &str, offsets: &Offsets) -> String {
    if offsets.transitions.is_empty() {
        return format!("({col} + {})", offsets.base);
    }
    let mut case = String::from("CASE");
    for (from, off) in offsets.transitions.iter().rev() {
        case.push_str(&format!(" WHEN {col} >= {from} THEN {off}"));
    }
    case.push_str(&format!(" ELSE {} END", offsets.base));
    format!("({col} + {case})")
}

/// Start of the time bucket (local seconds since the epoch) of a UTC seconds column.
fn bucket(col: &str, b: TimeBucket, q: &AggregateQuery) -> String {
    let local = local_time(col, &q.offsets);
    match b {
        TimeBucket::Minute => format!("(({local} // 60) * 60)"),
        TimeBucket::Hour => format!("(({local} // 3600) * 3600)"),
        TimeBucket::Day => format!("(({local} // 86400) * 86400)"),
        // 1970-01-01 was a Thursday; weeks start on Monday.
        TimeBucket::Week => format!("(((({local} // 86400) + 3) // 7) * 7 - 3) * 86400"),
        TimeBucket::Month => {
            let mut case = String::from("CASE");
            for m in q.month_starts.iter().rev() {
                case.push_str(&format!(" WHEN {local} >= {m} THEN {m}"));
            }
            case.push_str(" ELSE 0 END");
            case
        }
    }
}

struct Builder<'q> {
    q: &'q AggregateQuery,
    params: Vec<Value>,
}

impl<'q> Builder<'q> {
    fn param(&mut self, v: Value) -> &'static str {
        self.params.push(v);
        "?"
    }

    fn text(&mut self, s: &str) -> &'static str {
        self.param(Value::Text(s.to_string()))
    }

    /// `col` compared with the filter's values (the positive form; callers negate).
    fn value_match(&mut self, col: &str, f: &Filter) -> String {
        let parts: Vec<String> = match f.op {
            FilterOp::Is | FilterOp::IsNot => {
                let marks: Vec<&str> = f.values.iter().map(|v| self.text(v)).collect();
                vec![format!("{col} IN ({})", marks.join(", "))]
            }
            FilterOp::Contains | FilterOp::ContainsNot => f
                .values
                .iter()
                .map(|v| format!("contains(lower({col}), lower({}))", self.text(v)))
                .collect(),
            FilterOp::Matches | FilterOp::MatchesNot => f
                .values
                .iter()
                .map(|v| format!("regexp_matches({col}, {})", self.text(v)))
                .collect(),
        };
        format!("({})", parts.join(" OR "))
    }

    fn signed(&mut self, col: &str, f: &Filter) -> String {
        let m = self.value_match(col, f);
        if f.op.negated() {
            format!("NOT {m}")
        } else {
            m
        }
    }

    /// A condition on the events table (alias `e`) for one filter.
    fn event_condition(&mut self, f: &Filter) -> String {
        match &f.dimension {
            Dimension::Page => self.signed("e.pathname", f),
            Dimension::Hostname => self.signed("e.hostname", f),
            Dimension::EventName => self.signed("e.name", f),
            Dimension::Visit(v) => self.signed(&format!("e.{}", visit_column(*v)), f),
            Dimension::Prop(key) => {
                let site = self.param(Value::UInt(self.q.site_id));
                let k = self.text(key);
                let m = self.value_match("value", f);
                let not = if f.op.negated() { "NOT " } else { "" };
                format!(
                    "e.event_id {not}IN (SELECT event_id FROM props WHERE site_id = {site} AND key = {k} AND {m})"
                )
            }
            Dimension::EntryPage | Dimension::ExitPage => {
                let col = if f.dimension == Dimension::EntryPage {
                    "entry_page"
                } else {
                    "exit_page"
                };
                let site = self.param(Value::UInt(self.q.site_id));
                let m = self.signed(col, f);
                format!(
                    "e.session_id IN (SELECT session_id FROM sessions WHERE site_id = {site} AND {m} GROUP BY session_id HAVING sum(sign) > 0)"
                )
            }
            Dimension::Time(_) => "TRUE".into(),
        }
    }

    /// `WHERE` clause over events `e` for the site, the window and the filters that apply.
    /// Events of visits (`of_visits`) may lie up to a day past the window: a visit that
    /// starts in the window counts with all its events.
    fn event_where(&mut self, of_visits: bool) -> String {
        let site = self.param(Value::UInt(self.q.site_id));
        let from = self.param(Value::BigInt(self.q.from_ts));
        let end = if of_visits {
            self.q.to_ts + VISIT_EVENTS_SPAN
        } else {
            self.q.to_ts
        };
        let to = self.param(Value::BigInt(end));
        let only_event_level = of_visits;
        let mut sql = format!("e.site_id = {site} AND e.ts >= {from} AND e.ts < {to}");
        let q = self.q;
        for f in &q.filters {
            if only_event_level && !f.dimension.is_event_level() {
                continue;
            }
            let c = self.event_condition(f);
            sql.push_str(" AND ");
            sql.push_str(&c);
        }
        sql
    }

    /// Left joins of `props` for the property dimensions, aliased `p0`, `p1`, ...
    fn prop_joins(&mut self) -> String {
        let mut joins = String::new();
        let q = self.q;
        for (i, d) in q.dimensions.iter().enumerate() {
            if let Dimension::Prop(key) = d {
                let site = self.param(Value::UInt(self.q.site_id));
                let k = self.text(key);
                joins.push_str(&format!(
                    " LEFT JOIN props p{i} ON p{i}.event_id = e.event_id AND p{i}.site_id = {site} AND p{i}.key = {k}"
                ));
            }
        }
        joins
    }

    fn event_dim(&self, i: usize, d: &Dimension) -> String {
        match d {
            Dimension::Page => "e.pathname".into(),
            Dimension::Hostname => "e.hostname".into(),
            Dimension::EventName => "e.name".into(),
            Dimension::Prop(_) => format!("COALESCE(p{i}.value, '(none)')"),
            Dimension::EntryPage => "ls.entry_page".into(),
            Dimension::ExitPage => "ls.exit_page".into(),
            Dimension::Visit(v) => format!("e.{}", visit_column(*v)),
            Dimension::Time(b) => bucket("e.ts", *b, self.q),
        }
    }
}

fn group_by(n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let cols: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!(" GROUP BY {}", cols.join(", "))
}

fn select_dims(exprs: &[String]) -> String {
    // Grouped by the raw values (integers for time buckets); turned into text when read.
    exprs.iter().map(|e| format!("{e}, ")).collect()
}

/// Visitors, page views and all events per group; `approximate` counts visitors with
/// HyperLogLog instead of exactly.
pub fn event_aggregate(q: &AggregateQuery, approximate: bool) -> Statement {
    let mut b = Builder {
        q,
        params: Vec::new(),
    };
    let dims: Vec<String> = q
        .dimensions
        .iter()
        .enumerate()
        .map(|(i, d)| b.event_dim(i, d))
        .collect();
    let mut from = String::from("events e");
    if q.dimensions
        .iter()
        .any(|d| matches!(d, Dimension::EntryPage | Dimension::ExitPage))
    {
        let site = b.param(Value::UInt(q.site_id));
        from.push_str(&format!(
            " JOIN (SELECT session_id, entry_page, exit_page FROM sessions WHERE site_id = {site} GROUP BY session_id, entry_page, exit_page HAVING sum(sign) > 0) ls ON ls.session_id = e.session_id"
        ));
    }
    from.push_str(&b.prop_joins());
    let wh = b.event_where(false);
    // Only what is asked for: distinct counts are the expensive part. `count(*)` always runs,
    // it is cheap and tells which groups exist.
    let visitors = if !q.metrics.iter().any(|m| m.needs_visitors()) {
        "CAST(0 AS BIGINT)"
    } else if approximate {
        "CAST(approx_count_distinct(e.visitor_id) AS BIGINT)"
    } else {
        "count(DISTINCT e.visitor_id)"
    };
    let pageviews = if q.metrics.contains(&Metric::Pageviews) {
        "count(*) FILTER (WHERE e.name = 'pageview')"
    } else {
        "CAST(0 AS BIGINT)"
    };
    let sql = format!(
        "SELECT {}{visitors}, {pageviews}, count(*) FROM {from} WHERE {wh}{}",
        select_dims(&dims),
        group_by(dims.len())
    );
    Statement {
        sql,
        params: b.params,
    }
}

/// Visits, their page views, bounces and total duration per group.
pub fn session_aggregate(q: &AggregateQuery) -> Statement {
    let mut b = Builder {
        q,
        params: Vec::new(),
    };
    let event_dims: Vec<(usize, &Dimension)> = q
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_event_level())
        .collect();
    let has_event_filters = q.filters.iter().any(|f| f.dimension.is_event_level());
    let mut from = String::from("sessions s");
    let mut dims = Vec::new();
    if !event_dims.is_empty() {
        let inner: Vec<String> = event_dims
            .iter()
            .map(|(i, d)| format!("{} AS d{i}", b.event_dim(*i, d)))
            .collect();
        let joins = b.prop_joins();
        let wh = b.event_where(true);
        from.push_str(&format!(
            " JOIN (SELECT DISTINCT e.session_id, {} FROM events e{joins} WHERE {wh}) d ON d.session_id = s.session_id",
            inner.join(", ")
        ));
    }
    for (i, d) in q.dimensions.iter().enumerate() {
        dims.push(match d {
            Dimension::EntryPage => "s.entry_page".to_string(),
            Dimension::ExitPage => "s.exit_page".to_string(),
            Dimension::Visit(v) => format!("s.{}", visit_column(*v)),
            Dimension::Time(t) => bucket("s.start_ts", *t, q),
            _ => format!("d.d{i}"),
        });
    }
    let site = b.param(Value::UInt(q.site_id));
    let from_ts = b.param(Value::BigInt(q.from_ts));
    let to_ts = b.param(Value::BigInt(q.to_ts));
    let mut wh = format!("s.site_id = {site} AND s.start_ts >= {from_ts} AND s.start_ts < {to_ts}");
    for f in &q.filters {
        let c = match &f.dimension {
            Dimension::EntryPage => b.signed("s.entry_page", f),
            Dimension::ExitPage => b.signed("s.exit_page", f),
            Dimension::Visit(v) => b.signed(&format!("s.{}", visit_column(*v)), f),
            _ => continue,
        };
        wh.push_str(" AND ");
        wh.push_str(&c);
    }
    if has_event_filters && event_dims.is_empty() {
        let ew = b.event_where(true);
        wh.push_str(&format!(
            " AND s.session_id IN (SELECT e.session_id FROM events e WHERE {ew})"
        ));
    }
    let sql = format!(
        "SELECT {}CAST(sum(s.sign) AS BIGINT), CAST(sum(s.sign * s.pageviews) AS BIGINT), \
         CAST(sum(CASE WHEN s.pageviews = 1 AND s.interactive = 0 THEN s.sign ELSE 0 END) AS BIGINT), \
         CAST(sum(s.sign * (s.end_ts - s.start_ts)) AS BIGINT) FROM {from} WHERE {wh}{}",
        select_dims(&dims),
        group_by(dims.len())
    );
    Statement {
        sql,
        params: b.params,
    }
}
