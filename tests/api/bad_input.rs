//! Bad input gets a clear 4xx with a JSON body naming the problem, and the store stays
//! consistent; hostile strings are stored as given and come back as data.

use super::helpers::*;
use serde_json::{json, Value};

const SITE: &str = "bad.example";

async fn post_raw(app: &TestApp, path: &str, body: Vec<u8>) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}{path}", app.address))
        .bearer_auth(ADMIN)
        .header("User-Agent", CHROME)
        .header("Content-Type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_get_clear_errors() {
    let app = spawn_app().await;
    app.add_site(SITE, "UTC").await;
    let u = format!("https://{SITE}/");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "body"),
        (b"[1,2]".to_vec(), 400, "body"),
        (vec![b'{', 0xff, 0xfe, b'}'], 400, "body"),
        (
            json!({"u": u, "d": SITE}).to_string().into_bytes(),
            400,
            "name",
        ),
        (
            json!({"n": "pageview", "d": SITE}).to_string().into_bytes(),
            400,
            "url",
        ),
        (
            json!({"n": "pageview", "u": u}).to_string().into_bytes(),
            400,
            "domain",
        ),
        (
            json!({"n": "pageview", "u": "not a url", "d": SITE})
                .to_string()
                .into_bytes(),
            400,
            "url",
        ),
        (
            json!({"n": "pageview", "u": "javascript:alert(1)", "d": SITE})
                .to_string()
                .into_bytes(),
            400,
            "url",
        ),
        (
            json!({"n": "pageview", "u": u, "d": SITE, "p": [1]})
                .to_string()
                .into_bytes(),
            400,
            "props",
        ),
        (
            json!({"n": "pageview", "u": u, "d": SITE, "p": {"a": {"b": 1}}})
                .to_string()
                .into_bytes(),
            400,
            "props",
        ),
        (
            json!({"n": 5, "u": u, "d": SITE}).to_string().into_bytes(),
            400,
            "name",
        ),
        (
            json!({"n": "pageview", "u": u, "d": SITE, "w": "wide"})
                .to_string()
                .into_bytes(),
            400,
            "screen_width",
        ),
    ];
    for (body, status, field) in cases {
        let (got, v) = post_raw(&app, "/api/event", body.clone()).await;
        assert_eq!(got, status, "{}: {v}", String::from_utf8_lossy(&body));
        assert_eq!(v["error"]["field"], field, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(field));
    }
    // A 1 MB body.
    let big = format!(
        "{{\"n\":\"pageview\",\"u\":\"{u}\",\"d\":\"{SITE}\",\"p\":{{\"x\":\"{}\"}}}}",
        "a".repeat(1 << 20)
    );
    let (got, v) = post_raw(&app, "/api/event", big.into_bytes()).await;
    assert_eq!(got, 413, "{v}");
    assert_eq!(v["error"]["code"], "body_too_large");
    // Nothing of it was stored; a good hit afterwards is.
    app.pageview(SITE, &u, None, "192.0.2.1", CHROME).await;
    app.wait_for_events(SITE, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_name_the_part_at_fault() {
    let app = spawn_app().await;
    app.add_site(SITE, "UTC").await;
    let cases = [
        (
            json!({"site_id": SITE, "metrics": ["visitors", "hugs"], "date_range": "7d"}),
            "metrics[1]",
        ),
        (
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "fortnight"}),
            "date_range",
        ),
        (
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": ["2024-02-01", "2024-01-01"]}),
            "date_range",
        ),
        (
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "7d", "filters": [["near", "event:page", ["/"]]]}),
            "filters[0]",
        ),
        (
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "7d", "order_by": [["pageviews", "desc"]]}),
            "order_by[0]",
        ),
        (
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": 0}}),
            "pagination.limit",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = post_raw(&app, "/api/v2/query", body.to_string().into_bytes()).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    let (status, v) = post_raw(&app, "/api/v2/query", b"{".to_vec()).await;
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("body")));
    let (status, v) = post_raw(
        &app,
        "/api/v2/query",
        json!({"site_id": "unknown.example", "metrics": ["visitors"], "date_range": "7d"})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("site_not_found"))
    );
    let r = app
        .client
        .get(format!("{}/no/such/thing", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_stored_as_given_and_returned_as_data() {
    let app = spawn_app().await;
    app.add_site(SITE, "UTC").await;
    let hostile = [
        "/<script>alert(1)</script>",
        "/'; DROP TABLE events; --",
        "/\"quoted\"\\back",
        "/ünïcødé/日本語/🙂",
    ];
    for (i, path) in hostile.iter().enumerate() {
        let url = format!(
            "https://{SITE}{}",
            path.replace(' ', "%20")
                .replace('"', "%22")
                .replace('<', "%3C")
                .replace('>', "%3E")
                .replace('\\', "%5C")
        );
        let r = app
            .event(
                json!({"n": "pageview", "u": url, "d": SITE, "p": {"x'); DROP TABLE props; --": "<img src=x onerror=alert(1)>"}}),
                &format!("192.0.2.{}", i + 1),
                CHROME,
            )
            .await;
        assert_eq!(r.status(), 202, "{path}");
    }
    let r = app
        .event(
            json!({"n": "<b>Evil</b>\"event", "u": format!("https://{SITE}/"), "d": SITE}),
            "192.0.2.99",
            CHROME,
        )
        .await;
    assert_eq!(r.status(), 202);
    // A NUL byte cannot be stored as text; it becomes U+FFFD instead of failing the batch.
    let r = app
        .event(
            json!({"n": "pageview", "u": format!("https://{SITE}/nul%00byte"), "d": SITE}),
            "192.0.2.98",
            CHROME,
        )
        .await;
    assert_eq!(r.status(), 202);
    app.wait_for_events(SITE, hostile.len() as u64 + 2).await;
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all", "filters": [["is", "event:page", ["/nul\u{FFFD}byte"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0])]);
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all", "dimensions": ["event:page"], "order_by": [["event:page", "asc"]]}))
        .await;
    let mut got: Vec<String> = rows(&v).into_iter().map(|(d, _)| d[0].clone()).collect();
    got.retain(|p| p != "/" && !p.starts_with("/nul"));
    let mut want: Vec<String> = hostile.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    // Hostile values also work as filter values, bound as parameters.
    for path in hostile {
        let v = app
            .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all", "filters": [["is", "event:page", [path]]]}))
            .await;
        assert_eq!(rows(&v), vec![(vec![], vec![1.0])], "{path}");
    }
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["events"], "date_range": "all", "dimensions": ["event:props:x'); DROP TABLE props; --"]}))
        .await;
    assert_eq!(
        rows(&v)[0],
        (
            vec!["<img src=x onerror=alert(1)>".to_string()],
            vec![hostile.len() as f64]
        )
    );
    let v = app
        .query(json!({"site_id": SITE, "metrics": ["events"], "date_range": "all", "filters": [["is", "event:name", ["<b>Evil</b>\"event"]]]}))
        .await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0])]);
}
