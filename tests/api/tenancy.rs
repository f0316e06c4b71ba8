//! Remove, then add, for every tenancy entity (customers, sites, users, tokens, shared links),
//! through the admin API and the dashboard: ids are never used twice, and whatever pointed at a
//! removed entity (memberships, logins, tokens, links) gives no access to what comes after it.

use super::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD: &str = "tenancy password";

fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key).unwrap() + key.len();
    html[at..].split('"').next().unwrap().to_string()
}

async fn id_of(app: &TestApp, list: &str, key: &str, value: &str) -> u64 {
    let (_, v) = app.admin(Method::GET, list, None).await;
    v.as_array()
        .unwrap()
        .iter()
        .find(|e| e[key] == value)
        .and_then(|e| e["id"].as_u64())
        .unwrap_or_else(|| panic!("no {value} in {v}"))
}

async fn new_token(app: &TestApp, body: Value) -> String {
    let (status, v) = app
        .admin(Method::POST, "/api/admin/tokens", Some(body))
        .await;
    assert_eq!(status, 201, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn login(app: &TestApp, email: &str, customer: &str) -> String {
    app.user_with_password(email, customer, PASSWORD).await;
    let r = app.login(email, PASSWORD, "192.0.2.9").await;
    assert_eq!(r.status(), 303);
    session_cookie(&r)
}

/// Creates a shared link of `domain` as the owner `cookie`; its URL.
async fn new_share(app: &TestApp, cookie: &str, domain: &str) -> String {
    let settings = format!("/dashboard/{domain}/settings");
    let csrf = field(&app.page_as(cookie, &settings).await, "csrf");
    let r = app
        .post_as(
            cookie,
            &format!("/dashboard/{domain}/shares"),
            &[("csrf", csrf.as_str()), ("password", "")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let key = "id=\"new-share\" href=\"";
    let at = html.find(key).expect("a new link") + key.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The ids of `domain`'s shared links, as its settings page lists them.
async fn share_ids(app: &TestApp, cookie: &str, domain: &str) -> Vec<u64> {
    let html = app
        .page_as(cookie, &format!("/dashboard/{domain}/settings"))
        .await;
    html.split("/shares/")
        .skip(1)
        .filter_map(|rest| {
            let (id, tail) = rest.split_once('/')?;
            tail.starts_with("revoke").then(|| id.parse().ok())?
        })
        .collect()
}

async fn status_of(url: &str) -> u16 {
    no_redirects()
        .get(url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_entities_leave_no_access_behind_and_ids_are_never_reused() {
    let app = spawn_app().await;

    // Customers: a removed customer's members do not become members of the next customer.
    app.customer_sites(&[("a1.example", "a"), ("b1.example", "b")])
        .await;
    let u = login(&app, "u@example.org", "b").await;
    let b_token = new_token(&app, json!({"customer": "b"})).await;
    let b_id = id_of(&app, "/api/admin/customers", "handle", "b").await;
    let (status, _) = app
        .admin(Method::DELETE, "/api/admin/customers/b", None)
        .await;
    assert_eq!(status, 204);
    app.customer_sites(&[("c1.example", "c")]).await;
    let c_id = id_of(&app, "/api/admin/customers", "handle", "c").await;
    assert!(c_id > b_id, "customer id {b_id} used again: {c_id}");
    let (_, users) = app.admin(Method::GET, "/api/admin/users", None).await;
    let user = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "u@example.org")
        .unwrap();
    assert_eq!(user["memberships"], json!([]), "{users}");
    assert!(!app.page_as(&u, "/dashboard").await.contains("c1.example"));
    assert_eq!(app.get_as(&u, "/dashboard/c1.example").await.status(), 404);
    assert_eq!(app.stats_status(&b_token, "c1.example").await, 401);

    // Sites: the tokens and shared links of a removed site open nothing that comes after it,
    // not even a new site with the same domain.
    let owner = login(&app, "owner@example.org", "a").await;
    app.add_site_spec(json!({"domain": "s1.example", "customer": "a"}))
        .await;
    let s1_id = id_of(&app, "/api/admin/sites", "domain", "s1.example").await;
    let s1_token = new_token(&app, json!({"site": "s1.example"})).await;
    let s1_share = new_share(&app, &owner, "s1.example").await;
    assert_eq!(status_of(&s1_share).await, 200);
    let (status, _) = app
        .admin(Method::DELETE, "/api/admin/sites/s1.example", None)
        .await;
    assert_eq!(status, 204);
    for domain in ["s2.example", "s1.example"] {
        app.add_site_spec(json!({"domain": domain, "customer": "a"}))
            .await;
        let id = id_of(&app, "/api/admin/sites", "domain", domain).await;
        assert!(id > s1_id, "site id {s1_id} used again for {domain}");
        assert_eq!(app.stats_status(&s1_token, domain).await, 401);
        assert_eq!(status_of(&s1_share).await, 404, "{domain}");
    }

    // Shared links: a revoked link stays revoked; the next one gets a new id.
    let first = new_share(&app, &owner, "a1.example").await;
    let first_id = share_ids(&app, &owner, "a1.example").await[0];
    let html = app.page_as(&owner, "/dashboard/a1.example/settings").await;
    let r = app
        .post_as(
            &owner,
            &format!("/dashboard/a1.example/shares/{first_id}/revoke"),
            &[("csrf", field(&html, "csrf").as_str())],
        )
        .await;
    assert_eq!(r.status(), 200);
    let second = new_share(&app, &owner, "a1.example").await;
    assert_eq!(share_ids(&app, &owner, "a1.example").await.len(), 1);
    let second_id = share_ids(&app, &owner, "a1.example").await[0];
    assert!(second_id > first_id, "shared link id {first_id} used again");
    assert_eq!(status_of(&first).await, 404);
    assert_eq!(status_of(&second).await, 200);

    // Users: a removed user's login ends, also when the address comes back.
    let v = login(&app, "v@example.org", "a").await;
    assert_eq!(app.get_as(&v, "/dashboard/a1.example").await.status(), 200);
    let v_id = id_of(&app, "/api/admin/users", "email", "v@example.org").await;
    let (status, _) = app
        .admin(Method::DELETE, "/api/admin/users/v@example.org", None)
        .await;
    assert_eq!(status, 204);
    assert_ne!(app.get_as(&v, "/dashboard/a1.example").await.status(), 200);
    let v2 = login(&app, "v@example.org", "a").await;
    let v2_id = id_of(&app, "/api/admin/users", "email", "v@example.org").await;
    assert!(v2_id > v_id, "user id {v_id} used again");
    assert_ne!(app.get_as(&v, "/dashboard/a1.example").await.status(), 200);
    assert_eq!(app.get_as(&v2, "/dashboard/a1.example").await.status(), 200);

    // Tokens: a revoked token stays revoked.
    let (_, listed) = app.admin(Method::GET, "/api/admin/tokens", None).await;
    let a_token = new_token(&app, json!({"customer": "a"})).await;
    assert_eq!(app.stats_status(&a_token, "a1.example").await, 200);
    let (_, after) = app.admin(Method::GET, "/api/admin/tokens", None).await;
    let new_id = after
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .find(|id| !listed.to_string().contains(id.as_str()))
        .unwrap();
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/admin/tokens/{new_id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.stats_status(&a_token, "a1.example").await, 401);
    new_token(&app, json!({"customer": "a"})).await;
    assert_eq!(app.stats_status(&a_token, "a1.example").await, 401);

    // Nobody gained anything along the way: u sees no site, the owner only customer a's.
    let page = app.page_as(&u, "/dashboard").await;
    for domain in ["a1.example", "c1.example", "s1.example", "s2.example"] {
        assert!(!page.contains(domain), "u sees {domain}");
    }
    let page = app.page_as(&owner, "/dashboard").await;
    assert!(page.contains("a1.example") && !page.contains("c1.example"));
}

/// An embedded data directory written by the first schema (migrations 0001-0007, as the
/// binaries before the tenancy documents left it) opens with nothing lost, and with nothing
/// kept that pointed at removed entities.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_data_directory_of_the_first_schema_opens_with_nothing_lost() {
    if super::chserver::enabled() {
        eprintln!(
            "the first schema was the embedded store's; the ClickHouse documents kept theirs"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let old = [
        include_str!("../../migrations/duckdb/0001_init.sql"),
        include_str!("../../migrations/duckdb/0002_archive.sql"),
        include_str!("../../migrations/duckdb/0003_customers.sql"),
        include_str!("../../migrations/duckdb/0004_users.sql"),
        include_str!("../../migrations/duckdb/0005_sessions.sql"),
        include_str!("../../migrations/duckdb/0006_shares.sql"),
        include_str!("../../migrations/duckdb/0007_token_access.sql"),
    ];
    let names = [
        "0001_init",
        "0002_archive",
        "0003_customers",
        "0004_users",
        "0005_sessions",
        "0006_shares",
        "0007_token_access",
    ];
    let hash = spurlos::tenancy::users::hash_password(PASSWORD).unwrap();
    let site_token = "old-site-token";
    let manage_token = "old-customer-manage-token";
    let share_secret = "old-share-secret";
    {
        let conn = duckdb::Connection::open(dir.path().join("spurlos.duckdb")).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_ts BIGINT NOT NULL)",
        )
        .unwrap();
        for (name, sql) in names.iter().zip(old) {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", [name])
                .unwrap();
        }
        let h = spurlos::tenancy::secret_hash;
        conn.execute_batch(&format!(
            "INSERT INTO customers VALUES (1, 'acme', 'Acme GmbH', 0);
             INSERT INTO sites VALUES (1, 'shop.example', 'www.shop.example', 'Europe/Berlin', 2, false, '10.0.0.0/8', 0);
             INSERT INTO sites VALUES (3, 'gone-customer.example', '', 'UTC', 1, true, '', 0);
             INSERT INTO site_customers VALUES (1, 1);
             INSERT INTO site_customers VALUES (3, 2);
             INSERT INTO users VALUES (1, 'ann@example.com', '{hash}', 0);
             INSERT INTO users VALUES (2, 'bob@example.com', '', 0);
             INSERT INTO memberships VALUES (1, 1, 'owner');
             INSERT INTO memberships VALUES (2, 2, 'owner');
             INSERT INTO tokens VALUES ('{}', 1, 0);
             INSERT INTO tokens VALUES ('{}', 2, 0);
             INSERT INTO customer_tokens VALUES ('{}', 1, 0);
             INSERT INTO customer_tokens VALUES ('{}', 2, 0);
             INSERT INTO token_access VALUES ('{}', 'manage');
             INSERT INTO shared_links VALUES (4, 1, '{}', '', 0);
             INSERT INTO shared_links VALUES (5, 2, '{}', '', 0);",
            h(site_token),
            h("token-of-a-removed-site"),
            h(manage_token),
            h("token-of-a-removed-customer"),
            h(manage_token),
            h(share_secret),
            h("share-of-a-removed-site"),
        ))
        .unwrap();
    }
    let app = spawn_app_in(dir, utc(2024, 6, 10, 8, 0, 0), &[]).await;

    let (_, sites) = app.admin(Method::GET, "/api/admin/sites", None).await;
    let find = |domain: &str| {
        sites
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["domain"] == domain)
            .cloned()
            .unwrap_or_else(|| panic!("no {domain} in {sites}"))
    };
    let shop = &find("shop.example");
    assert_eq!(sites.as_array().unwrap().len(), 2, "{sites}");
    assert_eq!(
        (
            shop["id"].as_u64(),
            shop["domain"].as_str(),
            shop["aliases"].clone(),
            shop["timezone"].as_str(),
            shop["ip_mask_bytes"].as_u64(),
            shop["respect_dnt"].as_bool(),
            shop["excluded_ranges"].clone(),
            shop["customer_id"].as_u64(),
        ),
        (
            Some(1),
            Some("shop.example"),
            json!(["www.shop.example"]),
            Some("Europe/Berlin"),
            Some(2),
            Some(false),
            json!(["10.0.0.0/8"]),
            Some(1)
        ),
        "{sites}"
    );
    // The site of a customer that was removed belongs to nobody.
    assert_eq!(find("gone-customer.example")["customer_id"], Value::Null);
    let (_, customers) = app.admin(Method::GET, "/api/admin/customers", None).await;
    assert_eq!(
        customers,
        json!([{"id": 1, "handle": "acme", "name": "Acme GmbH"}])
    );
    let (_, users) = app.admin(Method::GET, "/api/admin/users", None).await;
    assert_eq!(
        users,
        json!([
            {"id": 1, "email": "ann@example.com", "has_password": true,
             "memberships": [{"customer": "acme", "role": "owner"}]},
            {"id": 2, "email": "bob@example.com", "has_password": false, "memberships": []},
        ])
    );
    // Tokens keep their scope and access; those of removed sites and customers are gone.
    assert_eq!(app.stats_status(site_token, "shop.example").await, 200);
    assert_eq!(app.stats_status(manage_token, "shop.example").await, 200);
    let (_, tokens) = app.admin(Method::GET, "/api/admin/tokens", None).await;
    assert_eq!(tokens.as_array().unwrap().len(), 2, "{tokens}");
    assert!(
        tokens.to_string().contains("\"access\":\"manage\""),
        "{tokens}"
    );
    // The password still signs in; the shared link still opens.
    let r = app.login("ann@example.com", PASSWORD, "192.0.2.3").await;
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r);
    assert_eq!(
        app.get_as(&cookie, "/dashboard/shop.example")
            .await
            .status(),
        200
    );
    let share = format!("{}/share/{share_secret}", app.address);
    assert_eq!(status_of(&share).await, 200);
    assert_eq!(share_ids(&app, &cookie, "shop.example").await, vec![4]);
    // New entities get new ids.
    app.customer_sites(&[("new.example", "newco")]).await;
    assert!(id_of(&app, "/api/admin/sites", "domain", "new.example").await > 3);
    assert!(id_of(&app, "/api/admin/customers", "handle", "newco").await > 1);
    // The first schema's tables are gone; the store answers from documents after a restart.
    let app = app.restart().await;
    let (_, again) = app.admin(Method::GET, "/api/admin/customers", None).await;
    assert_eq!(again.as_array().unwrap().len(), 2, "{again}");
}

/// A ClickHouse database written by the previous version (the tenancy documents as it wrote
/// them, ids chosen as the highest key plus one, no id reservations) opens with nothing lost,
/// and its dangling memberships give no access to customers created later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_database_of_the_previous_version_opens_with_nothing_lost() {
    if !super::chserver::enabled() {
        eprintln!("runs with SPURLOS_TEST_STORE=clickhouse (scripts/test.sh runs both)");
        return;
    }
    let app = spawn_app().await;
    let (dir, now) = app.stop().await;
    let db = super::chserver::database_for(dir.path());
    let hash = spurlos::tenancy::users::hash_password(PASSWORD).unwrap();
    let token = spurlos::tenancy::secret_hash("previous-version-token");
    let docs = [
        ("customer", "1", r#"{"id":1,"handle":"acme","name":"Acme GmbH"}"#.to_string()),
        (
            "site",
            "1",
            r#"{"id":1,"domain":"shop.example","aliases":["www.shop.example"],"timezone":"Europe/Berlin","ip_mask_bytes":2,"respect_dnt":false,"excluded_ranges":["10.0.0.0/8"],"customer_id":1}"#.to_string(),
        ),
        (
            "user",
            "1",
            format!(r#"{{"id":1,"email":"ann@example.com","password_hash":"{hash}","created_ts":0,"memberships":[[1,"owner"],[2,"owner"]]}}"#),
        ),
        (token.as_str(), "", String::new()),
    ];
    let server = super::chserver::shared();
    let mut values = Vec::new();
    for (i, (kind, key, doc)) in docs.iter().enumerate() {
        let (kind, key, doc) = if key.is_empty() {
            (
                "token",
                *kind,
                r#"{"site_id":1,"customer_id":null,"access":"read","created_ts":0}"#.to_string(),
            )
        } else {
            (*kind, *key, doc.clone())
        };
        values.push(format!(
            "('{kind}', '{key}', {}, 0, '{}')",
            i + 1,
            doc.replace('\\', "\\\\").replace('\'', "\\'")
        ));
    }
    server.query(&format!(
        "INSERT INTO {db}.meta (kind, key, version, deleted, doc) VALUES {}",
        values.join(", ")
    ));
    let app = spawn_app_in(dir, now, &[]).await;
    let (_, sites) = app.admin(Method::GET, "/api/admin/sites", None).await;
    assert_eq!(sites[0]["domain"], "shop.example", "{sites}");
    assert_eq!(
        sites[0]["excluded_ranges"],
        json!(["10.0.0.0/8"]),
        "{sites}"
    );
    assert_eq!(
        app.stats_status("previous-version-token", "shop.example")
            .await,
        200
    );
    let r = app.login("ann@example.com", PASSWORD, "192.0.2.4").await;
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r);
    assert_eq!(
        app.get_as(&cookie, "/dashboard/shop.example")
            .await
            .status(),
        200
    );
    // Customer 2 is gone without a trace (not even a removed version): the next customer may
    // get its id, but starts clean, and the dangling membership opens nothing.
    app.customer_sites(&[("new.example", "newco")]).await;
    assert!(!app
        .page_as(&cookie, "/dashboard")
        .await
        .contains("new.example"));
    let (_, users) = app.admin(Method::GET, "/api/admin/users", None).await;
    assert_eq!(
        users[0]["memberships"],
        json!([{"customer": "acme", "role": "owner"}]),
        "{users}"
    );
}
