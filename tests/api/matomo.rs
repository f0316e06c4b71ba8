//! Matomo's HTTP Tracking API at the HTTP level: GET, form POST, beacon POST, bulk JSON, the
//! answers Matomo gives, its special actions, and its privacy differences (client ids and the
//! ignore cookie).

use super::helpers::*;
use serde_json::{json, Value};

const SITE: &str = "matomo.example";

async fn app_with_site() -> (TestApp, u64) {
    let app = spawn_app().await;
    let site = app.add_site(SITE, "UTC").await;
    let id = site["id"].as_u64().unwrap();
    (app, id)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn get(app: &TestApp, path: &str, query: &str, ip: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}?{query}", app.address))
        .header("X-Forwarded-For", ip)
        .header("User-Agent", CHROME)
        .send()
        .await
        .unwrap()
}

async fn by_name(app: &TestApp) -> Vec<(Vec<String>, Vec<f64>)> {
    rows(
        &app.query(json!({"site_id": SITE, "metrics": ["events"], "date_range": "day", "dimensions": ["event:name"], "order_by": [["events", "desc"], ["event:name", "asc"]]}))
            .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_views_by_get_post_and_beacon_answer_like_matomo() {
    let (app, id) = app_with_site().await;
    let url = enc(&format!(
        "https://{SITE}/docs/start?utm_source=news&session=secret"
    ));
    let q = format!("idsite={id}&rec=1&url={url}&action_name=Start&urlref={}&res=1920x1080&_id=0123456789abcdef&uid=alice-uid-4711&cid=fedcba9876543210&rand=42&apiv=1", enc("https://www.google.com/"));
    // GET: the 43-byte GIF.
    let r = get(&app, "/matomo.php", &q, "198.51.100.7").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    assert_eq!(r.bytes().await.unwrap().len(), 43);
    // send_image=0: 204.
    let r = get(
        &app,
        "/piwik.php",
        &format!("{q}&send_image=0"),
        "203.0.113.8",
    )
    .await;
    assert_eq!(r.status(), 204);
    // Form POST.
    let r = app
        .client
        .post(format!("{}/matomo.php", app.address))
        .header("X-Forwarded-For", "192.0.2.9")
        .header("User-Agent", FIREFOX)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(q.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // sendBeacon: parameters in the query, empty body.
    let r = app
        .client
        .post(format!("{}/js/?{q}", app.address))
        .header("X-Forwarded-For", "10.1.0.10")
        .header("User-Agent", IPHONE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // No rec=1: answered, not recorded.
    let r = get(
        &app,
        "/matomo.php",
        &q.replace("rec=1&", ""),
        "198.51.100.11",
    )
    .await;
    assert_eq!(r.status(), 200);
    app.wait_for_events(SITE, 4).await;
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": "day", "dimensions": ["event:page"]}))
        .await;
    assert_eq!(rows(&v), vec![(vec!["/docs/start".into()], vec![4.0, 4.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day", "dimensions": ["visit:source"]}))
        .await;
    assert_eq!(rows(&v), vec![(vec!["news".into()], vec![4.0])]);
    // CORS preflight.
    let r = app.preflight("/matomo.php", "https://matomo.example").await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://matomo.example"
    );
    // The client-side ids are stored nowhere.
    let app = app.restart().await;
    for needle in [
        "alice-uid-4711",
        "0123456789abcdef",
        "fedcba9876543210",
        "secret",
    ] {
        assert_no_file_contains(app.data_dir.path(), needle.as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_searches_goals_links_downloads_and_heartbeats() {
    let (app, id) = app_with_site().await;
    let page = enc(&format!("https://{SITE}/shop"));
    let base = format!("idsite={id}&rec=1&url={page}");
    let ip = "203.0.113.5";
    for extra in [
        String::new(),
        "&e_c=Video&e_a=Play&e_n=Intro&e_v=3".to_string(),
        "&search=red%20shoes&search_cat=shop&search_count=7".to_string(),
        "&idgoal=2&revenue=19.90".to_string(),
        format!("&link={}", enc("https://elsewhere.example/")),
        format!("&download={}", enc(&format!("https://{SITE}/files/a.pdf"))),
        "&dimension3=gold&_cvar=%7B%221%22%3A%5B%22plan%22%2C%22pro%22%5D%7D".to_string(),
    ] {
        let r = get(&app, "/matomo.php", &format!("{base}{extra}"), ip).await;
        assert_eq!(r.status(), 200, "{extra}");
    }
    // A heartbeat ten minutes later extends the visit and is no event.
    app.clock.advance(chrono::Duration::minutes(10));
    let r = get(&app, "/matomo.php", &format!("{base}&ping=1"), ip).await;
    assert_eq!(r.status(), 200);
    app.wait_for_events(SITE, 7).await;
    assert_eq!(
        by_name(&app).await,
        vec![
            (vec!["pageview".into()], vec![2.0]),
            (vec!["File Download".into()], vec![1.0]),
            (vec!["Goal 2".into()], vec![1.0]),
            (vec!["Outbound Link: Click".into()], vec![1.0]),
            (vec!["Site Search".into()], vec![1.0]),
            (vec!["Video".into()], vec![1.0]),
        ]
    );
    let v = app
        .query(
            json!({"site_id": SITE, "metrics": ["visits", "visit_duration"], "date_range": "day"}),
        )
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0, 600.0])]);
    for (key, value) in [
        ("action", "Play"),
        ("keyword", "red shoes"),
        ("revenue", "19.90"),
        ("dimension3", "gold"),
        ("plan", "pro"),
    ] {
        let v = app
            .query(json!({"site_id": SITE, "metrics": ["events"], "date_range": "day", "dimensions": [format!("event:props:{key}")]}))
            .await;
        let found = rows(&v);
        assert!(
            found.contains(&(vec![value.to_string()], vec![1.0])),
            "{key}: {found:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_requests_are_all_queued_and_counted() {
    let (app, id) = app_with_site().await;
    let page = format!("https://{SITE}/bulk");
    let body = json!({
        "requests": [
            format!("?idsite={id}&rec=1&url={}&cip=192.0.2.1", enc(&page)),
            {"idsite": id.to_string(), "rec": 1, "url": page, "cip": "198.51.100.2", "cdt": "2024-06-10 07:00:00"},
            "?idsite=notanumber&rec=1",
            format!("?idsite={id}&rec=1&url={}&e_c=Cat&e_a=Act&cip=203.0.113.3", enc(&page)),
        ],
        "token_auth": ADMIN,
    });
    let r = app
        .client
        .post(format!("{}/matomo.php", app.address))
        .header("User-Agent", CHROME)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"status": "success", "tracked": 3, "invalid": 1, "invalid_indices": [2]})
    );
    app.wait_for_events(SITE, 3).await;
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors", "events"], "date_range": "day", "dimensions": ["time:hour"]}))
        .await;
    // cdt put one hit at 07:00; the others are at the clock's 08:00.
    assert_eq!(
        rows(&v),
        vec![
            (vec!["2024-06-10 07:00:00".into()], vec![1.0, 1.0]),
            (vec!["2024-06-10 08:00:00".into()], vec![2.0, 2.0]),
        ]
    );
    // Without the admin token, cip and cdt are refused.
    let body =
        json!({"requests": [format!("?idsite={id}&rec=1&url={}&cip=192.0.2.9", enc(&page))]});
    let r = app
        .client
        .post(format!("{}/matomo.php", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["invalid"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_400_naming_the_parameter_and_ignore_cookies_exclude() {
    let (app, id) = app_with_site().await;
    let page = enc(&format!("https://{SITE}/"));
    for (query, field) in [
        (format!("rec=1&url={page}"), "idsite"),
        (format!("idsite=x&rec=1&url={page}"), "idsite"),
        (format!("idsite=999&rec=1&url={page}"), "idsite"),
        (format!("idsite={id}&rec=1"), "url"),
        (format!("idsite={id}&rec=1&url={page}&cip=1.2.3.4"), "cip"),
        (format!("idsite={id}&rec=1&url={page}&e_a=only"), "e_c"),
        (format!("idsite={id}&rec=1&url=not%20a%20url"), "url"),
    ] {
        let r = get(&app, "/matomo.php", &query, "192.0.2.50").await;
        assert_eq!(r.status(), 400, "{query}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{query}: {v}");
    }
    let r = app
        .client
        .post(format!("{}/matomo.php", app.address))
        .header("Content-Type", "application/json")
        .body("{\"requests\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Matomo's ignore cookies: answered alike, not stored.
    for cookie in ["matomo_ignore=1", "piwik_ignore=1", "spurlos_optout=1"] {
        let r = app
            .client
            .get(format!(
                "{}/matomo.php?idsite={id}&rec=1&url={page}",
                app.address
            ))
            .header("X-Forwarded-For", "192.0.2.51")
            .header("User-Agent", CHROME)
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{cookie}");
        assert_eq!(r.bytes().await.unwrap().len(), 43);
    }
    let r = get(
        &app,
        "/matomo.php",
        &format!("idsite={id}&rec=1&url={page}"),
        "192.0.2.52",
    )
    .await;
    assert_eq!(r.status(), 200);
    app.wait_for_events(SITE, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_matomo_opt_out_iframe_url_serves_the_opt_out_page() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!(
            "{}/index.php?module=CoreAdminHome&action=optOut&language=de",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("lang=\"de\"") && html.contains("Widersprechen"),
        "{html}"
    );
    let r = app
        .client
        .get(format!(
            "{}/index.php?module=Widgetize&action=iframe",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn api_call(app: &TestApp, form: &[(&str, &str)]) -> Value {
    let r = app
        .client
        .post(format!("{}/", app.address))
        .header("User-Agent", "Piwik/LogImport")
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn api(method: &str) -> Vec<(&str, &str)> {
    vec![
        ("module", "API"),
        ("format", "json2"),
        ("method", method),
        ("token_auth", ADMIN),
    ]
}

/// The calls and bulk requests of Matomo's `import_logs.py`, in the shapes it sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_importers_api_calls_and_bulk_requests_work() {
    let (app, id) = app_with_site().await;
    let id_s = id.to_string();
    let mut form = api("SitesManager.getSiteFromId");
    form.push(("idSite", &id_s));
    let v = api_call(&app, &form).await;
    assert_eq!(v["main_url"], format!("http://{SITE}"));
    assert_eq!(v["idsite"], id_s);
    let mut form = api("SitesManager.getSitesIdFromSiteUrl");
    form.push(("url", "http://matomo.example"));
    assert_eq!(api_call(&app, &form).await, json!([{"idsite": id_s}]));
    let mut form = api("SitesManager.getSitesIdFromSiteUrl");
    form.push(("url", "http://unknown.example"));
    assert_eq!(api_call(&app, &form).await, json!([]));
    let mut form = api("SitesManager.addSite");
    form.push(("siteName", "new.example"));
    form.push(("urls[0]", "http://new.example"));
    let v = api_call(&app, &form).await;
    let new_id = v["value"].as_u64().unwrap();
    assert_ne!(new_id, id);
    let v = api_call(&app, &api("SitesManager.getAllSites")).await;
    assert_eq!(v[new_id.to_string()]["main_url"], "http://new.example");
    // The same call through GET /index.php, and without the admin token.
    let r = app
        .client
        .get(format!(
            "{}/index.php?module=API&method=SitesManager.getSiteFromId&idSite={id}&format=json&token_auth={ADMIN}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["idsite"], id_s);
    let v = api_call(
        &app,
        &[
            ("module", "API"),
            ("method", "SitesManager.getAllSites"),
            ("format", "json"),
        ],
    )
    .await;
    assert_eq!(v["result"], "error");

    // A bulk request as the importer sends it (with --enable-bots: the User-Agent in _cvar).
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0 ImportedAgent";
    let cvar = format!("{{\"1\":[\"Not-Bot\",\"{ua}\"]}}");
    let hit = |path: &str, ip: &str| {
        format!(
            "?rec=1&apiv=1&url={}&urlref=&cip={ip}&cdt={}&idsite={id}&dp=1&ua={}&bots=1&_cvar={}&cvar={}",
            enc(&format!("http://{SITE}{path}")),
            enc("2024-06-10 06:30:00"),
            enc(ua),
            enc(&cvar),
            enc("{\"1\":[\"HTTP-code\",\"200\"]}"),
        )
    };
    let body = json!({
        "requests": [hit("/imported/a", "203.0.113.77"), hit("/imported/b", "198.51.100.77")],
        "token_auth": ADMIN,
    });
    let r = app
        .client
        .post(format!("{}/piwik.php", app.address))
        .header("User-Agent", "Piwik/LogImport")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tracked"], 2, "{v}");
    app.wait_for_events(SITE, 2).await;
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day", "dimensions": ["event:page", "time:hour", "event:props:HTTP-code"]}))
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (
                vec![
                    "/imported/a".into(),
                    "2024-06-10 06:00:00".into(),
                    "200".into()
                ],
                vec![1.0]
            ),
            (
                vec![
                    "/imported/b".into(),
                    "2024-06-10 06:00:00".into(),
                    "200".into()
                ],
                vec![1.0]
            ),
        ]
    );
    // The User-Agent the importer put into _cvar is stored nowhere.
    let app = app.restart().await;
    assert_no_file_contains(app.data_dir.path(), ua.as_bytes());
}

/// Issue 11, item 5: an absurd `cdt` (even with the admin token) is a 400 naming `cdt`, not a
/// panic of the batch writer that turns every later hit away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_hit_times_are_refused_and_tracking_goes_on() {
    let (app, id) = app_with_site().await;
    let page = enc(&format!("https://{SITE}/"));
    for cdt in [
        "1e30",
        "-5",
        "99999999999999999999",
        "1e11",
        "5000-01-01%2000:00:00",
    ] {
        let query = format!("idsite={id}&rec=1&url={page}&cdt={cdt}&token_auth={ADMIN}");
        let r = get(&app, "/matomo.php", &query, "192.0.2.51").await;
        assert_eq!(r.status(), 400, "cdt={cdt}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], "cdt", "{cdt}: {v}");
    }
    let query = format!("idsite={id}&rec=1&url={page}");
    let r = get(&app, "/matomo.php", &query, "192.0.2.52").await;
    assert!(r.status().is_success(), "{}", r.status());
    app.wait_for_events(SITE, 1).await;
}

async fn prop_rows(app: &TestApp, key: &str) -> Vec<(Vec<String>, Vec<f64>)> {
    rows(&app
        .query(json!({"site_id": SITE, "metrics": ["events"], "date_range": "day", "dimensions": [format!("event:props:{key}")], "order_by": [["events", "desc"]]}))
        .await)
}

/// Issue 11, item 1: the Matomo path applies the bounds of the Plausible path (30 props, key and
/// value lengths, no NUL), and bulk bodies have a documented limit in requests and bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_values_are_bounded_like_props_and_bulk_bodies_have_a_limit() {
    let (app, id) = app_with_site().await;
    let page = enc(&format!("https://{SITE}/bounded"));
    // One request with 1,000 dimensions, a long value with a NUL, 100 custom variables.
    let mut q = format!("idsite={id}&rec=1&url={page}");
    q.push_str(&format!(
        "&dimension1={}",
        enc(&format!("a\0{}", "x".repeat(5000)))
    ));
    for n in 2..=1000 {
        q.push_str(&format!("&dimension{n}=v{n}"));
    }
    let cvars: serde_json::Map<String, Value> = (1..=100)
        .map(|n| (n.to_string(), json!([format!("cv{n}"), "y"])))
        .collect();
    q.push_str(&format!(
        "&_cvar={}",
        enc(&Value::Object(cvars).to_string())
    ));
    let bulk = json!({ "requests": [format!("?{q}")] });
    let r = app
        .client
        .post(format!("{}/matomo.php", app.address))
        .header("User-Agent", CHROME)
        .json(&bulk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["tracked"], 1);
    // Outbound links and downloads lose their query strings, like page URLs.
    let link = enc("https://out.example/go?email=someone%40example.org&x=1");
    let r = get(
        &app,
        "/matomo.php",
        &format!("idsite={id}&rec=1&url={page}&link={link}"),
        "192.0.2.60",
    )
    .await;
    assert_eq!(r.status(), 200);
    app.wait_for_events(SITE, 2).await;
    let first = prop_rows(&app, "dimension1").await;
    let stored = &first.iter().find(|(v, _)| v[0] != "(none)").unwrap().0[0];
    assert_eq!(stored.len(), 2000, "values are cut to 2,000 bytes");
    assert!(!stored.contains('\0') && stored.starts_with('a'));
    assert!(prop_rows(&app, "dimension30")
        .await
        .iter()
        .any(|(v, _)| v[0] == "v30"));
    for beyond in ["dimension31", "dimension1000", "cv1"] {
        let found = prop_rows(&app, beyond).await;
        assert!(
            found.iter().all(|(v, _)| v[0] == "(none)"),
            "{beyond}: {found:?}"
        );
    }
    assert_eq!(
        prop_rows(&app, "url")
            .await
            .iter()
            .find(|(v, _)| v[0] != "(none)")
            .unwrap()
            .0[0],
        "https://out.example/go"
    );
    // The unauthenticated 6.8 MB bulk of the report: refused as a whole, 413, nothing stored.
    let big: Vec<Value> = (0..40)
        .map(|i| {
            let mut q = format!(
                "?idsite={id}&rec=1&url={}",
                enc(&format!("https://{SITE}/big{i}"))
            );
            for n in 1..=1000 {
                q.push_str(&format!("&dimension{n}={}", "v".repeat(150)));
            }
            Value::String(q)
        })
        .collect();
    let r = app
        .client
        .post(format!("{}/matomo.php", app.address))
        .json(&json!({ "requests": big }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "body_too_large", "{v}");
    // More requests than a bulk may hold: 400 naming `requests`.
    let many: Vec<Value> = (0..1001)
        .map(|_| Value::String(format!("?idsite={id}&rec=1&url={page}")))
        .collect();
    let r = app
        .client
        .post(format!("{}/matomo.php", app.address))
        .json(&json!({ "requests": many }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "requests", "{v}");
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["events"], "date_range": "day"}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![2.0])]);
}
