//! The collector: exclusions, site resolution, enrichment, and token scoping.

use super::helpers::*;
use serde_json::json;

const SITE: &str = "shop.example";

fn all(site: &str) -> serde_json::Value {
    json!({"site_id": site, "metrics": ["visitors", "pageviews"], "date_range": "all"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_hits_are_answered_alike_and_not_stored() {
    let app = spawn_app().await;
    app.add_site_spec(json!({"domain": SITE, "excluded_ranges": ["203.0.113.0/24"]}))
        .await;
    let body = json!({"n": "pageview", "u": format!("https://{SITE}/"), "d": SITE});
    let send = |headers: Vec<(&'static str, &'static str)>, ip: &'static str, ua: &'static str| {
        let mut r = app
            .client
            .post(format!("{}/api/event", app.address))
            .header("X-Forwarded-For", ip)
            .header("User-Agent", ua)
            .body(body.to_string());
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    type Case = (
        Vec<(&'static str, &'static str)>,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (vec![("Cookie", "spurlos_optout=1")], "192.0.2.1", CHROME),
        (vec![("Cookie", "matomo_ignore=*")], "192.0.2.1", CHROME),
        (vec![("DNT", "1")], "192.0.2.1", CHROME),
        (vec![("Sec-GPC", "1")], "192.0.2.1", CHROME),
        (vec![], "192.0.2.1", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        (vec![], "192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"),
        (vec![], "203.0.113.50", CHROME),
    ];
    for (headers, ip, ua) in cases {
        let r = send(headers.clone(), ip, ua).await.unwrap();
        assert_eq!(r.status(), 202, "{headers:?}");
        assert!(r.headers().get("x-spurlos-dropped").is_none());
        assert_eq!(r.text().await.unwrap(), "ok");
    }
    // One counted hit, to know the writer has caught up.
    app.pageview(SITE, &format!("https://{SITE}/"), None, "192.0.2.1", CHROME)
        .await;
    app.wait_for_events(SITE, 1).await;
    let v = app.query(all(SITE)).await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0, 1.0])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnt_is_counted_when_the_site_says_so() {
    let app = spawn_app().await;
    app.add_site_spec(json!({"domain": SITE, "respect_dnt": false}))
        .await;
    let r = app
        .client
        .post(format!("{}/api/event", app.address))
        .header("User-Agent", CHROME)
        .header("DNT", "1")
        .body(json!({"n": "pageview", "u": format!("https://{SITE}/"), "d": SITE}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    app.wait_for_events(SITE, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_domains_are_dropped_with_a_header() {
    let app = spawn_app().await;
    let r = app
        .event(
            json!({"n": "pageview", "u": "https://nobody.example/", "d": "nobody.example"}),
            "192.0.2.1",
            CHROME,
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-spurlos-dropped"], "unknown-site");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_domain_lists_referrers_utm_and_hash_mode() {
    let app = spawn_app().await;
    app.add_site_spec(json!({"domain": SITE, "aliases": ["shop.example.de"]}))
        .await;
    app.add_site("other.example", "UTC").await;
    // Sent to two sites at once, through an alias, with a self-referral (dropped) and UTM tags.
    let r = app
        .event(
            json!({
                "n": "pageview",
                "u": "https://www.shop.example.de/app?utm_source=newsletter&utm_medium=email&utm_campaign=spring&session=SECRET#/cart",
                "d": "shop.example.de,other.example",
                "r": "https://shop.example/previous",
                "h": 1
            }),
            "192.0.2.1",
            CHROME,
        )
        .await;
    assert_eq!(r.status(), 202);
    app.wait_for_events(SITE, 1).await;
    app.wait_for_events("other.example", 1).await;
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "all",
            "dimensions": ["event:page", "event:hostname", "visit:source", "visit:utm_medium", "visit:utm_campaign"]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![(
            vec![
                "/app#/cart".into(),
                "shop.example.de".into(),
                "newsletter".into(),
                "email".into(),
                "spring".into()
            ],
            vec![1.0]
        )]
    );
    // On the other site the same referrer is a real referral.
    let v = app
        .query(json!({"site_id": "other.example", "metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:referrer"]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![(vec!["shop.example/previous".into()], vec![1.0])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_only_read_their_own_site() {
    let app = spawn_app().await;
    app.add_site("a.example", "UTC").await;
    app.add_site("b.example", "UTC").await;
    app.pageview(
        "b.example",
        "https://b.example/secret-b",
        None,
        "192.0.2.1",
        CHROME,
    )
    .await;
    app.wait_for_events("b.example", 1).await;
    let token: serde_json::Value = app
        .client
        .post(format!("{}/api/admin/tokens", app.address))
        .bearer_auth(ADMIN)
        .json(&json!({"site": "a.example"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap();
    let ok = app.query_as(token, all("a.example")).await;
    assert_eq!(ok["results"], json!([]));
    for body in [
        all("b.example"),
        json!({"site_id": "2", "metrics": ["visitors"], "date_range": "all"}),
    ] {
        let r = app
            .client
            .post(format!("{}/api/v2/query", app.address))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let text = r.text().await.unwrap();
        assert!(!text.contains("secret-b"), "{text}");
    }
    let r = app
        .client
        .get(format!(
            "{}/api/v1/stats/realtime/visitors?site_id=b.example",
            app.address
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for t in ["", "wrong-token"] {
        let r = app
            .client
            .post(format!("{}/api/v2/query", app.address))
            .bearer_auth(t)
            .json(&all("a.example"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // Read-only site tokens are not admin (or manage) tokens.
    let r = app
        .client
        .get(format!("{}/api/admin/sites", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_tracker_script() {
    let app = spawn_app().await;
    let r = app
        .preflight("/api/event", "https://customer.example")
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://customer.example"
    );
    let r = app
        .client
        .get(format!("{}/s.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    assert!(r.text().await.unwrap().contains("sendBeacon"));
}

/// Writes a tiny MaxMind-format city database: 198.51.100.0/24 is Berlin, 2001:db8::/32 is
/// Vienna.
fn write_test_mmdb(path: &std::path::Path) {
    use maxminddb_writer::metadata::IpVersion;
    use maxminddb_writer::paths::IpAddrWithMask;
    let mut db = maxminddb_writer::Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = "spurlos-test-City".into();
    db.metadata.languages = vec!["en".into()];
    db.metadata.binary_format_major_version = 2;
    let berlin = db
        .insert_value(json!({
            "country": {"iso_code": "DE", "names": {"en": "Germany"}},
            "subdivisions": [{"iso_code": "BE", "names": {"en": "Berlin"}}],
            "city": {"names": {"en": "Berlin"}}
        }))
        .unwrap();
    let vienna = db
        .insert_value(json!({
            "country": {"iso_code": "AT"},
            "subdivisions": [{"iso_code": "9"}],
            "city": {"names": {"en": "Vienna"}}
        }))
        .unwrap();
    // IPv4 lives at ::/96 in an IPv6 tree.
    db.insert_node(
        "::198.51.100.0/120".parse::<IpAddrWithMask>().unwrap(),
        berlin,
    );
    db.insert_node("2001:db8::/32".parse::<IpAddrWithMask>().unwrap(), vienna);
    let file = std::fs::File::create(path).unwrap();
    db.write_to(std::io::BufWriter::new(file)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geoip_from_the_truncated_address() {
    let dir = tempfile::tempdir().unwrap();
    let mmdb = dir.path().join("test-city.mmdb");
    write_test_mmdb(&mmdb);
    let app = spawn_app_with(&[("SPURLOS_GEOIP_DB", mmdb.to_str().unwrap())]).await;
    app.add_site(SITE, "UTC").await;
    let url = format!("https://{SITE}/");
    app.pageview(SITE, &url, None, "198.51.100.200", CHROME)
        .await;
    app.pageview(SITE, &url, None, "2001:db8:1:2::99", FIREFOX)
        .await;
    app.pageview(SITE, &url, None, "192.0.2.1", IPHONE).await;
    app.wait_for_events(SITE, 3).await;
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "all",
            "dimensions": ["visit:country", "visit:region", "visit:city"], "order_by": [["visit:country", "asc"]]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (
                vec!["(none)".into(), "(none)".into(), "(none)".into()],
                vec![1.0]
            ),
            (vec!["AT".into(), "AT-9".into(), "Vienna".into()], vec![1.0]),
            (
                vec!["DE".into(), "DE-BE".into(), "Berlin".into()],
                vec![1.0]
            ),
        ]
    );
}

#[test]
fn tracker_fits_the_size_budget() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(spurlos::http::TRACKER_JS.as_bytes()).unwrap();
    let size = gz.finish().unwrap().len();
    assert!(
        size <= 1000,
        "s.js is {size} bytes gzipped; the budget is 1000"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_continues_across_a_restart() {
    let app = spawn_app().await;
    app.add_site(SITE, "UTC").await;
    app.pageview(
        SITE,
        &format!("https://{SITE}/a"),
        None,
        "192.0.2.7",
        CHROME,
    )
    .await;
    app.wait_for_events(SITE, 1).await;
    let app = app.restart().await;
    app.clock.advance(chrono::Duration::minutes(10));
    app.pageview(
        SITE,
        &format!("https://{SITE}/b"),
        None,
        "192.0.2.7",
        CHROME,
    )
    .await;
    app.wait_for_events(SITE, 2).await;
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "visits", "bounce_rate", "visit_duration"], "date_range": "all",
            "dimensions": ["visit:exit_page"]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![(vec!["/b".into()], vec![1.0, 1.0, 0.0, 600.0])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_opt_out_page_may_change_the_opt_out() {
    let app = spawn_app().await;
    let post = |origin: Option<String>| {
        let mut r = app
            .client
            .post(format!("{}/opt-out", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("action=in");
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        r.send()
    };
    let r = post(Some("https://evil.example".into())).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let r = post(Some(app.address.clone())).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("spurlos_optout=;"));
    let r = app
        .client
        .get(format!("{}/opt-out?lang=de", app.address))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors *") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(r.text().await.unwrap().contains("Widersprechen"));
}
