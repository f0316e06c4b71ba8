//! The dashboard as a signed-in user: only the user's own sites, the numbers of known hits,
//! filters in the URL, CSV exports, and visitor-controlled text shown as text.

use super::helpers::*;
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "dashboard password";
const XSS_PATH: &str = "/<script>alert(1)</script>";
const XSS_REFERRER: &str = "https://evil.example/<img src=x onerror=alert(2)>";

async fn setup() -> (TestApp, String) {
    let app = spawn_app().await;
    app.customer_sites(&[("shop.example", "acme"), ("beta.example", "beta")])
        .await;
    app.user_with_password("ann@example.com", "acme", PASSWORD)
        .await;
    let u = |p: &str| format!("https://shop.example{p}");
    app.pageview(
        "shop.example",
        &u("/"),
        Some("https://www.google.com/"),
        "198.51.100.1",
        CHROME,
    )
    .await;
    app.pageview(
        "shop.example",
        &u("/pricing"),
        Some("https://www.google.com/"),
        "198.51.100.1",
        CHROME,
    )
    .await;
    app.pageview(
        "shop.example",
        &u(XSS_PATH),
        Some(XSS_REFERRER),
        "203.0.113.2",
        FIREFOX,
    )
    .await;
    let r = app
        .event(
            json!({"n": "=HYPERLINK(\"https://evil.example\")", "u": u("/"), "d": "shop.example"}),
            "203.0.113.2",
            FIREFOX,
        )
        .await;
    assert_eq!(r.status(), 202);
    app.pageview(
        "beta.example",
        "https://beta.example/beta-secret",
        None,
        "192.0.2.7",
        CHROME,
    )
    .await;
    app.wait_for_events("shop.example", 4).await;
    app.wait_for_events("beta.example", 1).await;
    let r = app.login("ann@example.com", PASSWORD, "192.0.2.50").await;
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r);
    (app, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_users_sites_with_escaped_visitor_text() {
    let (app, cookie) = setup().await;
    let r = no_redirects()
        .get(format!("{}/dashboard", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "signed out");
    let r = app.get_as(&cookie, "/dashboard").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("shop.example") && !html.contains("beta.example"),
        "{html}"
    );

    let r = app
        .get_as(&cookie, "/dashboard/shop.example?period=day")
        .await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        !csp.contains("unsafe") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    // 2 visitors, 2 visits, 3 page views.
    assert!(
        html.contains("data-metric=\"visitors\"><small>Visitors</small><b>2</b>"),
        "{html}"
    );
    assert!(
        html.contains("data-metric=\"pageviews\"><small>Page views</small><b>3</b>"),
        "{html}"
    );
    // Visitor-controlled text is data: escaped wherever it shows, never markup.
    assert!(
        !html.contains("<script>alert") && !html.contains("<img src=x"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    // The referrer is stored as a URL (percent-encoded) and shown as text.
    assert!(
        html.contains("evil.example/%3Cimg%20src=x%20onerror=alert(2)%3E"),
        "{html}"
    );
    assert!(!html.contains("<script"), "no script at all");
    // The realtime view: the last five minutes, by minute, reloading itself (no script).
    let r = app
        .get_as(&cookie, "/dashboard/shop.example?period=realtime")
        .await;
    assert_eq!(r.headers()["refresh"], "30");
    let html = r.text().await.unwrap();
    let other = app.get_as(&cookie, "/dashboard/shop.example").await;
    assert!(!other.headers().contains_key("refresh"));
    assert!(
        html.contains("data-metric=\"visitors\"><small>Visitors</small><b>2</b>"),
        "{html}"
    );
    assert!(
        html.contains("2024-06-10 08:00:00"),
        "minute labels: {html}"
    );
    // Another customer's site is not there, not even by URL.
    assert!(!html.contains("beta-secret"));
    let r = app.get_as(&cookie, "/dashboard/beta.example").await;
    assert_eq!(r.status(), 404);
    let r = app
        .get_as(&cookie, "/dashboard/beta.example/export.csv?dim=event:page")
        .await;
    assert_eq!(r.status(), 404);
    assert!(!r.text().await.unwrap().contains("beta-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_filter_the_page_and_panels_export_as_csv() {
    let (app, cookie) = setup().await;
    let html = app
        .page_as(&cookie, "/dashboard/shop.example?period=day")
        .await;
    // The Google row of the sources panel links to the filtered page.
    let at = html.find(">Google</a>").expect("a Google row");
    let href_start = html[..at].rfind("href=\"").unwrap() + 6;
    let href = html[href_start..at - 1].replace("&amp;", "&");
    assert!(href.contains("f=visit%3Asource%7CGoogle"), "{href}");
    let filtered = app.page_as(&cookie, &href).await;
    assert!(
        filtered.contains("data-metric=\"visitors\"><small>Visitors</small><b>1</b>"),
        "{filtered}"
    );
    assert!(
        filtered.contains("visit:source = Google"),
        "the active filter is shown"
    );
    assert!(
        !filtered.contains("&lt;script&gt;"),
        "the other visitor's page is filtered out"
    );
    // CSV of one panel, with quoted fields and defused formulas.
    let r = app
        .get_as(
            &cookie,
            "/dashboard/shop.example/export.csv?dim=event:name&period=day",
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("\"event:name\",\"visitors\",\"events\"\r\n"),
        "{csv}"
    );
    assert!(csv.contains("\"pageview\",2,3"), "{csv}");
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"https://evil.example\"\")\",1,1"),
        "{csv}"
    );
    let csv = app
        .get_as(
            &cookie,
            "/dashboard/shop.example/export.csv?dim=event:page&period=day",
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains(&format!("\"{XSS_PATH}\"")), "{csv}");
    // The whole range per day.
    let csv = app
        .page_as(&cookie, "/dashboard/shop.example/export.csv?period=day")
        .await;
    assert!(
        csv.starts_with("\"time:day\",\"visitors\",\"visits\",\"pageviews\""),
        "{csv}"
    );
    assert!(csv.contains("\"2024-06-10\",2,2,3"), "{csv}");
}

fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key).unwrap() + key.len();
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_change_site_settings_viewers_cannot() {
    let (app, cookie) = setup().await;
    let html = app.page_as(&cookie, "/dashboard/shop.example").await;
    assert!(
        html.contains("id=\"settings\""),
        "owners see the settings link"
    );
    let page = app
        .get_as(&cookie, "/dashboard/shop.example/settings")
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("data-domain=&quot;shop.example&quot;"),
        "the snippet, escaped"
    );
    assert!(html.contains("/opt-out?lang=en"));
    let csrf = field(&html, "csrf");
    // A host outside the customer's domains is the provider's to assign (issue 11, item 5).
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/admin/sites/shop.example",
            Some(json!({"aliases": ["shop-alias.example"]})),
        )
        .await;
    assert_eq!(status, 200);
    let good = |csrf: &str, tz: &str| {
        vec![
            ("csrf", csrf.to_string()),
            (
                "aliases",
                "www.shop.example, shop-alias.example".to_string(),
            ),
            ("timezone", tz.to_string()),
            ("ip_mask_bytes", "2".to_string()),
            ("excluded_ranges", "10.0.0.0/8\n192.168.0.0/16".to_string()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_as(&cookie, "/dashboard/shop.example/settings", &pairs)
                .await
        }
    };
    assert_eq!(post(good("", "Europe/Berlin")).await.status(), 403);
    assert_eq!(post(good("forged", "Europe/Berlin")).await.status(), 403);
    let r = post(good(&csrf, "Mars/Base")).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("IANA"));
    let r = post(good(&csrf, "Europe/Berlin")).await;
    assert_eq!(r.status(), 200);
    let (_, sites) = app.admin(Method::GET, "/api/admin/sites", None).await;
    let site = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["domain"] == "shop.example")
        .unwrap()
        .clone();
    assert_eq!(site["timezone"], "Europe/Berlin");
    assert_eq!(site["aliases"], json!(["shop-alias.example"]));
    assert_eq!(site["ip_mask_bytes"], 2);
    assert_eq!(
        site["respect_dnt"], false,
        "the unchecked box turns DNT respect off"
    );
    assert_eq!(
        site["excluded_ranges"],
        json!(["10.0.0.0/8", "192.168.0.0/16"])
    );
    // The alias now counts for the site.
    app.pageview(
        "shop-alias.example",
        "https://shop-alias.example/via-alias",
        None,
        "198.51.100.99",
        CHROME,
    )
    .await;
    app.wait_for_events("shop.example", 5).await;
    // The admin API changes settings too.
    let (status, v) = app
        .admin(
            Method::PATCH,
            "/api/admin/sites/shop.example",
            Some(json!({"respect_dnt": true})),
        )
        .await;
    assert_eq!((status, v["respect_dnt"].as_bool()), (200, Some(true)));
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/admin/sites/shop.example",
            Some(json!({"aliases": ["beta.example"]})),
        )
        .await;
    assert_eq!(status, 409, "an alias of another site's domain");
    // A viewer sees the dashboard but not the settings.
    app.admin(
        Method::PUT,
        "/api/admin/users/vic@example.com",
        Some(json!({})),
    )
    .await;
    app.user_with_password("vic@example.com", "acme", "viewer password")
        .await;
    let body = json!({"memberships": [{"customer": "acme", "role": "viewer"}]});
    app.admin(Method::PUT, "/api/admin/users/vic@example.com", Some(body))
        .await;
    let r = app
        .login("vic@example.com", "viewer password", "192.0.2.60")
        .await;
    let viewer = session_cookie(&r);
    let html = app.page_as(&viewer, "/dashboard/shop.example").await;
    assert!(!html.contains("id=\"settings\""));
    assert_eq!(
        app.get_as(&viewer, "/dashboard/shop.example/settings")
            .await
            .status(),
        404
    );
}

fn new_share_url(html: &str) -> String {
    let at = html.find("id=\"new-share\" href=\"").expect("a new link")
        + "id=\"new-share\" href=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_links_open_a_read_only_dashboard_with_an_optional_password() {
    let (app, cookie) = setup().await;
    let html = app
        .page_as(&cookie, "/dashboard/shop.example/settings")
        .await;
    let csrf = field(&html, "csrf");
    let create = |password: &'static str| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        let app = &app;
        async move {
            app.post_as(
                &cookie,
                "/dashboard/shop.example/shares",
                &[("csrf", csrf.as_str()), ("password", password)],
            )
            .await
        }
    };
    let r = create("").await;
    assert_eq!(r.status(), 200);
    let open_url = new_share_url(&r.text().await.unwrap());
    let path = open_url.trim_start_matches(&app.address).to_string();
    // Logged out, the link shows the dashboard, read-only, with links that stay on the link.
    let r = no_redirects().get(&open_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-metric=\"pageviews\"><small>Page views</small><b>3</b>"));
    assert!(
        !html.contains("id=\"settings\"")
            && !html.contains("href=\"/dashboard/")
            && !html.contains("href=\"/dashboard\""),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"{path}?period=30d")),
        "{html}"
    );
    assert!(!html.contains("beta-secret"));
    let csv = no_redirects()
        .get(format!("{open_url}/export.csv?dim=event:page&period=day"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("\"/pricing\""), "{csv}");
    // With a password.
    let r = create("share secret 1").await;
    let locked = new_share_url(&r.text().await.unwrap());
    assert_eq!(
        no_redirects().get(&locked).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        no_redirects()
            .get(format!("{locked}/export.csv"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let wrong = no_redirects()
        .post(&locked)
        .header("Origin", &app.address)
        .form(&[("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = no_redirects()
        .post(&locked)
        .header("Origin", &app.address)
        .form(&[("password", "share secret 1")])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 303);
    let set = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("Path=/share/"),
        "{set}"
    );
    let unlock = set.split(';').next().unwrap().to_string();
    let r = no_redirects()
        .get(&locked)
        .header("Cookie", &unlock)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Issue 11, item 5: the unlock lasts twelve hours (cookie and server side), and its value
    // cannot be stretched.
    assert!(set.contains("Max-Age=43200"), "{set}");
    let (name, value) = unlock.split_once('=').unwrap();
    let (_, mac) = value.split_once('.').expect("expiry.mac");
    let stretched = format!("{name}=99999999999.{mac}");
    let r = no_redirects()
        .get(&locked)
        .header("Cookie", &stretched)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.clock.advance(chrono::Duration::hours(13));
    let r = no_redirects()
        .get(&locked)
        .header("Cookie", &unlock)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "an unlock from yesterday");
    app.clock.advance(chrono::Duration::hours(-13));
    // Revoked links stop working.
    let html = app
        .page_as(&cookie, "/dashboard/shop.example/settings")
        .await;
    assert_eq!(html.matches("/revoke\"").count(), 2, "{html}");
    let r = no_redirects()
        .post(format!(
            "{}/dashboard/shop.example/shares/1/revoke",
            app.address
        ))
        .header("Origin", &app.address)
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        no_redirects().get(&open_url).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        no_redirects()
            .get(format!("{}/share/made-up", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// Every read endpoint, as customer A's user and with A's customer token: nothing of customer
/// B (site name, pages) comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_a_sees_nothing_of_customer_b_anywhere() {
    let (app, cookie) = setup().await;
    let (_, t) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "acme"})),
        )
        .await;
    let token = t["token"].as_str().unwrap().to_string();
    let html = app
        .page_as(&cookie, "/dashboard/shop.example/settings")
        .await;
    let csrf = field(&html, "csrf");
    let mut bodies: Vec<(String, u16, String)> = Vec::new();
    for path in [
        "/dashboard",
        "/account",
        "/dashboard/shop.example?period=all",
        "/dashboard/shop.example/settings",
        "/dashboard/shop.example/export.csv?dim=event:page&period=all",
        "/dashboard/beta.example",
        "/dashboard/beta.example?period=all",
        "/dashboard/beta.example/export.csv?dim=event:page&period=all",
        "/dashboard/beta.example/export.csv?period=all",
        "/dashboard/beta.example/settings",
        "/dashboard/2",
        "/dashboard/team/acme",
        "/dashboard/team/beta",
    ] {
        let r = app.get_as(&cookie, path).await;
        bodies.push((
            path.to_string(),
            r.status().as_u16(),
            r.text().await.unwrap(),
        ));
    }
    let r = app
        .post_as(
            &cookie,
            "/dashboard/beta.example/shares",
            &[("csrf", csrf.as_str())],
        )
        .await;
    bodies.push((
        "POST shares of beta".into(),
        r.status().as_u16(),
        r.text().await.unwrap(),
    ));
    for site in ["beta.example", "2"] {
        for q in [
            json!({"site_id": site, "metrics": ["visitors"], "date_range": "all", "dimensions": ["event:page"]}),
            json!({"site_id": site, "metrics": ["visitors"], "date_range": "all"}),
        ] {
            let r = app
                .client
                .post(format!("{}/api/v2/query", app.address))
                .bearer_auth(&token)
                .json(&q)
                .send()
                .await
                .unwrap();
            bodies.push((
                format!("query {q}"),
                r.status().as_u16(),
                r.text().await.unwrap(),
            ));
        }
        let r = app
            .client
            .get(format!(
                "{}/api/v1/stats/realtime/visitors?site_id={site}",
                app.address
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        bodies.push((
            format!("realtime {site}"),
            r.status().as_u16(),
            r.text().await.unwrap(),
        ));
    }
    // A manage token of A lists only A's sites, tokens and users.
    let (_, m) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "acme", "access": "manage"})),
        )
        .await;
    let manager = m["token"].as_str().unwrap().to_string();
    app.admin(
        Method::POST,
        "/api/admin/tokens",
        Some(json!({"site": "beta.example"})),
    )
    .await;
    for path in ["/api/admin/sites", "/api/admin/tokens", "/api/admin/users"] {
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&manager)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 200, "{path}");
        bodies.push((
            format!("manage token {path}"),
            status,
            r.text().await.unwrap(),
        ));
    }
    for (what, status, body) in &bodies {
        assert!(
            !body.contains("beta-secret"),
            "{what} leaks B's page: {body}"
        );
        let mentions_b = body.contains("beta.example");
        // A 404 may repeat the name the caller asked for, nothing more.
        assert!(
            !mentions_b || (*status == 404 && !body.contains("beta-secret")),
            "{what} ({status}) shows B's site: {body}"
        );
        if what.contains("beta") || what.ends_with("/2") || what.contains("\"2\"") {
            assert!(*status == 404 || *status == 401, "{what}: {status}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_show_with_their_props_and_props_filter_the_page() {
    let (app, cookie) = setup().await;
    let u = "https://shop.example/checkout";
    for (plan, ip) in [
        ("pro", "198.51.100.1"),
        ("pro", "203.0.113.2"),
        ("<b>team</b>", "192.0.2.9"),
    ] {
        let r = app
            .event(
                json!({"n": "Signup", "u": u, "d": "shop.example", "p": {"plan": plan, "source": "footer"}}),
                ip,
                CHROME,
            )
            .await;
        assert_eq!(r.status(), 202);
    }
    app.pageview(
        "shop.example",
        "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        None,
        "198.18.0.10",
        CHROME,
    )
    .await;
    app.wait_for_events("shop.example", 8).await;
    let html = app
        .page_as(&cookie, "/dashboard/shop.example?period=day")
        .await;
    // UTM source, medium and campaign each have their list.
    for (dim, value) in [
        ("visit:utm_source", "newsletter"),
        ("visit:utm_medium", "email"),
        ("visit:utm_campaign", "spring"),
    ] {
        let start = html
            .find(&format!("data-dimension=\"{dim}\""))
            .unwrap_or_else(|| panic!("a {dim} panel"));
        let panel = &html[start..start + html[start..].find("</section>").unwrap()];
        assert!(panel.contains(&format!(">{value}</a>")), "{panel}");
    }
    // Entry and exit pages count visits (entrances and exits), as the Stats API does.
    for dim in ["visit:entry_page", "visit:exit_page"] {
        let start = html
            .find(&format!("data-dimension=\"{dim}\""))
            .unwrap_or_else(|| panic!("a {dim} panel"));
        let panel = &html[start..start + html[start..].find("</section>").unwrap()];
        assert!(panel.contains("(visits)</h2>"), "{panel}");
        let v = app
            .query(json!({"site_id": "shop.example", "metrics": ["visits", "visitors"], "date_range": "day", "dimensions": [dim]}))
            .await;
        let rows = rows(&v);
        assert!(!rows.is_empty());
        for (value, metrics) in rows {
            let escaped = value[0]
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;");
            let row = format!(">{escaped}</a>");
            let at = panel
                .find(&row)
                .unwrap_or_else(|| panic!("{row} in {panel}"));
            let n = format!("<td class=\"n\">{}</td>", metrics[0] as i64);
            let end = at + panel[at..].find("</tr>").unwrap();
            assert!(panel[at..end].contains(&n), "{n} for {value:?} in {panel}");
        }
    }
    // One panel per property key, values by events, no "(none)" row for events without it.
    let start = html
        .find("data-dimension=\"event:props:plan\"")
        .expect("a plan panel");
    let panel = &html[start..start + html[start..].find("</section>").unwrap()];
    assert!(panel.contains("<h2>Property: plan</h2>"), "{panel}");
    assert!(panel.contains(">pro</a>"), "{panel}");
    assert!(panel.contains("<td class=\"n\">2</td>"), "{panel}");
    assert!(panel.contains("&lt;b&gt;team&lt;/b&gt;"), "{panel}");
    assert!(!panel.contains("(none)"), "{panel}");
    assert!(html.contains("data-dimension=\"event:props:source\""));
    // A prop row filters the whole page.
    let html = app
        .page_as(
            &cookie,
            "/dashboard/shop.example?period=day&f=event%3Aprops%3Aplan%7Cpro",
        )
        .await;
    assert!(html.contains("event:props:plan = pro"), "{html}");
    assert!(
        html.contains("data-metric=\"visitors\"><small>Visitors</small><b>2</b>"),
        "{html}"
    );
    // German titles.
    let german = app
        .client
        .get(format!("{}/dashboard/shop.example?period=day", app.address))
        .header("Cookie", &cookie)
        .header("Accept-Language", "de-DE,de;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(german.contains("<h2>Eigenschaft: plan</h2>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_manage_their_team_and_tokens_viewers_cannot() {
    let (app, cookie) = setup().await;
    let html = app.page_as(&cookie, "/dashboard").await;
    assert!(html.contains("href=\"/dashboard/team/acme\""), "{html}");
    assert_eq!(
        app.get_as(&cookie, "/dashboard/team/beta").await.status(),
        404
    );
    let html = app.page_as(&cookie, "/dashboard/team/acme").await;
    assert!(html.contains("ann@example.com"), "{html}");
    let csrf = field(&html, "csrf");
    let team = "/dashboard/team/acme";
    // Forms need the session's CSRF token.
    let r = app
        .post_as(
            &cookie,
            &format!("{team}/users"),
            &[("email", "vic@example.com"), ("role", "viewer")],
        )
        .await;
    assert_eq!(r.status(), 403);
    // Add a viewer and hand out a set-password link.
    let r = app
        .post_as(
            &cookie,
            &format!("{team}/users"),
            &[
                ("csrf", &csrf),
                ("email", "vic@example.com"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("vic@example.com") && html.contains("Viewer (read only)"),
        "{html}"
    );
    let r = app
        .post_as(
            &cookie,
            &format!("{team}/users/link"),
            &[("csrf", &csrf), ("email", "vic@example.com")],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("/set-password?token="), "{html}");
    let (_, users) = app.admin(Method::GET, "/api/admin/users", None).await;
    let vic = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "vic@example.com")
        .unwrap()
        .clone();
    assert_eq!(
        vic["memberships"],
        json!([{"customer": "acme", "role": "viewer"}])
    );
    // A read token for all of acme's sites, shown once; it reads acme's sites only.
    let r = app
        .post_as(
            &cookie,
            &format!("{team}/tokens"),
            &[("csrf", &csrf), ("site", ""), ("access", "read")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let at = html.find("id=\"shown-once\">").expect("the new token") + "id=\"shown-once\">".len();
    let token = html[at..].split('<').next().unwrap().to_string();
    let status_for = |site: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let q = json!({"site_id": site, "metrics": ["visitors"], "date_range": "day"});
            app.client
                .post(format!("{}/api/v2/query", app.address))
                .bearer_auth(&token)
                .json(&q)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status_for("shop.example").await, 200);
    assert_ne!(status_for("beta.example").await, 200);
    // Listed by id (never the token), and revocable.
    assert!(!html[at + token.len()..].contains(&token));
    let (_, tokens) = app.admin(Method::GET, "/api/admin/tokens", None).await;
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["customer"] == "acme")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(html.contains(&format!("<code>{id}</code>")), "{html}");
    let r = app
        .post_as(
            &cookie,
            &format!("{team}/tokens/{id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status_for("shop.example").await, 401);
    // Remove the viewer again.
    let r = app
        .post_as(
            &cookie,
            &format!("{team}/users/remove"),
            &[("csrf", &csrf), ("email", "vic@example.com")],
        )
        .await;
    assert!(!r.text().await.unwrap().contains("vic@example.com"));
    // Viewers do not get the page.
    app.user_with_password("val@example.com", "acme", "viewer password 1")
        .await;
    app.admin(
        Method::PUT,
        "/api/admin/users/val@example.com",
        Some(json!({"memberships": [{"customer": "acme", "role": "viewer"}]})),
    )
    .await;
    let r = app
        .login("val@example.com", "viewer password 1", "192.0.2.60")
        .await;
    let val = session_cookie(&r);
    assert_eq!(app.get_as(&val, team).await.status(), 404);
    assert!(!app
        .page_as(&val, "/dashboard")
        .await
        .contains("/dashboard/team/"));
}

/// Issue 11, item 5: tokens an owner made on the team page end when that person is no longer
/// an owner of the customer (demoted, or removed); tokens the provider made stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_made_by_an_owner_end_with_the_owners_role() {
    let (app, cookie) = setup().await;
    let team = "/dashboard/team/acme";
    let make = |cookie: String| {
        let app = &app;
        async move {
            let html = app.page_as(&cookie, team).await;
            let csrf = field(&html, "csrf");
            let r = app
                .post_as(
                    &cookie,
                    &format!("{team}/tokens"),
                    &[("csrf", &csrf), ("site", ""), ("access", "read")],
                )
                .await;
            assert_eq!(r.status(), 200);
            let html = r.text().await.unwrap();
            let at = html.find("id=\"shown-once\">").expect("the new token")
                + "id=\"shown-once\">".len();
            html[at..].split('<').next().unwrap().to_string()
        }
    };
    let status = |token: String| {
        let app = &app;
        async move {
            let q =
                json!({"site_id": "shop.example", "metrics": ["visitors"], "date_range": "day"});
            app.client
                .post(format!("{}/api/v2/query", app.address))
                .bearer_auth(&token)
                .json(&q)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let by_owner = make(cookie.clone()).await;
    let (_, provider) = app
        .admin(
            Method::POST,
            "/api/admin/tokens",
            Some(json!({"customer": "acme"})),
        )
        .await;
    let provider = provider["token"].as_str().unwrap().to_string();
    assert_eq!(status(by_owner.clone()).await, 200);
    // Demoted to viewer: the owner's token ends, the provider's stays.
    let (s, _) = app
        .admin(
            Method::PUT,
            "/api/admin/users/ann@example.com",
            Some(json!({"memberships": [{"customer": "acme", "role": "viewer"}]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(status(by_owner).await, 401);
    assert_eq!(status(provider.clone()).await, 200);
    // Owner again, a new token; then removed: that token ends too.
    let (s, _) = app
        .admin(
            Method::PUT,
            "/api/admin/users/ann@example.com",
            Some(json!({"memberships": [{"customer": "acme", "role": "owner"}]})),
        )
        .await;
    assert_eq!(s, 200);
    let by_owner = make(cookie.clone()).await;
    assert_eq!(status(by_owner.clone()).await, 200);
    let (s, _) = app
        .admin(Method::DELETE, "/api/admin/users/ann@example.com", None)
        .await;
    assert!(s == 204 || s == 200, "{s}");
    assert_eq!(status(by_owner).await, 401);
    assert_eq!(status(provider).await, 200);
}
