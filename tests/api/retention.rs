//! Retention (issue 14, item 4): per site, raw events and visits for some days and daily sums
//! for some months, capped by the provider and by CNIL mode; the daily job (run here through
//! the admin API with the test clock) deletes what is older, queries that need deleted raw
//! events are refused with a clear message, and at the end nothing of the old hits is left.

use super::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

const SITE: &str = "kept.example";

async fn past_view(app: &TestApp, site_id: u64, path: &str, when: &str) {
    app.past_view(SITE, site_id, path, when, "192.0.2.1", CHROME)
        .await
}

async fn query(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/api/v2/query", app.address))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn total(v: &Value) -> u64 {
    v["results"]
        .get(0)
        .map_or(0, |r| r["metrics"][0].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_older_than_the_site_keeps_them_are_deleted() {
    // Today is 2024-06-10 (the test clock); the provider caps raw events at 400 days.
    let app = spawn_app_with(&[("SPURLOS_MAX_RETENTION_DAYS", "400")]).await;
    app.customer_sites(&[(SITE, "acme")]).await;
    let (_, sites) = app.admin(Method::GET, "/api/admin/sites", None).await;
    assert_eq!(sites[0]["retention_days"], 760);
    assert_eq!(sites[0]["archive_months"], 0);
    let id = sites[0]["id"].as_u64().unwrap();
    // Bad settings are refused, naming the field.
    for (body, field) in [
        (json!({"retention_days": 0}), "retention_days"),
        (json!({"archive_months": 5000}), "archive_months"),
        (json!({"retention_days": "long"}), "body"),
    ] {
        let (status, v) = app
            .admin(
                Method::PATCH,
                &format!("/api/admin/sites/{SITE}"),
                Some(body),
            )
            .await;
        assert_eq!(
            (status, v["error"]["field"].as_str()),
            (400, Some(field)),
            "{v}"
        );
    }
    // The owner sees what applies: the provider's 400 days, not the site's 760.
    app.user_with_password("owner@acme.example", "acme", "correct horse 1")
        .await;
    let owner = session_cookie(
        &app.login("owner@acme.example", "correct horse 1", "192.0.2.50")
            .await,
    );
    let settings = app
        .page_as(&owner, &format!("/dashboard/{SITE}/settings"))
        .await;
    assert!(settings.contains("id=\"retention\""), "{settings}");
    let applies = settings.split("id=\"retention-applies\"").nth(1).unwrap();
    assert!(
        applies.contains("400 days") && applies.contains("shortened"),
        "{applies}"
    );

    let marker = format!("/old-{}", std::process::id());
    past_view(&app, id, &marker, "2024-06-01 10:00:00").await;
    past_view(&app, id, "/recent", "2024-06-08 10:00:00").await;
    app.wait_for_events(SITE, 2).await;
    // Five days of raw events: from 2024-06-06 on.
    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/admin/sites/{SITE}"),
            Some(json!({"retention_days": 5})),
        )
        .await;
    assert_eq!(
        (status, v["retention_days"].as_u64()),
        (200, Some(5)),
        "{v}"
    );
    let (status, v) = app.admin(Method::POST, "/api/admin/retention", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["sites"],
        json!([{"site": SITE, "events": 1, "visits": 1, "archived_days": 0}])
    );
    // Unfiltered, from the daily sums: both page views are still counted, and listed.
    let all = json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": ["2024-06-01", "2024-06-10"]});
    let (status, v) = query(&app, all.clone()).await;
    assert_eq!((status, total(&v)), (200, 2), "{v}");
    let mut pages = all.clone();
    pages["dimensions"] = json!(["event:page"]);
    let (status, v) = query(&app, pages).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(rows(&v).len(), 2, "{v}");
    // Filtered over the deleted raw events: refused, saying from when.
    let mut filtered = all.clone();
    filtered["filters"] = json!([["is", "event:page", ["/recent"]]]);
    let (status, v) = query(&app, filtered.clone()).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "date_range", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("before 2024-06-06"), "{message}");
    filtered["date_range"] = json!(["2024-06-06", "2024-06-10"]);
    let (status, v) = query(&app, filtered).await;
    assert_eq!((status, total(&v)), (200, 1), "{v}");
    // The dashboard says so.
    let page = app
        .page_as(&owner, &format!("/dashboard/{SITE}?period=30d"))
        .await;
    assert!(
        page.contains("id=\"retention-note\"") && page.contains("2024-06-06"),
        "{page}"
    );
    // Running again deletes nothing more.
    let (_, v) = app.admin(Method::POST, "/api/admin/retention", None).await;
    assert_eq!(v["sites"], json!([]));

    // Daily sums for one month, and CNIL mode: said in the notice.
    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/admin/sites/{SITE}"),
            Some(json!({"archive_months": 1, "cnil": true})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let notice = reqwest::get(format!(
        "{}/privacy-notice?site={SITE}&lang=en",
        app.address
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        notice.contains("kept for 5 days")
            && notice.contains("for 1 months")
            && notice.contains("CNIL"),
        "{notice}"
    );
    // Forty days later, the June days' sums are older than a month: everything of them goes.
    app.clock.advance(chrono::Duration::days(40));
    let (status, v) = app.admin(Method::POST, "/api/admin/retention", None).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["sites"][0]["archived_days"].as_u64().unwrap() >= 10,
        "{v}"
    );
    let (status, v) = query(&app, all).await;
    assert_eq!((status, total(&v)), (200, 0), "{v}");
    assert_no_file_contains(app.data_dir.path(), marker.as_bytes());
}
