//! The validated query model: metrics, dimensions, filters and the resolved time window that
//! every store answers.

/// A number the Stats API can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Visitors,
    Visits,
    Pageviews,
    ViewsPerVisit,
    BounceRate,
    VisitDuration,
    Events,
    /// Share of all visitors (same filters, no grouping) in per cent.
    Percentage,
}

impl Metric {
    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "visitors" => Metric::Visitors,
            "visits" => Metric::Visits,
            "pageviews" => Metric::Pageviews,
            "views_per_visit" => Metric::ViewsPerVisit,
            "bounce_rate" => Metric::BounceRate,
            "visit_duration" => Metric::VisitDuration,
            "events" => Metric::Events,
            "percentage" => Metric::Percentage,
            _ => return None,
        })
    }

    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Visitors => "visitors",
            Metric::Visits => "visits",
            Metric::Pageviews => "pageviews",
            Metric::ViewsPerVisit => "views_per_visit",
            Metric::BounceRate => "bounce_rate",
            Metric::VisitDuration => "visit_duration",
            Metric::Events => "events",
            Metric::Percentage => "percentage",
        }
    }

    /// Whether the metric needs distinct visitors.
    pub fn needs_visitors(self) -> bool {
        matches!(self, Metric::Visitors | Metric::Percentage)
    }

    /// Whether the metric needs the sessions table.
    pub fn needs_sessions(self) -> bool {
        matches!(
            self,
            Metric::Visits | Metric::ViewsPerVisit | Metric::BounceRate | Metric::VisitDuration
        )
    }
}

/// Time bucket sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeBucket {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

/// Attributes of a visit, stored on sessions and copied onto each of their events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisitField {
    Source,
    Referrer,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    Country,
    Region,
    City,
    Browser,
    BrowserVersion,
    Os,
    OsVersion,
    Device,
    Screen,
}

/// Something to group or filter by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// `event:page`
    Page,
    /// `event:hostname`
    Hostname,
    /// `event:name`
    EventName,
    /// `event:props:<key>`
    Prop(String),
    /// `visit:entry_page`
    EntryPage,
    /// `visit:exit_page`
    ExitPage,
    /// `visit:*` attributes.
    Visit(VisitField),
    /// `time:*`
    Time(TimeBucket),
}

/// Every visit attribute with its API name (after `visit:`).
pub const VISIT_FIELDS: &[(&str, VisitField)] = &[
    ("source", VisitField::Source),
    ("referrer", VisitField::Referrer),
    ("utm_source", VisitField::UtmSource),
    ("utm_medium", VisitField::UtmMedium),
    ("utm_campaign", VisitField::UtmCampaign),
    ("utm_content", VisitField::UtmContent),
    ("utm_term", VisitField::UtmTerm),
    ("country", VisitField::Country),
    ("region", VisitField::Region),
    ("city", VisitField::City),
    ("browser", VisitField::Browser),
    ("browser_version", VisitField::BrowserVersion),
    ("os", VisitField::Os),
    ("os_version", VisitField::OsVersion),
    ("device", VisitField::Device),
    ("screen", VisitField::Screen),
];

impl Dimension {
    /// Parses an API name such as `visit:source`, `event:props:plan` or `time:day`.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(key) = s.strip_prefix("event:props:") {
            return (!key.is_empty() && key.len() <= 300).then(|| Dimension::Prop(key.to_string()));
        }
        Some(match s {
            "event:page" => Dimension::Page,
            "event:hostname" => Dimension::Hostname,
            "event:name" => Dimension::EventName,
            "visit:entry_page" => Dimension::EntryPage,
            "visit:exit_page" => Dimension::ExitPage,
            "time:minute" => Dimension::Time(TimeBucket::Minute),
            "time:hour" => Dimension::Time(TimeBucket::Hour),
            "time" | "time:day" => Dimension::Time(TimeBucket::Day),
            "time:week" => Dimension::Time(TimeBucket::Week),
            "time:month" => Dimension::Time(TimeBucket::Month),
            other => {
                let field = other.strip_prefix("visit:")?;
                let (_, f) = VISIT_FIELDS.iter().find(|(n, _)| *n == field)?;
                Dimension::Visit(*f)
            }
        })
    }

    /// The API name, as [`Dimension::parse`] reads it.
    pub fn api_name(&self) -> String {
        match self {
            Dimension::Page => "event:page".into(),
            Dimension::Hostname => "event:hostname".into(),
            Dimension::EventName => "event:name".into(),
            Dimension::Prop(key) => format!("event:props:{key}"),
            Dimension::EntryPage => "visit:entry_page".into(),
            Dimension::ExitPage => "visit:exit_page".into(),
            Dimension::Visit(f) => {
                let name = VISIT_FIELDS
                    .iter()
                    .find(|(_, v)| v == f)
                    .map_or("", |(n, _)| n);
                format!("visit:{name}")
            }
            Dimension::Time(b) => match b {
                TimeBucket::Minute => "time:minute",
                TimeBucket::Hour => "time:hour",
                TimeBucket::Day => "time:day",
                TimeBucket::Week => "time:week",
                TimeBucket::Month => "time:month",
            }
            .into(),
        }
    }

    /// Whether the value belongs to single events rather than whole visits.
    pub fn is_event_level(&self) -> bool {
        matches!(
            self,
            Dimension::Page | Dimension::Hostname | Dimension::EventName | Dimension::Prop(_)
        )
    }
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Is,
    IsNot,
    Contains,
    ContainsNot,
    Matches,
    MatchesNot,
}

impl FilterOp {
    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "is" => FilterOp::Is,
            "is_not" => FilterOp::IsNot,
            "contains" => FilterOp::Contains,
            "contains_not" => FilterOp::ContainsNot,
            "matches" => FilterOp::Matches,
            "matches_not" => FilterOp::MatchesNot,
            _ => return None,
        })
    }

    /// Whether the filter keeps what does *not* match.
    pub fn negated(self) -> bool {
        matches!(
            self,
            FilterOp::IsNot | FilterOp::ContainsNot | FilterOp::MatchesNot
        )
    }
}

/// One filter: the dimension's value compared with any of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub op: FilterOp,
    pub dimension: Dimension,
    pub values: Vec<String>,
}

/// A piecewise-constant UTC offset over the query window: `base` before the first
/// transition, then each `(from_ts, offset)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offsets {
    pub base: i64,
    pub transitions: Vec<(i64, i64)>,
}

/// Sites with more stored events than this get visitor counts from a HyperLogLog estimate
/// (typically within 2 %) instead of an exact distinct count. Every store uses this limit.
pub const EXACT_VISITORS_LIMIT: u64 = 1_000_000;

/// One grouped aggregation over a site's data in `[from_ts, to_ts)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateQuery {
    pub site_id: u32,
    pub from_ts: i64,
    pub to_ts: i64,
    /// UTC → local time for time buckets.
    pub offsets: Offsets,
    /// Local-time starts of the months the window touches (for `time:month`), ascending.
    pub month_starts: Vec<i64>,
    pub dimensions: Vec<Dimension>,
    pub filters: Vec<Filter>,
    /// The metrics asked for; stores may skip sums nobody needs (and return 0 for them).
    pub metrics: Vec<Metric>,
    /// Count visitors exactly even on big sites (the archiver does, one day at a time).
    pub exact: bool,
    /// Return at most this many groups (the Stats API's row bound).
    pub max_groups: Option<usize>,
    /// When not empty: these sites instead of `site_id`, grouped by site first (the site id
    /// is the first dimension of every result row). The archiver builds many small sites
    /// of one time zone with one query per dimension this way.
    pub by_site: Vec<u32>,
}

impl AggregateQuery {
    /// How many group columns a result row has: the site (when the query covers several)
    /// and the dimensions.
    pub fn group_columns(&self) -> usize {
        self.dimensions.len() + usize::from(!self.by_site.is_empty())
    }
}
