//! Smaller hardening items of issue 11 (item 5): forwarded headers only from trusted proxies,
//! HSTS over HTTPS, `base-uri` in every CSP, state-changing forms only with a same-origin
//! `Origin` or `Referer`, and per-site rules for hits that name several sites.

use super::helpers::*;
use serde_json::json;

async fn login_answer(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[
            ("email", "o@h.example"),
            ("password", "correct horse battery"),
        ]);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

/// `X-Forwarded-Proto` and `X-Forwarded-Host` from a client that is not a trusted proxy change
/// nothing: no Secure cookie, no HSTS, no foreign host in links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_scheme_and_host_count_only_from_trusted_proxies() {
    let app = spawn_app_with(&[("SPURLOS_TRUSTED_PROXIES", "")]).await;
    app.customer_sites(&[("h.example", "h")]).await;
    app.user_with_password("o@h.example", "h", "correct horse battery")
        .await;
    let forged = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "proto=https;host=evil.example"),
    ];
    let mut headers = vec![("Origin", app.address.as_str())];
    headers.extend(forged);
    let r = login_answer(&app, &headers).await;
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(r.headers().get("strict-transport-security").is_none());
    // A forged Origin that matches the forged host is not same-origin.
    let r = login_answer(
        &app,
        &[
            ("Origin", "https://evil.example"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Proto", "https"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    // Links handed out name the real host.
    let mut req = app
        .client
        .post(format!(
            "{}/api/admin/users/o@h.example/password-link",
            app.address
        ))
        .bearer_auth(ADMIN);
    for (k, v) in forged {
        req = req.header(k, v);
    }
    let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/", app.address)), "{url}");
}

/// Behind a trusted proxy that says HTTPS: Secure cookies and HSTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_behind_a_trusted_proxy_gets_hsts() {
    let app = spawn_app().await;
    app.customer_sites(&[("h.example", "h")]).await;
    app.user_with_password("o@h.example", "h", "correct horse battery")
        .await;
    let host = app.address.trim_start_matches("http://").to_string();
    let origin = format!("https://{host}");
    let r = login_answer(
        &app,
        &[("X-Forwarded-Proto", "https"), ("Origin", origin.as_str())],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
    let hsts = r.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.contains("max-age="), "{hsts}");
    let r = app
        .client
        .get(format!("{}/api/health", app.address))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_some());
    let r = app
        .client
        .get(format!("{}/api/health", app.address))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_policy_forbids_base_uri() {
    let app = spawn_app().await;
    for path in [
        "/login",
        "/opt-out",
        "/api/health",
        "/nowhere",
        "/set-password?token=x",
    ] {
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("base-uri 'none'"), "{path}: {csp}");
    }
}

/// A form post with neither `Origin` nor `Referer` is refused (login, opt-out), like one from
/// another origin; a `Referer` of the same origin is enough when `Origin` is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_posts_need_a_same_origin_origin_or_referer() {
    let app = spawn_app().await;
    app.customer_sites(&[("h.example", "h")]).await;
    app.user_with_password("o@h.example", "h", "correct horse battery")
        .await;
    assert_eq!(login_answer(&app, &[]).await.status(), 403);
    let referer = format!("{}/login", app.address);
    assert_eq!(
        login_answer(&app, &[("Referer", referer.as_str())])
            .await
            .status(),
        303
    );
    let r = no_redirects()
        .post(format!("{}/opt-out", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("action=out")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// One Plausible hit for two sites: each site's own Do-Not-Track rule applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_for_several_sites_follows_each_sites_rules() {
    let app = spawn_app().await;
    app.add_site_spec(json!({"domain": "strict.example"})).await;
    app.add_site_spec(json!({"domain": "lax.example", "respect_dnt": false}))
        .await;
    for (first, second) in [
        ("strict.example", "lax.example"),
        ("lax.example", "strict.example"),
    ] {
        let r = app
            .client
            .post(format!("{}/api/event", app.address))
            .header("X-Forwarded-For", "192.0.2.10")
            .header("User-Agent", CHROME)
            .header("DNT", "1")
            .header("Content-Type", "text/plain")
            .body(json!({"n": "pageview", "u": format!("https://{first}/x"), "d": format!("{first},{second}")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    app.wait_for_events("lax.example", 2).await;
    let v = app
        .query(json!({"site_id": "strict.example", "metrics": ["events"], "date_range": "day"}))
        .await;
    assert!(rows(&v).iter().all(|(_, m)| m[0] == 0.0), "{v}");
}
