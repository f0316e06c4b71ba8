//! The command line a hosting panel scripts: works on the data directory when no server runs,
//! and through the running server's admin API when one does.

use super::helpers::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn cli(data: &Path, listen: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env("SPURLOS_DATA_DIR", data)
        .env("SPURLOS_LISTEN", listen)
        .env("SPURLOS_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
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
