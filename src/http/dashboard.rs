//! The dashboard for signed-in users, rendered on the server (no script at all): the site list
//! with today's visitors and a sparkline, and per site the key figures with the previous
//! period, the visitors graph as SVG, and top lists. Every row is a link that filters the
//! whole page; the period and the filters live in the URL (shareable, back button works);
//! every panel exports as CSV. All numbers come from the Stats API engine, scoped to the
//! user's customers; every visitor-controlled string is escaped.

use super::account::{see_other, session};
use super::{escape_html, AppState};
use crate::customers::Customer;
use crate::stats::model::Dimension;
use crate::stats::Caller;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// Periods offered as presets (Stats API names).
/// Presets offered (Stats API names); `realtime` is the last five minutes.
const PERIODS: [&str; 8] = [
    "realtime", "day", "7d", "30d", "month", "6mo", "12mo", "all",
];

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

const METRICS: [(&str, &str, &str); 6] = [
    ("visitors", "Visitors", "Besucher"),
    ("visits", "Visits", "Besuche"),
    ("pageviews", "Page views", "Seitenaufrufe"),
    ("views_per_visit", "Views per visit", "Seiten pro Besuch"),
    ("bounce_rate", "Bounce rate", "Absprungrate"),
    ("visit_duration", "Visit duration", "Besuchsdauer"),
];

pub(super) fn german(req: &HttpRequest) -> bool {
    super::german(req)
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

    fn date_range(&self) -> Value {
        if self.period == "custom" {
            json!([self.from, self.to])
        } else {
            json!(self.period)
        }
    }

    fn api_filters(&self) -> Value {
        Value::Array(
            self.filters
                .iter()
                .map(|(d, v)| json!(["is", d, [v]]))
                .collect(),
        )
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

pub(super) fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The signed-in user's caller and customers; `None` sends to the login page.
async fn user(req: &HttpRequest, state: &AppState) -> Option<(Caller, Vec<Customer>)> {
    let (user, _, _) = session(req, state).await?;
    let customers: Vec<Customer> = state
        .store
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

pub(super) fn page(
    status: StatusCode,
    lang: &str,
    title: &str,
    header: &str,
    body: &str,
) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title><link rel=\"stylesheet\" href=\"/dashboard.css\"></head><body><header>{header}</header><main>{body}</main><footer><a href=\"/lang/{other}\" hreflang=\"{other}\" lang=\"{other}\">{other_name}</a></footer></body></html>",
        other = if lang == "de" { "en" } else { "de" },
        other_name = if lang == "de" { "English" } else { "Deutsch" },
        title = escape_html(title),
    );
    super::private_html(status, html)
}

/// A polyline through `values` in a `w`×`h` box.
fn polyline(values: &[f64], w: f64, h: f64, max: f64, class: &str) -> String {
    if values.is_empty() {
        return String::new();
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
    format!(
        "<polyline class=\"{class}\" points=\"{}\"/>",
        points.join(" ")
    )
}

/// `GET /dashboard`: the user's sites with today's visitors and a 30-day sparkline.
pub async fn sites(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some((caller, customers)) = user(&req, &state).await else {
        return see_other("/login");
    };
    let de = german(&req);
    let mut rows = String::new();
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
            .ok();
        let today = today
            .as_ref()
            .and_then(|v| v["results"][0]["metrics"][0].as_u64())
            .unwrap_or(0);
        let series = daily_visitors(&state, &caller, &site.domain, &json!("30d")).await;
        let max = series.iter().cloned().fold(0.0, f64::max);
        rows.push_str(&format!(
            "<tr><td><a href=\"/dashboard/{seg}\">{domain}</a></td><td><svg viewBox=\"0 0 120 24\" width=\"120\" height=\"24\">{line}</svg></td><td class=\"n\">{today}</td></tr>",
            seg = escape_html(&segment(&site.domain)),
            domain = escape_html(&site.domain),
            line = polyline(&series, 120.0, 24.0, max, "spark"),
        ));
    }
    let (title, today_l, none) = if de {
        ("Ihre Websites", "Besucher heute", "Noch keine Websites.")
    } else {
        ("Your sites", "Visitors today", "No sites yet.")
    };
    // Owners reach their customers' team and token page from here.
    let owned: Vec<String> = session(&req, &state)
        .await
        .map(|(u, _, _)| {
            u.memberships
                .into_iter()
                .filter(|m| m.role == crate::users::Role::Owner)
                .map(|m| m.customer)
                .collect()
        })
        .unwrap_or_default();
    let names: Vec<String> = customers
        .iter()
        .map(|c| {
            if owned.contains(&c.handle) {
                format!(
                    "<a class=\"team\" href=\"/dashboard/team/{}\">{}</a>",
                    escape_html(&segment(&c.handle)),
                    escape_html(&c.name)
                )
            } else {
                escape_html(&c.name)
            }
        })
        .collect();
    let body = if rows.is_empty() {
        format!("<p>{none}</p>")
    } else {
        format!("<table class=\"sites\"><tr><th></th><th></th><th class=\"n\">{today_l}</th></tr>{rows}</table>")
    };
    let header = format!(
        "<h1>{title}</h1><nav>{} · <a href=\"/account\">Account</a></nav>",
        names.join(", ")
    );
    page(
        StatusCode::OK,
        if de { "de" } else { "en" },
        title,
        &header,
        &body,
    )
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
    let de = german(&req);
    let lang = if de { "de" } else { "en" };
    let Ok(site) = state.stats.readable_site(&caller, domain) else {
        let text = if de {
            "Diese Website gibt es nicht."
        } else {
            "There is no such site."
        };
        return page(
            StatusCode::NOT_FOUND,
            lang,
            text,
            &format!("<h1>{text}</h1>"),
            "",
        );
    };
    let view = View::from_query(req.query_string());
    let base = match shared {
        Some(b) => b.to_string(),
        None => format!("/dashboard/{}", segment(&site.domain)),
    };
    let href = |v: &View| escape_html(&format!("{base}?{}", v.query_string()));
    let compare = view.period != "all";
    let mut q = json!({"site_id": site.domain, "metrics": METRICS.iter().map(|m| m.0).collect::<Vec<_>>(),
        "date_range": view.date_range(), "filters": view.api_filters()});
    if compare {
        q["include"] = json!({"comparisons": {"mode": "previous_period"}});
    }
    let totals = match state.stats.query(&caller, &q).await {
        Ok(v) => v,
        Err(e) => {
            let text = escape_html(&e.to_string());
            return page(
                StatusCode::BAD_REQUEST,
                lang,
                &site.domain,
                &format!("<h1>{}</h1>", escape_html(&site.domain)),
                &format!("<p role=\"alert\">{text}</p><p><a href=\"{base}\">↺</a></p>"),
            );
        }
    };
    // Header: period presets, custom range, filters.
    let mut nav = String::new();
    for p in PERIODS {
        let on = if view.period == p {
            " class=\"on\""
        } else {
            ""
        };
        nav.push_str(&format!(
            "<a{on} href=\"{}\">{p}</a>",
            href(&view.with_period(p))
        ));
    }
    let mut hidden = String::new();
    for (d, v) in &view.filters {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"f\" value=\"{}\">",
            escape_html(&format!("{d}|{v}"))
        ));
    }
    let range_form = format!(
        "<form class=\"range\" method=\"get\" action=\"{base}\"><input type=\"hidden\" name=\"period\" value=\"custom\">{hidden}<input type=\"date\" name=\"from\" value=\"{}\" required> – <input type=\"date\" name=\"to\" value=\"{}\" required><button type=\"submit\">OK</button></form>",
        escape_html(&view.from),
        escape_html(&view.to),
    );
    let mut chips = String::new();
    for (i, (d, v)) in view.filters.iter().enumerate() {
        chips.push_str(&format!(
            "<a href=\"{}\" title=\"remove\">{} = {} ✕</a>",
            href(&view.without_filter(i)),
            escape_html(d),
            escape_html(v)
        ));
    }
    let realtime = state
        .stats
        .realtime_visitors(&caller, &site.domain)
        .await
        .unwrap_or(0);
    let now_l = if de { "gerade online" } else { "online now" };
    let settings_link = if shared.is_none() && owned_site(&req, state, &site.domain).await.is_ok() {
        format!(
            " <a id=\"settings\" href=\"{base}/settings\">{}</a>",
            if de { "Einstellungen" } else { "Settings" }
        )
    } else {
        String::new()
    };
    let header = format!(
        "<h1>{back}{domain}</h1><span id=\"realtime\">{realtime} {now_l}{settings_link}</span><nav>{nav}</nav>{range_form}<div class=\"filters\">{chips}</div>",
        back = if shared.is_none() { "<a href=\"/dashboard\">←</a> " } else { "" },
        domain = escape_html(&site.domain),
    );
    // Key figures.
    let mut metrics = String::new();
    let row = &totals["results"][0];
    for (i, (name, en, de_name)) in METRICS.iter().enumerate() {
        let now = row["metrics"][i].as_f64().unwrap_or(0.0);
        let change = row["comparison"]["change"][i].as_i64();
        let change_html = match change {
            Some(c) if compare => {
                let good = if *name == "bounce_rate" {
                    c <= 0
                } else {
                    c >= 0
                };
                let class = if good { "up" } else { "down" };
                let unit = if *name == "bounce_rate" { " pp" } else { " %" };
                format!("<small class=\"{class}\">{c:+}{unit}</small>")
            }
            _ => String::new(),
        };
        metrics.push_str(&format!(
            "<div class=\"metric\" data-metric=\"{name}\"><small>{}</small><b>{}</b>{change_html}</div>",
            if de { de_name } else { en },
            format_metric(name, now),
        ));
    }
    // The graph.
    let bucket = match view.period.as_str() {
        "realtime" => "time:minute",
        "day" => "time:hour",
        _ => "time:day",
    };
    let mut gq = json!({"site_id": site.domain, "metrics": ["visitors"], "date_range": view.date_range(),
        "filters": view.api_filters(), "dimensions": [bucket], "include": {"time_labels": true}});
    if compare {
        gq["include"]["comparisons"] = json!({"mode": "previous_period"});
    }
    let graph = match state.stats.query(&caller, &gq).await {
        Ok(v) => {
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
            format!(
                "<div class=\"chart\"><svg viewBox=\"0 0 800 210\" role=\"img\" aria-label=\"visitors\">{}{}<text x=\"0\" y=\"208\">{}</text><text x=\"800\" y=\"208\" text-anchor=\"end\">{}</text><text x=\"0\" y=\"12\">{}</text></svg></div>",
                polyline(&before, 800.0, 190.0, max, "before"),
                polyline(&now, 800.0, 190.0, max, "now"),
                escape_html(first),
                escape_html(last),
                max as i64,
            )
        }
        Err(_) => String::new(),
    };
    // Panels: the fixed ones, then one per common event property; all asked at once.
    let mut lists: Vec<(String, String)> = PANELS
        .iter()
        .map(|(en, de_title, dim)| {
            (
                (if de { *de_title } else { *en }).to_string(),
                dim.to_string(),
            )
        })
        .collect();
    let kq =
        json!({"site_id": site.domain, "metrics": ["events"], "date_range": view.date_range()});
    for key in state
        .stats
        .prop_keys(&caller, &kq, PROP_PANELS)
        .await
        .unwrap_or_default()
    {
        let title = if de { "Eigenschaft" } else { "Property" };
        lists.push((format!("{title}: {key}"), format!("event:props:{key}")));
    }
    let panels: String = futures_util::future::join_all(
        lists
            .iter()
            .map(|(title, dim)| panel(state, &caller, &view, &site.domain, &base, title, dim)),
    )
    .await
    .concat();
    let all_csv = escape_html(&format!(
        "{base}/export.csv?dim=time:day&{}",
        view.query_string()
    ));
    let body = format!(
        "<div class=\"metrics\">{metrics}</div>{graph}<div class=\"panels\">{panels}</div><p><a href=\"{all_csv}\">CSV ({})</a></p>",
        if de { "alle Kennzahlen je Tag" } else { "all figures per day" },
    );
    let mut resp = page(StatusCode::OK, lang, &site.domain, &header, &body);
    if view.period == "realtime" {
        // The realtime view reloads itself every 30 seconds, without any script.
        resp.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("refresh"),
            actix_web::http::header::HeaderValue::from_static("30"),
        );
    }
    resp
}

/// Most property panels the overview shows (the most used keys of the period).
const PROP_PANELS: u32 = 3;

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
) -> String {
    let metric = if dim == "event:name" || dim.starts_with("event:props:") {
        "events"
    } else {
        "visitors"
    };
    let pq = json!({"site_id": domain, "metrics": [metric], "date_range": view.date_range(),
        "filters": view.api_filters(), "dimensions": [dim], "order_by": [[metric, "desc"]],
        "pagination": {"limit": 11}});
    let Ok(v) = state.stats.query(caller, &pq).await else {
        return String::new();
    };
    let rows: Vec<Value> = v["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| !(dim.starts_with("event:props:") && r["dimensions"][0] == "(none)"))
        .take(10)
        .collect();
    let max = rows
        .iter()
        .filter_map(|r| r["metrics"][0].as_f64())
        .fold(0.0, f64::max);
    let mut body = String::new();
    for r in &rows {
        let value = r["dimensions"][0].as_str().unwrap_or("");
        let n = r["metrics"][0].as_f64().unwrap_or(0.0);
        let width = if max > 0.0 { n / max * 80.0 } else { 0.0 };
        body.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td class=\"bar\"><svg viewBox=\"0 0 80 8\"><rect width=\"{width:.1}\" height=\"8\"/></svg></td><td class=\"n\">{}</td></tr>",
            escape_html(&format!("{base}?{}", view.with_filter(dim, value).query_string())),
            escape_html(value),
            n as i64,
        ));
    }
    if body.is_empty() {
        body = "<tr><td>–</td></tr>".into();
    }
    let csv = escape_html(&format!(
        "{base}/export.csv?dim={}&{}",
        segment(dim),
        view.query_string()
    ));
    format!(
        "<section class=\"panel\" data-dimension=\"{}\"><a class=\"csv\" href=\"{csv}\">CSV</a><h2>{}</h2><table>{body}</table></section>",
        escape_html(dim),
        escape_html(title),
    )
}

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
            return actix_web::ResponseError::error_response(&super::error::ApiError::from(e));
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

/// `GET /dashboard.css`
pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../assets/dashboard.css"))
}

/// The signed-in user, their CSRF token and the site, when the user is an owner of the site's
/// customer; otherwise the response to give.
async fn owned_site(
    req: &HttpRequest,
    state: &AppState,
    domain: &str,
) -> Result<
    (
        crate::users::User,
        String,
        std::sync::Arc<crate::sites::Site>,
    ),
    HttpResponse,
> {
    let Some((user, csrf, _)) = session(req, state).await else {
        return Err(see_other("/login"));
    };
    let customers = state.store.customers().await.unwrap_or_default();
    let owned: Vec<u32> = user
        .memberships
        .iter()
        .filter(|m| m.role == crate::users::Role::Owner)
        .filter_map(|m| {
            customers
                .iter()
                .find(|c| c.handle == m.customer)
                .map(|c| c.id)
        })
        .collect();
    match state.stats.readable_site(&Caller::Customers(owned), domain) {
        Ok(site) => Ok((user, csrf, site)),
        Err(_) => {
            let lang = if german(req) { "de" } else { "en" };
            Err(page(StatusCode::NOT_FOUND, lang, "404", "<h1>404</h1>", ""))
        }
    }
}

async fn settings_page(
    req: &HttpRequest,
    state: &AppState,
    site: &crate::sites::Site,
    csrf: &str,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    let shares = state.store.shares(site.id).await.unwrap_or_default();
    let de = german(req);
    let base = super::public_base(req, state);
    let snippet = format!(
        "<script defer data-domain=\"{}\" src=\"{base}/s.js\"></script>",
        site.domain
    );
    let optout = format!(
        "<iframe src=\"{base}/opt-out?lang={}\" style=\"border:0;width:100%;height:160px\"></iframe>",
        if de { "de" } else { "en" }
    );
    let ranges: Vec<String> = site.excluded_ranges.iter().map(|r| r.to_string()).collect();
    let mask = |n: u8| {
        if site.ip_mask_bytes == n {
            " selected"
        } else {
            ""
        }
    };
    let l = |en: &'static str, de_text: &'static str| if de { de_text } else { en };
    let body = format!(
        "{message}<form method=\"post\" action=\"/dashboard/{seg}/settings\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<p><label>{l_aliases}<br><input name=\"aliases\" value=\"{aliases}\" size=\"60\"></label></p>\
<p><label>{l_tz}<br><input name=\"timezone\" value=\"{tz}\" required></label></p>\
<p><label>{l_mask}<br><select name=\"ip_mask_bytes\"><option value=\"1\"{m1}>IPv4 /24, IPv6 /48</option><option value=\"2\"{m2}>IPv4 /16, IPv6 /32</option><option value=\"3\"{m3}>IPv4 /8, IPv6 /16</option></select></label></p>\
<p><label><input type=\"checkbox\" name=\"respect_dnt\"{dnt}> {l_dnt}</label></p>\
<p><label>{l_ranges}<br><textarea name=\"excluded_ranges\" rows=\"3\" cols=\"40\">{ranges}</textarea></label></p>\
<p><button type=\"submit\">{l_save}</button></p></form>\
<h2>{l_snippet}</h2><pre><code>{snippet}</code></pre><p>Matomo: idsite = {id}</p><h2>{l_optout}</h2><pre><code>{optout}</code></pre>\
<h2>{l_shares}</h2><ul id=\"shares\">{share_rows}</ul>\
<form method=\"post\" action=\"/dashboard/{seg}/shares\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<p><label>{l_share_pw}<br><input type=\"password\" name=\"password\" autocomplete=\"new-password\"></label></p><p><button type=\"submit\">{l_share_new}</button></p></form>",
        seg = escape_html(&segment(&site.domain)),
        csrf = escape_html(csrf),
        aliases = escape_html(&site.aliases.join(", ")),
        tz = escape_html(&site.timezone),
        m1 = mask(1),
        m2 = mask(2),
        m3 = mask(3),
        dnt = if site.respect_dnt { " checked" } else { "" },
        ranges = escape_html(&ranges.join("\n")),
        snippet = escape_html(&snippet),
        optout = escape_html(&optout),
        id = site.id,
        l_aliases = l("Other domains (comma-separated)", "Weitere Domains (durch Kommas getrennt)"),
        l_tz = l("Time zone (IANA, e.g. Europe/Berlin)", "Zeitzone (IANA, z. B. Europe/Berlin)"),
        l_mask = l("IP address truncation", "Kürzung der IP-Adresse"),
        l_dnt = l(
            "Do not count browsers that send Do Not Track or Global Privacy Control",
            "Browser mit Do Not Track oder Global Privacy Control nicht zählen"
        ),
        l_ranges = l("Excluded IP ranges (one CIDR per line)", "Ausgeschlossene IP-Bereiche (ein CIDR je Zeile)"),
        l_save = l("Save", "Speichern"),
        l_snippet = l("Tracker snippet", "Tracker-Code"),
        l_optout = l("Opt-out for your privacy policy", "Widerspruch für Ihre Datenschutzerklärung"),
        l_shares = l("Shared links (read-only, no account needed)", "Geteilte Links (nur lesen, ohne Konto)"),
        l_share_pw = l("Password for the new link (optional)", "Passwort für den neuen Link (optional)"),
        l_share_new = l("Create a shared link", "Geteilten Link anlegen"),
        share_rows = shares
            .iter()
            .map(|sh| {
                let created = chrono::DateTime::from_timestamp(sh.created_ts, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                format!(
                    "<li>#{id} · {created}{pw} <form method=\"post\" action=\"/dashboard/{seg}/shares/{id}/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">{revoke}</button></form></li>",
                    id = sh.id,
                    pw = if sh.has_password { " · 🔒" } else { "" },
                    seg = escape_html(&segment(&site.domain)),
                    csrf = escape_html(csrf),
                    revoke = l("Revoke", "Zurückziehen"),
                )
            })
            .collect::<String>(),
    );
    let title = format!("{} – {}", site.domain, l("Settings", "Einstellungen"));
    let header = format!(
        "<h1><a href=\"/dashboard/{}\">←</a> {}</h1>",
        escape_html(&segment(&site.domain)),
        escape_html(&title)
    );
    page(status, if de { "de" } else { "en" }, &title, &header, &body)
}

/// `GET /dashboard/{domain}/settings` (owners only).
pub async fn settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    match owned_site(&req, &state, &path).await {
        Ok((_, csrf, site)) => settings_page(&req, &state, &site, &csrf, StatusCode::OK, "").await,
        Err(resp) => resp,
    }
}

#[derive(serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    aliases: String,
    timezone: String,
    ip_mask_bytes: u8,
    respect_dnt: Option<String>,
    #[serde(default)]
    excluded_ranges: String,
}

/// `POST /dashboard/{domain}/settings` (owners only, CSRF token and same origin).
pub async fn save_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> HttpResponse {
    let (csrf, site) = match owner_form(&req, &state, &path, &form.csrf).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let list = |s: &str| -> Vec<String> {
        s.split([',', '\n', ' '])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    };
    let changes = crate::sites::SiteSettings {
        aliases: Some(list(&form.aliases)),
        timezone: Some(form.timezone.trim().to_string()),
        ip_mask_bytes: Some(form.ip_mask_bytes),
        respect_dnt: Some(form.respect_dnt.is_some()),
        excluded_ranges: Some(list(&form.excluded_ranges)),
    };
    match super::admin::change_site(&state, &site, changes).await {
        Ok(changed) => {
            let saved = if german(&req) {
                "Gespeichert."
            } else {
                "Saved."
            };
            let msg = format!("<p role=\"status\">{saved}</p>");
            settings_page(&req, &state, &changed, &csrf, StatusCode::OK, &msg).await
        }
        Err(e) => {
            let msg = format!("<p role=\"alert\">{}</p>", escape_html(&e.message));
            settings_page(&req, &state, &site, &csrf, e.status, &msg).await
        }
    }
}

/// An owner's form post: the site and the session's CSRF token, when the user owns the site and
/// the form carries that token from spurlos's own page; otherwise the response to give.
async fn owner_form(
    req: &HttpRequest,
    state: &AppState,
    domain: &str,
    sent_csrf: &str,
) -> Result<(String, std::sync::Arc<crate::sites::Site>), HttpResponse> {
    let (_, csrf, site) = owned_site(req, state, domain).await?;
    if !super::account::csrf_ok(req, &csrf, sent_csrf) {
        let alert = "<p role=\"alert\">CSRF</p>";
        return Err(settings_page(req, state, &site, &csrf, StatusCode::FORBIDDEN, alert).await);
    }
    Ok((csrf, site))
}

#[derive(serde::Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// `POST /dashboard/{domain}/shares` (owners): a new shared link, shown once.
pub async fn create_share(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ShareForm>,
) -> HttpResponse {
    let (csrf, site) = match owner_form(&req, &state, &path, &form.csrf).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let password_hash = if form.password.is_empty() {
        String::new()
    } else {
        let password = form.password.clone();
        match tokio::task::spawn_blocking(move || crate::users::hash_password(&password)).await {
            Ok(Ok(h)) => h,
            _ => {
                return settings_page(
                    &req,
                    &state,
                    &site,
                    &csrf,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "",
                )
                .await
            }
        }
    };
    let secret = super::auth::new_token();
    if state
        .store
        .add_share(site.id, &super::auth::token_hash(&secret), &password_hash)
        .await
        .is_err()
    {
        return settings_page(
            &req,
            &state,
            &site,
            &csrf,
            StatusCode::SERVICE_UNAVAILABLE,
            "",
        )
        .await;
    }
    let base = super::public_base(&req, &state);
    let url = format!("{base}/share/{secret}");
    let note = if german(&req) {
        "Neuer geteilter Link (wird nur jetzt angezeigt):"
    } else {
        "New shared link (shown only now):"
    };
    let msg = format!(
        "<p role=\"status\">{note} <a id=\"new-share\" href=\"{url}\">{url}</a></p>",
        url = escape_html(&url)
    );
    settings_page(&req, &state, &site, &csrf, StatusCode::OK, &msg).await
}

/// `POST /dashboard/{domain}/shares/{id}/revoke` (owners).
pub async fn revoke_share(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, u32)>,
    form: web::Form<ShareForm>,
) -> HttpResponse {
    let (domain, id) = path.into_inner();
    let (csrf, site) = match owner_form(&req, &state, &domain, &form.csrf).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let (status, msg) = match state.store.remove_share(site.id, id).await {
        Ok(()) => (
            StatusCode::OK,
            if german(&req) {
                "Zurückgezogen."
            } else {
                "Revoked."
            },
        ),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "–"),
    };
    let msg = format!("<p role=\"status\">{msg}</p>");
    settings_page(&req, &state, &site, &csrf, status, &msg).await
}
