//! Deleting a site's statistics for a period or entirely (issue 14, item 3): the numbers
//! deleted, the other days untouched, other sites untouched, and afterwards a marker sent in
//! the deleted hits is in no file spurlos or ClickHouse wrote (database, journal, archives).

use super::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

const SITE: &str = "erase.example";
const OTHER: &str = "other.example";

/// A page view at a past time through Matomo's `cdt` (admin token).
async fn past_view(app: &TestApp, site_id: u64, path: &str, when: &str, ip: &str) {
    app.past_view(SITE, site_id, path, when, ip, CHROME).await
}

async fn pageviews(app: &TestApp, site: &str, from: &str, to: &str) -> u64 {
    let v = app
        .query(json!({"site_id": site, "metrics": ["pageviews"], "date_range": [from, to]}))
        .await;
    // No row at all: nothing counted.
    v["results"].get(0).map_or(0, |r| {
        r["metrics"][0].as_u64().unwrap_or_else(|| panic!("{v}"))
    })
}

async fn erase(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let r = app
        .client
        .delete(format!(
            "{}/api/admin/sites/{SITE}/statistics{query}",
            app.address
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_statistics_are_gone_from_every_file() {
    let app = spawn_app().await;
    let id = app.add_site(SITE, "UTC").await["id"].as_u64().unwrap();
    app.add_site(OTHER, "UTC").await;
    let marker = format!("/gone-{}", std::process::id());
    past_view(&app, id, "/kept-1", "2024-06-01 10:00:00", "192.0.2.1").await;
    past_view(&app, id, &marker, "2024-06-02 10:00:00", "192.0.2.2").await;
    past_view(&app, id, &marker, "2024-06-02 10:05:00", "192.0.2.2").await;
    past_view(
        &app,
        id,
        &format!("{marker}/b"),
        "2024-06-02 23:59:59",
        "192.0.2.3",
    )
    .await;
    past_view(&app, id, "/kept-3", "2024-06-03 00:00:00", "192.0.2.4").await;
    // Today, live: a custom event whose property carries the marker.
    let r = app
        .event(
            json!({"n": "signup", "u": format!("https://{SITE}/join"), "d": SITE,
                   "p": {"plan": marker}}),
            "198.51.100.7",
            FIREFOX,
        )
        .await;
    assert_eq!(r.status(), 202);
    app.pageview(
        OTHER,
        &format!("https://{OTHER}{marker}"),
        None,
        "198.51.100.8",
        CHROME,
    )
    .await;
    app.wait_for_events(SITE, 6).await;
    app.wait_for_events(OTHER, 1).await;
    // The past days are archived (the marker is in the archives too).
    let (status, _) = app.admin(Method::POST, "/api/admin/archive", None).await;
    assert_eq!(status, 200);
    assert_eq!(pageviews(&app, SITE, "2024-06-01", "2024-06-03").await, 5);

    // Who may not: another site's manager (the site does not exist for it), a reader.
    let (_, other_manager) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"site": OTHER, "access": "manage"})),
        )
        .await;
    let other_manager = other_manager["token"].as_str().unwrap().to_string();
    let (status, v) = erase(&app, &other_manager, "").await;
    assert_eq!(status, 404, "{v}");
    let (_, reader) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"site": SITE})),
        )
        .await;
    let reader = reader["token"].as_str().unwrap().to_string();
    assert_eq!(erase(&app, &reader, "").await.0, 403);
    // Bad periods are refused, naming the field, and delete nothing.
    for (query, field) in [
        ("?from=2024-06-31", "from"),
        ("?from=2024-06-03&to=2024-06-01", "from"),
        ("?to=yesterday", "to"),
        ("?day=2024-06-01", "query"),
    ] {
        let (status, v) = erase(&app, ADMIN, query).await;
        assert_eq!(status, 400, "{query}: {v}");
        assert_eq!(v["error"]["field"], field, "{query}: {v}");
    }
    assert_eq!(pageviews(&app, SITE, "2024-06-01", "2024-06-03").await, 5);

    // One day: its three page views in two visits and its archive go; its neighbours stay.
    let (status, v) = erase(&app, ADMIN, "?from=2024-06-02&to=2024-06-02").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["deleted"],
        json!({"events": 3, "visits": 2, "archived_days": 1, "imported_days": 0})
    );
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str()),
        (Some("2024-06-02"), Some("2024-06-02"))
    );
    assert_eq!(pageviews(&app, SITE, "2024-06-02", "2024-06-02").await, 0);
    assert_eq!(pageviews(&app, SITE, "2024-06-01", "2024-06-03").await, 2);
    let pages = app
        .query(
            json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all",
                      "dimensions": ["event:page"]}),
        )
        .await;
    let listed: Vec<String> = rows(&pages)
        .into_iter()
        .map(|(d, _)| d[0].clone())
        .collect();
    assert!(listed.iter().all(|p| !p.starts_with("/gone")), "{listed:?}");
    // Archiving again finds the day empty.
    app.admin(Method::POST, "/api/admin/archive", None).await;
    assert_eq!(pageviews(&app, SITE, "2024-06-01", "2024-06-03").await, 2);

    // From today on: the live event with the marker property goes, the past stays.
    let today = {
        use spurlos::clock::Clock;
        app.clock.now().date_naive().to_string()
    };
    let (status, v) = erase(&app, ADMIN, &format!("?from={today}")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["deleted"]["events"], 1, "{v}");
    assert_eq!(pageviews(&app, SITE, "2024-06-01", "2024-06-03").await, 2);
    // A new hit after the deletion counts again (the deletion is not a block).
    app.pageview(
        SITE,
        &format!("https://{SITE}/after"),
        None,
        "198.51.100.7",
        FIREFOX,
    )
    .await;
    app.wait_for_events(SITE, 3).await;

    // The other site's page with the marker is its own: it stays, and is the one place
    // the marker may be found.
    assert_eq!(pageviews(&app, OTHER, "2024-06-01", &today).await, 1);
    let (status, v) = app
        .admin(Method::DELETE, &format!("/api/admin/sites/{OTHER}"), None)
        .await;
    assert_eq!(status, 204, "{v}");
    assert_no_file_contains(app.data_dir.path(), marker.as_bytes());

    // Everything: the rest goes too.
    let (status, v) = erase(&app, ADMIN, "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["deleted"]["events"], 3, "{v}");
    assert_eq!(
        (v["from"].clone(), v["to"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(pageviews(&app, SITE, "2024-06-01", &today).await, 0);
    assert_no_file_contains(app.data_dir.path(), b"/kept-1");
}

/// Owners delete a period on the dashboard: a confirmation that names the site and the
/// period, the domain typed, then the numbers; a wrong domain or a missing CSRF token deletes
/// nothing, and another customer's owner cannot even see the pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_delete_a_period_after_confirming_it() {
    let app = spawn_app().await;
    app.customer_sites(&[(SITE, "acme"), (OTHER, "beta")]).await;
    let id = app.admin(Method::GET, "/api/admin/sites", None).await.1[0]["id"]
        .as_u64()
        .unwrap();
    past_view(&app, id, "/a", "2024-06-01 10:00:00", "192.0.2.1").await;
    past_view(&app, id, "/b", "2024-06-02 10:00:00", "192.0.2.1").await;
    past_view(&app, id, "/c", "2024-06-02 12:00:00", "192.0.2.1").await;
    app.wait_for_events(SITE, 3).await;
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
    assert!(
        settings.contains("id=\"delete\"") && settings.contains("/delete\""),
        "{settings}"
    );
    let page = app
        .page_as(
            &acme,
            &format!("/dashboard/{SITE}/delete?from=2024-06-02&to=2024-06-02"),
        )
        .await;
    assert!(
        page.contains("<strong>2024-06-02</strong>") && page.contains(SITE),
        "{page}"
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let bad = app
        .page_as(
            &acme,
            &format!("/dashboard/{SITE}/delete?from=2024-06-03&to=2024-06-01"),
        )
        .await;
    assert!(bad.contains("role=\"alert\""), "{bad}");
    // Another customer's owner: no such site.
    let r = app
        .get_as(&beta, &format!("/dashboard/{SITE}/delete?from=2024-06-02"))
        .await;
    assert_eq!(r.status(), 404);
    let path = format!("/dashboard/{SITE}/delete");
    let form = |confirm: &'static str, csrf: String| {
        vec![
            ("csrf", csrf),
            ("from", "2024-06-02".to_string()),
            ("to", "2024-06-02".to_string()),
            ("confirm", confirm.to_string()),
        ]
    };
    let post = |cookie: String, fields: Vec<(&'static str, String)>| {
        let app = &app;
        let path = path.clone();
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_as(&cookie, &path, &f).await
        }
    };
    let r = post(beta.clone(), form(SITE, csrf.clone())).await;
    assert_eq!(r.status(), 404);
    let r = post(acme.clone(), form(OTHER, csrf.clone())).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("nothing was deleted"));
    let r = post(acme.clone(), form(SITE, "forged".into())).await;
    assert_eq!(r.status(), 403);
    assert_eq!(pageviews(&app, SITE, "2024-06-01", "2024-06-02").await, 3);
    let r = post(acme.clone(), form(SITE, csrf.clone())).await;
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(done.contains("id=\"erased\""), "{done}");
    assert!(done.contains("<td>2</td>"), "two events: {done}");
    assert_eq!(pageviews(&app, SITE, "2024-06-01", "2024-06-02").await, 1);
    // German pages too.
    let de = app
        .client
        .get(format!(
            "{}/dashboard/{SITE}/delete?from=2024-06-01",
            app.address
        ))
        .header("Cookie", &acme)
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        de.contains("ab 2024-06-01") && de.contains("Endgültig löschen"),
        "{de}"
    );
}
