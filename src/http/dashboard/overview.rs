//! The dashboard's overview pages: the user's sites with today's visitors and a sparkline, and
//! per site the key figures with the previous period, the visitors graph (SVG) and top lists
//! whose rows filter the whole page; property lists for the most used event properties.

use super::{polyline, segment, user, View, METRICS, PERIODS};
use crate::http::account::{see_other, session};
use crate::http::html::{alert, dashboard_page, Lang};
use crate::http::AppState;
use crate::stats::Caller;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Value};

/// Panels: title (en, de) and dimension.
const PANELS: [(&str, &str, &str); 15] = [
    ("Sources", "Quellen", "visit:source"),
    ("Referrers", "Verweise", "visit:referrer"),
    ("UTM sources", "UTM-Quellen", "visit:utm_source"),
    ("UTM media", "UTM-Medien", "visit:utm_medium"),
    ("Campaigns", "Kampagnen", "visit:utm_campaign"),
    ("Pages", "Seiten", "event:page"),
    ("Entry pages", "Einstiegsseiten", "visit:entry_page"),
    ("Exit pages", "Ausstiegsseiten", "visit:exit_page"),
    ("Countries", "Länder", "visit:country"),
    ("Regions", "Regionen", "visit:region"),
    ("Cities", "Städte", "visit:city"),
    ("Browsers", "Browser", "visit:browser"),
    ("Operating systems", "Betriebssysteme", "visit:os"),
    ("Devices", "Geräte", "visit:device"),
    ("Events", "Ereignisse", "event:name"),
];

/// Most property panels the overview shows (the most used keys of the period).
const PROP_PANELS: u32 = 3;

/// `GET /dashboard`: the user's sites with today's visitors and a 30-day sparkline.
pub async fn sites(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some((caller, customers)) = user(&req, &state).await else {
        return see_other("/login");
    };
    let lang = Lang::of(&req);
    let mut rows = Vec::new();
    for site in state.sites.all() {
        if !caller.may_read(&site) {
            continue;
        }
        let today = state
            .stats
            .query(
                &caller,
                &json!({"site_id": site.domain, "metrics": ["visitors"], "date_range": "day"}),
            )
            .await
            .ok()
            .and_then(|v| v["results"][0]["metrics"][0].as_u64())
            .unwrap_or(0);
        let series = daily_visitors(&state, &caller, &site.domain, &json!("30d")).await;
        let max = series.iter().cloned().fold(0.0, f64::max);
        rows.push(html! {
            tr {
                td { a href={ "/dashboard/" (segment(&site.domain)) } { (site.domain) } }
                td { svg viewBox="0 0 120 24" width="120" height="24" { (polyline(&series, 120.0, 24.0, max, "spark")) } }
                td class="n" { (today) }
            }
        });
    }
    let (title, today_l, none) = lang.pick(
        ("Your sites", "Visitors today", "No sites yet."),
        ("Ihre Websites", "Besucher heute", "Noch keine Websites."),
    );
    // Owners reach their customers' team and token page from here.
    let owned: Vec<String> = session(&req, &state)
        .await
        .map(|(u, _, _)| {
            u.memberships
                .into_iter()
                .filter(|m| m.role == crate::tenancy::users::Role::Owner)
                .map(|m| m.customer)
                .collect()
        })
        .unwrap_or_default();
    let header = html! {
        h1 { (title) }
        nav {
            @for (i, c) in customers.iter().enumerate() {
                @if i > 0 { ", " }
                @if owned.contains(&c.handle) {
                    a class="team" href={ "/dashboard/team/" (segment(&c.handle)) } { (c.name) }
                } @else {
                    (c.name)
                }
            }
            " · " a href="/account" { "Account" }
        }
    };
    let body = html! {
        @if rows.is_empty() {
            p { (none) }
        } @else {
            table class="sites" {
                tr { th {} th {} th class="n" { (today_l) } }
                @for r in &rows { (r) }
            }
        }
    };
    dashboard_page(StatusCode::OK, lang, title, header, body)
}

/// Visitors per bucket of a range, every bucket (zeros included).
async fn daily_visitors(
    state: &AppState,
    caller: &Caller,
    domain: &str,
    range: &Value,
) -> Vec<f64> {
    let q = json!({"site_id": domain, "metrics": ["visitors"], "date_range": range,
        "dimensions": ["time:day"], "include": {"time_labels": true}});
    let Ok(v) = state.stats.query(caller, &q).await else {
        return Vec::new();
    };
    series(&v, 0, false)
}

/// Values of metric `i` (or of its comparison) for every time label of a result.
fn series(v: &Value, i: usize, previous: bool) -> Vec<f64> {
    let labels = v["meta"]["time_labels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rows = v["results"].as_array().cloned().unwrap_or_default();
    labels
        .iter()
        .map(|label| {
            rows.iter()
                .find(|r| r["dimensions"][0] == *label)
                .and_then(|r| {
                    if previous {
                        r["comparison"]["metrics"][i].as_f64()
                    } else {
                        r["metrics"][i].as_f64()
                    }
                })
                .unwrap_or(0.0)
        })
        .collect()
}

fn format_metric(name: &str, v: f64) -> String {
    match name {
        "bounce_rate" => format!("{v:.0} %"),
        "visit_duration" => format!("{}:{:02}", (v as i64) / 60, (v as i64) % 60),
        "views_per_visit" => format!("{v:.2}"),
        _ => format!("{}", v as i64),
    }
}

/// `GET /dashboard/{domain}`
pub async fn site(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let Some((caller, _)) = user(&req, &state).await else {
        return see_other("/login");
    };
    render_site(&req, &state, &caller, &path, None).await
}

/// The key figures with their change against the previous period.
fn key_figures(lang: Lang, totals: &Value, compare: bool) -> Markup {
    let row = &totals["results"][0];
    html! {
        div class="metrics" {
            @for (i, (name, en, de)) in METRICS.iter().enumerate() {
                div class="metric" data-metric=(name) {
                    small { (lang.pick(*en, *de)) }
                    b { (format_metric(name, row["metrics"][i].as_f64().unwrap_or(0.0))) }
                    @if let (Some(c), true) = (row["comparison"]["change"][i].as_i64(), compare) {
                        @let good = if *name == "bounce_rate" { c <= 0 } else { c >= 0 };
                        small class=(if good { "up" } else { "down" }) {
                            (format!("{c:+}")) (if *name == "bounce_rate" { " pp" } else { " %" })
                        }
                    }
                }
            }
        }
    }
}

/// The visitors graph of the period (and of the previous one, dimmed).
async fn graph(
    state: &AppState,
    caller: &Caller,
    site: &str,
    view: &View,
    compare: bool,
) -> Markup {
    let bucket = match view.period.as_str() {
        "realtime" => "time:minute",
        "day" => "time:hour",
        _ => "time:day",
    };
    let mut gq = json!({"site_id": site, "metrics": ["visitors"], "date_range": view.date_range(),
        "filters": view.api_filters(), "dimensions": [bucket], "include": {"time_labels": true}});
    if compare {
        gq["include"]["comparisons"] = json!({"mode": "previous_period"});
    }
    let Ok(v) = state.stats.query(caller, &gq).await else {
        return html! {};
    };
    let now = series(&v, 0, false);
    let before = if compare {
        series(&v, 0, true)
    } else {
        Vec::new()
    };
    let max = now.iter().chain(&before).cloned().fold(0.0, f64::max);
    let labels = v["meta"]["time_labels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let first = labels.first().and_then(Value::as_str).unwrap_or("");
    let last = labels.last().and_then(Value::as_str).unwrap_or("");
    html! {
        div class="chart" {
            svg viewBox="0 0 800 210" role="img" aria-label="visitors" {
                (polyline(&before, 800.0, 190.0, max, "before"))
                (polyline(&now, 800.0, 190.0, max, "now"))
                text x="0" y="208" { (first) }
                text x="800" y="208" text-anchor="end" { (last) }
                text x="0" y="12" { (max as i64) }
            }
        }
    }
}

/// A site's dashboard for `caller`; `shared` is the base path of a shared link (read-only:
/// no way back to the site list, no settings).
pub async fn render_site(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    domain: &str,
    shared: Option<&str>,
) -> HttpResponse {
    let (req, caller) = (req.clone(), caller.clone());
    let lang = Lang::of(&req);
    let Ok(site) = state.stats.readable_site(&caller, domain) else {
        let text = lang.pick("There is no such site.", "Diese Website gibt es nicht.");
        return dashboard_page(
            StatusCode::NOT_FOUND,
            lang,
            text,
            html! { h1 { (text) } },
            html! {},
        );
    };
    let view = View::from_query(req.query_string());
    let base = match shared {
        Some(b) => b.to_string(),
        None => format!("/dashboard/{}", segment(&site.domain)),
    };
    let href = |v: &View| format!("{base}?{}", v.query_string());
    let compare = view.period != "all";
    let mut q = json!({"site_id": site.domain, "metrics": METRICS.iter().map(|m| m.0).collect::<Vec<_>>(),
        "date_range": view.date_range(), "filters": view.api_filters()});
    if compare {
        q["include"] = json!({"comparisons": {"mode": "previous_period"}});
    }
    let totals = match state.stats.query(&caller, &q).await {
        Ok(v) => v,
        Err(e) => {
            return dashboard_page(
                StatusCode::BAD_REQUEST,
                lang,
                &site.domain,
                html! { h1 { (site.domain) } },
                html! { (alert(&e.to_string())) p { a href=(base) { "↺" } } },
            );
        }
    };
    let realtime = state
        .stats
        .realtime_visitors(&caller, &site.domain)
        .await
        .unwrap_or(0);
    let settings = shared.is_none()
        && super::settings::owned_site(&req, state, &site.domain)
            .await
            .is_ok();
    // Header: period presets, custom range, filters.
    let header = html! {
        h1 { @if shared.is_none() { a href="/dashboard" { "←" } " " } (site.domain) }
        span id="realtime" {
            (realtime) " " (lang.pick("online now", "gerade online"))
            @if settings { " " a id="settings" href={ (base) "/settings" } { (lang.pick("Settings", "Einstellungen")) } }
        }
        nav {
            @for p in PERIODS {
                a class=[(view.period == p).then_some("on")] href=(href(&view.with_period(p))) { (p) }
            }
        }
        form class="range" method="get" action=(base) {
            input type="hidden" name="period" value="custom";
            @for (d, v) in &view.filters { input type="hidden" name="f" value={ (d) "|" (v) }; }
            input type="date" name="from" value=(view.from) required;
            " – "
            input type="date" name="to" value=(view.to) required;
            button type="submit" { "OK" }
        }
        div class="filters" {
            @for (i, (d, v)) in view.filters.iter().enumerate() {
                a href=(href(&view.without_filter(i))) title="remove" { (d) " = " (v) " ✕" }
            }
        }
    };
    // Panels: the fixed ones, then one per common event property; all asked at once.
    let mut lists: Vec<(String, String)> = PANELS
        .iter()
        .map(|(en, de, dim)| (lang.pick(*en, *de).to_string(), dim.to_string()))
        .collect();
    let kq =
        json!({"site_id": site.domain, "metrics": ["events"], "date_range": view.date_range()});
    for key in state
        .stats
        .prop_keys(&caller, &kq, PROP_PANELS)
        .await
        .unwrap_or_default()
    {
        let title = lang.pick("Property", "Eigenschaft");
        lists.push((format!("{title}: {key}"), format!("event:props:{key}")));
    }
    let panels = futures_util::future::join_all(
        lists
            .iter()
            .map(|(title, dim)| panel(state, &caller, &view, &site.domain, &base, title, dim)),
    )
    .await;
    let body = html! {
        (key_figures(lang, &totals, compare))
        (graph(state, &caller, &site.domain, &view, compare).await)
        div class="panels" { @for p in &panels { (p) } }
        p {
            a href={ (base) "/export.csv?dim=time:day&" (view.query_string()) } {
                "CSV (" (lang.pick("all figures per day", "alle Kennzahlen je Tag")) ")"
            }
        }
    };
    let mut resp = dashboard_page(StatusCode::OK, lang, &site.domain, header, body);
    if view.period == "realtime" {
        // The realtime view reloads itself every 30 seconds, without any script.
        resp.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("refresh"),
            actix_web::http::header::HeaderValue::from_static("30"),
        );
    }
    resp
}

/// One top list (ten rows) whose rows link to the page filtered by them; property lists leave
/// out events without the property.
async fn panel(
    state: &AppState,
    caller: &Caller,
    view: &View,
    domain: &str,
    base: &str,
    title: &str,
    dim: &str,
) -> Markup {
    let metric = if dim == "event:name" || dim.starts_with("event:props:") {
        "events"
    } else {
        "visitors"
    };
    let pq = json!({"site_id": domain, "metrics": [metric], "date_range": view.date_range(),
        "filters": view.api_filters(), "dimensions": [dim], "order_by": [[metric, "desc"]],
        "pagination": {"limit": 11}});
    let Ok(v) = state.stats.query(caller, &pq).await else {
        return html! {};
    };
    let rows: Vec<(String, f64)> = v["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| !(dim.starts_with("event:props:") && r["dimensions"][0] == "(none)"))
        .take(10)
        .map(|r| {
            (
                r["dimensions"][0].as_str().unwrap_or("").to_string(),
                r["metrics"][0].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let max = rows.iter().map(|(_, n)| *n).fold(0.0, f64::max);
    html! {
        section class="panel" data-dimension=(dim) {
            a class="csv" href={ (base) "/export.csv?dim=" (segment(dim)) "&" (view.query_string()) } { "CSV" }
            h2 { (title) }
            table {
                @for (value, n) in &rows {
                    tr {
                        td { a href={ (base) "?" (view.with_filter(dim, value).query_string()) } { (value) } }
                        td class="bar" { svg viewBox="0 0 80 8" { rect width=(format!("{:.1}", if max > 0.0 { n / max * 80.0 } else { 0.0 })) height="8" {} } }
                        td class="n" { (*n as i64) }
                    }
                }
                @if rows.is_empty() { tr { td { "–" } } }
            }
        }
    }
}
