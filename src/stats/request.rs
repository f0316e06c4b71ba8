//! Parsing and validating a Plausible-style Stats API v2 query body, and resolving its date
//! range in the site's time zone. Every error names the part of the query at fault.

use super::model::{Dimension, Filter, FilterOp, Metric, VisitField};
use super::{StatsError, DIRECT};
use crate::tenancy::sites::Site;
use chrono::{Datelike, Days, Months, NaiveDate, TimeZone};
use serde_json::Value;

/// A date range as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRange {
    /// The last five minutes.
    Realtime,
    /// Today.
    Day,
    /// The last `n` days, today included.
    Days(u32),
    /// This month so far.
    Month,
    /// The last `n` months, this one included.
    Months(u32),
    /// This calendar year so far.
    Year,
    /// Everything.
    All,
    /// From the first to the last date, both included.
    Custom(NaiveDate, NaiveDate),
}

/// What to sort by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Metric(usize),
    Dimension(usize),
}

/// A parsed, validated query.
#[derive(Debug, Clone)]
pub struct ParsedQuery {
    pub site_id: String,
    pub metrics: Vec<Metric>,
    pub dimensions: Vec<Dimension>,
    pub dimension_names: Vec<String>,
    pub filters: Vec<Filter>,
    pub date_range: DateRange,
    pub order_by: Vec<(SortKey, bool)>,
    pub limit: usize,
    pub offset: usize,
    pub compare_previous: bool,
    /// `include.time_labels`: list every time bucket of the period in `meta`.
    pub time_labels: bool,
    /// `include.imports`: add statistics imported from other tools (unfiltered queries).
    pub imports: bool,
}

impl ParsedQuery {
    /// A typed query, as spurlos's own pages ask (a renamed metric breaks their build): these
    /// metrics of `site_id` over `date_range`, not grouped, not filtered, sorted by the first
    /// metric (descending), all rows.
    pub fn new(site_id: impl Into<String>, metrics: Vec<Metric>, date_range: DateRange) -> Self {
        ParsedQuery {
            site_id: site_id.into(),
            metrics,
            dimensions: Vec::new(),
            dimension_names: Vec::new(),
            filters: Vec::new(),
            date_range,
            order_by: vec![(SortKey::Metric(0), true)],
            limit: MAX_LIMIT,
            offset: 0,
            compare_previous: false,
            time_labels: false,
            imports: false,
        }
    }

    /// With imported statistics (as the dashboard shows them).
    pub fn with_imports(mut self) -> Self {
        self.imports = true;
        self
    }

    /// Grouped by `dimension` as well (time dimensions sort ascending, before the metric).
    pub fn by(mut self, dimension: Dimension) -> Self {
        if matches!(dimension, Dimension::Time(_)) {
            self.order_by
                .insert(0, (SortKey::Dimension(self.dimensions.len()), false));
        }
        self.dimension_names.push(dimension.api_name());
        self.dimensions.push(dimension);
        self
    }

    /// With these filters.
    pub fn filtered(mut self, filters: Vec<Filter>) -> Self {
        self.filters = filters;
        self
    }

    /// Compared with the previous period of the same length (not for the whole history).
    pub fn compared(mut self) -> Self {
        self.compare_previous = self.date_range != DateRange::All;
        self
    }

    /// Listing every time bucket of the period (with a time dimension).
    pub fn with_time_labels(mut self) -> Self {
        self.time_labels = true;
        self
    }

    /// At most `limit` rows.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.clamp(1, MAX_LIMIT);
        self
    }
}

/// A filter as the Stats API applies it: the shown names of empty values (`Direct / None`,
/// `(none)`) match the empty value, except for `contains`.
pub fn filter(op: FilterOp, dimension: Dimension, mut values: Vec<String>) -> Filter {
    for v in values.iter_mut() {
        let empty = match &dimension {
            Dimension::Visit(VisitField::Source) => v == DIRECT,
            Dimension::Visit(_) | Dimension::EntryPage | Dimension::ExitPage => v == "(none)",
            _ => false,
        };
        if empty && op != FilterOp::Contains && op != FilterOp::ContainsNot {
            v.clear();
        }
    }
    Filter {
        op,
        dimension,
        values,
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> StatsError {
    StatsError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

const KNOWN_KEYS: &[&str] = &[
    "site_id",
    "metrics",
    "date_range",
    "dimensions",
    "filters",
    "order_by",
    "pagination",
    "include",
];

/// Most rows one query returns.
pub const MAX_LIMIT: usize = 10_000;

/// Parses a query body.
pub fn parse(body: &Value) -> Result<ParsedQuery, StatsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("query", "must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(invalid(k.clone(), "unknown field"));
    }
    let site_id = match obj.get("site_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(invalid("site_id", "is required (the site's domain)")),
    };
    let metrics = string_list(obj.get("metrics"), "metrics")?
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Metric::parse(m)
                .ok_or_else(|| invalid(format!("metrics[{i}]"), format!("unknown metric {m:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if metrics.is_empty() {
        return Err(invalid("metrics", "name at least one metric"));
    }
    let dimension_names = match obj.get("dimensions") {
        None => Vec::new(),
        v => string_list(v, "dimensions")?,
    };
    let dimensions = dimension_names
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Dimension::parse(d).ok_or_else(|| {
                invalid(
                    format!("dimensions[{i}]"),
                    format!("unknown dimension {d:?}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if metrics.contains(&Metric::Percentage) && dimensions.is_empty() {
        return Err(invalid(
            "metrics",
            "percentage needs at least one dimension",
        ));
    }
    let filters = parse_filters(obj.get("filters"))?;
    let date_range = parse_range(obj.get("date_range"))?;
    let order_by = parse_order(obj.get("order_by"), &metrics, &dimensions, &dimension_names)?;
    let (limit, offset) = parse_pagination(obj.get("pagination"))?;
    let compare_previous = match obj.get("include").and_then(|i| i.get("comparisons")) {
        None | Some(Value::Null) => false,
        Some(c) => match c.get("mode").and_then(Value::as_str) {
            Some("previous_period") => true,
            _ => {
                return Err(invalid(
                    "include.comparisons.mode",
                    "only \"previous_period\" is supported",
                ))
            }
        },
    };
    let time_labels = match obj.get("include").and_then(|i| i.get("time_labels")) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(invalid("include.time_labels", "must be true or false")),
    };
    if time_labels && !dimensions.iter().any(|d| matches!(d, Dimension::Time(_))) {
        return Err(invalid("include.time_labels", "needs a time dimension"));
    }
    let imports = match obj.get("include").and_then(|i| i.get("imports")) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(invalid("include.imports", "must be true or false")),
    };
    if let Some(k) = obj.get("include").and_then(Value::as_object).and_then(|i| {
        i.keys()
            .find(|k| !["comparisons", "time_labels", "imports"].contains(&k.as_str()))
    }) {
        return Err(invalid(format!("include.{k}"), "unknown option"));
    }
    if date_range == DateRange::All && compare_previous {
        return Err(invalid(
            "include.comparisons",
            "cannot compare the whole history",
        ));
    }
    Ok(ParsedQuery {
        site_id,
        metrics,
        dimensions,
        dimension_names,
        filters,
        date_range,
        order_by,
        limit,
        offset,
        compare_previous,
        time_labels,
        imports,
    })
}

fn string_list(v: Option<&Value>, field: &str) -> Result<Vec<String>, StatsError> {
    let arr = v
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(field, "must be a list of strings"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_str()
                .map(String::from)
                .ok_or_else(|| invalid(format!("{field}[{i}]"), "must be a string"))
        })
        .collect()
}

fn parse_filters(v: Option<&Value>) -> Result<Vec<Filter>, StatsError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let arr = v
        .as_array()
        .ok_or_else(|| invalid("filters", "must be a list of [operator, dimension, values]"))?;
    let mut out = Vec::new();
    for (i, f) in arr.iter().enumerate() {
        let field = format!("filters[{i}]");
        let parts = f
            .as_array()
            .filter(|p| p.len() == 3)
            .ok_or_else(|| invalid(&field, "must be [operator, dimension, values]"))?;
        let op_name = parts[0].as_str().unwrap_or_default();
        let op = FilterOp::parse(op_name)
            .ok_or_else(|| invalid(&field, format!("unknown operator {:?}", parts[0])))?;
        let dim_name = parts[1].as_str().unwrap_or_default();
        let dimension = Dimension::parse(dim_name)
            .filter(|d| !matches!(d, Dimension::Time(_)))
            .ok_or_else(|| invalid(&field, format!("cannot filter by {:?}", parts[1])))?;
        let values = string_list(Some(&parts[2]), &format!("{field}[2]"))?;
        if values.is_empty() {
            return Err(invalid(format!("{field}[2]"), "name at least one value"));
        }
        if matches!(op, FilterOp::Matches | FilterOp::MatchesNot) {
            for v in &values {
                regex::Regex::new(v)
                    .map_err(|e| invalid(format!("{field}[2]"), format!("invalid pattern: {e}")))?;
            }
        }
        out.push(filter(op, dimension, values));
    }
    Ok(out)
}

/// The first and last day a custom date range may name.
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
pub const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2100, 12, 31).expect("a valid date");

/// Parses a `date_range` value: a name like `"7d"` or `[from, to]`.
pub fn parse_range(v: Option<&Value>) -> Result<DateRange, StatsError> {
    match v {
        Some(Value::String(s)) => {
            let s = s.as_str();
            let r = match s {
                "realtime" => DateRange::Realtime,
                "day" | "today" => DateRange::Day,
                "month" => DateRange::Month,
                "year" => DateRange::Year,
                "all" => DateRange::All,
                _ => {
                    let num =
                        |suffix: &str| s.strip_suffix(suffix).and_then(|n| n.parse::<u32>().ok());
                    if let Some(n) = num("mo").filter(|n| (1..=120).contains(n)) {
                        DateRange::Months(n)
                    } else if let Some(n) = num("d").filter(|n| (1..=3660).contains(n)) {
                        DateRange::Days(n)
                    } else {
                        return Err(invalid("date_range", format!("unknown range {s:?}")));
                    }
                }
            };
            Ok(r)
        }
        Some(Value::Array(a)) if a.len() == 2 => {
            let date = |i: usize| {
                a[i].as_str()
                    .and_then(|s| {
                        NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
                    })
                    .ok_or_else(|| {
                        invalid(format!("date_range[{i}]"), "must be a date like 2024-01-31")
                    })
            };
            let (from, to) = (date(0)?, date(1)?);
            if to < from {
                return Err(invalid("date_range", "ends before it starts"));
            }
            if from < FIRST_DAY || to > LAST_DAY {
                return Err(invalid(
                    "date_range",
                    format!("dates must lie between {FIRST_DAY} and {LAST_DAY}"),
                ));
            }
            Ok(DateRange::Custom(from, to))
        }
        None => Err(invalid("date_range", "is required")),
        _ => Err(invalid(
            "date_range",
            "must be a name like \"7d\" or [from, to]",
        )),
    }
}

fn parse_order(
    v: Option<&Value>,
    metrics: &[Metric],
    dimensions: &[Dimension],
    names: &[String],
) -> Result<Vec<(SortKey, bool)>, StatsError> {
    let Some(v) = v else {
        // Default: time ascending when grouped by time, else the first metric descending.
        let mut out: Vec<(SortKey, bool)> = dimensions
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d, Dimension::Time(_)))
            .map(|(i, _)| (SortKey::Dimension(i), false))
            .collect();
        out.push((SortKey::Metric(0), true));
        return Ok(out);
    };
    let arr = v
        .as_array()
        .ok_or_else(|| invalid("order_by", "must be a list of [name, \"asc\"|\"desc\"]"))?;
    let mut out = Vec::new();
    for (i, o) in arr.iter().enumerate() {
        let field = format!("order_by[{i}]");
        let pair = o
            .as_array()
            .filter(|p| p.len() == 2)
            .ok_or_else(|| invalid(&field, "must be [name, \"asc\"|\"desc\"]"))?;
        let name = pair[0].as_str().unwrap_or_default();
        let desc = match pair[1].as_str() {
            Some("desc") => true,
            Some("asc") => false,
            _ => return Err(invalid(&field, "direction must be \"asc\" or \"desc\"")),
        };
        let key = if let Some(i) = metrics.iter().position(|m| m.name() == name) {
            SortKey::Metric(i)
        } else if let Some(i) = names.iter().position(|d| d == name) {
            SortKey::Dimension(i)
        } else {
            return Err(invalid(
                &field,
                format!("{name:?} is not a metric or dimension of this query"),
            ));
        };
        out.push((key, desc));
    }
    Ok(out)
}

fn parse_pagination(v: Option<&Value>) -> Result<(usize, usize), StatsError> {
    let Some(v) = v else {
        return Ok((MAX_LIMIT, 0));
    };
    let num = |key: &str, default: usize| match v.get(key) {
        None => Ok(default),
        Some(n) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| invalid(format!("pagination.{key}"), "must be a whole number")),
    };
    let limit = num("limit", MAX_LIMIT)?;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(invalid(
            "pagination.limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok((limit, num("offset", 0)?))
}

/// The UTC window `[from, to)` a range means for `site` at `now`.
pub fn resolve_range(range: &DateRange, site: &Site, now: i64) -> Result<(i64, i64), StatsError> {
    let tz = site.tz();
    let today = tz
        .timestamp_opt(now, 0)
        .single()
        .map(|t| t.date_naive())
        .ok_or_else(|| invalid("date_range", "the clock is out of range"))?;
    let start = |d: NaiveDate| crate::timezone::day_start(tz, d);
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let err = || invalid("date_range", "is out of range");
    let (from, to) = match range {
        DateRange::Realtime => return Ok((now - 300, now + 1)),
        DateRange::Day => (today, tomorrow),
        DateRange::Days(n) => (
            tomorrow
                .checked_sub_days(Days::new(u64::from(*n)))
                .ok_or_else(err)?,
            tomorrow,
        ),
        DateRange::Month => (today.with_day(1).ok_or_else(err)?, tomorrow),
        DateRange::Months(n) => (
            today
                .with_day(1)
                .and_then(|d| d.checked_sub_months(Months::new(n - 1)))
                .ok_or_else(err)?,
            tomorrow,
        ),
        DateRange::Year => (today.with_ordinal(1).ok_or_else(err)?, tomorrow),
        DateRange::All => (FIRST_DAY, tomorrow),
        DateRange::Custom(a, b) => (*a, b.checked_add_days(Days::new(1)).ok_or_else(err)?),
    };
    Ok((start(from), start(to)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_full_query() {
        let q = parse(&json!({
            "site_id": "example.com",
            "metrics": ["visitors", "bounce_rate"],
            "date_range": "7d",
            "dimensions": ["visit:source", "event:page"],
            "filters": [["is", "visit:country", ["DE"]], ["contains", "event:page", ["/blog"]]],
            "order_by": [["visitors", "desc"]],
            "pagination": {"limit": 5},
            "include": {"comparisons": {"mode": "previous_period"}}
        }))
        .unwrap();
        assert_eq!(q.metrics.len(), 2);
        assert_eq!(q.date_range, DateRange::Days(7));
        assert_eq!(q.filters.len(), 2);
        assert_eq!(q.limit, 5);
        assert!(q.compare_previous);
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            (
                json!({"site_id": "a.com", "metrics": ["visitors", "nope"], "date_range": "7d"}),
                "metrics[1]",
            ),
            (
                json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "7x"}),
                "date_range",
            ),
            (
                json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["x"]}),
                "dimensions[0]",
            ),
            (
                json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:page"]]}),
                "filters[0]",
            ),
            (
                json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["matches", "event:page", ["("]]]}),
                "filters[0][2]",
            ),
            (
                json!({"metrics": ["visitors"], "date_range": "7d"}),
                "site_id",
            ),
            (
                json!({"site_id": "a.com", "metrics": ["visitors"], "date_range": "7d", "bogus": 1}),
                "bogus",
            ),
        ];
        for (body, field) in cases {
            match parse(&body) {
                Err(StatsError::Invalid { field: f, .. }) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use serde_json::{json, Value};

        /// JSON of any shape, with the words a query knows mixed in.
        fn json_value() -> impl Strategy<Value = Value> {
            let words = prop::sample::select(vec![
                "day",
                "7d",
                "30d",
                "3660d",
                "3661d",
                "month",
                "6mo",
                "121mo",
                "year",
                "all",
                "realtime",
                "visitors",
                "visits",
                "pageviews",
                "bounce_rate",
                "percentage",
                "event:page",
                "visit:source",
                "event:props:plan",
                "time:day",
                "time:hour",
                "time:minute",
                "time:week",
                "time:month",
                "is",
                "is_not",
                "contains",
                "matches",
                "desc",
                "asc",
                "2024-06-10",
                "2000-01-01",
                "2100-12-31",
                "0001-01-01",
                "9999-12-31",
                "previous_period",
            ]);
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                ".{0,30}".prop_map(Value::from),
                words.prop_map(Value::from),
            ];
            let keys = prop::sample::select(vec![
                "site_id",
                "metrics",
                "date_range",
                "dimensions",
                "filters",
                "order_by",
                "pagination",
                "limit",
                "offset",
                "include",
                "comparisons",
                "mode",
                "time_labels",
                "imports",
                "total_rows",
            ]);
            leaf.prop_recursive(4, 48, 6, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..8)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn site() -> Site {
            Site {
                id: crate::tenancy::SiteId(1),
                domain: "example.com".into(),
                aliases: Vec::new(),
                timezone: "Pacific/Chatham".into(),
                ip_mask_bytes: 1,
                respect_dnt: true,
                excluded_ranges: Vec::new(),
                customer_id: None,
                retention_days: 760,
                archive_months: 0,
                cnil: false,
            }
        }

        proptest! {
            #[test]
            fn any_json_is_a_query_or_names_the_part(v in json_value(), now in 946_684_800i64..4_102_444_800) {
                match parse(&v) {
                    Ok(q) => {
                        if let Ok((from, to)) = resolve_range(&q.date_range, &site(), now) {
                            prop_assert!(from < to);
                        }
                    }
                    Err(StatsError::Invalid { field, .. }) => prop_assert!(!field.is_empty()),
                    Err(other) => prop_assert!(false, "{other}"),
                }
            }

            #[test]
            fn any_range_value_resolves_or_is_refused(v in json_value(), now in 946_684_800i64..4_102_444_800) {
                if let Ok(r) = parse_range(Some(&v)) {
                    let _ = resolve_range(&r, &site(), now);
                }
            }
        }
    }
}
