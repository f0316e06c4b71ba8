//! CSV exports of the dashboard: one panel with all its rows, or every figure per day; fields
//! quoted and formulas defused, so visitor text stays text in a spreadsheet.

use super::{user, View, METRICS};
use crate::http::account::see_other;
use crate::http::AppState;
use crate::stats::model::Dimension;
use crate::stats::Caller;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

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
    render_export(&req, &state, &caller, &path).await
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
        .map(|(_, v)| v.into_owned())
        .filter(|d| Dimension::parse(d).is_some())
        .unwrap_or_else(|| "time:day".into());
    let metrics: Vec<&str> = if dim.starts_with("time:") {
        METRICS.iter().map(|m| m.0).collect()
    } else if dim == "event:name" {
        vec!["visitors", "events"]
    } else {
        vec![
            "visitors",
            "visits",
            "pageviews",
            "bounce_rate",
            "visit_duration",
        ]
    };
    let q = json!({"site_id": domain, "metrics": metrics, "date_range": view.date_range(),
        "filters": view.api_filters(), "dimensions": [dim], "pagination": {"limit": crate::stats::request::MAX_LIMIT}});
    let v = match state.stats.query(caller, &q).await {
        Ok(v) => v,
        Err(e) => {
            return actix_web::ResponseError::error_response(&crate::http::error::ApiError::from(
                e,
            ));
        }
    };
    let mut out = String::new();
    let header: Vec<String> = std::iter::once(dim.as_str())
        .chain(metrics.iter().copied())
        .map(csv_field)
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in v["results"].as_array().cloned().unwrap_or_default() {
        let mut fields = vec![csv_field(r["dimensions"][0].as_str().unwrap_or(""))];
        for m in r["metrics"].as_array().cloned().unwrap_or_default() {
            fields.push(m.to_string());
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
