//! Hosting customers through the admin API: idempotent create, rename and delete, sites that
//! belong to a customer, tokens that read all of one customer's sites and nothing else, and the
//! OpenAPI description of every route.

use super::helpers::*;
use serde_json::{json, Value};

async fn put_customer(app: &TestApp, handle: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .put(format!("{}/api/admin/customers/{handle}", app.address))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn token(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/api/admin/tokens", app.address))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn query_status(app: &TestApp, token: &str, site: &str) -> u16 {
    app.client
        .post(format!("{}/api/v2/query", app.address))
        .bearer_auth(token)
        .json(&json!({"site_id": site, "metrics": ["visitors"], "date_range": "day"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn delete_customer(app: &TestApp, handle: &str) -> u16 {
    app.client
        .delete(format!("{}/api/admin/customers/{handle}", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_own_sites_and_customer_tokens_read_only_their_sites() {
    let app = spawn_app().await;
    let (status, acme) = put_customer(&app, "ACME-1", json!({"name": "Acme"})).await;
    assert_eq!((status, acme["handle"].as_str()), (201, Some("acme-1")));
    // Repeating is safe; it renames.
    let (status, again) = put_customer(&app, "acme-1", json!({"name": "Acme GmbH"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (again["id"].clone(), again["name"].as_str()),
        (acme["id"].clone(), Some("Acme GmbH"))
    );
    let (status, _) = put_customer(&app, "beta", json!({})).await;
    assert_eq!(status, 201);
    let (status, v) = put_customer(&app, "not%20ok", json!({})).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("customer")),
        "{v}"
    );

    let a1 = app
        .add_site_spec(json!({"domain": "a1.example", "customer": "acme-1"}))
        .await;
    assert_eq!(a1["customer_id"], acme["id"]);
    app.add_site_spec(json!({"domain": "a2.example", "customer": "ACME-1"}))
        .await;
    app.add_site_spec(json!({"domain": "b1.example", "customer": "beta"}))
        .await;
    app.add_site("loose.example", "UTC").await;
    let r = app
        .client
        .post(format!("{}/api/admin/sites", app.address))
        .bearer_auth(ADMIN)
        .json(&json!({"domain": "x.example", "customer": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "customer");

    let (status, t) = token(&app, json!({"customer": "acme-1"})).await;
    assert_eq!(status, 201);
    let acme_token = t["token"].as_str().unwrap().to_string();
    let (status, t) = token(&app, json!({"customer": "beta"})).await;
    assert_eq!(status, 201);
    let beta_token = t["token"].as_str().unwrap().to_string();
    for (site, expected) in [
        ("a1.example", 200),
        ("a2.example", 200),
        ("b1.example", 404),
        ("loose.example", 404),
    ] {
        assert_eq!(
            query_status(&app, &acme_token, site).await,
            expected,
            "{site}"
        );
    }
    assert_eq!(query_status(&app, &beta_token, "b1.example").await, 200);
    assert_eq!(query_status(&app, &beta_token, "a1.example").await, 404);
    let (status, _) = token(&app, json!({"customer": "acme-1", "site": "a1.example"})).await;
    assert_eq!(status, 400);
    let (status, _) = token(&app, json!({"customer": "nobody"})).await;
    assert_eq!(status, 404);

    // Removing a customer removes its sites and tokens; repeating it is fine.
    assert_eq!(delete_customer(&app, "beta").await, 204);
    assert_eq!(delete_customer(&app, "beta").await, 204);
    assert_eq!(query_status(&app, &beta_token, "b1.example").await, 401);
    let sites: Value = app
        .client
        .get(format!("{}/api/admin/sites", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let domains: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, vec!["a1.example", "a2.example", "loose.example"]);
    let customers: Value = app
        .client
        .get(format!("{}/api/admin/customers", app.address))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        customers,
        json!([{"id": acme["id"], "handle": "acme-1", "name": "Acme GmbH"}])
    );
    // A customer's site can be tracked like any other, and the hit is the customer's.
    app.pageview(
        "a2.example",
        "https://a2.example/",
        None,
        "192.0.2.5",
        CHROME,
    )
    .await;
    app.wait_for_events("a2.example", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_description_covers_every_api_route() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/health", "get"),
        ("/api/event", "post"),
        ("/api/event", "options"),
        ("/api/v2/query", "post"),
        ("/api/v1/stats/realtime/visitors", "get"),
        ("/api/admin/sites", "get"),
        ("/api/admin/sites", "post"),
        ("/api/admin/sites/{domain}", "delete"),
        ("/api/admin/customers", "get"),
        ("/api/admin/customers/{handle}", "put"),
        ("/api/admin/customers/{handle}", "delete"),
        ("/api/admin/tokens", "post"),
        ("/api/admin/archive", "post"),
        ("/matomo.php", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    // Every reference resolves.
    let text = doc.to_string();
    for name in ["Site", "SiteSpec", "Customer", "Error"] {
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    assert!(!text.contains("#/components/schemas/Missing"));
}
