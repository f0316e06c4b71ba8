//! Shared test data: three days of hits on one site and the dashboard's query set, used to
//! compare answers (raw against archived, embedded against ClickHouse, one server against a
//! cluster).

use super::helpers::*;
use serde_json::{json, Value};

pub const SITE: &str = "archive.example";

/// A page view to send: time, path, address, referrer, User-Agent.
pub type Planned = (
    chrono::DateTime<chrono::Utc>,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

/// Hits over three days in Berlin on `SITE`, including a visit that goes on past local
/// midnight; the clock ends at 2024-06-12 10:00 UTC.
pub async fn three_days_on(app: &TestApp) {
    app.add_site(SITE, "Europe/Berlin").await;
    let u = |p: &str| format!("https://{SITE}{p}");
    let hits: &[Planned] = &[
        // 2024-06-10 (Berlin)
        (
            utc(2024, 6, 10, 8, 0, 0),
            "/",
            "198.51.100.1",
            Some("https://www.google.com/"),
            CHROME,
        ),
        (
            utc(2024, 6, 10, 8, 1, 0),
            "/about",
            "198.51.100.1",
            None,
            CHROME,
        ),
        (utc(2024, 6, 10, 9, 0, 0), "/", "203.0.113.2", None, FIREFOX),
        // 23:50 and 00:10 in Berlin: one visit over two local days.
        (
            utc(2024, 6, 10, 21, 50, 0),
            "/late",
            "192.0.2.3",
            None,
            IPHONE,
        ),
        (
            utc(2024, 6, 10, 22, 10, 0),
            "/later",
            "192.0.2.3",
            None,
            IPHONE,
        ),
        // 2024-06-11
        (
            utc(2024, 6, 11, 7, 0, 0),
            "/",
            "198.51.100.1",
            Some("https://twitter.com/x"),
            CHROME,
        ),
        (
            utc(2024, 6, 11, 7, 0, 30),
            "/pricing",
            "198.51.100.1",
            None,
            CHROME,
        ),
        (
            utc(2024, 6, 11, 12, 0, 0),
            "/blog",
            "203.0.113.9",
            None,
            FIREFOX,
        ),
        // 2024-06-12 (today, not archived)
        (utc(2024, 6, 12, 6, 0, 0), "/", "203.0.113.2", None, FIREFOX),
        (
            utc(2024, 6, 12, 6, 5, 0),
            "/about",
            "203.0.113.2",
            None,
            FIREFOX,
        ),
    ];
    // In time order: a hit sent after later ones may find its visit expired already.
    for (at, path, ip, referrer, ua) in hits {
        app.clock.set(*at);
        app.pageview(SITE, &u(path), *referrer, ip, ua).await;
        if *at == utc(2024, 6, 11, 12, 0, 0) {
            app.clock.set(utc(2024, 6, 11, 12, 1, 0));
            let r = app
                .event(
                    json!({"n": "Signup", "u": u("/blog"), "d": SITE, "p": {"plan": "pro"}}),
                    "203.0.113.9",
                    FIREFOX,
                )
                .await;
            assert_eq!(r.status(), 202);
        }
    }
    app.clock.set(utc(2024, 6, 12, 10, 0, 0));
    app.wait_for_events(SITE, 11).await;
}

pub const ALL: [&str; 8] = [
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounce_rate",
    "visit_duration",
    "views_per_visit",
    "percentage",
];

/// The dashboard's queries on `SITE`: four ranges, eleven dimension sets, every metric.
pub fn dashboard() -> Vec<Value> {
    let mut queries = Vec::new();
    let ranges = [
        json!(["2024-06-10", "2024-06-12"]),
        json!("7d"),
        json!("month"),
        json!("all"),
    ];
    let dims: [&[&str]; 11] = [
        &[],
        &["time:day"],
        &["time:week"],
        &["time:month"],
        &["event:page"],
        &["event:name"],
        &["visit:source"],
        &["visit:entry_page"],
        &["visit:exit_page"],
        &["visit:browser"],
        &["visit:country"],
    ];
    for range in &ranges {
        for d in dims {
            let metrics: Vec<&str> = if d.is_empty() {
                ALL[..7].to_vec()
            } else {
                ALL.to_vec()
            };
            let mut q = json!({
                "site_id": SITE,
                "metrics": metrics,
                "date_range": range,
                "dimensions": d,
            });
            if range != &json!("all") {
                q["include"] = json!({"comparisons": {"mode": "previous_period"}});
            }
            queries.push(q);
        }
    }
    queries
}

/// The results of [`dashboard`]'s queries.
pub async fn answers(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for q in dashboard() {
        let v = app.query(q).await;
        out.push(v["results"].clone());
    }
    out
}

/// The dashboard's queries filtered by each value of each filter that has rollups (values as
/// the Stats API shows them, e.g. `Direct / None`, and one that no event has), over two
/// archived days and today.
pub async fn filtered_dashboard(app: &TestApp) -> Vec<Value> {
    let mut queries = Vec::new();
    for filter in [
        "visit:source",
        "visit:country",
        "visit:browser",
        "visit:os",
        "visit:device",
        "event:name",
        "event:page",
    ] {
        let shown = app
            .query(json!({"site_id": SITE, "metrics": ["events"], "date_range": "all", "dimensions": [filter]}))
            .await;
        let mut values: Vec<String> = shown["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dimensions"][0].as_str().unwrap().to_string())
            .collect();
        assert!(!values.is_empty(), "{filter}: {shown}");
        values.push("Nowhere".into());
        for value in values {
            // Two archived days and today (raw).
            for range in [json!(["2024-06-10", "2024-06-12"])] {
                for d in [
                    &[][..],
                    &["time:day"],
                    &["event:page"],
                    &["visit:entry_page"],
                    &["visit:exit_page"],
                    &["visit:source"],
                    &["visit:browser"],
                    &["event:name"],
                    &["visit:screen"],
                ] {
                    let metrics = if d.is_empty() { &ALL[..7] } else { &ALL[..] };
                    queries.push(json!({
                        "site_id": SITE,
                        "metrics": metrics,
                        "date_range": range,
                        "dimensions": d,
                        "filters": [["is", filter, [value]]],
                        "include": {"comparisons": {"mode": "previous_period"}},
                    }));
                }
            }
        }
    }
    queries
}

/// The `results` of each query.
pub async fn answers_to(app: &TestApp, queries: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for q in queries {
        out.push(app.query(q.clone()).await["results"].clone());
    }
    out
}
