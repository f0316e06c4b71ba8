//! The dashboard's overview pages: the user's sites with today's visitors and a sparkline, and
//! per site the key figures with the previous period, the visitors graph (SVG) and top lists
//! whose rows filter the whole page; property lists for the most used event properties.

use super::{key_metrics, polyline, segment, user, View, METRICS, PERIODS};
use crate::http::account::{see_other, session};
use crate::http::html::{alert, dashboard_page, Lang};
use crate::http::AppState;
use crate::stats::model::{Dimension, Metric, TimeBucket};
use crate::stats::request::DateRange;
use crate::stats::{Caller, Query, QueryResponse};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

/// Panels: title (en, de) and dimension.
const PANELS: [(&str, &str, &str); 15] = [
    ("Sources", "Quellen", "visit:source"),
    ("Referrers", "Verweise", "visit:referrer"),
    ("UTM sources", "UTM-Quellen", "visit:utm_source"),
    ("UTM media", "UTM-Medien", "visit:utm_medium"),
    ("Campaigns", "Kampagnen", "visit:utm_campaign"),
    ("Pages", "Seiten", "event:page"),
    (
        "Entry pages (visits)",
        "Einstiegsseiten (Besuche)",
        "visit:entry_page",
    ),
    (
        "Exit pages (visits)",
        "Ausstiegsseiten (Besuche)",
        "visit:exit_page",
    ),
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
        let today = Query::new(site.domain.as_str(), vec![Metric::Visitors], DateRange::Day);
        let today = state
            .stats
            .run(&caller, &today)
            .await
            .ok()
            .and_then(|a| a.rows.first().map(|r| r.metrics[0] as u64))
            .unwrap_or(0);
        let series = daily_visitors(&state, &caller, &site.domain).await;
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

/// Daily visitors of the last 30 days, every day (zeros included).
async fn daily_visitors(state: &AppState, caller: &Caller, domain: &str) -> Vec<f64> {
    let q = Query::new(domain, vec![Metric::Visitors], DateRange::Days(30))
        .by(Dimension::Time(TimeBucket::Day))
        .with_time_labels();
    match state.stats.run(caller, &q).await {
        Ok(a) => series(&a, false),
        Err(_) => Vec::new(),
    }
}

/// The first metric (or its comparison) for every time label of an answer.
fn series(a: &QueryResponse, previous: bool) -> Vec<f64> {
    let labels = a.time_labels.as_deref().unwrap_or_default();
    labels
        .iter()
        .map(|label| {
            a.rows
                .iter()
                .find(|r| r.dims.first() == Some(label))
                .and_then(|r| {
                    if previous {
                        r.comparison.as_ref().map(|c| c.metrics[0])
                    } else {
                        r.metrics.first().copied()
                    }
                })
                .unwrap_or(0.0)
        })
        .collect()
}

fn format_metric(m: Metric, v: f64) -> String {
    match m {
        Metric::BounceRate => format!("{v:.0} %"),
        Metric::VisitDuration => format!("{}:{:02}", (v as i64) / 60, (v as i64) % 60),
        Metric::ViewsPerVisit => format!("{v:.2}"),
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
fn key_figures(lang: Lang, totals: &QueryResponse) -> Markup {
    let row = totals.rows.first();
    html! {
        div class="metrics" {
            @for (i, (metric, en, de)) in METRICS.iter().enumerate() {
                div class="metric" data-metric=(metric.name()) {
                    small { (lang.pick(*en, *de)) }
                    b { (format_metric(*metric, row.map_or(0.0, |r| r.metrics[i]))) }
                    @if let Some(c) = row.and_then(|r| r.comparison.as_ref()).map(|c| c.change[i]) {
                        @let rate = *metric == Metric::BounceRate;
                        @let good = if rate { c <= 0 } else { c >= 0 };
                        small class=(if good { "up" } else { "down" }) {
                            (format!("{c:+}")) (if rate { " pp" } else { " %" })
                        }
                    }
                }
            }
        }
    }
}

/// The visitors graph of the period (and of the previous one, dimmed).
async fn graph(state: &AppState, caller: &Caller, site: &str, view: &View) -> Markup {
    let bucket = match view.period.as_str() {
        "realtime" => TimeBucket::Minute,
        "day" => TimeBucket::Hour,
        _ => TimeBucket::Day,
    };
    let Ok(q) = view.query(site, vec![Metric::Visitors]) else {
        return html! {};
    };
    let q = q.by(Dimension::Time(bucket)).with_time_labels().compared();
    let Ok(a) = state.stats.run(caller, &q).await else {
        return html! {};
    };
    let now = series(&a, false);
    let before = if q.compare_previous {
        series(&a, true)
    } else {
        Vec::new()
    };
    let max = now.iter().chain(&before).cloned().fold(0.0, f64::max);
    let labels = a.time_labels.as_deref().unwrap_or_default();
    let first = labels.first().map_or("", String::as_str);
    let last = labels.last().map_or("", String::as_str);
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
    let q = view.query(&site.domain, key_metrics());
    let totals = match q {
        Ok(q) => state.stats.run(&caller, &q.compared()).await,
        Err(e) => Err(e),
    };
    let totals = match totals {
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
    let keys = match view.date_range() {
        Ok(range) => {
            let kq = Query::new(site.domain.as_str(), vec![Metric::Events], range);
            state.stats.prop_keys(&caller, &kq, PROP_PANELS).await
        }
        Err(e) => Err(e),
    };
    for key in keys.unwrap_or_default() {
        let title = lang.pick("Property", "Eigenschaft");
        lists.push((format!("{title}: {key}"), format!("event:props:{key}")));
    }
    let panels = futures_util::future::join_all(
        lists
            .iter()
            .map(|(title, dim)| panel(state, &caller, &view, &site.domain, &base, title, dim)),
    )
    .await;
    // Days of the period with imported history (AWStats): said, since they are sums.
    let imported = {
        let tz = site.tz();
        state
            .stats
            .archive
            .imported_days(site.id.0)
            .into_iter()
            .filter(|d| {
                let start = crate::stats::archive::day_start(tz, *d);
                start >= totals.window.0 && start < totals.window.1
            })
            .count()
    };
    // Days of the period before the retention horizon: only daily sums are left there.
    let horizon = state
        .stats
        .archive
        .horizon(site.id.0)
        .filter(|h| crate::stats::archive::day_start(site.tz(), *h) > totals.window.0)
        .and_then(|h| {
            chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
                .checked_add_signed(chrono::Duration::days(i64::from(h)))
        });
    let body = html! {
        @if let Some(first) = horizon {
            p id="retention-note" class="note" {
                (lang.pick("Before ", "Vor dem "))
                (first)
                (lang.pick(
                    " only daily sums are kept (the site's retention deleted single page views and visits): filters and lists the sums do not hold cannot be answered for those days.",
                    " sind nur Tagessummen aufbewahrt (die Aufbewahrungsfrist der Website hat einzelne Seitenaufrufe und Besuche gelöscht): Filter und Listen, die die Summen nicht enthalten, lassen sich für diese Tage nicht beantworten.",
                ))
            }
        }
        @if imported > 0 {
            p id="imported-note" class="note" {
                @if view.filters.is_empty() {
                    (lang.pick(
                        "Includes imported statistics (day sums from AWStats or Plausible) for ",
                        "Enthält importierte Statistiken (Tagessummen aus AWStats oder Plausible) für ",
                    ))
                    (imported)
                    (lang.pick(
                        " days of this period. AWStats's visitors are its visits, and its lists of pages, sources, browsers and systems are not in the panels.",
                        " Tage dieses Zeitraums. Besucher aus AWStats sind dessen Besuche; seine Listen von Seiten, Quellen, Browsern und Systemen fehlen in den Tabellen.",
                    ))
                } @else {
                    (lang.pick(
                        "Filters apply to spurlos's own data: the statistics imported for ",
                        "Filter gelten für die eigenen Daten von spurlos: die importierten Statistiken für ",
                    ))
                    (imported)
                    (lang.pick(" days of this period are left out.", " Tage dieses Zeitraums fehlen hier."))
                }
            }
        }
        (key_figures(lang, &totals))
        (graph(state, &caller, &site.domain, &view).await)
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
    let Some(dimension) = Dimension::parse(dim) else {
        return html! {};
    };
    let metric = match dimension {
        Dimension::EventName | Dimension::Prop(_) => Metric::Events,
        // Entrances and exits: the visits that began or ended on a page (Matomo's entrances
        // and exits, Plausible's "total entrances"), answered from the visits alone; their
        // visitors would join every event of the period with its visit.
        Dimension::EntryPage | Dimension::ExitPage => Metric::Visits,
        _ => Metric::Visitors,
    };
    let is_prop = matches!(dimension, Dimension::Prop(_));
    let Ok(q) = view.query(domain, vec![metric]) else {
        return html! {};
    };
    let Ok(a) = state.stats.run(caller, &q.by(dimension).limit(11)).await else {
        return html! {};
    };
    let rows: Vec<(String, f64)> = a
        .rows
        .into_iter()
        .filter(|r| !(is_prop && r.dims[0] == "(none)"))
        .take(10)
        .map(|r| (r.dims[0].clone(), r.metrics[0]))
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

#[cfg(test)]
mod tests {
    use super::PANELS;
    use crate::stats::archive::rollup_panels;
    use crate::stats::model::Dimension;

    #[test]
    fn every_panel_has_rollups() {
        for (_, _, dim) in PANELS {
            let d = Dimension::parse(dim).expect("a dimension");
            assert!(rollup_panels().contains(&d), "{dim} has no rollups");
        }
    }
}
