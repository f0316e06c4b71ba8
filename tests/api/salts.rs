//! Salt rotation with an injected clock: a new salt each UTC day, yesterday's kept only to
//! continue visits across midnight, and older salts deleted from disk.

use super::helpers::*;
use serde_json::json;

const SITE: &str = "salty.example";

fn salt_lines(app: &TestApp) -> Vec<String> {
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
    // The day-one salt is gone from every file.
    let mut stack = vec![app.data_dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(&first_salt),
                    "{} keeps a deleted salt",
                    p.display()
                );
            }
        }
    }
    // With a new salt, the same browser on a new day is a new, unlinkable visitor id: one
    // visitor on each of the three days, two visits.
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": ["2024-06-10", "2024-06-12"]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![3.0, 2.0])]);
}
