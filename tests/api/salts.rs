//! Salt rotation with an injected clock: a new salt each UTC day, yesterday's kept only to
//! continue visits across midnight, and older salts deleted from disk.

use super::helpers::*;
use serde_json::json;

const SITE: &str = "salty.example";

/// The kept salts as `day hex` lines (the salt file, or the ClickHouse table).
fn salt_lines(app: &TestApp) -> Vec<String> {
    if super::chserver::enabled() {
        let db = super::chserver::database_for(app.data_dir.path());
        return super::chserver::shared()
            .query(&format!("SELECT day, salt FROM {db}.salts ORDER BY day"))
            .lines()
            .map(|l| l.replace('\t', " "))
            .collect();
    }
    std::fs::read_to_string(app.data_dir.path().join("salts"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salts_rotate_at_midnight_and_are_deleted_after_two_days() {
    let app = spawn_app().await;
    app.add_site(SITE, "UTC").await;
    let ip = "192.0.2.44";
    let url = format!("https://{SITE}/");
    app.clock.set(utc(2024, 6, 10, 23, 50, 0));
    app.pageview(SITE, &url, None, ip, CHROME).await;
    app.clock.set(utc(2024, 6, 11, 0, 5, 0));
    app.pageview(SITE, &url, None, ip, CHROME).await;
    app.wait_for_events(SITE, 2).await;
    let lines = salt_lines(&app);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("2024-06-10 ") && lines[1].starts_with("2024-06-11 "));
    let first_salt = lines[0].split(' ').nth(1).unwrap().to_string();
    // The visit continues across midnight thanks to yesterday's salt: one visit of 15 minutes.
    // A visitor id belongs to one day, so the visit counts as a visitor on each of its days.
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits", "visit_duration"], "date_range": ["2024-06-10", "2024-06-11"]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![2.0, 1.0, 900.0])]);

    app.clock.set(utc(2024, 6, 12, 0, 0, 30));
    app.pageview(SITE, &url, None, ip, CHROME).await;
    app.wait_for_events(SITE, 3).await;
    let lines = salt_lines(&app);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("2024-06-11 ") && lines[1].starts_with("2024-06-12 "));
    // The day-one salt is gone from every file (ClickHouse removes a dropped partition's
    // files after `old_parts_lifetime`, one second in the test server's config).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let kept: Vec<String> = stored_blobs(app.data_dir.path())
            .into_iter()
            .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains(&first_salt))
            .map(|(what, _)| what)
            .collect();
        if kept.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{kept:?} keep a deleted salt"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // With a new salt, the same browser on a new day is a new, unlinkable visitor id: one
    // visitor on each of the three days, two visits.
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": ["2024-06-10", "2024-06-12"]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![3.0, 2.0])]);
}
