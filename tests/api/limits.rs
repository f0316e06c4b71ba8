//! Bounded work per request (issue 11, item 4): date ranges, time buckets, result rows, query
//! time and concurrency; and tracking keeps answering while someone abuses the query side.

use super::helpers::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SITE: &str = "limits.example";

async fn query_status(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/api/v2/query", app.address))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Page views on many paths, spread over the day, from many addresses (Matomo bulk, admin).
async fn fill(app: &TestApp, site_id: u64, n: usize) {
    let mut requests = Vec::new();
    for i in 0..n {
        let url = format!("https://{SITE}/p/{}/{}", i % 997, i % 13);
        let enc: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
        requests.push(Value::String(format!(
            "?idsite={site_id}&rec=1&url={enc}&cip=10.{}.{}.1&cdt={}",
            (i / 250) % 250,
            i % 250,
            1_717_977_600 + (i as i64 * 7) % 28_800
        )));
        if requests.len() == 1000 || i + 1 == n {
            let r = app
                .client
                .post(format!("{}/matomo.php", app.address))
                .header("User-Agent", CHROME)
                .json(&json!({"requests": std::mem::take(&mut requests), "token_auth": ADMIN}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
    app.wait_for_events(SITE, n as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_ranges_time_buckets_and_result_rows_are_bounded() {
    let app = spawn_app_with(&[("SPURLOS_QUERY_MAX_ROWS", "50")]).await;
    let id = app.add_site(SITE, "UTC").await["id"].as_u64().unwrap();
    fill(&app, id, 300).await;
    for range in [
        json!(["0001-01-01", "9999-12-31"]),
        json!(["1999-12-31", "2000-01-05"]),
        json!(["2024-01-01", "2101-01-01"]),
    ] {
        let (status, v) = query_status(
            &app,
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": range, "dimensions": ["time:week"]}),
        )
        .await;
        assert_eq!(status, 400, "{range}: {v}");
        assert_eq!(v["error"]["field"], "date_range", "{v}");
    }
    // A whole century by week is fine; by minute over a year is not.
    let (status, v) = query_status(
        &app,
        json!({"site_id": SITE, "metrics": ["visitors"], "date_range": ["2000-01-01", "2099-12-31"], "dimensions": ["time:week"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = query_status(
        &app,
        json!({"site_id": SITE, "metrics": ["visitors"], "date_range": ["2024-01-01", "2024-12-31"], "dimensions": ["time:minute"]}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "dimensions", "{v}");
    // More groups than the configured bound: a clear 400, not an answer held in memory.
    let (status, v) = query_status(
        &app,
        json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day", "dimensions": ["event:page"]}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "dimensions", "{v}");
    let (status, v) = query_status(
        &app,
        json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day", "dimensions": ["visit:browser"]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // The dashboard passes its custom dates through the same bound.
    app.customer_sites(&[("dash.example", "acme")]).await;
    app.user_with_password("o@acme.example", "acme", "correct horse battery")
        .await;
    let cookie = session_cookie(
        &app.login("o@acme.example", "correct horse battery", "192.0.2.1")
            .await,
    );
    let r = app
        .get_as(
            &cookie,
            "/dashboard/dash.example?period=custom&from=0001-01-01&to=9999-12-31",
        )
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_time_is_stopped_and_the_caller_told() {
    let app = spawn_app().await;
    let id = app.add_site(SITE, "UTC").await["id"].as_u64().unwrap();
    fill(&app, id, 20_000).await;
    let (dir, now) = app.stop().await;
    let app = spawn_app_in(dir, now, &[("SPURLOS_QUERY_TIMEOUT_MS", "1")]).await;
    let (status, v) = query_status(
        &app,
        json!({"site_id": SITE, "metrics": ["visitors", "visits", "bounce_rate"], "date_range": "day", "dimensions": ["event:page", "time:minute"], "filters": [["matches", "event:page", ["^/p/[0-9]+/1$"]]]}),
    )
    .await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "query_timeout", "{v}");
    // Tracking is not affected.
    let r = app
        .event(
            json!({"n": "pageview", "u": format!("https://{SITE}/after"), "d": SITE}),
            "192.0.2.9",
            CHROME,
        )
        .await;
    assert_eq!(r.status(), 202);
}

/// Heavy queries in parallel (more than may run at once): health and the Events API still
/// answer within 50 ms, and every query gets an answer or a clear 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_answers_while_the_query_side_is_abused() {
    let app = spawn_app().await;
    let id = app.add_site(SITE, "UTC").await["id"].as_u64().unwrap();
    fill(&app, id, 40_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut abusers = Vec::new();
    for n in 0..12 {
        let (client, address, stop) = (app.client.clone(), app.address.clone(), stop.clone());
        abusers.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"site_id": SITE, "metrics": ["visitors", "visits", "bounce_rate", "visit_duration"], "date_range": ["2024-06-01", "2024-06-10"], "dimensions": ["event:page", "time:hour"], "filters": [["matches", "event:page", [format!("^/p/{n}[0-9]*/")]]], "include": {"comparisons": {"mode": "previous_period"}}, "pagination": {"limit": 100}});
                let r = client
                    .post(format!("{address}/api/v2/query"))
                    .bearer_auth(ADMIN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                answered.push(r.status().as_u16());
                let _ = r.bytes().await;
            }
            answered
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The probe runs on its own thread and runtime: it measures the server, not this test's
    // busy runtime.
    let address = app.address.clone();
    let probe = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let client = reqwest::Client::new();
            let mut times = Vec::new();
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                let t = Instant::now();
                let r = client
                    .get(format!("{address}/api/health"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                times.push(("health", t.elapsed()));
                let t = Instant::now();
                let body =
                    json!({"n": "pageview", "u": format!("https://{SITE}/probe"), "d": SITE});
                let r = client
                    .post(format!("{address}/api/event"))
                    .header("X-Forwarded-For", "192.0.2.77")
                    .header("User-Agent", CHROME)
                    .header("Content-Type", "text/plain")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
                times.push(("event", t.elapsed()));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            times
        })
    });
    let times = tokio::task::spawn_blocking(move || probe.join().unwrap())
        .await
        .unwrap();
    let worst = times.iter().map(|(_, t)| *t).max().unwrap();
    let probes = times.len();
    let slow: Vec<_> = times
        .iter()
        .filter(|(_, t)| *t > Duration::from_millis(20))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let mut statuses = Vec::new();
    for a in abusers {
        statuses.extend(a.await.unwrap());
    }
    eprintln!(
        "{probes} probes, slowest {worst:?}; {} queries: {:?} ok",
        statuses.len(),
        statuses.iter().filter(|s| **s == 200).count()
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200));
    assert!(
        worst < Duration::from_millis(50),
        "slowest probe took {worst:?}; slower than 20 ms: {slow:?}"
    );
}

/// Fifty wrong passwords at once for one account: the limit counts each attempt before the
/// (memory-hard) password check, so at most five are checked and the rest get 429 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_are_counted_before_they_are_checked() {
    let app = spawn_app().await;
    app.customer_sites(&[("pw.example", "pw")]).await;
    app.user_with_password("o@pw.example", "pw", "correct horse battery")
        .await;
    let mut tries = Vec::new();
    for i in 0..50 {
        let client = no_redirects();
        let address = app.address.clone();
        tries.push(tokio::spawn(async move {
            client
                .post(format!("{address}/login"))
                .header("Origin", &address)
                .header("X-Forwarded-For", format!("198.51.{i}.1"))
                .form(&[("email", "o@pw.example"), ("password", "wrong guess")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 5,
        "{checked} wrong passwords were checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    // A correct password from elsewhere is refused while the account is blocked.
    let r = app
        .login("o@pw.example", "correct horse battery", "203.0.113.1")
        .await;
    assert_eq!(r.status(), 429);
}
