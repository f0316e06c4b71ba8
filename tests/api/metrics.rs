//! The statistics definitions of the brief, checked against hand-computed values over a crafted
//! sequence of hits: sessions across 30-minute gaps, bounces, durations and a time zone.

use super::helpers::*;
use chrono::Duration;
use serde_json::json;

const SITE: &str = "metrics.example";

/// Visitor A: two visits (the second after a 31-minute gap); B: one bounce; D: a bounce with a
/// non-interactive event; C: a visit that is on the next day in Berlin although still the
/// 10th in UTC.
async fn crafted() -> TestApp {
    let app = spawn_app().await;
    app.add_site(SITE, "Europe/Berlin").await;
    let a = "198.51.100.10";
    let b = "203.0.113.20";
    let c = "192.0.2.30";
    let d = "192.0.2.99";
    let t0 = utc(2024, 6, 10, 8, 0, 0); // 10:00 in Berlin
    let at = |secs: i64| t0 + Duration::seconds(secs);
    let u = |p: &str| format!("https://{SITE}{p}");

    app.clock.set(at(0));
    app.pageview(
        SITE,
        &u("/"),
        Some("https://www.google.com/search?q=x"),
        a,
        CHROME,
    )
    .await;
    app.clock.set(at(10));
    app.pageview(SITE, &u("/"), None, b, FIREFOX).await;
    app.clock.set(at(60));
    app.pageview(SITE, &u("/about"), None, a, CHROME).await;
    app.clock.set(at(120));
    let r = app
        .event(
            json!({"n": "Signup", "u": u("/about"), "d": SITE, "p": {"plan": "pro"}}),
            a,
            CHROME,
        )
        .await;
    assert_eq!(r.status(), 202);
    app.clock.set(at(300));
    app.pageview(SITE, &u("/blog"), None, d, IPHONE).await;
    app.clock.set(at(360));
    let r = app
        .event(
            json!({"n": "Scroll", "u": u("/blog"), "d": SITE, "i": false}),
            d,
            IPHONE,
        )
        .await;
    assert_eq!(r.status(), 202);
    // 31 minutes after A's last hit: a new visit.
    app.clock.set(at(120 + 31 * 60));
    app.pageview(SITE, &u("/pricing"), None, a, CHROME).await;
    // 22:30 UTC on the 10th is 00:30 on the 11th in Berlin.
    app.clock.set(utc(2024, 6, 10, 22, 30, 0));
    app.pageview(SITE, &u("/"), None, c, FIREFOX).await;
    app.clock.set(utc(2024, 6, 11, 12, 0, 0));
    app.wait_for_events(SITE, 8).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_metrics_match_hand_computed_values() {
    let app = crafted().await;
    let v = app
        .query(json!({
            "site_id": SITE,
            "metrics": ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration", "views_per_visit"],
            "date_range": ["2024-06-10", "2024-06-10"],
        }))
        .await;
    // visitors A, B, D; visits A1, A2, B1, D1; page views 3 + 1 + 1; events 4 + 1 + 2;
    // bounces A2, B1, D1 (D's only other event is not interactive); durations 120, 0, 0, 60.
    assert_eq!(
        rows(&v),
        vec![(vec![], vec![3.0, 4.0, 5.0, 7.0, 75.0, 45.0, 1.25])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_follow_the_site_time_zone() {
    let app = crafted().await;
    let v = app
        .query(json!({
            "site_id": SITE,
            "metrics": ["visitors", "visits"],
            "date_range": ["2024-06-10", "2024-06-11"],
            "dimensions": ["time:day"],
        }))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["2024-06-10".into()], vec![3.0, 4.0]),
            (vec!["2024-06-11".into()], vec![1.0, 1.0]),
        ]
    );
    let v = app
        .query(json!({
            "site_id": SITE,
            "metrics": ["pageviews"],
            "date_range": ["2024-06-10", "2024-06-10"],
            "dimensions": ["time:hour"],
        }))
        .await;
    // All five page views of the 10th fall into 10:00-11:00 Berlin time (08:00 UTC).
    assert_eq!(
        rows(&v),
        vec![(vec!["2024-06-10 10:00:00".to_string()], vec![5.0])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdowns_by_source_entry_and_exit_page() {
    let app = crafted().await;
    let day = json!(["2024-06-10", "2024-06-10"]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits", "bounce_rate"], "date_range": day, "dimensions": ["visit:source"]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["Direct / None".into()], vec![3.0, 3.0, 100.0]),
            (vec!["Google".into()], vec![1.0, 1.0, 0.0]),
        ]
    );
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visits"], "date_range": day, "dimensions": ["visit:entry_page"], "order_by": [["visits", "desc"], ["visit:entry_page", "asc"]]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["/".into()], vec![2.0]),
            (vec!["/blog".into()], vec![1.0]),
            (vec!["/pricing".into()], vec![1.0]),
        ]
    );
    // Visit filters narrow the visits an entry page is looked up in: Google's one visitor.
    for dim in ["visit:entry_page", "visit:exit_page"] {
        let v = app
            .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": day, "dimensions": [dim], "filters": [["is", "visit:source", ["Google"]]]}))
            .await;
        let found = rows(&v);
        assert_eq!(found.len(), 1, "{dim}: {found:?}");
        assert_eq!(found[0].1, vec![1.0], "{dim}: {found:?}");
        let v = app
            .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": day, "dimensions": [dim], "filters": [["is_not", "visit:source", ["Google"]]]}))
            .await;
        let total: f64 = rows(&v).iter().map(|(_, m)| m[0]).sum();
        assert_eq!(
            total, 3.0,
            "{dim}: the three direct visitors, one visit each"
        );
    }
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": day, "dimensions": ["visit:exit_page"], "order_by": [["visit:exit_page", "asc"]]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["/".into()], vec![1.0, 1.0]),
            (vec!["/about".into()], vec![1.0, 1.0]),
            (vec!["/blog".into()], vec![1.0, 1.0]),
            (vec!["/pricing".into()], vec![1.0, 1.0]),
        ]
    );
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": day, "dimensions": ["event:page"], "order_by": [["pageviews", "desc"], ["event:page", "asc"]]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["/".into()], vec![2.0, 2.0]),
            (vec!["/about".into()], vec![1.0, 1.0]),
            (vec!["/blog".into()], vec![1.0, 1.0]),
            (vec!["/pricing".into()], vec![1.0, 1.0]),
        ]
    );
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "events"], "date_range": day, "dimensions": ["event:name"], "order_by": [["event:name", "asc"]]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["Scroll".into()], vec![1.0, 1.0]),
            (vec!["Signup".into()], vec![1.0, 1.0]),
            (vec!["pageview".into()], vec![3.0, 5.0]),
        ]
    );
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["events"], "date_range": day, "dimensions": ["event:props:plan"], "filters": [["is", "event:name", ["Signup"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec!["pro".into()], vec![1.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": day, "dimensions": ["visit:browser", "visit:device"], "order_by": [["visit:browser", "asc"]]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["Chrome".into(), "desktop".into()], vec![1.0]),
            (vec!["Firefox".into(), "desktop".into()], vec![1.0]),
            (vec!["Safari".into(), "mobile".into()], vec![1.0]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_scope_visits_and_events() {
    let app = crafted().await;
    let day = json!(["2024-06-10", "2024-06-10"]);
    let all = json!([
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "visit_duration"
    ]);
    // Visits that include /about: only A's first, with its whole duration.
    let v = app
        .query(json!({"site_id": SITE, "metrics": all, "date_range": day, "filters": [["is", "event:page", ["/about"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0, 1.0, 1.0, 0.0, 120.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": all, "date_range": day, "filters": [["is", "visit:source", ["Google"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0, 1.0, 2.0, 0.0, 120.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": day, "filters": [["is_not", "visit:source", ["Direct / None"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0, 1.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": day, "filters": [["contains", "event:page", ["BL"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visits"], "date_range": day, "filters": [["matches", "visit:exit_page", ["^/(about|pricing)$"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![2.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": day, "filters": [["is", "visit:entry_page", ["/pricing"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compares_with_the_previous_period_and_counts_realtime() {
    let app = crafted().await;
    let v = app
        .query(json!({
            "site_id": SITE, "metrics": ["visitors", "bounce_rate"], "date_range": ["2024-06-11", "2024-06-11"],
            "include": {"comparisons": {"mode": "previous_period"}}
        }))
        .await;
    let r = &v["results"][0];
    // C's single page view is a bounce; the 10th had 3 visitors and 75 % bounces.
    assert_eq!(r["metrics"], json!([1, 100]));
    assert_eq!(r["comparison"]["metrics"], json!([3, 75]));
    assert_eq!(r["comparison"]["change"], json!([-67, 25]));
    // Realtime: the last five minutes.
    app.clock.set(utc(2024, 6, 11, 12, 0, 0));
    app.pageview(
        SITE,
        &format!("https://{SITE}/now"),
        None,
        "192.0.2.1",
        CHROME,
    )
    .await;
    app.clock.set(utc(2024, 6, 11, 12, 4, 0));
    app.pageview(
        SITE,
        &format!("https://{SITE}/now"),
        None,
        "192.0.2.2",
        FIREFOX,
    )
    .await;
    app.wait_for_events(SITE, 10).await;
    app.clock.set(utc(2024, 6, 11, 12, 6, 0));
    let n: u64 = app
        .client
        .get(format!(
            "{}/api/v1/stats/realtime/visitors?site_id={SITE}",
            app.address
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(n, 1);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "realtime"}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_series_compare_bucket_by_bucket() {
    let app = crafted().await;
    // Two days (10th-11th Berlin) against the two days before: buckets match by position.
    let v = app
        .query(json!({
            "site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": ["2024-06-11", "2024-06-12"],
            "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}
        }))
        .await;
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{v}");
    assert_eq!(results[0]["dimensions"], json!(["2024-06-11"]));
    assert_eq!(results[0]["metrics"], json!([1, 1]));
    // The 11th is the first day of the period; the first day of the previous one is the 9th,
    // which had no hits.
    assert_eq!(results[0]["comparison"]["metrics"], json!([0, 0]));
    let v = app
        .query(json!({
            "site_id": SITE, "metrics": ["visitors"], "date_range": ["2024-06-11", "2024-06-11"],
            "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}
        }))
        .await;
    assert_eq!(
        v["results"][0]["comparison"]["dimensions"],
        json!(["2024-06-10"])
    );
    assert_eq!(v["results"][0]["comparison"]["metrics"], json!([3]));
    assert_eq!(v["results"][0]["comparison"]["change"], json!([-67]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_labels_list_every_bucket() {
    let app = crafted().await;
    let v = app
        .query(json!({
            "site_id": SITE, "metrics": ["visitors"], "date_range": ["2024-06-09", "2024-06-12"],
            "dimensions": ["time:day"], "include": {"time_labels": true}
        }))
        .await;
    assert_eq!(
        v["meta"]["time_labels"],
        json!(["2024-06-09", "2024-06-10", "2024-06-11", "2024-06-12"])
    );
    let v = app
        .query(json!({
            "site_id": SITE, "metrics": ["visitors"], "date_range": ["2024-05-20", "2024-06-12"],
            "dimensions": ["time:month"], "include": {"time_labels": true}
        }))
        .await;
    assert_eq!(
        v["meta"]["time_labels"],
        json!(["2024-05-01", "2024-06-01"])
    );
    let v = app
        .query(json!({
            "site_id": SITE, "metrics": ["visitors"], "date_range": ["2024-06-10", "2024-06-16"],
            "dimensions": ["time:week"], "include": {"time_labels": true}
        }))
        .await;
    // 2024-06-10 is a Monday.
    assert_eq!(v["meta"]["time_labels"], json!(["2024-06-10"]));
    assert_eq!(rows(&v), vec![(vec!["2024-06-10".into()], vec![4.0])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentage_is_the_share_of_all_visitors() {
    let app = crafted().await;
    let v = app
        .query(json!({
            "site_id": SITE, "metrics": ["visitors", "percentage"], "date_range": ["2024-06-10", "2024-06-10"],
            "dimensions": ["visit:source"]
        }))
        .await;
    // A visited directly and from Google: rows overlap, so shares add up to more than 100.
    assert_eq!(
        rows(&v),
        vec![
            (vec!["Direct / None".into()], vec![3.0, 100.0]),
            (vec!["Google".into()], vec![1.0, 33.3]),
        ]
    );
}
