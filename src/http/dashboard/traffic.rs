//! A site's traffic page for its owners: requests and bytes sent per day from the provider's
//! imported web-server logs (what hosting is billed by), as a bar chart with values on hover
//! and a table, for this month, the previous one or any range.

use super::segment;
use super::settings::owned_site;
use crate::http::html::{dashboard_page, Lang};
use crate::http::AppState;
use crate::logs::traffic::{human_bytes, report, this_month, DayTraffic};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike as _, NaiveDate};
use maud::html;

/// The range asked for in the query (`from`, `to`), else this month so far.
fn range(query: &str, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (mut from, mut to) = this_month(today);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let Ok(d) = NaiveDate::parse_from_str(&v, "%Y-%m-%d") else {
            continue;
        };
        match k.as_ref() {
            "from" => from = d,
            "to" => to = d,
            _ => {}
        }
    }
    (from, to)
}

/// `GET /dashboard/{domain}/traffic` (owners only).
pub async fn traffic(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let site = match owned_site(&req, &state, &path).await {
        Ok((_, _, site)) => site,
        Err(resp) => return resp,
    };
    let lang = Lang::of(&req);
    let today = chrono::Utc::now().date_naive();
    let (from, to) = range(req.query_string(), today);
    let seg = segment(&site.domain);
    let base = format!("/dashboard/{seg}/traffic");
    let title = format!("{} – {}", site.domain, lang.pick("Traffic", "Datenverkehr"));
    let header = html! { h1 { a href={ "/dashboard/" (seg) "/settings" } { "←" } " " (title) } };
    let report = match report(state.store.as_ref(), &[&site], from, to).await {
        Ok(r) => r,
        Err(e) => {
            let body = html! { p class="error" role="alert" { (e.to_string()) } };
            return dashboard_page(StatusCode::BAD_REQUEST, lang, &title, header, body);
        }
    };
    let days: Vec<DayTraffic> = report
        .sites
        .first()
        .map(|s| s.days.clone())
        .unwrap_or_default();
    // Every day of the range, with nothing where no request was logged.
    let mut all = Vec::new();
    let mut d = from;
    while d <= to && all.len() < 400 {
        let found = days.iter().find(|x| x.date == d);
        all.push((
            d,
            found.map_or(0, |x| x.requests),
            found.map_or(0, |x| x.bytes),
        ));
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    let max = all.iter().map(|x| x.2).max().unwrap_or(0).max(1) as f64;
    let width = 800.0;
    let step = width / all.len().max(1) as f64;
    let (prev_from, prev_to) = {
        let start = this_month(today).0;
        let last = start.pred_opt().unwrap_or(start);
        (last.with_day0(0).unwrap_or(last), last)
    };
    let body = html! {
        p { (lang.pick(
            "Requests and bytes sent as your provider's web-server logs record them: every request, pages, images, scripts and bots alike. Days in the site's time zone.",
            "Anfragen und gesendete Bytes, wie die Webserver-Logs Ihres Anbieters sie verzeichnen: jede Anfrage, Seiten, Bilder, Skripte und Bots gleichermaßen. Tage in der Zeitzone der Website."
        )) }
        nav {
            a href={ (base) "?from=" (this_month(today).0) "&to=" (today) } { (lang.pick("This month", "Dieser Monat")) }
            " "
            a href={ (base) "?from=" (prev_from) "&to=" (prev_to) } { (lang.pick("Last month", "Letzter Monat")) }
        }
        form class="range" method="get" action=(base) {
            input type="date" name="from" value=(from) aria-label=(lang.pick("From", "Von"));
            " – "
            input type="date" name="to" value=(to) aria-label=(lang.pick("To", "Bis"));
            " "
            button type="submit" { (lang.pick("Show", "Anzeigen")) }
        }
        div class="metrics" {
            div class="metric" id="traffic-requests" {
                div { (lang.pick("Requests", "Anfragen")) }
                strong { (report.requests) }
            }
            div class="metric" id="traffic-bytes" {
                div { (lang.pick("Bytes sent", "Gesendete Bytes")) }
                strong title=(report.bytes) { (human_bytes(report.bytes)) }
            }
        }
        @if report.requests == 0 {
            p id="no-traffic" { (lang.pick(
                "No imported web-server log lines in this range.",
                "Keine importierten Webserver-Logzeilen in diesem Zeitraum."
            )) }
        } @else {
            div class="chart" {
                svg viewBox="0 0 800 210" role="img" aria-label=(lang.pick("bytes sent per day", "gesendete Bytes je Tag")) {
                    @for (i, (day, requests, bytes)) in all.iter().enumerate() {
                        @let h = *bytes as f64 / max * 180.0;
                        rect class="day" x=(format!("{:.1}", i as f64 * step + step * 0.1))
                            y=(format!("{:.1}", 190.0 - h)) width=(format!("{:.1}", step * 0.8))
                            height=(format!("{h:.1}")) {
                            title { (day) ": " (human_bytes(*bytes)) ", " (requests) " " (lang.pick("requests", "Anfragen")) }
                        }
                    }
                    text x="0" y="208" { (from) }
                    text x="800" y="208" text-anchor="end" { (to) }
                    text x="0" y="12" { (human_bytes(max as u64)) }
                }
            }
            table id="traffic-days" {
                thead { tr {
                    th { (lang.pick("Day", "Tag")) }
                    th class="n" { (lang.pick("Requests", "Anfragen")) }
                    th class="n" { (lang.pick("Bytes sent", "Gesendete Bytes")) }
                } }
                tbody {
                    @for d in &days {
                        tr {
                            td { (d.date) }
                            td class="n" { (d.requests) }
                            td class="n" title=(d.bytes) { (human_bytes(d.bytes)) }
                        }
                    }
                }
            }
        }
    };
    dashboard_page(StatusCode::OK, lang, &title, header, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_defaults_to_this_month() {
        let today = NaiveDate::from_ymd_opt(2024, 3, 17).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(range("", today), (d("2024-03-01"), today));
        assert_eq!(
            range("from=2024-01-05&to=2024-02-01", today),
            (d("2024-01-05"), d("2024-02-01"))
        );
        assert_eq!(range("from=nonsense", today), (d("2024-03-01"), today));
    }
}
