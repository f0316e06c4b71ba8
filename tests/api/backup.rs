//! Backups (issue 11, item 11): `spurlos backup --out FILE` from a running server (online,
//! consistent) and `spurlos restore FILE` into an empty data directory give the same Stats API
//! answers; on the ClickHouse store, backup says to use ClickHouse's tools.

use super::fixtures::{answers, three_days_on};
use super::helpers::*;
use std::path::Path;
use std::process::Command;

fn cli(data: &Path, listen: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    for (k, v) in test_env(data, &[("SPURLOS_LISTEN", listen)]) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_running_server_restores_to_the_same_answers() {
    let app = spawn_app().await;
    three_days_on(&app).await;
    let before = answers(&app).await;
    let listen = app.address.trim_start_matches("http://").to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spurlos-backup.duckdb");
    let (ok, out) = cli(
        app.data_dir.path(),
        &listen,
        &["backup", "--out", file.to_str().unwrap()],
    );
    if super::chserver::enabled() {
        assert!(!ok && out.contains("ClickHouse"), "{out}");
        return;
    }
    assert!(ok, "{out}");
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    // Nothing that identifies a visitor is in it: no address, no User-Agent, no salt file.
    let bytes = std::fs::read(&file).unwrap();
    for needle in ["198.51.100.1", "203.0.113.2", FIREFOX] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the backup holds {needle}"
        );
    }
    // The server goes on meanwhile.
    assert_eq!(answers(&app).await, before);
    let (_, now) = app.stop().await;
    let restored = tempfile::tempdir().unwrap();
    let free = format!("127.0.0.1:{}", free_port());
    let (ok, out) = cli(restored.path(), &free, &["restore", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    // Not over an existing installation.
    let (ok, out) = cli(restored.path(), &free, &["restore", file.to_str().unwrap()]);
    assert!(!ok && out.contains("already"), "{out}");
    let app = spawn_app_in(restored, now, &[]).await;
    assert_eq!(answers(&app).await, before);
}
