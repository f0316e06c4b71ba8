//! The audit log (issue 14, item 6): sign-ins (and failures), changes of settings, users,
//! tokens and shared links, exports and deletions, each with who, when and the truncated
//! network; owners see their customer's entries only, the provider all of them; entries
//! older than 180 days go.

use super::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

fn actions(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_is_recorded_for_its_customer() {
    let app = spawn_app().await;
    app.customer_sites(&[("shop.acme.example", "acme"), ("beta.example", "beta")])
        .await;
    app.user_with_password("owner@acme.example", "acme", "correct horse 1")
        .await;
    app.user_with_password("owner@beta.example", "beta", "correct horse 2")
        .await;
    let r = app
        .login("owner@acme.example", "wrong password", "192.0.2.77")
        .await;
    assert_eq!(r.status(), 401);
    let acme = session_cookie(
        &app.login("owner@acme.example", "correct horse 1", "192.0.2.77")
            .await,
    );
    let beta = session_cookie(
        &app.login("owner@beta.example", "correct horse 2", "198.51.100.9")
            .await,
    );
    // Through the admin API.
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/admin/sites/shop.acme.example",
            Some(json!({"timezone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, token) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "acme", "access": "manage"})),
        )
        .await;
    assert_eq!(status, 201);
    let manage = token["token"].as_str().unwrap().to_string();
    let (status, _) = app
        .admin(
            Method::DELETE,
            "/api/admin/sites/shop.acme.example/statistics?from=2024-06-01",
            None,
        )
        .await;
    assert_eq!(status, 200);
    // By the owner on the dashboard: a shared link and an export.
    let settings = app
        .page_as(&acme, "/dashboard/shop.acme.example/settings")
        .await;
    let csrf = settings
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let r = app
        .post_as(
            &acme,
            "/dashboard/shop.acme.example/shares",
            &[("csrf", &csrf), ("password", "")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .get_as(&acme, "/dashboard/shop.acme.example/export.csv?period=7d")
        .await;
    assert_eq!(r.status(), 200);

    let (status, all) = app.admin(Method::GET, "/api/admin/audit", None).await;
    assert_eq!(status, 200, "{all}");
    let acts = actions(&all);
    for expected in [
        "sign_in_failed",
        "sign_in",
        "site_settings_changed",
        "token_created",
        "statistics_deleted",
        "shared_link_created",
        "statistics_exported",
        "user_added",
    ] {
        assert!(
            acts.iter().any(|a| a == expected),
            "{expected} missing: {acts:?}"
        );
    }
    // Who and from where: the owner's network truncated, never the address.
    let text = all.to_string();
    assert!(!text.contains("192.0.2.77"), "{text}");
    let shared = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "shared_link_created")
        .unwrap();
    assert_eq!(
        shared["actor"],
        json!({"kind": "user", "email": "owner@acme.example"})
    );
    assert_eq!(shared["network"], "127.0.0.0");
    let signed_in = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "sign_in" && e["actor"]["email"] == "owner@acme.example")
        .unwrap();
    assert_eq!(signed_in["network"], "192.0.2.0");
    assert_eq!(shared["site"], "shop.acme.example");
    let deleted = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "statistics_deleted")
        .unwrap();
    assert_eq!(deleted["actor"], json!({"kind": "admin"}));
    assert!(
        deleted["detail"]
            .as_str()
            .unwrap()
            .contains("from 2024-06-01 on"),
        "{deleted}"
    );
    // Newest first.
    let ts: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ts"].as_i64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "{ts:?}");

    // Each customer's log holds only its own entries.
    let (_, beta_log) = app
        .admin(Method::GET, "/api/admin/audit?customer=beta", None)
        .await;
    assert!(!beta_log.to_string().contains("acme"), "{beta_log}");
    assert!(
        actions(&beta_log).contains(&"sign_in".to_string()),
        "{beta_log}"
    );
    let get_as_token = |path: &'static str| {
        let (client, url, token) = (
            app.client.clone(),
            format!("{}{path}", app.address),
            manage.clone(),
        );
        async move {
            let r = client.get(url).bearer_auth(token).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, own) = get_as_token("/api/admin/audit").await;
    assert_eq!(status, 200);
    assert!(!own.to_string().contains("beta.example"), "{own}");
    assert!(actions(&own).contains(&"statistics_deleted".to_string()));
    assert_eq!(get_as_token("/api/admin/audit?customer=beta").await.0, 403);
    // The owners' page.
    let page = app.page_as(&acme, "/dashboard/team/acme/audit").await;
    assert!(
        page.contains("id=\"audit\"") && page.contains("shared_link_created"),
        "{page}"
    );
    assert!(!page.contains("beta.example"), "{page}");
    assert_eq!(
        app.get_as(&beta, "/dashboard/team/acme/audit")
            .await
            .status(),
        404
    );
    let team = app.page_as(&acme, "/dashboard/team/acme").await;
    assert!(team.contains("id=\"audit-link\""), "{team}");

    // 181 days later the daily job deletes them.
    app.clock.advance(chrono::Duration::days(181));
    let (status, v) = app.admin(Method::POST, "/api/admin/retention", None).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["audit_entries_deleted"].as_u64().unwrap() >= 8, "{v}");
    let (_, all) = app.admin(Method::GET, "/api/admin/audit", None).await;
    assert_eq!(all, json!([]));
}
