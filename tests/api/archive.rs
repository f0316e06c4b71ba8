//! Day archives give the answers raw events give: the same queries before and after archiving,
//! a visit across local midnight, and a late hit into an archived day.

use super::fixtures::{answers, answers_to, dashboard, filtered_dashboard, three_days_on, SITE};
use super::helpers::*;
use serde_json::{json, Value};

async fn three_days() -> TestApp {
    let app = spawn_app().await;
    three_days_on(&app).await;
    app
}

async fn archive_now(app: &TestApp) -> u64 {
    let r = app
        .client
        .post(format!("{}/api/admin/archive", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v["archived_days"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_days_answer_like_raw_events() {
    let app = three_days().await;
    let raw = answers(&app).await;
    // The 10th and 11th are over (plus the grace time); the 12th is today.
    assert_eq!(archive_now(&app).await, 2);
    assert_eq!(archive_now(&app).await, 0, "nothing left to archive");
    let archived = answers(&app).await;
    for (i, (a, b)) in raw.iter().zip(&archived).enumerate() {
        assert_eq!(a, b, "query {i}: {}", dashboard()[i]);
    }
    // Hand-computed: the visit across midnight counts once on each local day it touches.
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits", "pageviews"], "date_range": ["2024-06-10", "2024-06-12"], "dimensions": ["time:day"]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["2024-06-10".into()], vec![3.0, 3.0, 4.0]),
            (vec!["2024-06-11".into()], vec![3.0, 2.0, 4.0]),
            (vec!["2024-06-12".into()], vec![1.0, 1.0, 2.0]),
        ]
    );
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": ["2024-06-10", "2024-06-12"]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![7.0, 6.0])]);
    // Archives survive a restart, and no address or User-Agent is in any file.
    let app = app.restart().await;
    assert_eq!(rows(&app.query(json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": ["2024-06-10", "2024-06-12"]})).await), vec![(vec![], vec![7.0, 6.0])]);
    for needle in [
        "198.51.100.1",
        "203.0.113.2",
        "192.0.2.3",
        "203.0.113.9",
        CHROME,
        FIREFOX,
        IPHONE,
    ] {
        assert_no_file_contains(app.data_dir.path(), needle.as_bytes());
    }
}

/// Rollups: the dashboard's queries filtered by every value of each rollup filter answer
/// alike from raw events and from archives with rollups from `min_events` events a day.
async fn filtered_answers_stay(min_events: &str) {
    let app = spawn_app_with(&[("SPURLOS_ROLLUP_MIN_EVENTS", min_events)]).await;
    three_days_on(&app).await;
    let queries = filtered_dashboard(&app).await;
    let raw = answers_to(&app, &queries).await;
    assert!(
        raw.iter().any(|r| !r.as_array().unwrap().is_empty()),
        "the filters match something"
    );
    // (The server's own first run, ten seconds after its start, may have archived already.)
    assert!(archive_now(&app).await <= 2);
    assert_eq!(archive_now(&app).await, 0, "nothing left to archive");
    let archived = answers_to(&app, &queries).await;
    for (i, (a, b)) in raw.iter().zip(&archived).enumerate() {
        assert_eq!(
            a, b,
            "rollups from {min_events} events, query {i}: {}",
            queries[i]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_archives_answer_like_raw_events() {
    filtered_answers_stay("1").await;
}

/// Rollups on the busier of the two archived days only (the 11th has five events, the 10th
/// four): the other day is scanned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partly_rolled_up_archives_answer_like_raw_events() {
    filtered_answers_stay("5").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_hit_into_an_archived_day_is_counted() {
    let app = three_days().await;
    assert_eq!(archive_now(&app).await, 2);
    let day = json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": ["2024-06-11", "2024-06-11"], "dimensions": ["event:page"]});
    let before = rows(&app.query(day.clone()).await);
    assert!(!before.iter().any(|(d, _)| d[0] == "/late-import"));
    // A hit stamped on the (archived) 11th.
    app.clock.set(utc(2024, 6, 11, 20, 0, 0));
    app.pageview(
        SITE,
        &format!("https://{SITE}/late-import"),
        None,
        "192.0.2.200",
        CHROME,
    )
    .await;
    app.clock.set(utc(2024, 6, 12, 10, 0, 0));
    app.wait_for_events(SITE, 12).await;
    let after = rows(&app.query(day.clone()).await);
    assert!(
        after.contains(&(vec!["/late-import".to_string()], vec![1.0, 1.0])),
        "{after:?}"
    );
    // Both days: the 10th from its archive, the 11th raw.
    let both = json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": ["2024-06-10", "2024-06-11"], "dimensions": ["event:page"]});
    let both_after = rows(&app.query(both.clone()).await);
    // Rebuilt, the archive agrees, also where the 10th's archive (built with the 11th's old
    // one) is read with the 11th's new one.
    assert_eq!(archive_now(&app).await, 1);
    assert_eq!(rows(&app.query(day).await), after);
    assert_eq!(rows(&app.query(both).await), both_after);
}

/// Archives follow the data (issue 12): a few visits over five years in a zone with a
/// half-hour offset (UTC hours straddle local midnight) are archived for every finished day,
/// the empty ones without a query, and archives answer like raw events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_history_is_archived_and_answers_like_raw_events() {
    let app = spawn_app().await;
    app.add_site(SITE, "Asia/Kolkata").await;
    let hits = [
        // 23:50 and 00:10 in Kolkata: one visit over two local days, one UTC hour.
        (utc(2019, 3, 1, 18, 20, 0), "/first", "198.51.100.1"),
        (utc(2019, 3, 1, 18, 40, 0), "/second", "198.51.100.1"),
        (utc(2021, 7, 15, 6, 0, 0), "/", "203.0.113.2"),
        (utc(2024, 6, 10, 8, 0, 0), "/", "192.0.2.3"),
        (utc(2024, 6, 11, 12, 0, 0), "/about", "192.0.2.4"),
    ];
    for (at, path, ip) in hits {
        app.clock.set(at);
        app.pageview(SITE, &format!("https://{SITE}{path}"), None, ip, CHROME)
            .await;
    }
    app.clock.set(utc(2024, 6, 12, 10, 0, 0));
    app.wait_for_events(SITE, hits.len() as u64).await;
    let raw = answers(&app).await;
    let months = json!({"site_id": SITE, "metrics": ["visitors", "visits", "pageviews", "bounce_rate"], "date_range": "all", "dimensions": ["time:month"]});
    let days = json!({"site_id": SITE, "metrics": ["visitors", "visits", "pageviews"], "date_range": ["2019-02-28", "2019-03-03"], "dimensions": ["time:day"]});
    let raw_months = app.query(months.clone()).await;
    let raw_days = app.query(days.clone()).await;
    // Every local day from 2019-03-01 to 2024-06-11 (today, the 12th, is not over).
    let expected = (chrono::NaiveDate::from_ymd_opt(2024, 6, 11).unwrap()
        - chrono::NaiveDate::from_ymd_opt(2019, 3, 1).unwrap())
    .num_days() as u64
        + 1;
    assert_eq!(archive_now(&app).await, expected);
    assert_eq!(archive_now(&app).await, 0, "nothing left to archive");
    let archived = answers(&app).await;
    for (i, (a, b)) in raw.iter().zip(&archived).enumerate() {
        assert_eq!(a, b, "query {i}: {}", dashboard()[i]);
    }
    assert_eq!(app.query(months).await["results"], raw_months["results"]);
    let archived_days = app.query(days).await;
    assert_eq!(archived_days["results"], raw_days["results"]);
    assert_eq!(
        rows(&archived_days),
        vec![
            (vec!["2019-03-01".into()], vec![1.0, 1.0, 1.0]),
            (vec!["2019-03-02".into()], vec![1.0, 0.0, 1.0]),
        ]
    );
}

/// Sites of one time zone that need the same days are archived by one build (a query per
/// dimension for all of them): each keeps its own numbers, equal to its raw answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_archived_together_keep_their_own_numbers() {
    let app = spawn_app().await;
    let sites = ["one.example", "two.example", "three.example"];
    for s in sites {
        app.add_site(s, "Europe/Berlin").await;
    }
    let mut sent = [0u64; 3];
    for (day, hour) in [(10, 8), (10, 21), (11, 7)] {
        for (i, s) in sites.iter().enumerate() {
            // Different amounts, pages and sources per site; one visitor shared by address.
            for k in 0..=i {
                app.clock.set(utc(2024, 6, day, hour, k as u32, 0));
                let referrer = (k % 2 == 0).then_some("https://www.google.com/");
                app.pageview(
                    s,
                    &format!("https://{s}/p{k}"),
                    referrer,
                    &format!("198.51.100.{}", 10 + k),
                    if i == 1 { FIREFOX } else { CHROME },
                )
                .await;
                sent[i] += 1;
            }
        }
    }
    app.clock.set(utc(2024, 6, 12, 10, 0, 0));
    for (i, s) in sites.iter().enumerate() {
        app.wait_for_events(s, sent[i]).await;
    }
    let queries = |site: &str| {
        let dims: [&[&str]; 6] = [
            &[],
            &["time:day"],
            &["event:page"],
            &["visit:source"],
            &["visit:browser"],
            &["visit:entry_page"],
        ];
        dims.iter()
            .map(|d| json!({"site_id": site, "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"], "date_range": ["2024-06-10", "2024-06-11"], "dimensions": d}))
            .collect::<Vec<_>>()
    };
    let mut raw = Vec::new();
    for s in sites {
        for q in queries(s) {
            raw.push(app.query(q).await["results"].clone());
        }
    }
    assert_eq!(archive_now(&app).await, 6, "two days of three sites");
    let mut archived = Vec::new();
    for s in sites {
        for q in queries(s) {
            archived.push(app.query(q).await["results"].clone());
        }
    }
    assert_eq!(raw, archived);
    // Hand-computed: site i has i+1 page views at each of the three times.
    for (i, s) in sites.iter().enumerate() {
        let v = app
            .query(json!({"site_id": s, "metrics": ["pageviews"], "date_range": ["2024-06-10", "2024-06-11"]}))
            .await;
        assert_eq!(rows(&v), vec![(vec![], vec![3.0 * (i as f64 + 1.0)])]);
    }
}
