//! A full disk (issue 11, item 7): the data directory on a small tmpfs fills up; hits get 503
//! with `Retry-After` (never a 202 that is then lost), the server stays up, and once space is
//! freed it takes hits again by itself, with every acknowledged event stored.

use super::helpers::*;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

const SITE: &str = "full.example";

struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

async fn send(client: &reqwest::Client, address: &str, path: &str) -> reqwest::Response {
    let body = json!({"n": "pageview", "u": format!("https://{SITE}{path}"), "d": SITE});
    client
        .post(format!("{address}/api/event"))
        .header("X-Forwarded-For", "192.0.2.70")
        .header("User-Agent", CHROME)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_turns_hits_away_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48m", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap();
    if !mounted.success() {
        // Only where mounting is not allowed at all (not root, or a container without the
        // capability); CI here runs as root and mounts.
        let uid = Command::new("id").arg("-u").output().unwrap();
        assert_ne!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "root could not mount a tmpfs"
        );
        eprintln!("SKIPPED a_full_disk_turns_hits_away_and_recovers_by_itself: mounting a tmpfs needs root");
        return;
    }
    let _umount = Tmpfs(mount.clone());
    let data = mount.join("data");
    let log = dir.path().join("spurlos.log");
    let app = spawn_binary(&data, &log, &[("SPURLOS_FLUSH_INTERVAL_MS", "50")]);
    app.add_site(SITE).await;
    let client = reqwest::Client::new();
    for i in 0..50 {
        assert_eq!(
            send(&client, &app.address, &format!("/before/{i}"))
                .await
                .status(),
            202
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Fill the disk.
    let filler = mount.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M"])
        .arg(format!("of={}", filler.display()))
        .output()
        .unwrap();
    let mut acked = 50u64;
    let mut refused = None;
    for i in 0..20_000 {
        let r = send(&client, &app.address, &format!("/full/{i}")).await;
        match r.status().as_u16() {
            202 => acked += 1,
            503 => {
                refused = Some(r);
                break;
            }
            other => panic!("only 202 or 503, got {other}"),
        }
    }
    let refused = refused.expect("a full disk must turn hits away");
    assert!(refused.headers().get("retry-after").is_some());
    let v: serde_json::Value = refused.json().await.unwrap();
    assert!(v["error"]["code"].is_string(), "{v}");
    let live = client
        .get(format!("{}/api/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200, "the server stays up");
    // Space again: hits are taken again by themselves.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    loop {
        i += 1;
        let r = send(&client, &app.address, &format!("/after/{i}")).await;
        if r.status() == 202 {
            acked += 1;
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(
            Instant::now() < deadline,
            "no recovery after the disk had space again: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for j in 0..20 {
        assert_eq!(
            send(&client, &app.address, &format!("/after/more/{j}"))
                .await
                .status(),
            202
        );
        acked += 1;
    }
    assert!(
        app.terminate().success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let app = spawn_binary(&data, &log, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = app
            .query(json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "all"}))
            .await;
        let stored = v["results"][0]["metrics"][0].as_u64().unwrap_or(0);
        if stored >= acked {
            assert_eq!(stored, acked, "stored more than acknowledged");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored {stored} of {acked} acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(app.terminate().success());
}
