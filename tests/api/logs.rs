//! Statistics from web-server logs: every format, per-site and shared logs, imports repeated
//! and overlapping, bad lines, through the server and on the data directory, and the real
//! sample end to end with every client address searched for in what was stored.

use super::helpers::*;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One logged request.
struct Req {
    ip: &'static str,
    ts: i64,
    method: &'static str,
    target: &'static str,
    status: u16,
    referrer: &'static str,
    ua: &'static str,
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const BOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn t(day: u32, h: u32, m: u32, s: u32) -> i64 {
    Utc.with_ymd_and_hms(2024, 6, day, h, m, s)
        .unwrap()
        .timestamp()
}

/// Three visitors: a visit from Google with two pages, an asset, a UTM-tagged page with a
/// private query parameter and a 404; a download, a bot, a HEAD and a redirect; a page
/// answered 304 over IPv6.
fn requests() -> Vec<Req> {
    let r = |ip, ts, method, target, status, referrer, ua| Req {
        ip,
        ts,
        method,
        target,
        status,
        referrer,
        ua,
    };
    vec![
        r(
            "198.51.100.10",
            t(3, 10, 0, 0),
            "GET",
            "/",
            200,
            "https://www.google.com/",
            FIREFOX,
        ),
        r(
            "198.51.100.10",
            t(3, 10, 0, 1),
            "GET",
            "/style.css",
            200,
            "-",
            FIREFOX,
        ),
        r(
            "198.51.100.10",
            t(3, 10, 1, 0),
            "GET",
            "/pricing?utm_source=newsletter&session=s3cr3t",
            200,
            "-",
            FIREFOX,
        ),
        r(
            "198.51.100.10",
            t(3, 10, 2, 0),
            "GET",
            "/missing",
            404,
            "-",
            FIREFOX,
        ),
        r(
            "203.0.113.20",
            t(3, 11, 0, 0),
            "GET",
            "/docs/manual.pdf",
            200,
            "-",
            CHROME,
        ),
        r("203.0.113.20", t(3, 11, 0, 5), "GET", "/", 200, "-", BOT),
        r(
            "203.0.113.20",
            t(3, 11, 0, 6),
            "HEAD",
            "/",
            200,
            "-",
            CHROME,
        ),
        r(
            "203.0.113.20",
            t(3, 11, 0, 7),
            "GET",
            "/old",
            301,
            "-",
            CHROME,
        ),
        r(
            "2001:db8:1:2::5",
            t(3, 12, 0, 0),
            "GET",
            "/about",
            304,
            "-",
            SAFARI,
        ),
    ]
}

fn clf_time(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0)
        .unwrap()
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

fn combined(r: &Req) -> String {
    format!(
        "{} - - [{}] \"{} {} HTTP/1.1\" {} 1234 \"{}\" \"{}\"",
        r.ip,
        clf_time(r.ts),
        r.method,
        r.target,
        r.status,
        r.referrer,
        r.ua
    )
}

/// The requests in one format, for `host`.
fn render(format: &str, host: &str) -> String {
    let mut out = String::new();
    for r in requests() {
        let line = match format {
            "combined" => combined(&r),
            "common" => format!(
                "{} - - [{}] \"{} {} HTTP/1.1\" {} 1234",
                r.ip,
                clf_time(r.ts),
                r.method,
                r.target,
                r.status
            ),
            "vhost_combined" => format!("{host}:443 {}", combined(&r)),
            "ispconfig" => format!("{host} {}", combined(&r)),
            "nginx-json" => json!({
                "time_iso8601": DateTime::from_timestamp(r.ts, 0).unwrap().to_rfc3339(),
                "remote_addr": r.ip,
                "request": format!("{} {} HTTP/2.0", r.method, r.target),
                "status": r.status.to_string(),
                "body_bytes_sent": "1234",
                "http_referer": if r.referrer == "-" { "" } else { r.referrer },
                "http_user_agent": r.ua,
                "host": host,
            })
            .to_string(),
            "caddy-json" => json!({
                "level": "info", "ts": r.ts as f64 + 0.25, "logger": "http.log.access",
                "msg": "handled request",
                "request": {
                    "remote_ip": "10.0.0.1", "client_ip": r.ip, "proto": "HTTP/2.0",
                    "method": r.method, "host": host, "uri": r.target,
                    "headers": {"User-Agent": [r.ua], "Referer": if r.referrer == "-" { json!([]) } else { json!([r.referrer]) }}
                },
                "size": 1234, "status": r.status,
                "resp_headers": {"Content-Type": [if r.target.ends_with(".css") { "text/css" } else { "text/html" }]}
            })
            .to_string(),
            other => panic!("{other}"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs the CLI against the data directory `data`, reaching a server at `listen` if one
/// answers there.
fn cli(data: &Path, listen: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    for (k, v) in test_env(data, &[("SPURLOS_LISTEN", listen)]) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `logs import ... --json` through the server of `app`; the summary.
fn import(app: &TestApp, args: &[&str]) -> Value {
    let listen = app.address.trim_start_matches("http://").to_string();
    let mut all = vec!["logs", "import", "--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = cli(app.data_dir.path(), &listen, &all);
    assert!(ok, "{out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn site_row<'a>(summary: &'a Value, site: &str) -> &'a Value {
    summary["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == site)
        .unwrap_or_else(|| panic!("no {site} in {summary}"))
}

async fn totals(app: &TestApp, site: &str) -> Vec<f64> {
    let v = app
        .query(
            json!({"site_id": site, "metrics": ["visitors", "visits", "pageviews", "events"],
            "date_range": ["2024-06-01", "2024-06-09"]}),
        )
        .await;
    rows(&v)
        .first()
        .map(|r| r.1.clone())
        .unwrap_or_else(|| vec![0.0; 4])
}

async fn breakdown(app: &TestApp, site: &str, dim: &str) -> Vec<(String, f64)> {
    let v = app
        .query(
            json!({"site_id": site, "metrics": ["events"], "dimensions": [dim],
            "date_range": ["2024-06-01", "2024-06-09"]}),
        )
        .await;
    let mut out: Vec<(String, f64)> = rows(&v)
        .into_iter()
        .map(|(d, m)| (d[0].clone(), m[0]))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_counts_the_same_visits() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("combined", "f-combined.example", false),
        ("common", "f-common.example", false),
        ("vhost_combined", "f-vhost.example", true),
        ("ispconfig", "f-ispconfig.example", true),
        ("nginx-json", "f-nginx.example", false),
        ("caddy-json", "f-caddy.example", true),
    ];
    for (format, site, by_vhost) in cases {
        app.add_site(site, "UTC").await;
        let file = write(dir.path(), &format!("{format}.log"), &render(format, site));
        let file = file.to_str().unwrap();
        let summary = if by_vhost {
            import(&app, &["--by-vhost", file])
        } else {
            import(&app, &["--site", site, file])
        };
        let row = site_row(&summary, site);
        assert_eq!(row["lines"], 9, "{format}: {summary}");
        if format == "common" {
            // No User-Agent field: the bot's page view counts, the visitor is the address.
            assert_eq!(row["pageviews"], 4, "{format}: {summary}");
            assert_eq!(
                totals(&app, site).await,
                vec![3.0, 3.0, 4.0, 6.0],
                "{format}"
            );
            continue;
        }
        assert_eq!(
            (&row["pageviews"], &row["events"], &row["bots"]),
            (&json!(3), &json!(2), &json!(1)),
            "{format}: {summary}"
        );
        assert_eq!(row["skipped"]["static file"], 1, "{format}: {summary}");
        assert_eq!(row["skipped"]["not GET"], 1, "{format}: {summary}");
        assert_eq!(
            row["skipped"]["redirect or error"], 1,
            "{format}: {summary}"
        );
        // Three visitors in three visits; three page views and five events in all.
        assert_eq!(
            totals(&app, site).await,
            vec![3.0, 3.0, 3.0, 5.0],
            "{format}"
        );
        assert_eq!(
            breakdown(&app, site, "event:name").await,
            vec![
                ("404".to_string(), 1.0),
                ("File Download".to_string(), 1.0),
                ("pageview".to_string(), 3.0)
            ],
            "{format}"
        );
        // Query strings are gone, UTM tags kept, the referrer is the source.
        let pages: Vec<String> = breakdown(&app, site, "event:page")
            .await
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            pages,
            vec!["/", "/about", "/docs/manual.pdf", "/missing", "/pricing"],
            "{format}"
        );
        let sources = breakdown(&app, site, "visit:source").await;
        assert!(
            sources.iter().any(|s| s.0 == "Google"),
            "{format}: {sources:?}"
        );
        let browsers = breakdown(&app, site, "visit:browser").await;
        assert!(
            browsers.iter().any(|s| s.0 == "Firefox"),
            "{format}: {browsers:?}"
        );
    }
    assert_no_file_contains(app.data_dir.path(), b"s3cr3t");
}

/// `n` page views of distinct visitors from 2024-06-04 10:00 on, one every `step` seconds,
/// starting with visitor `first`.
fn pageviews(first: u32, n: u32, step: i64) -> String {
    (first..first + n)
        .map(|i| {
            let r = Req {
                ip: Box::leak(format!("100.{}.{}.9", 64 + i / 250, i % 250).into_boxed_str()),
                ts: t(4, 10, 0, 0) + i as i64 * step,
                method: "GET",
                target: Box::leak(format!("/page/{}", i % 7).into_boxed_str()),
                status: 200,
                referrer: "-",
                ua: FIREFOX,
            };
            combined(&r) + "\n"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_again_counts_nothing_twice() {
    let app = spawn_app().await;
    app.add_site("again.example", "UTC").await;
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "access.log", &pageviews(0, 300, 20));
    let first = first.to_str().unwrap();
    let s = import(&app, &["--site", "again.example", first]);
    assert_eq!(site_row(&s, "again.example")["pageviews"], 300, "{s}");
    // The same file again, and a rotated, compressed copy of it.
    let s = import(&app, &["--site", "again.example", first]);
    assert_eq!(site_row(&s, "again.example")["duplicates"], 300, "{s}");
    assert_eq!(site_row(&s, "again.example")["pageviews"], 0, "{s}");
    let gz = dir.path().join("access.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(pageviews(0, 300, 20).as_bytes()).unwrap();
    enc.finish().unwrap();
    let s = import(&app, &["--site", "again.example", gz.to_str().unwrap()]);
    assert_eq!(site_row(&s, "again.example")["duplicates"], 300, "{s}");
    // An overlapping range: the last 100 lines again and 200 new ones.
    let next = write(dir.path(), "access.log.next", &pageviews(200, 300, 20));
    let s = import(&app, &["--site", "again.example", next.to_str().unwrap()]);
    assert_eq!(
        (
            &site_row(&s, "again.example")["pageviews"],
            &site_row(&s, "again.example")["duplicates"]
        ),
        (&json!(200), &json!(100)),
        "{s}"
    );
    assert_eq!(totals(&app, "again.example").await[2], 500.0);
    // Another source (a second web server) is counted.
    let s = import(
        &app,
        &["--site", "again.example", "--source", "web2", first],
    );
    assert_eq!(site_row(&s, "again.example")["pageviews"], 300, "{s}");
    assert_eq!(totals(&app, "again.example").await[2], 800.0);
}

/// Traffic for billing (issue 13, item 6): every request counts (static files, bots, other
/// methods, errors), each once: Plesk's `access_log` and `proxy_access_log` hold the same
/// requests (with other byte counts), imported with the same source they count once. The
/// provider reads it through the admin API and the CLI, the owner on the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_counts_every_request_once() {
    let app = spawn_app().await;
    app.customer_sites(&[("traffic.example", "acme"), ("beta.example", "beta")])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let access = render("combined", "traffic.example");
    // nginx in front of Apache: the same requests, answered with other sizes.
    let proxy = access.replace(" 1234 ", " 1300 ");
    let third = pageviews(0, 2, 60).replace(" 1234 ", " 500000 ");
    let access = write(dir.path(), "access_log", &access);
    let proxy = write(dir.path(), "proxy_access_log", &proxy);
    let third = write(dir.path(), "access_log.next", &third);
    let s = import(
        &app,
        &["--site", "traffic.example", access.to_str().unwrap()],
    );
    let row = site_row(&s, "traffic.example");
    assert_eq!(
        (&row["requests"], &row["bytes"]),
        (&json!(9), &json!(9 * 1234)),
        "{s}"
    );
    let s = import(
        &app,
        &["--site", "traffic.example", proxy.to_str().unwrap()],
    );
    let row = site_row(&s, "traffic.example");
    assert_eq!(
        (&row["requests"], &row["duplicates"]),
        (&json!(0), &json!(9)),
        "{s}"
    );
    let s = import(
        &app,
        &["--site", "traffic.example", third.to_str().unwrap()],
    );
    assert_eq!(site_row(&s, "traffic.example")["requests"], 2, "{s}");
    let expected = json!({
        "from": "2024-06-01", "to": "2024-06-30",
        "requests": 11, "bytes": 9 * 1234 + 2 * 500_000,
        "sites": [{"site": "traffic.example", "requests": 11, "bytes": 9 * 1234 + 2 * 500_000,
            "days": [
                {"date": "2024-06-03", "requests": 9, "bytes": 9 * 1234},
                {"date": "2024-06-04", "requests": 2, "bytes": 1_000_000},
            ]}],
    });
    let (status, v) = app
        .admin(
            reqwest::Method::GET,
            "/api/admin/traffic?site=traffic.example&from=2024-06-01&to=2024-06-30",
            None,
        )
        .await;
    assert_eq!((status, &v), (200, &expected));
    // By customer: its sites, with or without traffic.
    let (_, v) = app
        .admin(
            reqwest::Method::GET,
            "/api/admin/traffic?customer=beta&from=2024-06-01&to=2024-06-30",
            None,
        )
        .await;
    assert_eq!(
        v["sites"],
        json!([{"site": "beta.example", "requests": 0, "bytes": 0, "days": []}])
    );
    for (query, status, field) in [
        ("site=nothing.example", 404, Value::Null),
        ("from=2024-13-01", 400, json!("from")),
        ("from=2024-06-09&to=2024-06-01", 400, json!("from")),
        ("colour=red", 400, json!("query")),
    ] {
        let (got, v) = app
            .admin(
                reqwest::Method::GET,
                &format!("/api/admin/traffic?{query}"),
                None,
            )
            .await;
        assert_eq!(got, status, "{query}: {v}");
        assert!(v["error"]["message"].is_string(), "{query}: {v}");
        if !field.is_null() {
            assert_eq!(v["error"]["field"], field, "{query}: {v}");
        }
    }
    // The CLI through the server.
    let listen = app.address.trim_start_matches("http://").to_string();
    let args = [
        "logs",
        "traffic",
        "--site",
        "traffic.example",
        "--from",
        "2024-06-01",
        "--to",
        "2024-06-30",
    ];
    let (ok, out, err) = cli(
        app.data_dir.path(),
        &listen,
        &[&args[..], &["--json"]].concat(),
    );
    assert!(ok, "{out}{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), expected);
    let (ok, out, err) = cli(
        app.data_dir.path(),
        &listen,
        &[&args[..], &["--by-day"]].concat(),
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("2024-06-04") && out.contains("1000000") && out.contains("1.01 MB"),
        "{out}"
    );
    // The owner's page; another customer's site is not theirs.
    app.user_with_password("ann@example.com", "acme", "a long password 1")
        .await;
    let r = app
        .login("ann@example.com", "a long password 1", "192.0.2.61")
        .await;
    let cookie = session_cookie(&r);
    let settings = app
        .page_as(&cookie, "/dashboard/traffic.example/settings")
        .await;
    assert!(
        settings.contains("href=\"/dashboard/traffic%2Eexample/traffic\""),
        "{settings}"
    );
    let page = app
        .page_as(
            &cookie,
            "/dashboard/traffic.example/traffic?from=2024-06-01&to=2024-06-30",
        )
        .await;
    assert!(page.contains("id=\"traffic-requests\""), "{page}");
    assert!(page.contains("<strong>11</strong>"), "{page}");
    assert!(page.contains("<td>2024-06-04</td>"), "{page}");
    assert!(page.contains("1.01 MB"), "{page}");
    assert!(
        page.contains("<title>2024-06-04: 1.00 MB, 2 requests</title>"),
        "{page}"
    );
    let empty = app
        .page_as(
            &cookie,
            "/dashboard/traffic.example/traffic?from=2024-05-01&to=2024-05-31",
        )
        .await;
    assert!(empty.contains("id=\"no-traffic\""), "{empty}");
    assert_eq!(
        app.get_as(&cookie, "/dashboard/beta.example/traffic")
            .await
            .status(),
        404
    );
}

/// An AWStats monthly data file with these `(YYYYMMDD, pages, hits, bytes, visits)` days, its
/// host list holding a client address (never to be read).
fn awstats_file(days: &[(&str, u64, u64, u64, u64)]) -> String {
    let mut out = String::from(
        "AWSTATS DATA FILE 7.8 (build 20200416)\n# If you remove this file, all statistics will be lost.\n\n\
         BEGIN_GENERAL 2\nTotalVisits 0\nTotalUnique 0\nEND_GENERAL\n\n\
         # Host - Pages - Hits - Bandwidth - Last visit date\nBEGIN_VISITOR 1\n203.0.113.77 5 9 1000 20240110101010\nEND_VISITOR\n\n\
         # Date - Pages - Hits - Bandwidth - Visits\n",
    );
    out.push_str(&format!("BEGIN_DAY {}\n", days.len()));
    for (d, p, h, b, v) in days {
        out.push_str(&format!("{d} {p} {h} {b} {v}\n"));
    }
    out.push_str("END_DAY\n\n# URL - Pages - Bandwidth - Entry - Exit\nBEGIN_SIDER 1\n/ 5 1000 3 3\nEND_SIDER\n");
    out
}

/// AWStats's history (issue 13, item 7): day sums shown with the native days (which win on
/// days that have both), marked on the dashboard, left out of filtered answers with a
/// warning, imported again without doubling; a broken file is refused whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awstats_history_is_shown_like_native_days() {
    let app = spawn_app().await;
    app.customer_sites(&[("aw.example", "acme")]).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("awstats");
    std::fs::create_dir(&data).unwrap();
    write(
        &data,
        "awstats012024.aw.example.txt",
        &awstats_file(&[("20240110", 30, 90, 1000, 10), ("20240111", 20, 60, 800, 5)]),
    );
    write(
        &data,
        "awstats022024.aw.example.txt",
        &awstats_file(&[("20240201", 12, 30, 500, 4)]),
    );
    write(
        &data,
        "awstats012024.other.example.txt",
        &awstats_file(&[("20240110", 999, 999, 999, 999)]),
    );
    // One native page view on 11 January: that day is the native one's.
    let native = Req {
        ip: "198.51.100.40",
        ts: Utc
            .with_ymd_and_hms(2024, 1, 11, 9, 0, 0)
            .unwrap()
            .timestamp(),
        method: "GET",
        target: "/native",
        status: 200,
        referrer: "-",
        ua: FIREFOX,
    };
    let log = write(dir.path(), "access.log", &(combined(&native) + "\n"));
    import(&app, &["--site", "aw.example", log.to_str().unwrap()]);
    let listen = app.address.trim_start_matches("http://").to_string();
    let path = data.to_str().unwrap();
    // Two configurations in the directory: which one is asked.
    let (ok, out, err) = cli(
        app.data_dir.path(),
        &listen,
        &["logs", "import-awstats", "--site", "aw.example", path],
    );
    assert!(
        !ok && err.contains("aw.example, other.example"),
        "{out}{err}"
    );
    let args = [
        "logs",
        "import-awstats",
        "--json",
        "--site",
        "aw.example",
        "--awstats-config",
        "aw.example",
        path,
    ];
    for _ in 0..2 {
        let (ok, out, err) = cli(app.data_dir.path(), &listen, &args);
        assert!(ok, "{out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (
                &v["months"],
                &v["days"],
                &v["days_with_visits"],
                &v["visits"]
            ),
            (&json!(2), &json!(31 + 29), &json!(3), &json!(19)),
            "{v}"
        );
    }
    let q = |include: Value, filters: Value| {
        json!({"site_id": "aw.example",
            "metrics": ["visitors", "visits", "pageviews", "bounce_rate"],
            "date_range": ["2024-01-01", "2024-02-29"], "include": include, "filters": filters})
    };
    // Native 11 January (1 visitor, 1 visit, 1 page view, a bounce) and the imported 10
    // January and 1 February; bounce rate from the native visit alone.
    let v = app.query(q(json!({"imports": true}), json!([]))).await;
    assert_eq!(rows(&v)[0].1, vec![15.0, 15.0, 43.0, 100.0], "{v}");
    assert_eq!(v["meta"]["imports_included"], true, "{v}");
    let v = app.query(q(json!({}), json!([]))).await;
    assert_eq!(rows(&v)[0].1, vec![1.0, 1.0, 1.0, 100.0], "{v}");
    let v = app
        .query(q(
            json!({"imports": true}),
            json!([["is", "event:page", ["/native"]]]),
        ))
        .await;
    assert_eq!(rows(&v)[0].1[0], 1.0, "{v}");
    assert_eq!(v["meta"]["imports_included"], false, "{v}");
    assert!(v["meta"]["imports_warning"].is_string(), "{v}");
    let v = app
        .query(
            json!({"site_id": "aw.example", "metrics": ["visitors", "pageviews"],
            "dimensions": ["time:day"], "date_range": ["2024-01-09", "2024-01-12"],
            "include": {"imports": true}}),
        )
        .await;
    assert_eq!(
        rows(&v),
        vec![
            (vec!["2024-01-10".to_string()], vec![10.0, 30.0]),
            (vec!["2024-01-11".to_string()], vec![1.0, 1.0]),
        ],
        "{v}"
    );
    // A broken file: refused with file, line and field; nothing of it imported.
    write(
        &data,
        "awstats032024.aw.example.txt",
        &awstats_file(&[("20240301", 7, 7, 7, 7), ("20240302", 8, 8, 8, 8)])
            .replace("20240302 8 8 8 8", "20240302 8 8 eight 8"),
    );
    let (ok, out, err) = cli(app.data_dir.path(), &listen, &args);
    assert!(
        !ok && err.contains("awstats032024.aw.example.txt, line 17, field 4: not a count"),
        "{out}{err}"
    );
    let v = app.query(q(json!({"imports": true}), json!([]))).await;
    assert_eq!(rows(&v)[0].1[0], 15.0, "{v}");
    // The owner's dashboard says which days are imported.
    app.user_with_password("ann@example.com", "acme", "a long password 2")
        .await;
    let r = app
        .login("ann@example.com", "a long password 2", "192.0.2.62")
        .await;
    let cookie = session_cookie(&r);
    let page = app
        .page_as(
            &cookie,
            "/dashboard/aw.example?period=custom&from=2024-01-01&to=2024-01-31",
        )
        .await;
    assert!(page.contains("id=\"imported-note\""), "{page}");
    assert!(page.contains("AWStats or Plausible) for 2 days"), "{page}");
    // Nothing of AWStats's host list was stored.
    for (what, bytes) in stored_blobs(app.data_dir.path()) {
        assert!(!bytes.windows(12).any(|w| w == b"203.0.113.77"), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_logs_go_to_each_vhosts_site() {
    let app = spawn_app().await;
    app.add_site("one.example", "UTC").await;
    app.add_site_spec(json!({"domain": "two.example", "aliases": ["two.example.org"]}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (i, host) in [
        "one.example:80",
        "www.two.example.org:443",
        "stranger.example:443",
        "two.example:443",
        "stranger.example:80",
        "other.example:80",
    ]
    .iter()
    .enumerate()
    {
        let r = Req {
            ip: "198.51.100.1",
            ts: t(5, 9, i as u32, 0),
            method: "GET",
            target: "/",
            status: 200,
            referrer: "-",
            ua: FIREFOX,
        };
        text.push_str(&format!("{host} {}\n", combined(&r)));
    }
    let file = write(dir.path(), "other_vhosts_access.log", &text);
    let file = file.to_str().unwrap();
    let s = import(&app, &["--by-vhost", file]);
    assert_eq!(site_row(&s, "one.example")["pageviews"], 1, "{s}");
    assert_eq!(site_row(&s, "two.example")["pageviews"], 2, "{s}");
    assert_eq!(s["unknown_hosts"], 3, "{s}");
    assert_eq!(
        s["top_unknown_hosts"],
        json!([["stranger.example", 2], ["other.example", 1]])
    );
    // Sites made for the unknown hosts on request, for a customer.
    app.admin(
        reqwest::Method::PUT,
        "/api/admin/customers/acme",
        Some(json!({"name": "Acme"})),
    )
    .await;
    let s = import(
        &app,
        &["--by-vhost", "--create-sites", "--customer", "acme", file],
    );
    assert_eq!(site_row(&s, "stranger.example")["pageviews"], 2, "{s}");
    assert_eq!(site_row(&s, "one.example")["duplicates"], 1, "{s}");
    let (_, sites) = app
        .admin(reqwest::Method::GET, "/api/admin/sites", None)
        .await;
    let stranger = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["domain"] == "stranger.example")
        .unwrap();
    assert!(stranger["customer_id"].is_number(), "{stranger}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_counted_skips() {
    let app = spawn_app().await;
    app.add_site("bad.example", "UTC").await;
    let dir = tempfile::tempdir().unwrap();
    let good = pageviews(0, 3, 60);
    let mut bytes = good.as_bytes().to_vec();
    bytes.extend_from_slice(b"198.51.100.1 - - [04/Jun/2024:10:00:00 +0000] \"GET / HT\n");
    bytes.extend_from_slice(b"\x00\x01\x02\xff binary garbage\n");
    bytes.extend_from_slice(&vec![b'a'; 1024 * 1024]);
    bytes.push(b'\n');
    bytes.extend_from_slice(
        b"198.51.100.1 - - [04/Jun/2024:10:00:00 +0000] \"GET /\xe9 HTTP/1.1\" 200 1 \"-\" \"x\"\n",
    );
    bytes.extend_from_slice(
        b"198.51.100.1 - - [31/Jun/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n",
    );
    bytes.extend_from_slice(
        b"- - - [04/Jun/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n",
    );
    bytes.extend_from_slice(
        good.lines()
            .next()
            .unwrap()
            .replace("10:00:00", "11:30:00")
            .as_bytes(),
    );
    let file = dir.path().join("bad.log");
    std::fs::write(&file, &bytes).unwrap();
    let s = import(
        &app,
        &[
            "--site",
            "bad.example",
            "--format",
            "combined",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(site_row(&s, "bad.example")["pageviews"], 4, "{s}");
    let m = &s["malformed"];
    assert_eq!(m["does not fit the format"]["lines"], 1, "{s}");
    assert_eq!(m["line too long"]["lines"], 1, "{s}");
    assert_eq!(m["invalid UTF-8"]["lines"], 2, "{s}");
    assert_eq!(m["impossible time"]["lines"], 1, "{s}");
    assert_eq!(m["no client address"]["lines"], 1, "{s}");
    assert_eq!(
        m["line too long"]["first"],
        json!([format!("{}:6", file.display())])
    );
    // A file of no known format is refused with its name, and nothing is stored.
    let junk = write(dir.path(), "junk.log", "hello\nworld\n");
    let listen = app.address.trim_start_matches("http://").to_string();
    let (ok, _, err) = cli(
        app.data_dir.path(),
        &listen,
        &[
            "logs",
            "import",
            "--site",
            "bad.example",
            junk.to_str().unwrap(),
        ],
    );
    assert!(
        !ok && err.contains("junk.log") && err.contains("format"),
        "{err}"
    );
    assert_eq!(totals(&app, "bad.example").await[2], 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_on_the_data_directory_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let idle = format!("127.0.0.1:{}", free_port());
    let (ok, out, err) = cli(&data, &idle, &["site", "add", "local.example"]);
    assert!(ok, "{out}{err}");
    let file = write(dir.path(), "a.log", &pageviews(0, 50, 30));
    let (ok, out, err) = cli(
        &data,
        &idle,
        &[
            "logs",
            "import",
            "--site",
            "local.example",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("local.example") && out.contains("archived"),
        "{out}"
    );
    let (ok, out, err) = cli(
        &data,
        &idle,
        &[
            "logs",
            "traffic",
            "--json",
            "--from",
            "2024-06-01",
            "--to",
            "2024-06-30",
        ],
    );
    assert!(ok, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&v["requests"], &v["bytes"]),
        (&json!(50), &json!(50 * 1234)),
        "{v}"
    );
    let app = spawn_binary(&data, &dir.path().join("log"), &[]);
    let v = app
        .query(
            json!({"site_id": "local.example", "metrics": ["pageviews", "visitors"],
            "date_range": ["2024-06-01", "2024-06-09"]}),
        )
        .await;
    assert_eq!(rows(&v)[0].1, vec![50.0, 50.0], "{v}");
    assert!(app.terminate().success());
}

/// The real sample (`../shared/data/access-logs/`, not in the repository): imported through
/// the binary with debug logging, then no client address of the sample (text; the most
/// frequent also as bytes) and no full User-Agent is found in anything stored or logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sample_leaves_no_address_behind() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/access-logs/apache_combined_10k.log");
    if !sample.exists() {
        eprintln!("SKIPPED: {} is not there", sample.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("spurlos.log");
    let app = spawn_binary(&data, &log, &[("SPURLOS_LOG", "debug")]);
    app.add_site("semicomplete.com").await;
    let listen = app.address.trim_start_matches("http://").to_string();
    let (ok, out, err) = cli(
        &data,
        &listen,
        &[
            "logs",
            "import",
            "--json",
            "--site",
            "semicomplete.com",
            sample.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    let row = site_row(&s, "semicomplete.com");
    assert_eq!(row["lines"], 9_999, "{s}");
    let pageviews = row["pageviews"].as_u64().unwrap();
    assert!(pageviews > 1_000, "{s}");
    let v = app
        .query(
            json!({"site_id": "semicomplete.com", "metrics": ["pageviews"],
            "date_range": ["2015-05-17", "2015-05-20"]}),
        )
        .await;
    assert_eq!(rows(&v)[0].1[0] as u64, pageviews, "{v}");
    let status = app.terminate();
    assert!(status.success());

    let text = std::fs::read_to_string(&sample).unwrap();
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    let mut agents = std::collections::HashSet::new();
    for line in text.lines() {
        let ip = line.split(' ').next().unwrap();
        *counts.entry(ip).or_default() += 1;
        if let Some(ua) = line.rsplit('"').nth(1) {
            if ua.len() > 40 {
                agents.insert(ua.to_string());
            }
        }
    }
    let mut blobs = stored_blobs(&data);
    blobs.push(("server log".into(), std::fs::read(&log).unwrap()));
    blobs.push(("import output".into(), format!("{out}{err}").into_bytes()));
    let mut frequent: Vec<(&str, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    frequent.sort_by_key(|f| std::cmp::Reverse(f.1));
    for (what, bytes) in &blobs {
        let hay = String::from_utf8_lossy(bytes);
        for ip in counts.keys() {
            // As text, bounded so that 1.2.3.4 is not found inside 11.2.3.45.
            let found = hay.match_indices(ip).any(|(i, _)| {
                let before = hay[..i].chars().last();
                let after = hay[i + ip.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
                    && !after.is_some_and(|c| c.is_ascii_digit())
            });
            assert!(!found, "{what} contains {ip}");
        }
        for (ip, _) in frequent.iter().take(5) {
            let octets = ip.parse::<std::net::Ipv4Addr>().unwrap().octets();
            assert!(
                !bytes.windows(4).any(|w| w == octets),
                "{what} contains {ip} as bytes"
            );
        }
        for ua in &agents {
            assert!(
                !hay.contains(ua.as_str()),
                "{what} contains the User-Agent {ua}"
            );
        }
    }
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

async fn wait_for_pageviews(app: &TestApp, site: &str, n: f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = totals(app, site).await[2];
        if now == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{now} page views, not {n}: {:?}",
            breakdown(app, site, "event:page").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn follower(app: &TestApp, log: &Path, state: &Path) -> std::process::Child {
    let listen = app.address.trim_start_matches("http://").to_string();
    let mut cmd = Command::new(binary());
    cmd.args([
        "logs",
        "follow",
        "--json",
        "--site",
        "follow.example",
        "--poll-ms",
        "50",
    ]);
    cmd.arg("--state").arg(state).arg(log);
    for (k, v) in test_env(app.data_dir.path(), &[("SPURLOS_LISTEN", &listen)]) {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn stop(child: std::process::Child) -> String {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_goes_on_through_rotation_and_restarts() {
    let app = spawn_app().await;
    app.add_site("follow.example", "UTC").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let state = dir.path().join("follow-state.json");
    append(&log, &pageviews(0, 10, 20));
    let child = follower(&app, &log, &state);
    wait_for_pageviews(&app, "follow.example", 10.0).await;
    // Lines appended, the last one in two writes.
    append(&log, &pageviews(10, 4, 20));
    let last = pageviews(14, 1, 20);
    append(&log, &last[..20]);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    append(&log, &last[20..]);
    wait_for_pageviews(&app, "follow.example", 15.0).await;
    // logrotate by rename: the old file gets its last lines, then the new one starts.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, &pageviews(15, 2, 20));
    append(&log, &pageviews(17, 3, 20));
    wait_for_pageviews(&app, "follow.example", 20.0).await;
    // copytruncate: the file emptied in place, shorter and then longer than before.
    std::fs::write(&log, pageviews(20, 2, 20)).unwrap();
    wait_for_pageviews(&app, "follow.example", 22.0).await;
    std::fs::write(&log, pageviews(22, 6, 20)).unwrap();
    wait_for_pageviews(&app, "follow.example", 28.0).await;
    let out = stop(child);
    assert!(out.contains("\"pageviews\": 28"), "{out}");
    // Stopped: lines written meanwhile are read after the restart, nothing read twice.
    append(&log, &pageviews(28, 2, 20));
    let child = follower(&app, &log, &state);
    wait_for_pageviews(&app, "follow.example", 30.0).await;
    let out = stop(child);
    assert!(
        out.contains("\"pageviews\": 2") && out.contains("\"duplicates\": 0"),
        "{out}"
    );
    assert!(std::fs::read_to_string(&state)
        .unwrap()
        .contains("access.log"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_stored_in_their_order_through_the_admin_api() {
    let app = spawn_app().await;
    app.add_site("order.example", "UTC").await;
    let (status, v) = app
        .admin(
            reqwest::Method::POST,
            "/api/admin/logs/runs",
            Some(json!({"source": "web1"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let run = v["run"].as_str().unwrap().to_string();
    let entry = |ts: i64, path: &str| {
        json!({"site": "order.example", "ip": "198.51.100.0", "ts": ts, "kind": "pageview",
            "host": "order.example", "target": path, "ua": FIREFOX, "status": 200})
    };
    let path = format!("/api/admin/logs/runs/{run}");
    // Batch 1 arrives first and waits for batch 0: one visit entering on /first.
    let second = app.admin(
        reqwest::Method::POST,
        &path,
        Some(json!({"seq": 1, "entries": [entry(t(6, 9, 1, 0), "/second")]})),
    );
    let first = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.admin(
            reqwest::Method::POST,
            &path,
            Some(json!({"seq": 0, "entries": [entry(t(6, 9, 0, 0), "/first")]})),
        )
        .await
    };
    let ((s2, v2), (s1, v1)) = tokio::join!(second, first);
    assert_eq!((s1, s2), (200, 200), "{v1} {v2}");
    assert_eq!(v1["sites"]["order.example"]["pageviews"], 1);
    let v = app
        .query(
            json!({"site_id": "order.example", "metrics": ["visits", "pageviews"],
            "dimensions": ["visit:entry_page"], "date_range": ["2024-06-01", "2024-06-09"]}),
        )
        .await;
    assert_eq!(
        rows(&v),
        vec![(vec!["/first".to_string()], vec![1.0, 2.0])],
        "{v}"
    );
    // A batch number used already, bad bodies and unknown runs: clear errors.
    let (status, v) = app
        .admin(
            reqwest::Method::POST,
            &path,
            Some(json!({"seq": 0, "entries": []})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("out of order"),
        "{v}"
    );
    let (status, v) = app
        .admin(
            reqwest::Method::POST,
            &path,
            Some(json!({"entries": [{"site": 1}]})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = app
        .admin(
            reqwest::Method::POST,
            "/api/admin/logs/runs",
            Some(json!({"source": "Web 1"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app.admin(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, v) = app
        .admin(reqwest::Method::POST, &path, Some(json!({"entries": []})))
        .await;
    assert_eq!(status, 404, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_hands_each_site_its_own_lines_without_full_addresses() {
    let app = spawn_app().await;
    app.add_site("a.example", "UTC").await;
    app.add_site_spec(
        json!({"domain": "b.example", "aliases": ["b.example.net"], "ip_mask_bytes": 2}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let line = |host: &str, ip: &str, path: &str| {
        let r = Req {
            ip: Box::leak(ip.to_string().into_boxed_str()),
            ts: t(5, 9, 0, 0),
            method: "GET",
            target: Box::leak(path.to_string().into_boxed_str()),
            status: 200,
            referrer: "-",
            ua: FIREFOX,
        };
        format!("{host}:443 {}\n", combined(&r))
    };
    let text = [
        line("a.example", "198.51.100.77", "/a1"),
        line("www.b.example.net", "203.0.113.45", "/b1"),
        line("a.example", "2001:db8:aa:bb::7", "/a2.css"),
        line("elsewhere.example", "192.0.2.99", "/x"),
        "garbage\n".to_string(),
        line("b.example", "203.0.113.46", "/b2"),
    ]
    .concat();
    let shared = write(dir.path(), "other_vhosts_access.log", &text);
    let out = dir.path().join("split");
    let listen = app.address.trim_start_matches("http://").to_string();
    let (ok, stdout, err) = cli(
        app.data_dir.path(),
        &listen,
        &[
            "logs",
            "split",
            "--by-vhost",
            "--json",
            "--out",
            out.to_str().unwrap(),
            shared.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stdout}{err}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["lines"], 6, "{summary}");
    assert_eq!(
        summary["malformed"]["does not fit the format"], 1,
        "{summary}"
    );
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let a = read("a.example.log");
    assert_eq!(a.lines().count(), 2);
    assert!(
        a.starts_with(
            "a.example:443 198.51.100.0 - - [05/Jun/2024:09:00:00 +0000] \"GET /a1 HTTP/1.1\""
        ),
        "{a}"
    );
    assert!(
        a.contains(" 2001:db8:aa:: ") && !a.contains("77") && !a.contains(":7 "),
        "{a}"
    );
    let b = read("b.example.log");
    assert_eq!(b.lines().count(), 2);
    assert!(b.contains(" 203.0.0.0 ") && !b.contains("203.0.113"), "{b}");
    let unknown = read("unknown-hosts.log");
    assert!(
        unknown.contains("elsewhere.example:443 192.0.2.0 "),
        "{unknown}"
    );
    // The directory must be new or empty; full addresses only when asked for.
    let (ok, _, err) = cli(
        app.data_dir.path(),
        &listen,
        &[
            "logs",
            "split",
            "--by-vhost",
            "--out",
            out.to_str().unwrap(),
            shared.to_str().unwrap(),
        ],
    );
    assert!(!ok && err.contains("not empty"), "{err}");
    let kept = dir.path().join("kept");
    let (ok, _, err) = cli(
        app.data_dir.path(),
        &listen,
        &[
            "logs",
            "split",
            "--by-vhost",
            "--keep-addresses",
            "--out",
            kept.to_str().unwrap(),
            shared.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(std::fs::read_to_string(kept.join("a.example.log"))
        .unwrap()
        .contains("198.51.100.77"));
}
