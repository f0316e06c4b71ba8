//! Deleting a site while hits flow and day archives are built: after the deletion returns,
//! nothing of the site comes back (issue 11, item 3).

use super::helpers::*;
use serde_json::json;
use spurlos::config::Config;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const SITE: &str = "doomed.example";
const OTHER: &str = "stays.example";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_of_a_deleted_site_comes_back_while_hits_flow() {
    // A long flush interval keeps accepted hits queued while the deletion runs.
    let app = spawn_app_with(&[("SPURLOS_FLUSH_INTERVAL_MS", "300")]).await;
    let id = app.add_site(SITE, "UTC").await["id"].as_u64().unwrap();
    app.add_site(OTHER, "UTC").await;
    // Past days to archive (through Matomo's cdt, admin token).
    for day in 1..=9 {
        let q = format!(
            "idsite={id}&rec=1&url={}&cdt=2024-06-0{day}%2010:00:00&cip=192.0.2.{day}&token_auth={ADMIN}",
            enc(&format!("https://{SITE}/old"))
        );
        let r = app
            .client
            .get(format!("{}/matomo.php?{q}", app.address))
            .header("User-Agent", CHROME)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    app.wait_for_events(SITE, 9).await;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for n in 0..4 {
        let (client, address, stop, sent) = (
            app.client.clone(),
            app.address.clone(),
            stop.clone(),
            sent.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = json!({"n": "pageview", "u": format!("https://{SITE}/live/{n}/{i}"), "d": SITE});
                let r = client
                    .post(format!("{address}/api/event"))
                    .header("X-Forwarded-For", format!("198.51.100.{}", i % 250))
                    .header("User-Agent", CHROME)
                    .header("Content-Type", "text/plain")
                    .body(body.to_string())
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status() == 202) {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let archiver = {
        let (client, address, stop) = (app.client.clone(), app.address.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = client
                    .post(format!("{address}/api/admin/archive"))
                    .bearer_auth(ADMIN)
                    .send()
                    .await;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let r = app
        .client
        .delete(format!("{}/api/admin/sites/{SITE}", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Hits keep coming for a while after the deletion (now for an unknown site).
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    archiver.await.unwrap();
    assert!(sent.load(Ordering::Relaxed) > 50, "hits were flowing");
    let (dir, _) = app.stop().await;
    let settings = Config::load_from(None, &test_env(dir.path(), &[])).unwrap();
    let store = spurlos::store::open(&settings.config).await.unwrap();
    let site_id = u32::try_from(id).unwrap();
    assert!(
        !store
            .first_events()
            .await
            .unwrap()
            .iter()
            .any(|(s, _)| *s == site_id),
        "events of the deleted site came back"
    );
    let archived: Vec<_> = store
        .archived_days()
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.site_id == site_id)
        .collect();
    assert!(archived.is_empty(), "archives came back: {archived:?}");
    let sessions = store.live_sessions(0).await.unwrap();
    assert!(
        sessions.iter().all(|s| s.site_id != site_id),
        "visits of the deleted site came back"
    );
}
