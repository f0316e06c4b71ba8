//! Stats SQL for both stores: turns an [`AggregateQuery`] into one statement with bound
//! parameters, in DuckDB's or ClickHouse's dialect. Visitor-controlled values only ever travel
//! as parameters.

use crate::stats::model::{
    AggregateQuery, Dimension, Filter, FilterOp, Metric, Offsets, TimeBucket, VisitField,
};

/// How far past a query window the events of visits that started inside it are looked at.
pub const VISIT_EVENTS_SPAN: i64 = 86_400;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    UInt(u32),
    BigInt(i64),
}

/// The SQL dialect a statement is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB: events aliased `e`, sessions `s`, props in their own table.
    DuckDb,
    /// ClickHouse 18.16 and later: no table aliases, one join per `SELECT` (`USING`), props as
    /// arrays on the events row, grouping by aliases.
    ClickHouse,
}

impl Dialect {
    fn idiv(self, a: &str, b: i64) -> String {
        match self {
            Dialect::DuckDb => format!("({a} // {b})"),
            Dialect::ClickHouse => format!("intDiv({a}, {b})"),
        }
    }

    /// Column `c` of the events table.
    fn ev(self, c: &str) -> String {
        match self {
            Dialect::DuckDb => format!("e.{c}"),
            Dialect::ClickHouse => c.to_string(),
        }
    }

    /// Column `c` of the sessions table.
    fn se(self, c: &str) -> String {
        match self {
            Dialect::DuckDb => format!("s.{c}"),
            Dialect::ClickHouse => c.to_string(),
        }
    }
}

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
fn bucket(col: &str, b: TimeBucket, q: &AggregateQuery, d: Dialect) -> String {
    let local = local_time(col, &q.offsets);
    match b {
        TimeBucket::Minute => format!("({} * 60)", d.idiv(&local, 60)),
        TimeBucket::Hour => format!("({} * 3600)", d.idiv(&local, 3600)),
        TimeBucket::Day => format!("({} * 86400)", d.idiv(&local, 86400)),
        // 1970-01-01 was a Thursday; weeks start on Monday.
        TimeBucket::Week => {
            let days = d.idiv(&local, 86400);
            format!(
                "(({} * 7 - 3) * 86400)",
                d.idiv(&format!("({days} + 3)"), 7)
            )
        }
        TimeBucket::Month => {
            // ClickHouse names the local time once (its queries are limited in size; a long
            // range has many months and many DST changes).
            let (first, rest) = match d {
                Dialect::DuckDb => (local.clone(), local),
                Dialect::ClickHouse => {
                    let name = format!("local_{}", col.replace('.', "_"));
                    (format!("({local} AS {name})"), name)
                }
            };
            let mut case = String::from("CASE");
            for (i, m) in q.month_starts.iter().rev().enumerate() {
                let l = if i == 0 { &first } else { &rest };
                case.push_str(&format!(" WHEN {l} >= {m} THEN {m}"));
            }
            case.push_str(" ELSE 0 END");
            case
        }
    }
}

struct Builder<'q> {
    q: &'q AggregateQuery,
    d: Dialect,
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
                .map(|v| {
                    let v = self.text(v);
                    match self.d {
                        Dialect::DuckDb => format!("contains(lower({col}), lower({v}))"),
                        Dialect::ClickHouse => {
                            format!("positionCaseInsensitiveUTF8({col}, {v}) > 0")
                        }
                    }
                })
                .collect(),
            FilterOp::Matches | FilterOp::MatchesNot => f
                .values
                .iter()
                .map(|v| {
                    let v = self.text(v);
                    match self.d {
                        Dialect::DuckDb => format!("regexp_matches({col}, {v})"),
                        Dialect::ClickHouse => format!("match({col}, {v})"),
                    }
                })
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

    /// A condition on the events table for one filter.
    fn event_condition(&mut self, f: &Filter) -> String {
        let d = self.d;
        match &f.dimension {
            Dimension::Page => self.signed(&d.ev("pathname"), f),
            Dimension::Hostname => self.signed(&d.ev("hostname"), f),
            Dimension::EventName => self.signed(&d.ev("name"), f),
            Dimension::Visit(v) => self.signed(&d.ev(visit_column(*v)), f),
            Dimension::Prop(key) => match d {
                Dialect::DuckDb => {
                    let site = self.site_match("site_id");
                    let k = self.text(key);
                    let m = self.value_match("value", f);
                    let not = if f.op.negated() { "NOT " } else { "" };
                    format!(
                        "e.event_id {not}IN (SELECT event_id FROM props WHERE {site} AND key = {k} AND {m})"
                    )
                }
                Dialect::ClickHouse => {
                    let k = self.text(key);
                    let k2 = self.text(key);
                    let m = self.value_match(&format!("prop_values[indexOf(prop_keys, {k2})]"), f);
                    let not = if f.op.negated() { "NOT " } else { "" };
                    format!("{not}(has(prop_keys, {k}) AND {m})")
                }
            },
            Dimension::EntryPage | Dimension::ExitPage => {
                let col = if f.dimension == Dimension::EntryPage {
                    "entry_page"
                } else {
                    "exit_page"
                };
                // Only visits that can hold events of the (widest) window.
                let site = self.site_match("site_id");
                let to = self.param(Value::BigInt(self.q.to_ts + VISIT_EVENTS_SPAN));
                let from = self.param(Value::BigInt(self.q.from_ts));
                let m = self.signed(col, f);
                format!(
                    "{} IN (SELECT session_id FROM sessions WHERE {site} AND start_ts < {to} AND end_ts >= {from} AND {m} GROUP BY session_id HAVING sum(sign) > 0)",
                    d.ev("session_id")
                )
            }
            Dimension::Time(_) => "1 = 1".into(),
        }
    }

    /// `WHERE` clause over events for the site, the window and the filters that apply.
    /// Events of visits (`of_visits`) may lie up to a day past the window: a visit that
    /// starts in the window counts with all its events.
    fn event_where(&mut self, of_visits: bool) -> String {
        let site = self.site_match(&self.d.ev("site_id"));
        let from = self.param(Value::BigInt(self.q.from_ts));
        let end = if of_visits {
            self.q.to_ts + VISIT_EVENTS_SPAN
        } else {
            self.q.to_ts
        };
        let to = self.param(Value::BigInt(end));
        let only_event_level = of_visits;
        let ts = self.d.ev("ts");
        let mut sql = format!("{site} AND {ts} >= {from} AND {ts} < {to}");
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

    /// `WHERE` clause over sessions: the site, visits that start in the window, the filters
    /// on visits, and the event-level filters as visits with such an event (unless `joined`:
    /// the query joins the events that pass them).
    fn session_where(&mut self, joined: bool) -> String {
        let (d, q) = (self.d, self.q);
        let site = self.site_match(&d.se("site_id"));
        let from_ts = self.param(Value::BigInt(q.from_ts));
        let to_ts = self.param(Value::BigInt(q.to_ts));
        let start = d.se("start_ts");
        let mut wh = format!("{site} AND {start} >= {from_ts} AND {start} < {to_ts}");
        for f in &q.filters {
            let c = match &f.dimension {
                Dimension::EntryPage => self.signed(&d.se("entry_page"), f),
                Dimension::ExitPage => self.signed(&d.se("exit_page"), f),
                Dimension::Visit(v) => self.signed(&d.se(visit_column(*v)), f),
                _ => continue,
            };
            wh.push_str(" AND ");
            wh.push_str(&c);
        }
        if !joined && q.filters.iter().any(|f| f.dimension.is_event_level()) {
            let ew = self.event_where(true);
            let events = match d {
                Dialect::DuckDb => "events e",
                Dialect::ClickHouse => "events",
            };
            wh.push_str(&format!(
                " AND {} IN (SELECT {} FROM {events} WHERE {ew})",
                d.se("session_id"),
                d.ev("session_id")
            ));
        }
        wh
    }

    /// DuckDB: left joins of `props` for the property dimensions, aliased `p0`, `p1`, ...
    /// (ClickHouse keeps props on the events row and needs none).
    fn prop_joins(&mut self) -> String {
        let mut joins = String::new();
        if self.d == Dialect::ClickHouse {
            return joins;
        }
        let q = self.q;
        for (i, d) in q.dimensions.iter().enumerate() {
            if let Dimension::Prop(key) = d {
                let site = self.site_match(&format!("p{i}.site_id"));
                let k = self.text(key);
                joins.push_str(&format!(
                    " LEFT JOIN props p{i} ON p{i}.event_id = e.event_id AND {site} AND p{i}.key = {k}"
                ));
            }
        }
        joins
    }

    fn event_dim(&mut self, i: usize, dim: &Dimension) -> String {
        let d = self.d;
        match dim {
            Dimension::Page => d.ev("pathname"),
            Dimension::Hostname => d.ev("hostname"),
            Dimension::EventName => d.ev("name"),
            Dimension::Prop(key) => {
                match d {
                    Dialect::DuckDb => format!("COALESCE(p{i}.value, '(none)')"),
                    Dialect::ClickHouse => {
                        let k = self.text(key);
                        let k2 = self.text(key);
                        format!("if(has(prop_keys, {k}), prop_values[indexOf(prop_keys, {k2})], '(none)')")
                    }
                }
            }
            Dimension::EntryPage => match d {
                Dialect::DuckDb => "ls.entry_page".into(),
                Dialect::ClickHouse => "entry_page".into(),
            },
            Dimension::ExitPage => match d {
                Dialect::DuckDb => "ls.exit_page".into(),
                Dialect::ClickHouse => "exit_page".into(),
            },
            Dimension::Visit(v) => d.ev(visit_column(*v)),
            Dimension::Time(b) => bucket(&d.ev("ts"), *b, self.q, d),
        }
    }

    /// The group columns and the `GROUP BY` clause. DuckDB groups by position and reads the
    /// raw values (integers for time buckets); ClickHouse (18.16 has no positional grouping)
    /// groups by aliases and returns them as one array of strings, `dims`.
    fn grouping(&self, exprs: &[String]) -> (String, String) {
        match self.d {
            Dialect::DuckDb => {
                let select: String = exprs.iter().map(|e| format!("{e}, ")).collect();
                let group = if exprs.is_empty() {
                    String::new()
                } else {
                    let cols: Vec<String> = (1..=exprs.len()).map(|i| i.to_string()).collect();
                    format!(" GROUP BY {}{}", cols.join(", "), self.limit())
                };
                (select, group)
            }
            Dialect::ClickHouse => {
                if exprs.is_empty() {
                    return ("emptyArrayString() AS dims, ".into(), String::new());
                }
                let names: Vec<String> = (0..exprs.len()).map(|i| format!("g{i}")).collect();
                let aliased: Vec<String> = exprs
                    .iter()
                    .zip(&names)
                    .map(|(e, n)| format!("toString({e}) AS {n}"))
                    .collect();
                (
                    format!("[{}] AS dims, ", aliased.join(", ")),
                    format!(" GROUP BY {}{}", names.join(", "), self.limit()),
                )
            }
        }
    }

    /// The condition on a `site_id` column: the query's site, or its list of sites (site ids
    /// are integers: written into the SQL as a list, however many).
    fn site_match(&mut self, col: &str) -> String {
        if self.q.by_site.is_empty() {
            let site = self.param(Value::UInt(self.q.site_id));
            return format!("{col} = {site}");
        }
        format!("{col} IN ({})", int_list(&self.q.by_site))
    }

    /// The site column grouped first when the query covers several sites.
    fn site_group(&self, col: &str) -> Option<String> {
        if self.q.by_site.is_empty() {
            return None;
        }
        Some(match self.d {
            Dialect::DuckDb => format!("CAST({col} AS BIGINT)"),
            Dialect::ClickHouse => col.to_string(),
        })
    }

    /// ` LIMIT n` when the query bounds its groups.
    fn limit(&self) -> String {
        self.q
            .max_groups
            .map(|n| format!(" LIMIT {n}"))
            .unwrap_or_default()
    }

    /// `sessions` joined with a subquery that has a `session_id` column.
    fn join_sessions(&self, sub: &str) -> String {
        match self.d {
            Dialect::DuckDb => format!(" JOIN ({sub}) d ON d.session_id = s.session_id"),
            Dialect::ClickHouse => format!(" ALL INNER JOIN ({sub}) AS d USING session_id"),
        }
    }
}

/// Integers (site ids, days) as an SQL list, e.g. `1, 2, 3`: safe to write into the SQL as
/// they are, and however many there are, without one parameter each.
pub fn int_list<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the statement for `q` (over visits when `visits`, else over events) joins
/// events with visits: those need much more memory than a scan (a hash table of visits).
pub fn joins_events_and_visits(q: &AggregateQuery, visits: bool) -> bool {
    let visit_page = |d: &Dimension| matches!(d, Dimension::EntryPage | Dimension::ExitPage);
    let mut dims = q
        .dimensions
        .iter()
        .chain(q.filters.iter().map(|f| &f.dimension));
    if visits {
        dims.any(Dimension::is_event_level)
    } else {
        dims.any(visit_page)
    }
}

/// Visitors, page views and all events per group; `approximate` counts visitors with
/// a sketch (HyperLogLog in DuckDB, `uniq` in ClickHouse) instead of exactly.
pub fn event_aggregate(q: &AggregateQuery, approximate: bool, d: Dialect) -> Statement {
    let mut b = Builder {
        q,
        d,
        params: Vec::new(),
    };
    let mut dims: Vec<String> = b.site_group(&d.ev("site_id")).into_iter().collect();
    for (i, dim) in q.dimensions.iter().enumerate() {
        let col = b.event_dim(i, dim);
        dims.push(col);
    }
    let mut from = String::from(match d {
        Dialect::DuckDb => "events e",
        Dialect::ClickHouse => "events",
    });
    if q.dimensions
        .iter()
        .any(|d| matches!(d, Dimension::EntryPage | Dimension::ExitPage))
    {
        // Only the visits that can hold events of the window and pass the visit-level filters
        // (every event carries its visit's attributes, so this changes no answer; it keeps
        // the join small).
        let site = b.site_match("site_id");
        let to = b.param(Value::BigInt(q.to_ts));
        let from_ts = b.param(Value::BigInt(q.from_ts));
        let mut cond = format!("{site} AND start_ts < {to} AND end_ts >= {from_ts}");
        for f in &q.filters {
            let c = match &f.dimension {
                Dimension::Visit(v) => b.signed(visit_column(*v), f),
                Dimension::EntryPage => b.signed("entry_page", f),
                Dimension::ExitPage => b.signed("exit_page", f),
                _ => continue,
            };
            cond.push_str(" AND ");
            cond.push_str(&c);
        }
        let live = format!("SELECT session_id, entry_page, exit_page FROM sessions WHERE {cond} GROUP BY session_id, entry_page, exit_page HAVING sum(sign) > 0");
        from.push_str(&match d {
            Dialect::DuckDb => format!(" JOIN ({live}) ls ON ls.session_id = e.session_id"),
            Dialect::ClickHouse => format!(" ALL INNER JOIN ({live}) AS ls USING session_id"),
        });
    }
    from.push_str(&b.prop_joins());
    let wh = b.event_where(false);
    let sums = event_sums(q, approximate, d);
    let (select, group) = b.grouping(&dims);
    let sql = format!("SELECT {select}{sums} FROM {from} WHERE {wh}{group}");
    Statement {
        sql,
        params: b.params,
    }
}

/// The event sums' columns: visitors, page views, all events. Only what is asked for: distinct
/// counts are the expensive part. The event count always runs, it is cheap and tells which
/// groups exist.
fn event_sums(q: &AggregateQuery, approximate: bool, d: Dialect) -> String {
    let visitor = d.ev("visitor_id");
    let visitors = match (d, q.metrics.iter().any(|m| m.needs_visitors()), approximate) {
        (Dialect::DuckDb, false, _) => "CAST(0 AS BIGINT)".to_string(),
        (Dialect::DuckDb, true, true) => {
            format!("CAST(approx_count_distinct({visitor}) AS BIGINT)")
        }
        (Dialect::DuckDb, true, false) => format!("count(DISTINCT {visitor})"),
        (Dialect::ClickHouse, false, _) => "toUInt64(0)".to_string(),
        (Dialect::ClickHouse, true, true) => format!("uniq({visitor})"),
        (Dialect::ClickHouse, true, false) => format!("uniqExact({visitor})"),
    };
    let pageviews = match (d, q.metrics.contains(&Metric::Pageviews)) {
        (Dialect::DuckDb, true) => "count(*) FILTER (WHERE e.name = 'pageview')",
        (Dialect::DuckDb, false) => "CAST(0 AS BIGINT)",
        (Dialect::ClickHouse, true) => "countIf(name = 'pageview')",
        (Dialect::ClickHouse, false) => "toUInt64(0)",
    };
    format!("{visitors}, {pageviews}, count(*)")
}

/// Visits, their page views, bounces and total duration.
fn session_sums(d: Dialect) -> &'static str {
    match d {
        Dialect::DuckDb => {
            "CAST(sum(s.sign) AS BIGINT), CAST(sum(s.sign * s.pageviews) AS BIGINT), \
             CAST(sum(CASE WHEN s.pageviews = 1 AND s.interactive = 0 THEN s.sign ELSE 0 END) AS BIGINT), \
             CAST(sum(s.sign * (s.end_ts - s.start_ts)) AS BIGINT)"
        }
        Dialect::ClickHouse => {
            "toInt64(sum(sign)), toInt64(sum(sign * pageviews)), \
             toInt64(sum(if(pageviews = 1 AND interactive = 0, toInt64(sign), toInt64(0)))), \
             toInt64(sum(sign * (end_ts - start_ts)))"
        }
    }
}

/// Visits, their page views, bounces and total duration per group.
pub fn session_aggregate(q: &AggregateQuery, d: Dialect) -> Statement {
    let mut b = Builder {
        q,
        d,
        params: Vec::new(),
    };
    let event_dims: Vec<(usize, &Dimension)> = q
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_event_level())
        .collect();
    let mut from = String::from(match d {
        Dialect::DuckDb => "sessions s",
        Dialect::ClickHouse => "sessions",
    });
    let mut dims: Vec<String> = b.site_group(&d.se("site_id")).into_iter().collect();
    if !event_dims.is_empty() {
        let inner: Vec<String> = event_dims
            .iter()
            .map(|(i, dim)| format!("{} AS d{i}", b.event_dim(*i, dim)))
            .collect();
        let joins = b.prop_joins();
        let wh = b.event_where(true);
        let events = match d {
            Dialect::DuckDb => "events e",
            Dialect::ClickHouse => "events",
        };
        let sub = format!(
            "SELECT DISTINCT {}, {} FROM {events}{joins} WHERE {wh}",
            d.ev("session_id"),
            inner.join(", ")
        );
        from.push_str(&b.join_sessions(&sub));
    }
    let joined = match d {
        Dialect::DuckDb => "d.d",
        Dialect::ClickHouse => "d",
    };
    for (i, dim) in q.dimensions.iter().enumerate() {
        dims.push(match dim {
            Dimension::EntryPage => d.se("entry_page"),
            Dimension::ExitPage => d.se("exit_page"),
            Dimension::Visit(v) => d.se(visit_column(*v)),
            Dimension::Time(t) => bucket(&d.se("start_ts"), *t, q, d),
            _ => format!("{joined}{i}"),
        });
    }
    let wh = b.session_where(!event_dims.is_empty());
    let sums = session_sums(d);
    let (select, group) = b.grouping(&dims);
    let sql = format!("SELECT {select}{sums} FROM {from} WHERE {wh}{group}");
    Statement {
        sql,
        params: b.params,
    }
}

#[cfg(test)]
mod tests;
