//! Exporting a site (issue 14, item 1): one zip with the daily sums in Plausible CE's CSV
//! import layout, the single events and visits (no stored visitor or visit id), the settings
//! and a manifest whose row counts and SHA-256 sums match; for the admin API and owners only.

use super::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Read;

const SITE: &str = "export.example";

async fn past_view(app: &TestApp, site_id: u64, path: &str, when: &str, ip: &str, ua: &str) {
    app.past_view(SITE, site_id, path, when, ip, ua).await
}

/// The files of a zip by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        out.insert(name, text);
    }
    out
}

fn sha256(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_is_exported_in_plausibles_layout_with_its_raw_data() {
    let app = spawn_app().await;
    app.customer_sites(&[(SITE, "acme"), ("other.example", "beta")])
        .await;
    let (_, sites) = app.admin(Method::GET, "/api/admin/sites", None).await;
    let id = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["domain"] == SITE)
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    past_view(&app, id, "/", "2024-06-01 10:00:00", "192.0.2.1", CHROME).await;
    past_view(
        &app,
        id,
        "/pricing",
        "2024-06-01 10:01:00",
        "192.0.2.1",
        CHROME,
    )
    .await;
    past_view(&app, id, "/", "2024-06-02 09:00:00", "198.51.100.4", IPHONE).await;
    app.wait_for_events(SITE, 3).await;
    let (status, _) = app.admin(Method::POST, "/api/admin/archive", None).await;
    assert_eq!(status, 200);

    let r = app
        .client
        .get(format!("{}/api/admin/sites/{SITE}/export", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let files = unzip(&r.bytes().await.unwrap());
    let names: Vec<&String> = files.keys().collect();
    for table in [
        "visitors",
        "sources",
        "pages",
        "entry_pages",
        "exit_pages",
        "custom_events",
        "locations",
        "devices",
        "browsers",
        "operating_systems",
    ] {
        let name = format!("imported_{table}_20240601_20240602.csv");
        assert!(files.contains_key(&name), "{name} missing: {names:?}");
    }
    let visitors = &files["imported_visitors_20240601_20240602.csv"];
    assert_eq!(
        visitors,
        "date,visitors,pageviews,bounces,visits,visit_duration\n\
         2024-06-01,1,2,0,1,60\n\
         2024-06-02,1,1,1,1,0\n"
    );
    let devices = &files["imported_devices_20240601_20240602.csv"];
    assert!(
        devices.contains("2024-06-01,Desktop,1,1,60,0,2")
            && devices.contains("2024-06-02,Mobile,1,1,0,1,1"),
        "{devices}"
    );
    let pages = &files["imported_pages_20240601_20240602.csv"];
    assert!(
        pages.starts_with(
            "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n"
        ),
        "{pages}"
    );
    assert!(pages.contains(",/pricing,"), "{pages}");
    // Raw data: every event and visit, the visit numbers shared, no stored id or address.
    let events = &files["events.csv"];
    let visits = &files["visits.csv"];
    assert_eq!(events.lines().count(), 4, "{events}");
    assert_eq!(visits.lines().count(), 3, "{visits}");
    let visit_of = |line: &str| line.split(',').nth(1).unwrap().to_string();
    let event_visits: std::collections::BTreeSet<String> =
        events.lines().skip(1).map(visit_of).collect();
    let visit_ids: std::collections::BTreeSet<String> = visits
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(event_visits, visit_ids);
    assert!(
        !events.contains("192.0.2") && !events.contains("Mozilla"),
        "{events}"
    );
    assert!(
        events.contains("2024-06-01T10:01:00Z") && events.contains("/pricing"),
        "{events}"
    );
    let site_json: Value = serde_json::from_str(&files["site.json"]).unwrap();
    assert_eq!(site_json["domain"], SITE);
    // The manifest matches the files.
    let manifest: Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["format"], "spurlos-export/1");
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), files.len() - 1);
    for f in listed {
        let name = f["name"].as_str().unwrap();
        let text = &files[name];
        assert_eq!(f["sha256"], sha256(text), "{name}");
        if name.ends_with(".csv") {
            assert_eq!(
                f["rows"].as_u64().unwrap() as usize,
                text.lines().count() - 1,
                "{name}"
            );
        }
    }
    // Exported twice, the numbers standing for visitors differ (keyed per export).
    let again = app
        .client
        .get(format!(
            "{}/api/admin/sites/{SITE}/export?from=2024-06-01&to=2024-06-01",
            app.address
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let again = unzip(&again.bytes().await.unwrap());
    assert!(
        again.contains_key("imported_visitors_20240601_20240601.csv"),
        "{:?}",
        again.keys()
    );
    assert_eq!(again["events.csv"].lines().count(), 3);
    assert_ne!(
        visit_of(again["events.csv"].lines().nth(1).unwrap()),
        visit_of(events.lines().nth(1).unwrap())
    );

    // Bad periods and other customers' tokens get nothing.
    let (status, v) = app
        .admin(
            Method::GET,
            &format!("/api/admin/sites/{SITE}/export?from=someday"),
            None,
        )
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("from")),
        "{v}"
    );
    let (_, beta) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "beta", "access": "manage"})),
        )
        .await;
    let r = app
        .client
        .get(format!("{}/api/admin/sites/{SITE}/export", app.address))
        .bearer_auth(beta["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Owners download it from the settings page; another customer's owner cannot.
    app.user_with_password("owner@acme.example", "acme", "correct horse 1")
        .await;
    app.user_with_password("owner@beta.example", "beta", "correct horse 2")
        .await;
    let acme = session_cookie(
        &app.login("owner@acme.example", "correct horse 1", "192.0.2.50")
            .await,
    );
    let beta = session_cookie(
        &app.login("owner@beta.example", "correct horse 2", "192.0.2.51")
            .await,
    );
    let settings = app
        .page_as(&acme, &format!("/dashboard/{SITE}/settings"))
        .await;
    assert!(settings.contains("export.zip"), "{settings}");
    let r = app
        .get_as(&acme, &format!("/dashboard/{SITE}/export.zip?from=&to="))
        .await;
    assert_eq!(r.status(), 200);
    let owner_files = unzip(&r.bytes().await.unwrap());
    assert_eq!(
        owner_files["imported_visitors_20240601_20240602.csv"],
        *visitors
    );
    assert_eq!(
        app.get_as(&beta, &format!("/dashboard/{SITE}/export.zip"))
            .await
            .status(),
        404
    );
    let (_, log) = app
        .admin(Method::GET, "/api/admin/audit?customer=acme", None)
        .await;
    let exported = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "statistics_exported")
        .count();
    assert_eq!(exported, 3, "{log}");
}
