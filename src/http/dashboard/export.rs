//! CSV exports of the dashboard: one panel with all its rows, or every figure per day; fields
//! quoted and formulas defused, so visitor text stays text in a spreadsheet.

use super::{key_metrics, user, View};
use crate::http::account::see_other;
use crate::http::AppState;
use crate::stats::model::{Dimension, Metric, TimeBucket};
use crate::stats::{metric_json, Caller};
use actix_web::{web, HttpRequest, HttpResponse};

/// A CSV field: quoted, quotes doubled, and a leading `= + - @` defused so spreadsheets do
/// not run visitor-controlled text as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `GET /dashboard/{domain}/export.csv?dim=...&period=...&f=...`: one panel (all rows) or,
/// with `dim=time:day`, every figure per day.
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let Some((caller, _)) = user(&req, &state).await else {
        return see_other("/login");
    };
    let resp = render_export(&req, &state, &caller, &path).await;
    if resp.status().is_success() {
        if let Some(site) = state.sites.by_domain(&path) {
            let detail = format!("CSV ({})", req.query_string());
            super::settings::owner_audit(&req, &state, "statistics_exported", &site, detail).await;
        }
    }
    resp
}

/// `GET /dashboard/{domain}/export.zip[?from=DATE&to=DATE]` (owners): the site's whole export
/// (`stats::export`), streamed.
pub async fn export_zip(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, _, site) = match super::settings::owned_site(&req, &state, &path).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let period = match crate::http::export::period_of(&req) {
        Ok(p) => p,
        Err(e) => return actix_web::ResponseError::error_response(&e),
    };
    let detail = format!("zip, {}", period.describe(false));
    super::settings::owner_audit(&req, &state, "statistics_exported", &site, detail).await;
    crate::http::export::stream(&state, (*site).clone(), period)
}

/// A CSV export of `domain` for `caller` (the query string says what).
pub async fn render_export(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    domain: &str,
) -> HttpResponse {
    let view = View::from_query(req.query_string());
    let dim = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "dim")
        .and_then(|(_, v)| Dimension::parse(&v))
        .unwrap_or(Dimension::Time(TimeBucket::Day));
    let metrics: Vec<Metric> = match dim {
        Dimension::Time(_) => key_metrics(),
        Dimension::EventName => vec![Metric::Visitors, Metric::Events],
        _ => vec![
            Metric::Visitors,
            Metric::Visits,
            Metric::Pageviews,
            Metric::BounceRate,
            Metric::VisitDuration,
        ],
    };
    let answer = match view.query(domain, metrics.clone()) {
        Ok(q) => state.stats.run(caller, &q.by(dim.clone())).await,
        Err(e) => Err(e),
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            return actix_web::ResponseError::error_response(&crate::http::error::ApiError::from(
                e,
            ));
        }
    };
    let dim = dim.api_name();
    let mut out = String::new();
    let header: Vec<String> = std::iter::once(dim.as_str())
        .chain(metrics.iter().map(|m| m.name()))
        .map(csv_field)
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in &answer.rows {
        let mut fields = vec![csv_field(r.dims.first().map_or("", String::as_str))];
        for (m, v) in metrics.iter().zip(&r.metrics) {
            fields.push(metric_json(*m, *v).to_string());
        }
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    let name: String = format!("{}-{}.csv", domain, dim.replace(':', "-"))
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(out)
}
