//! Accepted means kept, also on a crash (issue 11, item 6): the real binary under load is
//! killed with SIGKILL at random moments, ten times; after a restart every event answered
//! with 202 is stored, and none twice.

use super::helpers::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SITE: &str = "crash.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_event_survives_kill_9_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("spurlos.log");
    // Slow flushes keep many acknowledged events in memory when the kill comes.
    let extra = [("SPURLOS_FLUSH_INTERVAL_MS", "400")];
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    for round in 0..10u32 {
        let app = spawn_binary(&data, &log, &extra);
        if round == 0 {
            app.add_site(SITE).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..8u32 {
            let (address, stop, acked) = (app.address.clone(), stop.clone(), acked.clone());
            clients.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let path = format!("/r{round}/c{c}/{i}");
                    let body =
                        json!({"n": "pageview", "u": format!("https://{SITE}{path}"), "d": SITE});
                    let sent = client
                        .post(format!("{address}/api/event"))
                        .header(
                            "X-Forwarded-For",
                            format!("10.{c}.{}.{}", (i / 250) % 250, i % 250),
                        )
                        .header("User-Agent", CHROME)
                        .body(body.to_string())
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 202 => acked.lock().unwrap().push(path),
                        Ok(r) => assert_eq!(r.status(), 503, "only 202 or 503"),
                        Err(_) => break,
                    }
                }
            }));
        }
        let wait = 300 + rand::random::<u64>() % 1200;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        tokio::task::spawn_blocking(move || app.kill())
            .await
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 1000,
        "only {} events were acknowledged",
        acked.len()
    );
    let app = spawn_binary(&data, &log, &extra);
    // Read back per round (a round's pages fit in one answer).
    let read = |round: u32, offset: usize| {
        let app = &app;
        async move {
            let v = app
                .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all", "dimensions": ["event:page"], "filters": [["contains", "event:page", [format!("/r{round}/")]]], "pagination": {"limit": 10000, "offset": offset}}))
                .await;
            let rows = v["results"].as_array().cloned();
            let rows = rows.unwrap_or_else(|| panic!("{v}"));
            rows.iter()
                .map(|r| {
                    (
                        r["dimensions"][0].as_str().unwrap().to_string(),
                        r["metrics"][0].as_u64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let mut stored: HashMap<String, u64> = HashMap::new();
    for _ in 0..50 {
        stored.clear();
        for round in 0..10 {
            let mut offset = 0;
            loop {
                let page = read(round, offset).await;
                let n = page.len();
                stored.extend(page);
                if n < 10000 {
                    break;
                }
                offset += n;
            }
        }
        if acked.iter().all(|p| stored.contains_key(p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lost: Vec<_> = acked.iter().filter(|p| !stored.contains_key(*p)).collect();
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        lost.is_empty() && twice.is_empty(),
        "{} of {} acknowledged events lost (e.g. {:?}); stored more than once: {:?}",
        lost.len(),
        acked.len(),
        lost.iter().take(5).collect::<Vec<_>>(),
        twice.iter().take(5).collect::<Vec<_>>()
    );
    assert!(app.terminate().success());
}
