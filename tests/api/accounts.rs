//! Logging in: the session cookie's attributes, the account page showing only the user's own
//! customers and sites, CSRF on logout and password change, and the login rate limit.

use super::helpers::*;

const PASSWORD: &str = "a long enough password";

fn browser() -> reqwest::Client {
    no_redirects()
}

/// A user of customer `acme` (which owns shop.example; beta owns other.example) whose password
/// was set through a one-time link.
async fn app_with_user() -> TestApp {
    let app = spawn_app().await;
    app.customer_sites(&[("shop.example", "acme"), ("other.example", "beta")])
        .await;
    app.user_with_password("ann@example.com", "acme", PASSWORD)
        .await;
    app
}

async fn login(app: &TestApp, email: &str, password: &str, ip: &str) -> reqwest::Response {
    app.login(email, password, ip).await
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_shows_only_the_users_own_sites_and_logout_needs_the_csrf_token() {
    let app = app_with_user().await;
    // Not signed in: the account page sends to the login form.
    let r = browser()
        .get(format!("{}/account", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = login(&app, "ann@example.com", "wrong password!", "192.0.2.1").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let r = login(&app, "Ann@Example.com", PASSWORD, "192.0.2.1").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account");
    let cookie = session_cookie(&r);
    let page = browser()
        .get(format!("{}/account", app.address))
        .header("Cookie", &cookie)
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("ann@example.com") && html.contains("acme Ltd"),
        "{html}"
    );
    assert!(
        html.contains("shop.example") && !html.contains("other.example"),
        "{html}"
    );
    assert!(html.contains("Abmelden"));
    let csrf = hidden_csrf(&html);
    // Logout without the CSRF token, or from another site, is refused.
    for (token, origin) in [
        ("", None),
        ("forged", None),
        (csrf.as_str(), Some("https://evil.example")),
    ] {
        let mut req = browser()
            .post(format!("{}/logout", app.address))
            .header("Cookie", &cookie)
            .form(&[("csrf", token)]);
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            403,
            "{token} {origin:?}"
        );
    }
    let r = browser()
        .post(format!("{}/logout", app.address))
        .header("Origin", &app.address)
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The old cookie no longer works.
    let r = browser()
        .get(format!("{}/account", app.address))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_needs_the_current_password_and_logins_are_rate_limited() {
    let app = app_with_user().await;
    let r = login(&app, "ann@example.com", PASSWORD, "192.0.2.1").await;
    let cookie = session_cookie(&r);
    let html = browser()
        .get(format!("{}/account", app.address))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_csrf(&html);
    let change = |current: &'static str, new: &'static str| {
        let (cookie, csrf, address) = (cookie.clone(), csrf.clone(), app.address.clone());
        async move {
            browser()
                .post(format!("{address}/account/password"))
                .header("Origin", &address)
                .header("Cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("current", current),
                    ("password", new),
                    ("confirm", new),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(change("not my password", "a brand new password").await, 400);
    assert_eq!(change(PASSWORD, "short").await, 400);
    assert_eq!(change(PASSWORD, "a brand new password").await, 200);
    assert_eq!(
        login(&app, "ann@example.com", PASSWORD, "192.0.2.1")
            .await
            .status(),
        401
    );
    assert_eq!(
        login(&app, "ann@example.com", "a brand new password", "192.0.2.1")
            .await
            .status(),
        303
    );
    // Five failures for an account block it for a while, also with the right password.
    for _ in 0..5 {
        let r = login(&app, "ann@example.com", "guess", "198.51.100.1").await;
        assert_eq!(r.status(), 401);
    }
    let r = login(
        &app,
        "ann@example.com",
        "a brand new password",
        "203.0.113.1",
    )
    .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // After the window, logging in works again.
    app.clock.advance(chrono::Duration::minutes(16));
    let r = login(
        &app,
        "ann@example.com",
        "a brand new password",
        "203.0.113.1",
    )
    .await;
    assert_eq!(r.status(), 303);
    // Unknown accounts get the same answer as wrong passwords.
    assert_eq!(
        login(&app, "nobody@example.com", "whatever", "192.0.2.9")
            .await
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_can_be_switched_and_is_remembered() {
    let app = spawn_app().await;
    // English by default (from Accept-Language), with a link to German.
    let r = no_redirects()
        .get(format!("{}/login", app.address))
        .header("Accept-Language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<a href=\"/lang/de\" hreflang=\"de\" lang=\"de\">Deutsch</a>"),
        "{html}"
    );
    // Choosing German goes back to the page the link was on and is remembered.
    let r = no_redirects()
        .get(format!("{}/lang/de", app.address))
        .header("Referer", format!("{}/login?next=1", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=1");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("spurlos_lang=de;")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Lax"),
        "{set}"
    );
    let html = no_redirects()
        .get(format!("{}/login", app.address))
        .header("Accept-Language", "en-GB,en;q=0.9")
        .header("Cookie", "spurlos_lang=de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("lang=\"de\"") && html.contains(">English</a>"),
        "{html}"
    );
    // Another site's page is never a target.
    let r = no_redirects()
        .get(format!("{}/lang/en", app.address))
        .header("Referer", "https://evil.example/phish")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/dashboard");
}

/// Issue 11, item 2: a new password ends every other login and every outstanding
/// set-password link; a reset through a link ends them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_ends_other_logins_and_outstanding_links() {
    let app = app_with_user().await;
    let status = |cookie: String| {
        let app = &app;
        async move { app.get_as(&cookie, "/account").await.status().as_u16() }
    };
    let a = session_cookie(&login(&app, "ann@example.com", PASSWORD, "192.0.2.1").await);
    let b = session_cookie(&login(&app, "ann@example.com", PASSWORD, "192.0.2.2").await);
    assert_eq!(
        (status(a.clone()).await, status(b.clone()).await),
        (200, 200)
    );
    let (_, link) = app
        .admin(
            reqwest::Method::POST,
            "/api/admin/users/ann@example.com/password-link",
            None,
        )
        .await;
    let pending = link["url"].as_str().unwrap().to_string();
    // Changed on the account page with login A: A goes on, B and the link are done.
    let csrf = hidden_csrf(&app.page_as(&a, "/account").await);
    let r = app
        .post_as(
            &a,
            "/account/password",
            &[
                ("csrf", csrf.as_str()),
                ("current", PASSWORD),
                ("password", "another long password"),
                ("confirm", "another long password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status(a.clone()).await, 200);
    assert_eq!(status(b).await, 303, "the other login still works");
    let r = browser().get(&pending).send().await.unwrap();
    assert_eq!(r.status(), 400, "the earlier set-password link still works");
    // A reset through a new link ends every login.
    let token = app.password_link_token("ann@example.com").await;
    let r = browser()
        .post(format!("{}/set-password", app.address))
        .header("Origin", &app.address)
        .form(&[
            ("token", token.as_str()),
            ("password", "a third long password"),
            ("confirm", "a third long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status(a).await, 303, "a login survived the reset");
}

/// Issue 11, item 2: whoever set a user's password for one customer (an owner who created the
/// user) must not keep a key to another customer's sites: joining a further customer ends the
/// password, the logins and the links, and the provider hands out a new link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_another_customer_needs_a_new_password() {
    let app = app_with_user().await;
    let a = session_cookie(&login(&app, "ann@example.com", PASSWORD, "192.0.2.1").await);
    // A change of role within the same customer keeps everything.
    let put = |memberships: serde_json::Value| {
        let app = &app;
        async move {
            app.admin(
                reqwest::Method::PUT,
                "/api/admin/users/ann@example.com",
                Some(serde_json::json!({ "memberships": memberships })),
            )
            .await
        }
    };
    let (_, user) = put(serde_json::json!([{"customer": "acme", "role": "viewer"}])).await;
    assert_eq!(user["has_password"], true, "{user}");
    assert_eq!(app.get_as(&a, "/account").await.status(), 200);
    let (_, user) = put(serde_json::json!([
        {"customer": "acme", "role": "viewer"},
        {"customer": "beta", "role": "viewer"}
    ]))
    .await;
    assert_eq!(user["has_password"], false, "{user}");
    assert_eq!(app.get_as(&a, "/account").await.status(), 303);
    let r = login(&app, "ann@example.com", PASSWORD, "192.0.2.1").await;
    assert_eq!(r.status(), 401);
}
