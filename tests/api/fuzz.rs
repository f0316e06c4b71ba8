//! Bounded fuzzing at the HTTP boundary (issue 11, item 8): generated bodies and query strings
//! for the Events API, Matomo's tracking API (single, form and bulk), the Stats API and the
//! dashboard's URL state. No answer is a 5xx, and every rejection of a JSON endpoint is a 4xx
//! with a JSON error naming a code. The cases are deterministic (proptest's fixed seed), a few
//! hundred per endpoint, so that CI stays within seconds; `PROPTEST_CASES` runs more.

use super::helpers::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

const SITE: &str = "fuzz.example";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150)
}

/// `n` values of `strategy`, the same every run.
fn sample<S: Strategy>(strategy: S, n: u32) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

/// JSON of any shape, with the keys and words the APIs know mixed in.
fn json_value() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "pageview",
        "fuzz.example",
        "https://fuzz.example/a?utm_source=x",
        "day",
        "7d",
        "all",
        "realtime",
        "custom",
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "event:page",
        "visit:source",
        "time:day",
        "time:minute",
        "is",
        "contains",
        "matches",
        "event:props:plan",
        "2024-06-10",
        "0001-01-01",
        "9999-12-31",
        "\u{0}",
        "<script>",
        "desc",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,60}".prop_map(Value::from),
        words.prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "n",
        "name",
        "u",
        "url",
        "d",
        "domain",
        "r",
        "referrer",
        "p",
        "props",
        "m",
        "meta",
        "h",
        "i",
        "w",
        "site_id",
        "metrics",
        "date_range",
        "dimensions",
        "filters",
        "order_by",
        "pagination",
        "limit",
        "offset",
        "include",
        "comparisons",
        "mode",
        "time_labels",
        "requests",
        "idsite",
        "rec",
        "token_auth",
    ]);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..7)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Matomo query string: known parameters with hostile, numeric or date-like values.
fn matomo_query() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "idsite",
        "rec",
        "url",
        "action_name",
        "urlref",
        "e_c",
        "e_a",
        "e_n",
        "e_v",
        "link",
        "download",
        "search",
        "search_count",
        "idgoal",
        "revenue",
        "ping",
        "ca",
        "res",
        "cip",
        "cdt",
        "_cvar",
        "cvar",
        "dimension1",
        "dimension99999999999",
        "new_visit",
        "bots",
        "send_image",
        "ua",
        "requests",
    ]);
    let value = prop_oneof![
        ".{0,80}",
        "-?[0-9]{1,25}(\\.[0-9]{0,4})?(e[0-9]{1,3})?",
        "1",
        "https://fuzz\\.example/[a-z%]{0,12}",
        "\\{\"[0-9]\":\\[\".{0,5}\",\".{0,5}\"\\]\\}",
    ];
    prop::collection::vec((key, value), 0..14).prop_map(|pairs| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            q.append_pair(k, &v);
        }
        q.finish()
    })
}

async fn assert_json_error(r: reqwest::Response, what: &str) {
    let status = r.status();
    assert!(status.as_u16() < 500, "{what}: {status}");
    if status.is_client_error() {
        let v: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: a {status} without a JSON body ({e})"));
        assert!(v["error"]["code"].is_string(), "{what}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_answers_never_server_errors() {
    let app = spawn_app().await;
    app.add_site(SITE, "UTC").await;
    let post = |path: &'static str, body: Vec<u8>| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}{path}", app.address))
                .header("X-Forwarded-For", "192.0.2.44")
                .header("User-Agent", CHROME)
                .header("Content-Type", "text/plain")
                .bearer_auth(ADMIN)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // Events API and Stats API: JSON of any shape, and raw bytes.
    for v in sample(json_value(), cases()) {
        let body = v.to_string().into_bytes();
        assert_json_error(
            post("/api/event", body.clone()).await,
            &format!("event {v}"),
        )
        .await;
        assert_json_error(post("/api/v2/query", body).await, &format!("query {v}")).await;
    }
    for bytes in sample(prop::collection::vec(any::<u8>(), 0..300), cases()) {
        assert_json_error(post("/api/event", bytes.clone()).await, "event bytes").await;
        assert_json_error(post("/api/v2/query", bytes).await, "query bytes").await;
    }
    // Matomo: query strings, form bodies, and bulk bodies of them.
    let queries = sample(matomo_query(), cases());
    for q in &queries {
        let r = app
            .client
            .get(format!("{}/matomo.php?{q}", app.address))
            .header("User-Agent", CHROME)
            .send()
            .await
            .unwrap();
        if r.headers()
            .get("content-type")
            .is_some_and(|c| c == "image/gif")
        {
            continue;
        }
        assert_json_error(r, &format!("matomo ?{q}")).await;
        assert_json_error(
            post("/matomo.php", q.clone().into_bytes()).await,
            &format!("matomo form {q}"),
        )
        .await;
    }
    for chunk in queries.chunks(7) {
        let bulk = json!({"requests": chunk.iter().map(|q| format!("?{q}")).collect::<Vec<_>>()});
        assert_json_error(
            post("/matomo.php", bulk.to_string().into_bytes()).await,
            &format!("bulk {bulk}"),
        )
        .await;
    }
    for v in sample(json_value(), cases() / 2) {
        let bulk = json!({ "requests": v });
        assert_json_error(
            post("/matomo.php", bulk.to_string().into_bytes()).await,
            &format!("bulk {bulk}"),
        )
        .await;
    }
    // The dashboard's URL state, as a signed-in owner.
    app.customer_sites(&[("dash.fuzz.example", "fuzz")]).await;
    app.user_with_password("o@fuzz.example", "fuzz", "correct horse battery")
        .await;
    let cookie = session_cookie(
        &app.login("o@fuzz.example", "correct horse battery", "192.0.2.45")
            .await,
    );
    let state = prop_oneof![
        ".{0,120}",
        "(period=(day|7d|30d|month|custom|[a-z0-9]{0,4})&)?(from=[0-9\\-]{0,12}&to=[0-9\\-]{0,12}&)?(f=(visit:source|event:page|time:day|[a-z:]{0,12})(%7C|\\|).{0,20}&){0,3}",
    ];
    for q in sample(state, cases()) {
        let encoded: String = q.chars().filter(|c| !c.is_control() && *c != '#').collect();
        let r = app
            .get_as(&cookie, &format!("/dashboard/dash.fuzz.example?{encoded}"))
            .await;
        assert!(
            r.status().as_u16() < 500,
            "dashboard ?{encoded}: {}",
            r.status()
        );
    }
}
