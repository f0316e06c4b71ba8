//! The command line a hosting panel scripts: works on the data directory when no server runs,
//! and through the running server's admin API when one does.

use super::helpers::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_and_token_commands_with_and_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let idle = format!("127.0.0.1:{}", free_port());
    // No server: the CLI opens the data directory itself.
    let (ok, out, err) = cli(
        &data,
        &idle,
        &[
            "site",
            "add",
            "cli.example",
            "--alias",
            "cli.example.org",
            "--timezone",
            "Europe/Berlin",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("added site cli.example"), "{out}");
    let (ok, out, err) = cli(&data, &idle, &["site", "add", "www.CLI.example"]);
    assert!(!ok && err.contains("exists already"), "{out}{err}");
    let (ok, _, err) = cli(
        &data,
        &idle,
        &["site", "add", "x", "--timezone", "Nowhere/Else"],
    );
    assert!(!ok && err.contains("timezone"), "{err}");

    // With a server running on the same data directory, the CLI goes through it.
    let app = spawn_binary(&data, &log, &[]);
    let listen = app.address.trim_start_matches("http://").to_string();
    let (ok, out, err) = cli(&data, &listen, &["site", "add", "second.example"]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = cli(&data, &listen, &["site", "list", "--json"]);
    assert!(ok);
    let sites: Value = serde_json::from_str(&out).unwrap();
    let domains: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, vec!["cli.example", "second.example"]);
    assert_eq!(sites[0]["timezone"], "Europe/Berlin");
    assert_eq!(sites[0]["aliases"], json!(["cli.example.org"]));
    let (ok, out, _) = cli(&data, &listen, &["site", "list"]);
    assert!(ok && out.contains("second.example"), "{out}");

    let (ok, token, err) = cli(
        &data,
        &listen,
        &["token", "create", "--site", "second.example"],
    );
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    let status = |site: &'static str| {
        let body = json!({"site_id": site, "metrics": ["visitors"], "date_range": "7d"});
        reqwest::Client::new()
            .post(format!("{}/api/v2/query", app.address))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    assert_eq!(status("second.example").await.unwrap().status(), 200);
    assert_eq!(status("cli.example").await.unwrap().status(), 404);

    let (ok, out, err) = cli(&data, &listen, &["site", "remove", "second.example"]);
    assert!(ok, "{out}{err}");
    let r = status("second.example").await.unwrap();
    assert!(r.status() == 401 || r.status() == 404, "{}", r.status());
    assert!(app.terminate().success());
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["site", "--help"],
        vec!["site", "add", "--help"],
        vec!["site", "list", "--help"],
        vec!["site", "remove", "--help"],
        vec!["token", "--help"],
        vec!["token", "create", "--help"],
        vec!["backup", "--help"],
        vec!["restore", "--help"],
    ] {
        let out = Command::new(binary()).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
    let out = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for var in [
        "SPURLOS_LISTEN",
        "SPURLOS_DATA_DIR",
        "SPURLOS_TRUSTED_PROXIES",
        "SPURLOS_GEOIP_DB",
        "SPURLOS_ADMIN_TOKEN",
    ] {
        assert!(text.contains(var), "serve --help documents {var}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_command_with_and_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let app = spawn_binary(&data, &log, &[]);
    app.add_site("archive-cli.example").await;
    // Three days ago, through Matomo's bulk API with cdt (admin token): finished days.
    let day = chrono::Utc::now() - chrono::Duration::days(3);
    let cdt = day.format("%Y-%m-%d 12:00:00").to_string();
    let body = json!({
        "requests": [{"idsite": "1", "rec": "1", "url": "https://archive-cli.example/old", "cdt": cdt, "cip": "192.0.2.1", "ua": CHROME}],
        "token_auth": ADMIN,
    });
    let v: Value = reqwest::Client::new()
        .post(format!("{}/matomo.php", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tracked"], 1, "{v}");
    let listen = app.address.trim_start_matches("http://").to_string();
    // Through the running server: wait until the hit is stored, then archive.
    let q =
        json!({"site_id": "archive-cli.example", "metrics": ["pageviews"], "date_range": "all"});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.query(q.clone()).await["results"][0]["metrics"][0] != 1 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (ok, out, err) = cli(&data, &listen, &["archive"]);
    assert!(ok, "{out}{err}");
    let days: u64 = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("archived ")?
                .strip_suffix(" days")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{out}"));
    // Three days ago and the days since, up to the last finished one (two hours of grace).
    assert!((2..=3).contains(&days), "{out}");
    assert!(app.terminate().success());
    // Without a server: the data directory itself; nothing is left to do.
    let idle = format!("127.0.0.1:{}", free_port());
    let (ok, out, err) = cli(&data, &idle, &["archive"]);
    assert!(ok && out.contains("archived 0 days"), "{out}{err}");
    let (ok, out, _) = cli(&data, &idle, &["archive", "--help"]);
    assert!(ok && out.contains("Day archives"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_commands_with_and_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let idle = format!("127.0.0.1:{}", free_port());
    let (ok, out, err) = cli(&data, &idle, &["customer", "add", "acme", "--name", "Acme"]);
    assert!(ok && out.contains("added customer acme"), "{out}{err}");
    let (ok, out, _) = cli(
        &data,
        &idle,
        &["customer", "add", "acme", "--name", "Acme AG"],
    );
    assert!(ok && out.contains("updated customer acme"), "{out}");
    let (ok, out, err) = cli(
        &data,
        &idle,
        &["site", "add", "shop.example", "--customer", "acme"],
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(&data, &idle, &["token", "create", "--customer", "acme"]);
    assert!(ok && out.trim().len() >= 32, "{out}{err}");
    let (ok, _, err) = cli(&data, &idle, &["token", "create"]);
    assert!(!ok && err.contains("--site"), "{err}");
    // Through a running server.
    let app = spawn_binary(&data, &log, &[]);
    let listen = app.address.trim_start_matches("http://").to_string();
    let (ok, out, err) = cli(&data, &listen, &["customer", "add", "beta"]);
    assert!(ok && out.contains("added customer beta"), "{out}{err}");
    let (ok, out, _) = cli(&data, &listen, &["customer", "list", "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(ok);
    assert_eq!(list[0]["name"], "Acme AG");
    assert_eq!(list[1]["handle"], "beta");
    let (ok, out, err) = cli(&data, &listen, &["token", "create", "--customer", "beta"]);
    assert!(ok && out.trim().len() >= 32, "{out}{err}");
    let (ok, out, err) = cli(&data, &listen, &["customer", "remove", "acme"]);
    assert!(ok && out.contains("removed customer acme"), "{out}{err}");
    let (_, out, _) = cli(&data, &listen, &["site", "list", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    assert!(app.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_commands_print_roles_and_a_working_password_link() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let idle = format!("127.0.0.1:{}", free_port());
    assert!(cli(&data, &idle, &["customer", "add", "acme"]).0);
    assert!(cli(&data, &idle, &["customer", "add", "beta"]).0);
    let (ok, out, err) = cli(
        &data,
        &idle,
        &[
            "user",
            "add",
            "bob@example.com",
            "--customer",
            "acme",
            "--role",
            "owner",
        ],
    );
    assert!(ok && out.contains("acme (owner)"), "{out}{err}");
    let app = spawn_binary(&data, &log, &[]);
    let listen = app.address.trim_start_matches("http://").to_string();
    let (ok, out, err) = cli(
        &data,
        &listen,
        &["user", "add", "bob@example.com", "--customer", "beta"],
    );
    assert!(
        ok && out.contains("acme (owner), beta (viewer)"),
        "{out}{err}"
    );
    let (ok, out, _) = cli(&data, &listen, &["user", "list"]);
    assert!(
        ok && out.contains("bob@example.com") && out.contains("not set"),
        "{out}"
    );
    let (ok, out, err) = cli(
        &data,
        &listen,
        &["user", "password-link", "bob@example.com"],
    );
    assert!(ok, "{out}{err}");
    let url = out.trim().to_string();
    assert!(
        url.starts_with(&format!("{}/set-password?token=", app.address)),
        "{url}"
    );
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    let (ok, out, _) = cli(&data, &listen, &["user", "remove", "bob@example.com"]);
    assert!(ok && out.contains("removed user"), "{out}");
    assert!(app.terminate().success());
}

/// A page view of `path` sent to the binary (Plausible's endpoint).
async fn send_view(app: &BinaryApp, site: &str, path: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/event", app.address))
        .header("User-Agent", CHROME)
        .header("X-Forwarded-For", "203.0.113.9")
        .header("Content-Type", "text/plain")
        .body(json!({"n": "pageview", "u": format!("https://{site}{path}"), "d": site}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

async fn wait_for_views(app: &BinaryApp, site: &str, n: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = app
            .query(json!({"site_id": site, "metrics": ["pageviews"], "date_range": "all"}))
            .await;
        let got = v["results"]
            .get(0)
            .map_or(Some(0), |r| r["metrics"][0].as_u64());
        if got == Some(n) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `stats delete`: asks for --yes, refuses bad dates, deletes through the server and on the
/// data directory of a stopped one (whose journal still holds the hits), and afterwards the
/// deleted page is in no file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_delete_through_the_server_and_on_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let marker = format!("/cli-gone-{}", std::process::id());
    let app = spawn_binary(&data, &log, &[]);
    let listen = app.address.trim_start_matches("http://").to_string();
    app.add_site("del.example").await;
    send_view(&app, "del.example", &marker).await;
    send_view(&app, "del.example", "/second").await;
    wait_for_views(&app, "del.example", 2).await;
    let (ok, out, err) = cli(
        &data,
        &listen,
        &["stats", "delete", "--site", "del.example"],
    );
    assert!(
        !ok && err.contains("--yes") && err.contains("all statistics of del.example"),
        "{out}{err}"
    );
    wait_for_views(&app, "del.example", 2).await;
    let (ok, _, err) = cli(
        &data,
        &listen,
        &[
            "stats",
            "delete",
            "--site",
            "del.example",
            "--from",
            "2024-02-30",
            "--yes",
        ],
    );
    assert!(!ok && err.contains("from"), "{err}");
    let (ok, _, err) = cli(
        &data,
        &listen,
        &["stats", "delete", "--site", "nope.example", "--yes"],
    );
    assert!(!ok && err.contains("no site nope.example"), "{err}");
    let today = chrono::Utc::now().date_naive().to_string();
    let (ok, out, err) = cli(
        &data,
        &listen,
        &[
            "stats",
            "delete",
            "--site",
            "del.example",
            "--from",
            &today,
            "--to",
            &today,
            "--yes",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("deleted ") && out.contains("2 events, 1 visits"),
        "{out}"
    );
    wait_for_views(&app, "del.example", 0).await;
    assert_no_file_contains(&data, marker.as_bytes());

    // The server stops with new hits stored; its journal keeps them. On the data directory
    // the deletion finds them everywhere.
    send_view(&app, "del.example", &marker).await;
    wait_for_views(&app, "del.example", 1).await;
    assert!(app.terminate().success());
    let idle = format!("127.0.0.1:{}", free_port());
    let (ok, out, err) = cli(
        &data,
        &idle,
        &[
            "stats",
            "delete",
            "--site",
            "del.example",
            "--yes",
            "--json",
        ],
    );
    assert!(ok, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["events"], 1, "{v}");
    assert_no_file_contains(&data, marker.as_bytes());
}

/// `export`: a site's zip through the server (progress shown on a terminal only), every site
/// of a customer into a directory on the data directory; existing files are not overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_zips_through_the_server_and_on_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let idle = format!("127.0.0.1:{}", free_port());
    let (ok, _, err) = cli(&data, &idle, &["customer", "add", "acme"]);
    assert!(ok, "{err}");
    for domain in ["one.example", "two.example"] {
        let (ok, _, err) = cli(&data, &idle, &["site", "add", domain, "--customer", "acme"]);
        assert!(ok, "{err}");
    }
    let app = spawn_binary(&data, &log, &[]);
    let listen = app.address.trim_start_matches("http://").to_string();
    send_view(&app, "one.example", "/exported").await;
    wait_for_views(&app, "one.example", 1).await;
    let zip_path = dir.path().join("one.zip");
    let out = zip_path.to_str().unwrap();
    let (ok, stdout, err) = cli(
        &data,
        &listen,
        &["export", "--site", "one.example", "--out", out],
    );
    assert!(ok, "{stdout}{err}");
    assert!(stdout.contains("exported one.example"), "{stdout}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut events = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("events.csv").unwrap(), &mut events).unwrap();
    assert!(events.contains("/exported"), "{events}");
    let (ok, _, err) = cli(
        &data,
        &listen,
        &["export", "--site", "one.example", "--out", out],
    );
    assert!(!ok && err.contains("exists already"), "{err}");
    assert!(app.terminate().success());
    // On the data directory: every site of the customer.
    let target = dir.path().join("acme");
    let (ok, stdout, err) = cli(
        &data,
        &idle,
        &[
            "export",
            "--customer",
            "acme",
            "--out",
            target.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stdout}{err}");
    for domain in ["one.example", "two.example"] {
        let file = target.join(format!("{domain}.zip"));
        let zip = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).unwrap();
        assert!(zip.index_for_name("manifest.json").is_some(), "{domain}");
    }
    let (ok, _, err) = cli(&data, &idle, &["export", "--out", "x.zip"]);
    assert!(!ok && err.contains("--site"), "{err}");
}

/// `import`: Plausible CE's CSV export (a fixture written here in Plausible's documented
/// layout: CSVWithNames, strings quoted) becomes imported day sums, shown by the Stats API with
/// `include.imports`; importing again doubles nothing; a broken file names file, line and
/// column and imports nothing; spurlos's own export imported into a second site answers the
/// same unfiltered day figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_takes_plausibles_csv_export_and_spurlos_own() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let app = spawn_binary(&data, &log, &[]);
    let listen = app.address.trim_start_matches("http://").to_string();
    app.add_site("moved.example").await;
    let csv_dir = dir.path().join("plausible");
    std::fs::create_dir_all(&csv_dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = csv_dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let visitors = write(
        "imported_visitors_20230301_20230302.csv",
        "\"date\",\"visitors\",\"pageviews\",\"bounces\",\"visits\",\"visit_duration\"\n\
         \"2023-03-01\",10,25,4,12,600\n\"2023-03-02\",7,9,5,7,70\n",
    );
    let devices = write(
        "imported_devices_20230301_20230302.csv",
        "\"date\",\"device\",\"visitors\",\"visits\",\"visit_duration\",\"bounces\",\"pageviews\"\n\
         \"2023-03-01\",\"Desktop\",6,7,400,2,15\n\"2023-03-01\",\"Mobile\",4,5,200,2,10\n",
    );
    let run = |args: Vec<String>| {
        let (data, listen) = (data.clone(), listen.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&data, &listen, &args)
    };
    let import = |files: Vec<&str>| {
        let mut args = vec![
            "import".to_string(),
            "--site".into(),
            "moved.example".into(),
        ];
        args.extend(files.iter().map(|f| f.to_string()));
        run(args)
    };
    let (ok, out, err) = import(vec![&visitors, &devices]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("imported 2 files") && out.contains("2 days"),
        "{out}"
    );
    let figures = |site: &'static str| {
        let app = &app;
        async move {
            app.query(json!({"site_id": site, "metrics": ["visitors", "pageviews", "visits", "bounce_rate"],
                             "date_range": ["2023-03-01", "2023-03-02"], "include": {"imports": true}}))
                .await
        }
    };
    let v = figures("moved.example").await;
    assert_eq!(v["results"][0]["metrics"], json!([17, 34, 19, 47]), "{v}");
    assert_eq!(v["meta"]["imports_included"], true, "{v}");
    let by_device = app
        .query(json!({"site_id": "moved.example", "metrics": ["visitors"], "date_range": ["2023-03-01", "2023-03-01"],
                      "dimensions": ["visit:device"], "include": {"imports": true}}))
        .await;
    assert_eq!(rows(&by_device).len(), 2, "{by_device}");
    assert!(by_device.to_string().contains("\"desktop\""), "{by_device}");
    // Again: nothing doubles.
    let (ok, _, err) = import(vec![&visitors, &devices]);
    assert!(ok, "{err}");
    assert_eq!(
        figures("moved.example").await["results"][0]["metrics"],
        json!([17, 34, 19, 47])
    );
    // A broken file: named with line and column; nothing of the import is stored.
    let broken = write(
        "imported_visitors_20230303_20230303.csv",
        "date,visitors,pageviews,bounces,visits,visit_duration\n2023-03-03,many,1,0,1,0\n",
    );
    let (ok, _, err) = import(vec![&broken]);
    assert!(!ok && err.contains("line 2, column visitors"), "{err}");
    let v = app
        .query(json!({"site_id": "moved.example", "metrics": ["visitors"], "date_range": ["2023-03-03", "2023-03-03"], "include": {"imports": true}}))
        .await;
    assert_eq!(v["results"], json!([]), "{v}");

    // spurlos's own export, imported into a second site: the same day figures.
    let source_id = app.add_site("source.example").await;
    app.add_site("copy.example").await;
    for (path, when, ip) in [
        ("/a", "2024-06-01 10:00:00", "192.0.2.1"),
        ("/b", "2024-06-01 10:02:00", "192.0.2.1"),
        ("/a", "2024-06-02 11:00:00", "198.51.100.2"),
    ] {
        let url = format!(
            "{}/matomo.php?idsite={source_id}&rec=1&url=https%3A%2F%2Fsource.example{path}&cdt={}&cip={ip}&token_auth={ADMIN}",
            app.address,
            when.replace(' ', "%20")
        );
        let r = reqwest::Client::new()
            .get(url)
            .header("User-Agent", CHROME)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_for_views(&app, "source.example", 3).await;
    let (ok, out, err) = run(vec!["archive".into()]);
    assert!(ok, "{out}{err}");
    let zip_path = dir.path().join("source.zip");
    let (ok, out, err) = run(vec![
        "export".into(),
        "--site".into(),
        "source.example".into(),
        "--out".into(),
        zip_path.to_str().unwrap().into(),
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(vec![
        "import".into(),
        "--site".into(),
        "copy.example".into(),
        zip_path.to_str().unwrap().into(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 events, 2 visits"), "{out}");
    let day_figures = |site: &'static str, imports: bool| {
        let app = &app;
        async move {
            app.query(json!({"site_id": site,
                             "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
                             "date_range": ["2024-06-01", "2024-06-02"], "dimensions": ["time:day"],
                             "include": {"imports": imports}}))
                .await["results"]
                .clone()
        }
    };
    let native = day_figures("source.example", false).await;
    assert_eq!(native.as_array().unwrap().len(), 2, "{native}");
    assert_eq!(day_figures("copy.example", false).await, native);
    // Full fidelity: single events came along, so filters answer alike too.
    let filtered = |site: &'static str| {
        let app = &app;
        async move {
            app.query(json!({"site_id": site, "metrics": ["visitors", "visits", "bounce_rate"],
                             "date_range": ["2024-06-01", "2024-06-02"], "dimensions": ["visit:entry_page"],
                             "filters": [["is", "event:page", ["/b"]]]}))
                .await["results"]
                .clone()
        }
    };
    let source_filtered = filtered("source.example").await;
    assert_eq!(
        source_filtered.as_array().unwrap().len(),
        1,
        "{source_filtered}"
    );
    assert_eq!(filtered("copy.example").await, source_filtered);
    // Importing it again replaces the days: nothing doubles.
    let (ok, out, err) = run(vec![
        "import".into(),
        "--site".into(),
        "copy.example".into(),
        zip_path.to_str().unwrap().into(),
    ]);
    assert!(ok, "{out}{err}");
    assert_eq!(day_figures("copy.example", false).await, native);
    let pages = |site: &'static str| {
        let app = &app;
        async move {
            app.query(json!({"site_id": site, "metrics": ["visitors", "pageviews"],
                             "date_range": ["2024-06-01", "2024-06-02"], "dimensions": ["event:page"],
                             "include": {"imports": true}}))
                .await["results"]
                .clone()
        }
    };
    assert_eq!(pages("copy.example").await, pages("source.example").await);
    let _ = app.terminate();
}
