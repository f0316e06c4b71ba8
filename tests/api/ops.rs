//! Operations (issue 11, item 10): `/metrics` in Prometheus text format behind the admin or
//! the metrics token, and liveness and readiness endpoints.

use super::helpers::*;
use serde_json::json;

const SITE: &str = "ops.example";

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_hits_exclusions_errors_and_writes() {
    let app = spawn_app_with(&[("SPURLOS_METRICS_TOKEN", "metrics-secret-1234")]).await;
    app.add_site(SITE, "UTC").await;
    for ip in ["192.0.2.1", "192.0.2.2"] {
        app.pageview(SITE, &format!("https://{SITE}/"), None, ip, CHROME)
            .await;
    }
    let r = app
        .event(
            json!({"n": "pageview", "u": format!("https://{SITE}/"), "d": SITE}),
            "192.0.2.3",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
        )
        .await;
    assert_eq!(r.status(), 202);
    let r = app
        .client
        .post(format!("{}/api/event", app.address))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    app.wait_for_events(SITE, 2).await;
    app.query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day"}))
        .await;
    let get = |token: Option<&'static str>| {
        let app = &app;
        async move {
            let mut r = app.client.get(format!("{}/metrics", app.address));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send().await.unwrap()
        }
    };
    assert_eq!(get(None).await.status(), 401);
    assert_eq!(get(Some("wrong")).await.status(), 401);
    let r = get(Some("metrics-secret-1234")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
            || r.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("openmetrics")
    );
    let text = r.text().await.unwrap();
    assert_eq!(
        value(&text, "spurlos_hits_accepted_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "spurlos_hits_excluded_total{reason=\"bot\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "spurlos_client_errors_total{code=\"invalid_request\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(value(&text, "spurlos_queue_depth").is_some(), "{text}");
    assert!(
        value(&text, "spurlos_batch_write_seconds_count").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        value(&text, "spurlos_events_stored_total").unwrap() >= 2.0,
        "{text}"
    );
    assert_eq!(
        value(&text, "spurlos_store_errors_total"),
        Some(0.0),
        "{text}"
    );
    assert!(
        value(&text, "spurlos_query_seconds_count{kind=\"stats_api\"}").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        value(&text, "spurlos_resident_memory_bytes").unwrap() > 1e6,
        "{text}"
    );
    assert!(
        value(&text, "spurlos_archive_pending_days").is_some(),
        "{text}"
    );
    // The admin token reads them too.
    assert_eq!(get(Some(ADMIN)).await.status(), 200);
    // Liveness and readiness.
    for path in ["/api/live", "/api/ready", "/api/health"] {
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}
