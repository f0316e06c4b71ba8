//! Graceful shutdown under load loses no accepted event: every 202 is in the store after a
//! restart, and refused events were told so (503 or a refused connection).

use super::helpers::*;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SITE: &str = "busy.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_keeps_every_accepted_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("spurlos.log");
    // Slow flushes, so a lot is still queued when the signal comes.
    let extra = [
        ("SPURLOS_FLUSH_INTERVAL_MS", "500"),
        ("SPURLOS_BATCH_SIZE", "100000"),
    ];
    let app = spawn_binary(&data, &log, &extra);
    let client = reqwest::Client::new();
    app.add_site(SITE).await;
    let accepted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..16u64 {
        let client = client.clone();
        let address = app.address.clone();
        let accepted = accepted.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..2000u64 {
                let body = json!({"n": "pageview", "u": format!("https://{SITE}/p{i}"), "d": SITE});
                let r = client
                    .post(format!("{address}/api/event"))
                    .header("X-Forwarded-For", format!("10.{w}.{}.{}", i / 250, i % 250))
                    .header("User-Agent", CHROME)
                    .body(body.to_string())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 202 => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => assert_eq!(r.status(), 503, "only 202 or 503"),
                    Err(_) => break, // the server has gone: not accepted
                }
            }
        }));
    }
    // Let the load run, then stop the server in the middle of it.
    while accepted.load(Ordering::SeqCst) < 2000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = tokio::task::spawn_blocking(move || app.terminate())
        .await
        .unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    for t in tasks {
        t.await.unwrap();
    }
    let accepted = accepted.load(Ordering::SeqCst);
    assert!(accepted < 32_000, "the load should still have been running");

    let app = spawn_binary(&data, &log, &[]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all"}))
        .await;
    assert_eq!(
        v["results"][0]["metrics"][0].as_u64().unwrap(),
        accepted,
        "{v}"
    );
    assert!(app.terminate().success());
}

/// Issue 11, item 9: SIGTERM while day archives are being built (years of days to go) stops
/// within a few seconds, and the events accepted before are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_archiving_stops_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("spurlos.log");
    let app = spawn_binary(&data, &log, &[]);
    app.add_site(SITE).await;
    let client = reqwest::Client::new();
    // Archiving follows the data, so it takes long only with much to build: sites whose
    // first events are years ago, each on another day (no two share a build), with events
    // today too.
    for k in 0..80u32 {
        let domain = format!("old{k}.example");
        let id = app.add_site(&domain).await;
        let url: String =
            url::form_urlencoded::byte_serialize(format!("https://{domain}/old").as_bytes())
                .collect();
        let day = chrono::NaiveDate::from_ymd_opt(2012, 1, 1).unwrap()
            + chrono::Duration::days(i64::from(k) * 17);
        for when in [
            format!("{day}%2010:00:00"),
            format!("{}%2010:00:00", day + chrono::Duration::days(400)),
        ] {
            let r = client
                .get(format!(
                    "{}/matomo.php?idsite={id}&rec=1&url={url}&cdt={when}&cip=192.0.2.1&token_auth={ADMIN}",
                    app.address
                ))
                .header("User-Agent", CHROME)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
    for i in 0..20 {
        let body = json!({"n": "pageview", "u": format!("https://{SITE}/now{i}"), "d": SITE});
        let r = client
            .post(format!("{}/api/event", app.address))
            .header("X-Forwarded-For", format!("198.51.100.{i}"))
            .header("User-Agent", CHROME)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let archiving = {
        let (client, address) = (client.clone(), app.address.clone());
        tokio::spawn(async move {
            client
                .post(format!("{address}/api/admin/archive"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!archiving.is_finished(), "archiving should take long");
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || app.terminate())
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    let _ = archiving.await;
    let app = spawn_binary(&data, &log, &[]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all"}))
        .await;
    assert_eq!(v["results"][0]["metrics"][0].as_u64().unwrap(), 20, "{v}");
    assert!(app.terminate().success());
}
