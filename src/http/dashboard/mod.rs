//! The dashboard for signed-in users, rendered on the server (no script at all), one module per
//! page: `overview` (the site list, and per site the key figures with the previous period, the
//! visitors graph and top lists whose rows filter the whole page), `export` (CSV of a panel or
//! of every figure per day) and `settings` (site settings, tracker snippet, shared links). The
//! period and the filters live in the URL (shareable, back button works). All numbers come from
//! the Stats API engine, scoped to the user's customers.

mod erase;
mod export;
mod overview;
mod settings;
mod traffic;

pub use erase::{confirm_erase, erase};
pub use export::{export, export_zip, render_export};
pub use overview::{render_site, site, sites};
pub use settings::{create_share, revoke_share, save_settings, settings};
pub use traffic::traffic;

use super::account::session;
use super::html::{dashboard_page, Lang};
use super::AppState;
use crate::stats::model::{Dimension, FilterOp, Metric};
use crate::stats::request::{self, DateRange};
use crate::stats::{Caller, Query, StatsError};
use crate::tenancy::customers::Customer;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::json;

/// Presets offered (Stats API names); `realtime` is the last five minutes.
const PERIODS: [&str; 8] = [
    "realtime", "day", "7d", "30d", "month", "6mo", "12mo", "all",
];

/// The key figures: metric, English and German label.
const METRICS: [(Metric, &str, &str); 6] = [
    (Metric::Visitors, "Visitors", "Besucher"),
    (Metric::Visits, "Visits", "Besuche"),
    (Metric::Pageviews, "Page views", "Seitenaufrufe"),
    (
        Metric::ViewsPerVisit,
        "Views per visit",
        "Seiten pro Besuch",
    ),
    (Metric::BounceRate, "Bounce rate", "Absprungrate"),
    (Metric::VisitDuration, "Visit duration", "Besuchsdauer"),
];

/// The metrics of the key figures.
fn key_metrics() -> Vec<Metric> {
    METRICS.iter().map(|m| m.0).collect()
}

/// The page's state as it lives in the URL: period (and custom dates) and filters.
#[derive(Debug, Clone, Default)]
struct View {
    period: String,
    from: String,
    to: String,
    /// (dimension, value) pairs, all `is`.
    filters: Vec<(String, String)>,
}

impl View {
    fn from_query(query: &str) -> Self {
        let mut v = View {
            period: "30d".into(),
            ..Default::default()
        };
        for (k, val) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "period" if PERIODS.contains(&val.as_ref()) || val == "custom" => {
                    v.period = val.into_owned()
                }
                "from" => v.from = val.into_owned(),
                "to" => v.to = val.into_owned(),
                "f" => {
                    if let Some((dim, value)) = val.split_once('|') {
                        if Dimension::parse(dim).is_some_and(|d| !matches!(d, Dimension::Time(_)))
                            && v.filters.len() < 10
                        {
                            v.filters.push((dim.to_string(), value.to_string()));
                        }
                    }
                }
                _ => {}
            }
        }
        v
    }

    fn date_range(&self) -> Result<DateRange, StatsError> {
        let range = if self.period == "custom" {
            json!([self.from, self.to])
        } else {
            json!(self.period)
        };
        request::parse_range(Some(&range))
    }

    /// The query for `metrics` of `site` in this view's period, with its filters (and
    /// imported history, which unfiltered queries add).
    fn query(&self, site: &str, metrics: Vec<Metric>) -> Result<Query, StatsError> {
        let filters = self
            .filters
            .iter()
            .filter_map(|(d, v)| {
                let dim = Dimension::parse(d)?;
                Some(request::filter(FilterOp::Is, dim, vec![v.clone()]))
            })
            .collect();
        Ok(Query::new(site, metrics, self.date_range()?)
            .filtered(filters)
            .with_imports())
    }

    fn query_string(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("period", &self.period);
        if self.period == "custom" {
            q.append_pair("from", &self.from);
            q.append_pair("to", &self.to);
        }
        for (d, v) in &self.filters {
            q.append_pair("f", &format!("{d}|{v}"));
        }
        q.finish()
    }

    fn with_filter(&self, dim: &str, value: &str) -> View {
        let mut v = self.clone();
        v.filters.retain(|(d, _)| d != dim);
        v.filters.push((dim.to_string(), value.to_string()));
        v
    }

    fn without_filter(&self, i: usize) -> View {
        let mut v = self.clone();
        v.filters.remove(i);
        v
    }

    fn with_period(&self, period: &str) -> View {
        View {
            period: period.to_string(),
            ..self.clone()
        }
    }
}

/// A path segment (domains and handles in dashboard URLs).
pub(super) fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The signed-in user's caller and customers; `None` sends to the login page.
async fn user(req: &HttpRequest, state: &AppState) -> Option<(Caller, Vec<Customer>)> {
    let (user, _, _) = session(req, state).await?;
    let customers: Vec<Customer> = state
        .tenancy
        .customers()
        .await
        .ok()?
        .into_iter()
        .filter(|c| user.memberships.iter().any(|m| m.customer == c.handle))
        .collect();
    Some((
        Caller::Customers(customers.iter().map(|c| c.id).collect()),
        customers,
    ))
}

/// The dashboard's answer for something the user may not see or that does not exist.
pub(super) fn not_found_page(lang: Lang) -> HttpResponse {
    dashboard_page(
        StatusCode::NOT_FOUND,
        lang,
        "404",
        html! { h1 { "404" } },
        html! {},
    )
}

/// A polyline through `values` in a `w`×`h` box (an empty one for no values).
fn polyline(values: &[f64], w: f64, h: f64, max: f64, class: &str) -> Markup {
    if values.is_empty() {
        return html! {};
    }
    let step = if values.len() > 1 {
        w / (values.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = h - if max > 0.0 { v / max * (h - 4.0) } else { 0.0 } - 2.0;
            format!("{:.1},{:.1}", i as f64 * step, y)
        })
        .collect();
    html! { polyline class=(class) points=(points.join(" ")) {} }
}

/// `GET /dashboard.css`
pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../assets/dashboard.css"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,200}",
            "(period=(day|7d|30d|month|custom|[a-z0-9]{0,4})&)?(from=[0-9\\-]{0,12}&to=[0-9\\-]{0,12}&)?(f=(visit:source|event:page|event:props:x|time:day|[a-z:]{0,12})(%7C|\\|).{0,20}&){0,12}",
        ]
    }

    proptest! {
        /// Any URL state gives a view (at most ten filters, no time filters) whose query is
        /// built or refused with a message, and which survives its own links unchanged.
        #[test]
        fn any_url_state_is_a_view_that_survives_its_links(q in state()) {
            let v = View::from_query(&q);
            prop_assert!(v.filters.len() <= 10);
            prop_assert!(v.filters.iter().all(|(d, _)| !d.starts_with("time:")));
            let _ = v.query("example.com", vec![Metric::Visitors]);
            let again = View::from_query(&v.query_string());
            prop_assert_eq!(again.query_string(), v.query_string());
        }
    }
}
