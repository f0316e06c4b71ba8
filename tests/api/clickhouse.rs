//! The ClickHouse store beyond the shared suite (these run when `SPURLOS_TEST_STORE=clickhouse`):
//! the same answers as the embedded store, a two-shard cluster answering like one server, and
//! batches that wait in the spool while ClickHouse is down.

use super::chserver::{self, ClickHouseServer};
use super::fixtures::{answers, dashboard, three_days_on};
use super::helpers::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether this run is the ClickHouse one; the other run says why it skips.
fn clickhouse_run(test: &str) -> bool {
    if !chserver::enabled() {
        eprintln!("{test}: runs with SPURLOS_TEST_STORE=clickhouse (scripts/test.sh runs both)");
    }
    chserver::enabled()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_answers_like_the_embedded_store() {
    if !clickhouse_run("clickhouse_answers_like_the_embedded_store") {
        return;
    }
    let embedded = spawn_app_with(&[("SPURLOS_STORE", "embedded")]).await;
    let clickhouse = spawn_app().await;
    three_days_on(&embedded).await;
    three_days_on(&clickhouse).await;
    assert!(embedded.data_dir.path().join("spurlos.duckdb").exists());
    let a = answers(&embedded).await;
    let b = answers(&clickhouse).await;
    assert_eq!(a.len(), 44);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "query {i}: {}", dashboard()[i]);
    }
    // Filters of every kind, props included, answer alike too.
    let filtered = [
        json!([["is", "event:page", ["/", "/about"]]]),
        json!([["contains", "event:page", ["ABO"]]]),
        json!([["matches", "visit:browser", ["^Fire"]]]),
        json!([["is_not", "visit:entry_page", ["/"]]]),
        json!([["is", "event:props:plan", ["pro"]]]),
        json!([["contains_not", "visit:source", ["goo"]]]),
    ];
    for filters in filtered {
        for dims in [
            json!([]),
            json!(["event:page"]),
            json!(["event:props:plan"]),
            json!(["visit:entry_page"]),
            json!(["visit:exit_page"]),
        ] {
            let q = json!({
                "site_id": super::fixtures::SITE,
                "metrics": ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"],
                "date_range": "all",
                "dimensions": dims,
                "filters": filters,
            });
            let x = embedded.query(q.clone()).await;
            let y = clickhouse.query(q.clone()).await;
            assert_eq!(x["results"], y["results"], "{q}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_shard_cluster_answers_like_one_server() {
    if !clickhouse_run("a_two_shard_cluster_answers_like_one_server") {
        return;
    }
    if chserver::chdb() {
        // chDB is one engine in one process: it cannot be two servers that talk to each other.
        eprintln!(
            "a_two_shard_cluster_answers_like_one_server: clusters run on clickhouse-server only"
        );
        return;
    }
    let nodes = [ClickHouseServer::prepare(), ClickHouseServer::prepare()];
    let shards: String = nodes
        .iter()
        .map(|(_, _, tcp)| {
            format!("<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>")
        })
        .collect();
    let remote = format!("<two_shards>{shards}</two_shards>");
    let servers: Vec<ClickHouseServer> = nodes
        .into_iter()
        .map(|(dir, http, tcp)| ClickHouseServer::start_with(dir, http, tcp, &remote))
        .collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let shard_urls = urls.join(",");
    let cluster = spawn_app_with(&[
        ("SPURLOS_CLICKHOUSE_URL", urls[0].as_str()),
        ("SPURLOS_CLICKHOUSE_SHARD_URLS", shard_urls.as_str()),
        ("SPURLOS_CLICKHOUSE_CLUSTER", "two_shards"),
    ])
    .await;
    let single = spawn_app().await;
    // Two sites, so that both shards get rows (sharding key: site id).
    for app in [&cluster, &single] {
        app.add_site("first.example", "UTC").await;
        for ip in ["192.0.2.1", "192.0.2.2"] {
            app.pageview("first.example", "https://first.example/", None, ip, CHROME)
                .await;
        }
        three_days_on(app).await;
    }
    let a = answers(&single).await;
    let b = answers(&cluster).await;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "query {i}: {}", dashboard()[i]);
    }
    let q = json!({"site_id": "first.example", "metrics": ["visitors", "pageviews"], "date_range": "all"});
    assert_eq!(
        single.query(q.clone()).await["results"],
        cluster.query(q).await["results"]
    );
    // Each shard holds one site's events in its local table.
    let db = chserver::database_for(cluster.data_dir.path());
    let per_shard: Vec<String> = servers
        .iter()
        .map(|s| {
            s.query(&format!(
                "SELECT groupUniqArray(site_id), count() FROM {db}.events_local"
            ))
            .trim()
            .to_string()
        })
        .collect();
    assert_eq!(per_shard, vec!["[2]\t11", "[1]\t2"], "{per_shard:?}");
}

/// Sends page views from many addresses until told to stop; counts the 202 answers.
fn start_load(app: &TestApp, site: &'static str) -> (Arc<AtomicBool>, Arc<AtomicU64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let client = app.client.clone();
    let address = app.address.clone();
    let (s, a) = (stop.clone(), acked.clone());
    tokio::spawn(async move {
        let mut i = 0u32;
        while !s.load(Ordering::Relaxed) {
            i += 1;
            let ip = format!("10.{}.{}.1", (i >> 8) & 255, i & 255);
            let r = client
                .post(format!("{address}/api/event"))
                .header("X-Forwarded-For", ip)
                .header("User-Agent", CHROME)
                .header("Content-Type", "text/plain")
                .body(
                    json!({"n": "pageview", "u": format!("https://{site}/p{i}"), "d": site})
                        .to_string(),
                )
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 202) {
                a.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    (stop, acked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_a_clickhouse_outage_exactly_once() {
    if !clickhouse_run("acknowledged_events_survive_a_clickhouse_outage_exactly_once") {
        return;
    }
    const SITE: &str = "outage.example";
    let mut server = ClickHouseServer::start("");
    let url = server.url();
    let app = spawn_app_with(&[("SPURLOS_CLICKHOUSE_URL", url.as_str())]).await;
    app.add_site(SITE, "UTC").await;
    let (stop, acked) = start_load(&app, SITE);
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.stop();
    let at_stop = acked.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let spool = app.data_dir.path().join("clickhouse-spool");
    let spooled = spooled_batches(&spool);
    assert!(spooled > 0, "nothing was spooled while ClickHouse was down");
    // Issue 11, item 10: not ready while the store does not answer, but alive; the metrics
    // show the spool.
    let status = |path: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/api/ready").await, 503);
    assert_eq!(status("/api/live").await, 200);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spool_batches = metrics
        .lines()
        .find_map(|l| l.strip_prefix("spurlos_spool_batches "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(spool_batches.is_some_and(|n| n > 0.0), "{metrics}");
    server.resume();
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(status("/api/ready").await, 200);
    let total = acked.load(Ordering::Relaxed);
    assert!(
        total > at_stop + 50,
        "hits were refused during the outage: {at_stop} then {total}"
    );
    // Every acknowledged event arrives, none twice (each hit has a path of its own).
    let db = chserver::database_for(app.data_dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = server.query(&format!(
            "SELECT count(), uniqExact(pathname) FROM {db}.events"
        ));
        if got.trim() == format!("{total}\t{total}") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored (events, distinct paths): {got:?}, acknowledged {total}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["pageviews", "visits"], "date_range": "all"}))
        .await;
    assert_eq!(v["results"][0]["metrics"], json!([total, total]));
    let batches = spooled_batches(&spool);
    assert_eq!(batches, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_turns_hits_away_with_retry_after() {
    if !clickhouse_run("a_full_spool_turns_hits_away_with_retry_after") {
        return;
    }
    const SITE: &str = "full.example";
    let mut server = ClickHouseServer::start("");
    let url = server.url();
    let app = spawn_app_with(&[
        ("SPURLOS_CLICKHOUSE_URL", url.as_str()),
        ("SPURLOS_SPOOL_MAX_BYTES", "1"),
        ("SPURLOS_QUEUE_CAPACITY", "20"),
    ])
    .await;
    app.add_site(SITE, "UTC").await;
    server.stop();
    let mut accepted = 0u64;
    let mut refused = None;
    for i in 0..500 {
        let r = app
            .event(
                json!({"n": "pageview", "u": format!("https://{SITE}/{i}"), "d": SITE}),
                "198.51.100.7",
                CHROME,
            )
            .await;
        match r.status().as_u16() {
            202 => accepted += 1,
            503 => {
                refused = Some(r);
                break;
            }
            other => panic!("unexpected status {other}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = refused.expect("a 503 once the spool and the queue are full");
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    // Back up: what was accepted is stored, and hits are welcome again.
    server.resume();
    app.wait_for_events(SITE, accepted).await;
    app.pageview(
        SITE,
        &format!("https://{SITE}/again"),
        None,
        "198.51.100.7",
        CHROME,
    )
    .await;
    app.wait_for_events(SITE, accepted + 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_store_moves_an_embedded_installation_into_clickhouse() {
    if !clickhouse_run("migrate_store_moves_an_embedded_installation_into_clickhouse") {
        return;
    }
    let embedded = spawn_app_with(&[("SPURLOS_STORE", "embedded")]).await;
    embedded
        .admin(
            reqwest::Method::PUT,
            "/api/admin/customers/acme",
            Some(json!({"name": "Acme AG"})),
        )
        .await;
    three_days_on(&embedded).await;
    let (status, _) = embedded
        .admin(
            reqwest::Method::PUT,
            &format!("/api/admin/sites/{}/customer", super::fixtures::SITE),
            Some(json!({"customer": "acme"})),
        )
        .await;
    assert_eq!(status, 200);
    embedded
        .user_with_password("owner@acme.example", "acme", "a long passphrase")
        .await;
    let (status, token) = embedded
        .admin(
            reqwest::Method::POST,
            "/api/admin/tokens",
            Some(json!({"site": super::fixtures::SITE})),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().unwrap().to_string();
    // Imported history comes along too.
    let (status, v) = embedded
        .admin(
            reqwest::Method::POST,
            &format!("/api/admin/sites/{}/imported", super::fixtures::SITE),
            Some(
                json!({"source": "awstats", "days": ["2023-01-05"], "rows": [{"date": "2023-01-05",
                "visitors": 7, "pageviews": 9, "events": 9, "visits": 7, "visit_pageviews": 9}]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let before = answers(&embedded).await;
    let (data_dir, now) = embedded.stop().await;

    let run = |extra: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(binary());
        cmd.arg("migrate-store");
        for (k, v) in test_env(data_dir.path(), extra) {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("copied 1 sites, 11 events and") && stdout.contains("counts checked"),
        "{stdout}"
    );
    // Once is enough: the target is no longer empty.
    let again = run(&[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));

    let moved = spawn_app_in(data_dir, now, &[]).await;
    let after = answers(&moved).await;
    for (i, (x, y)) in before.iter().zip(&after).enumerate() {
        assert_eq!(x, y, "query {i}: {}", dashboard()[i]);
    }
    // Tokens, customers, users and their passwords came along.
    let v = moved
        .query_as(
            &token,
            json!({"site_id": super::fixtures::SITE, "metrics": ["events"], "date_range": "all"}),
        )
        .await;
    assert_eq!(v["results"][0]["metrics"], json!([11]));
    let v = moved
        .query(
            json!({"site_id": super::fixtures::SITE, "metrics": ["visitors", "pageviews"],
            "date_range": ["2023-01-01", "2023-01-31"], "include": {"imports": true}}),
        )
        .await;
    assert_eq!(v["results"][0]["metrics"], json!([7, 9]), "{v}");
    let (_, customers) = moved
        .admin(reqwest::Method::GET, "/api/admin/customers", None)
        .await;
    assert_eq!(customers[0]["name"], "Acme AG", "{customers}");
    let r = moved
        .login("owner@acme.example", "a long passphrase", "198.51.100.50")
        .await;
    assert_eq!(r.status(), 303);
}

/// Batch files waiting in a spool directory (not its journal mark).
fn spooled_batches(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "batch")
        })
        .count()
}
