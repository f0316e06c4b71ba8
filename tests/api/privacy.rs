//! Privacy proven by search: hits with known addresses and User-Agents go through the real
//! binary (with debug logging), then every byte it wrote (data directory and log output) is
//! searched for them in text and binary form.

use super::helpers::*;
use serde_json::json;
use std::time::Duration;

const SITE: &str = "private.example";
const PROBE_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 SpurlosProbe/7.7.7";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_written_identifies_a_visitor() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("spurlos.log");
    let app = spawn_binary(&data, &log, &[("SPURLOS_LOG", "debug")]);
    let client = reqwest::Client::new();
    app.add_site(SITE).await;
    let v4 = ["198.51.100.77", "203.0.113.201"];
    let v6 = "2001:db8:4711:abcd:1:2:3:4";
    for (i, ip) in v4.iter().chain([&v6]).enumerate() {
        for page in ["/", "/pricing"] {
            let r = client
                .post(format!("{}/api/event", app.address))
                .header("X-Forwarded-For", *ip)
                .header("User-Agent", PROBE_UA)
                .body(
                    json!({"n": "pageview", "u": format!("https://{SITE}{page}"), "d": SITE})
                        .to_string(),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "{i}");
        }
        // Bad requests from the same visitor must not leak it into error logs either.
        let r = client
            .post(format!("{}/api/event", app.address))
            .header("X-Forwarded-For", *ip)
            .header("User-Agent", PROBE_UA)
            .body("{broken")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    // Wait until the six page views are stored, then stop so everything is flushed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = app
            .query(
                json!({"site_id": SITE, "metrics": ["pageviews", "visitors"], "date_range": "all"}),
            )
            .await;
        if v["results"][0]["metrics"] == json!([6, 3]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.terminate().success());

    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for ip in v4 {
        let a: std::net::Ipv4Addr = ip.parse().unwrap();
        let o = a.octets();
        let truncated = format!("{}.{}.{}.0", o[0], o[1], o[2]);
        needles.push((format!("{ip} (text)"), ip.as_bytes().to_vec()));
        needles.push((format!("{ip} (utf-16)"), utf16(ip)));
        needles.push((format!("{truncated} (text)"), truncated.as_bytes().to_vec()));
        needles.push((format!("{ip} (bytes)"), o.to_vec()));
        needles.push((
            format!("{ip} (bytes, reversed)"),
            o.iter().rev().copied().collect(),
        ));
        needles.push((format!("{truncated} (bytes)"), vec![o[0], o[1], o[2], 0]));
        needles.push((
            format!("{truncated} (bytes, reversed)"),
            vec![0, o[2], o[1], o[0]],
        ));
    }
    let a6: std::net::Ipv6Addr = v6.parse().unwrap();
    needles.push(("v6 (text)".into(), v6.as_bytes().to_vec()));
    needles.push(("v6 /48 (text)".into(), b"2001:db8:4711".to_vec()));
    needles.push(("v6 (bytes)".into(), a6.octets().to_vec()));
    needles.push(("v6 /48 (bytes)".into(), a6.octets()[..6].to_vec()));
    needles.push(("user agent (text)".into(), b"SpurlosProbe".to_vec()));
    needles.push(("user agent (utf-16)".into(), utf16("SpurlosProbe")));
    needles.push(("user agent (lower)".into(), b"spurlosprobe".to_vec()));

    let mut blobs = stored_blobs(&data);
    blobs.push((log.display().to_string(), std::fs::read(&log).unwrap()));
    let names: Vec<&String> = blobs.iter().map(|(n, _)| n).collect();
    let store_file = if super::chserver::enabled() {
        "ClickHouse table"
    } else {
        "spurlos.duckdb"
    };
    assert!(names.iter().any(|n| n.contains(store_file)), "{names:?}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("DEBUG") || log_text.contains("stored a batch"),
        "debug logging was on: {log_text}"
    );
    for (what, bytes) in &blobs {
        for (needle_name, needle) in &needles {
            assert!(!contains(bytes, needle), "{what} contains {needle_name}");
        }
    }
}

/// Issue 11, item 5: what spurlos writes is for its own user only: the data directory is
/// 0700 and every file in it (salts, database and its log, spool, token) 0600, also when the
/// directory existed before with looser modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_readable_by_spurlos_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path().join("spurlos.log");
    let app = spawn_binary(&data, &log, &[]);
    app.add_site("modes.example").await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/event", app.address))
        .header("X-Forwarded-For", "192.0.2.1")
        .header("User-Agent", CHROME)
        .body(
            json!({"n": "pageview", "u": "https://modes.example/", "d": "modes.example"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(app.terminate().success());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data directory");
    let mut files = Vec::new();
    all_files(&data, &mut files);
    assert!(files.len() >= 2, "{files:?}");
    for f in files {
        assert_eq!(mode(&f) & 0o077, 0, "{} is {:o}", f.display(), mode(&f));
    }
}
