//! Hosting customers through the admin API: idempotent create, rename and delete, sites that
//! belong to a customer, tokens that read all of one customer's sites and nothing else, and the
//! OpenAPI description of every route.

use super::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn put_customer(app: &TestApp, handle: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/admin/customers/{handle}");
    app.admin(Method::PUT, &path, Some(body)).await
}

async fn token(app: &TestApp, body: Value) -> (u16, Value) {
    app.admin(Method::POST, "/api/admin/tokens", Some(body))
        .await
}

async fn delete_customer(app: &TestApp, handle: &str) -> u16 {
    let path = format!("/api/admin/customers/{handle}");
    app.admin(Method::DELETE, &path, None).await.0
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
    let (status, v) = app
        .admin(
            Method::POST,
            "/api/admin/sites",
            Some(json!({"domain": "x.example", "customer": "nobody"})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("customer"))
    );

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
            app.stats_status(&acme_token, site).await,
            expected,
            "{site}"
        );
    }
    assert_eq!(app.stats_status(&beta_token, "b1.example").await, 200);
    assert_eq!(app.stats_status(&beta_token, "a1.example").await, 404);
    let (status, _) = token(&app, json!({"customer": "acme-1", "site": "a1.example"})).await;
    assert_eq!(status, 400);
    let (status, _) = token(&app, json!({"customer": "nobody"})).await;
    assert_eq!(status, 404);

    // Removing a customer removes its sites and tokens; repeating it is fine.
    assert_eq!(delete_customer(&app, "beta").await, 204);
    assert_eq!(delete_customer(&app, "beta").await, 204);
    assert_eq!(app.stats_status(&beta_token, "b1.example").await, 401);
    let (_, sites) = app.admin(Method::GET, "/api/admin/sites", None).await;
    let domains: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, vec!["a1.example", "a2.example", "loose.example"]);
    let (_, customers) = app.admin(Method::GET, "/api/admin/customers", None).await;
    assert_eq!(
        customers,
        json!([{"id": acme["id"], "handle": "acme-1", "name": "Acme GmbH"}])
    );
    // A site can move to a customer: then the customer's token reads it.
    assert_eq!(app.stats_status(&acme_token, "loose.example").await, 404);
    let (status, site) = app
        .admin(
            Method::PUT,
            "/api/admin/sites/loose.example/customer",
            Some(json!({"customer": "acme-1"})),
        )
        .await;
    assert_eq!(
        (status, site["customer_id"].clone()),
        (200, acme["id"].clone())
    );
    assert_eq!(app.stats_status(&acme_token, "loose.example").await, 200);
    let (status, _) = app
        .admin(
            Method::PUT,
            "/api/admin/sites/loose.example/customer",
            Some(json!({"customer": null})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.stats_status(&acme_token, "loose.example").await, 404);
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
        ("/api/live", "get"),
        ("/api/ready", "get"),
        ("/metrics", "get"),
        ("/api/event", "post"),
        ("/api/event", "options"),
        ("/api/v2/query", "post"),
        ("/api/v1/stats/realtime/visitors", "get"),
        ("/api/admin/sites", "get"),
        ("/api/admin/sites", "post"),
        ("/api/admin/sites/{domain}", "delete"),
        ("/api/admin/sites/{domain}", "patch"),
        ("/api/admin/sites/{domain}/customer", "put"),
        ("/api/admin/customers", "get"),
        ("/api/admin/customers/{handle}", "put"),
        ("/api/admin/customers/{handle}", "delete"),
        ("/api/admin/tokens", "post"),
        ("/api/admin/archive", "post"),
        ("/api/admin/retention", "post"),
        ("/api/admin/audit", "get"),
        ("/api/admin/sites/{domain}/export", "get"),
        ("/api/admin/sites/{domain}/import", "post"),
        ("/api/admin/backup", "post"),
        ("/api/admin/users", "get"),
        ("/api/admin/users/{email}", "put"),
        ("/api/admin/users/{email}", "delete"),
        ("/api/admin/users/{email}/password-link", "post"),
        ("/api/admin/logs/runs", "post"),
        ("/api/admin/logs/runs/{run}", "post"),
        ("/api/admin/logs/runs/{run}", "delete"),
        ("/api/admin/traffic", "get"),
        ("/api/admin/sites/{domain}/imported", "post"),
        ("/api/admin/sites/{domain}/statistics", "delete"),
        ("/api/openapi.json", "get"),
        ("/matomo.php", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    // Every reference resolves.
    let text = doc.to_string();
    for name in [
        "Site",
        "SiteSpec",
        "Customer",
        "User",
        "Membership",
        "Error",
    ] {
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    assert!(!text.contains("#/components/schemas/Missing"));
}

async fn put_user(app: &TestApp, email: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/admin/users/{email}");
    app.admin(Method::PUT, &path, Some(body)).await
}

async fn users(app: &TestApp) -> Value {
    app.admin(Method::GET, "/api/admin/users", None).await.1
}

async fn password_link(app: &TestApp, email: &str) -> String {
    let path = format!("/api/admin/users/{email}/password-link");
    let (status, v) = app.admin(Method::POST, &path, None).await;
    assert_eq!(status, 201);
    v["url"].as_str().unwrap().to_string()
}

async fn submit(app: &TestApp, token: &str, password: &str, confirm: &str) -> (u16, String) {
    let r = app
        .client
        .post(format!("{}/set-password", app.address))
        .header("Origin", &app.address)
        .form(&[
            ("token", token),
            ("password", password),
            ("confirm", confirm),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_get_roles_and_set_their_password_through_a_one_time_link() {
    let app = spawn_app().await;
    put_customer(&app, "acme", json!({})).await;
    put_customer(&app, "beta", json!({})).await;
    let (status, user) = put_user(
        &app,
        "Ann@Example.com",
        json!({"memberships": [{"customer": "acme", "role": "owner"}]}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["has_password"], false);
    let (status, user) = put_user(
        &app,
        "ann@example.com",
        json!({"memberships": [{"customer": "acme", "role": "viewer"}, {"customer": "beta", "role": "owner"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        user["memberships"],
        json!([{"customer": "acme", "role": "viewer"}, {"customer": "beta", "role": "owner"}])
    );
    let (status, v) = put_user(
        &app,
        "ann@example.com",
        json!({"memberships": [{"customer": "nobody", "role": "owner"}]}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("memberships"))
    );
    let (status, v) = put_user(&app, "not-an-address", json!({})).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("email")),
        "{v}"
    );
    let (status, _) = put_user(
        &app,
        "ann@example.com",
        json!({"memberships": [{"customer": "acme", "role": "admin"}]}),
    )
    .await;
    assert_eq!(status, 400);

    let url = password_link(&app, "ann@example.com").await;
    let token = url.split("token=").nth(1).unwrap().to_string();
    assert!(url.starts_with(&app.address), "{url}");
    let r = app
        .client
        .get(&url)
        .header("Accept-Language", "de-DE")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(r.text().await.unwrap().contains("Passwort festlegen"));
    let (status, page) = submit(&app, &token, "short", "short").await;
    assert_eq!(status, 400);
    assert!(page.contains("at least 10"), "{page}");
    let (status, page) = submit(&app, &token, "long enough 1", "long enough 2").await;
    assert_eq!(status, 400);
    assert!(page.contains("differ"), "{page}");
    // A page of another site cannot submit it.
    let r = app
        .client
        .post(format!("{}/set-password", app.address))
        .header("Origin", "https://evil.example")
        .form(&[
            ("token", token.as_str()),
            ("password", "hijacked password"),
            ("confirm", "hijacked password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let secret = "correct horse battery staple";
    let (status, page) = submit(&app, &token, secret, secret).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("password is set"));
    // One time only.
    let (status, _) = submit(&app, &token, secret, secret).await;
    assert_eq!(status, 400);
    assert_eq!(users(&app).await[0]["has_password"], true);
    // Links expire after 48 hours.
    let url = password_link(&app, "ann@example.com").await;
    app.clock.advance(chrono::Duration::hours(49));
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 400);
    // The password is stored as an argon2 hash only.
    let app = app.restart().await;
    assert_no_file_contains(app.data_dir.path(), secret.as_bytes());
    // Removing a customer removes its memberships; removing a user is idempotent.
    assert_eq!(delete_customer(&app, "beta").await, 204);
    assert_eq!(
        users(&app).await[0]["memberships"],
        json!([{"customer": "acme", "role": "viewer"}])
    );
    for _ in 0..2 {
        let (status, _) = app
            .admin(Method::DELETE, "/api/admin/users/ann@example.com", None)
            .await;
        assert_eq!(status, 204);
    }
    assert_eq!(users(&app).await, json!([]));
}

/// A request with a bearer token; answers the status and the JSON body (Null when empty).
async fn with_token(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_tokens_manage_only_their_scope() {
    let app = spawn_app().await;
    app.customer_sites(&[
        ("shop.acme.example", "acme"),
        ("blog.acme.example", "acme"),
        ("beta.example", "beta"),
    ])
    .await;
    let token = |body: Value| {
        let app = &app;
        async move {
            let (status, v) = app
                .admin(Method::POST, "/api/admin/tokens", Some(body))
                .await;
            assert_eq!(status, 201, "{v}");
            v
        }
    };
    let manager = token(json!({"customer": "acme", "access": "manage"})).await;
    assert_eq!(manager["access"], "manage");
    let manager = manager["token"].as_str().unwrap().to_string();
    let site_manager = token(json!({"site": "shop.acme.example", "access": "manage"})).await;
    let site_manager = site_manager["token"].as_str().unwrap().to_string();
    let reader = token(json!({"customer": "acme"})).await;
    assert_eq!(reader["access"], "read");
    let reader = reader["token"].as_str().unwrap().to_string();

    // Who may change what: each request with its expected status.
    let berlin = || Some(json!({"timezone": "Europe/Berlin"}));
    let checks = [
        (
            &reader,
            Method::PATCH,
            "/api/admin/sites/shop.acme.example",
            berlin(),
            403,
            "a read token changes nothing",
        ),
        (
            &manager,
            Method::PATCH,
            "/api/admin/sites/shop.acme.example",
            berlin(),
            200,
            "its customer's site",
        ),
        (
            &manager,
            Method::PATCH,
            "/api/admin/sites/beta.example",
            berlin(),
            404,
            "another customer's site does not exist for it",
        ),
        (
            &site_manager,
            Method::PATCH,
            "/api/admin/sites/blog.acme.example",
            berlin(),
            404,
            "a site token manages its site only",
        ),
        (
            &manager,
            Method::POST,
            "/api/admin/sites",
            Some(json!({"domain": "new.example"})),
            401,
            "sites are the provider's",
        ),
        (
            &manager,
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "beta"})),
            404,
            "no tokens for another customer",
        ),
        (
            &site_manager,
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "acme"})),
            404,
            "a site token makes no customer tokens",
        ),
        (
            &site_manager,
            Method::GET,
            "/api/admin/users",
            None,
            403,
            "users belong to customers",
        ),
        (
            &manager,
            Method::DELETE,
            "/api/admin/tokens/not-an-id",
            None,
            400,
            "ids are 12 hex characters",
        ),
    ];
    for (token, method, path, body, want, why) in checks {
        let (status, v) = with_token(&app, token, method, path, body).await;
        assert_eq!(status, want, "{why}: {v}");
        if want == 403 && path.starts_with("/api/admin/sites") {
            assert!(v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("manage token"));
        }
    }
    // Sites: the customer's only.
    let (_, sites) = with_token(&app, &manager, Method::GET, "/api/admin/sites", None).await;
    let domains: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains.len(), 2, "{domains:?}");
    assert!(!domains.contains(&"beta.example"));

    // Tokens: create, list (ids only), revoke.
    let (status, made) = with_token(
        &app,
        &manager,
        Method::POST,
        "/api/admin/tokens",
        Some(json!({"site": "blog.acme.example"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let made_token = made["token"].as_str().unwrap().to_string();
    let made_id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made_id.len(), 12);
    let (_, beta_token) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "beta"})),
        )
        .await;
    let beta_id = beta_token["id"].as_str().unwrap().to_string();
    let (status, list) = with_token(&app, &manager, Method::GET, "/api/admin/tokens", None).await;
    assert_eq!(status, 200);
    let text = list.to_string();
    assert!(
        text.contains(&made_id) && !text.contains(&beta_id),
        "{text}"
    );
    assert!(!text.contains(&made_token), "tokens are never listed");
    assert!(!text.contains("\"beta\""), "{text}");
    let (status, all) = app.admin(Method::GET, "/api/admin/tokens", None).await;
    assert_eq!(status, 200);
    assert!(all.to_string().contains(&beta_id));
    // Revoking another customer's token does nothing; revoking its own works.
    let (status, _) = with_token(
        &app,
        &manager,
        Method::DELETE,
        &format!("/api/admin/tokens/{beta_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(app
        .admin(Method::GET, "/api/admin/tokens", None)
        .await
        .1
        .to_string()
        .contains(&beta_id));
    let q = json!({"site_id": "blog.acme.example", "metrics": ["visitors"], "date_range": "day"});
    assert_eq!(
        with_token(
            &app,
            &made_token,
            Method::POST,
            "/api/v2/query",
            Some(q.clone())
        )
        .await
        .0,
        200
    );
    let (status, _) = with_token(
        &app,
        &manager,
        Method::DELETE,
        &format!("/api/admin/tokens/{made_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        with_token(&app, &made_token, Method::POST, "/api/v2/query", Some(q))
            .await
            .0,
        401
    );

    // Users: only the customer's memberships, seen and changed.
    let both = json!({"memberships": [{"customer": "acme", "role": "viewer"}, {"customer": "beta", "role": "owner"}]});
    assert_eq!(
        app.admin(
            Method::PUT,
            "/api/admin/users/carol@example.com",
            Some(both)
        )
        .await
        .0,
        201
    );
    let (status, v) = with_token(
        &app,
        &manager,
        Method::PUT,
        "/api/admin/users/bob@example.com",
        Some(json!({"memberships": [{"customer": "acme", "role": "viewer"}]})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = with_token(
        &app,
        &manager,
        Method::PUT,
        "/api/admin/users/bob@example.com",
        Some(json!({"memberships": [{"customer": "beta", "role": "owner"}]})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (_, users) = with_token(&app, &manager, Method::GET, "/api/admin/users", None).await;
    let text = users.to_string();
    assert!(
        text.contains("bob@example.com") && text.contains("carol@example.com"),
        "{text}"
    );
    assert!(
        !text.contains("beta"),
        "another customer's membership shows: {text}"
    );
    // Promoting carol at acme keeps her beta membership.
    let (status, v) = with_token(
        &app,
        &manager,
        Method::PUT,
        "/api/admin/users/carol@example.com",
        Some(json!({"memberships": [{"customer": "acme", "role": "owner"}]})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let carol = |users: &Value| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "carol@example.com")
            .cloned()
    };
    let (_, all_users) = app.admin(Method::GET, "/api/admin/users", None).await;
    assert_eq!(
        carol(&all_users).unwrap()["memberships"],
        json!([{"customer": "acme", "role": "owner"}, {"customer": "beta", "role": "owner"}])
    );
    // No password link for an account that also belongs to beta; one for bob.
    let (status, _) = with_token(
        &app,
        &manager,
        Method::POST,
        "/api/admin/users/carol@example.com/password-link",
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, link) = with_token(
        &app,
        &manager,
        Method::POST,
        "/api/admin/users/bob@example.com/password-link",
        None,
    )
    .await;
    assert_eq!(status, 201, "{link}");
    assert!(link["url"]
        .as_str()
        .unwrap()
        .contains("/set-password?token="));
    // Removing carol at acme leaves her beta membership; removing bob removes bob.
    assert_eq!(
        with_token(
            &app,
            &manager,
            Method::DELETE,
            "/api/admin/users/carol@example.com",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        with_token(
            &app,
            &manager,
            Method::DELETE,
            "/api/admin/users/bob@example.com",
            None
        )
        .await
        .0,
        204
    );
    let (_, all_users) = app.admin(Method::GET, "/api/admin/users", None).await;
    assert_eq!(
        carol(&all_users).unwrap()["memberships"],
        json!([{"customer": "beta", "role": "owner"}])
    );
    assert!(!all_users.to_string().contains("bob@example.com"));
}

/// Issue 11, item 5: an owner (manage token or dashboard) may add aliases only under the
/// domains the provider gave the customer; any other host needs the admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_claim_aliases_only_under_their_own_domains() {
    let app = spawn_app().await;
    app.customer_sites(&[("shop.example", "acme"), ("blog.example", "acme")])
        .await;
    let (_, t) = app
        .admin(
            reqwest::Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "acme", "access": "manage"})),
        )
        .await;
    let token = t["token"].as_str().unwrap().to_string();
    let patch = |who: String, aliases: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .patch(format!("{}/api/admin/sites/shop.example", app.address))
                .bearer_auth(who)
                .json(&json!({ "aliases": aliases }))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = patch(token.clone(), json!(["bank.example"])).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = patch(token.clone(), json!(["shop.example.evil.example"])).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = patch(
        token.clone(),
        json!(["de.shop.example", "news.blog.example"]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The provider may assign any host; the owner may keep it when changing other settings.
    let (s, v) = patch(ADMIN.to_string(), json!(["de.shop.example", "shop.de"])).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = patch(token, json!(["shop.de"])).await;
    assert_eq!(s, 200, "{v}");
}
