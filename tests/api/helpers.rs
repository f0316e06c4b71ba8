//! Test harness: `spawn_app()` (in-process, manual clock) and `spawn_binary()` (the real
//! binary in a child process), plus request helpers.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use spurlos::clock::ManualClock;
use spurlos::config::Config;
use spurlos::startup::Application;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ADMIN: &str = "test-admin-token-0123456789";
pub const CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
pub const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

pub struct TestApp {
    pub address: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub handle: actix_web::dev::ServerHandle,
    pub join: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

pub fn test_env(data_dir: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("SPURLOS_LISTEN".to_string(), "127.0.0.1:0".to_string()),
        ("SPURLOS_DATA_DIR".into(), data_dir.display().to_string()),
        ("SPURLOS_ADMIN_TOKEN".into(), ADMIN.into()),
        (
            "SPURLOS_TRUSTED_PROXIES".into(),
            "127.0.0.1/32,::1/128".into(),
        ),
        ("SPURLOS_FLUSH_INTERVAL_MS".into(), "20".into()),
    ];
    if super::chserver::enabled() {
        let server = super::chserver::shared();
        env.push(("SPURLOS_STORE".into(), "clickhouse".into()));
        env.push(("SPURLOS_CLICKHOUSE_URL".into(), server.url()));
        env.push((
            "SPURLOS_CLICKHOUSE_DATABASE".into(),
            super::chserver::database_for(data_dir),
        ));
        if super::chserver::chdb() {
            env.push(("SPURLOS_CLICKHOUSE_COMPRESSION".into(), "none".into()));
        }
    }
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    spawn_app_in(data_dir, utc(2024, 6, 10, 8, 0, 0), extra).await
}

pub async fn spawn_app_in(
    data_dir: tempfile::TempDir,
    now: DateTime<Utc>,
    extra: &[(&str, &str)],
) -> TestApp {
    // `SPURLOS_TEST_LOG=warn` shows the in-process servers' logs (for debugging a test).
    if let Ok(filter) = std::env::var("SPURLOS_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let settings = Config::load_from(None, &test_env(data_dir.path(), extra)).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let app = Application::build_with(settings, clock.clone())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        clock,
        client: test_client(reqwest::Client::builder()),
        data_dir,
        handle,
        join,
    }
}

impl TestApp {
    pub async fn add_site(&self, domain: &str, timezone: &str) -> Value {
        self.add_site_spec(json!({"domain": domain, "timezone": timezone}))
            .await
    }

    pub async fn add_site_spec(&self, spec: Value) -> Value {
        let r = self
            .client
            .post(format!("{}/api/admin/sites", self.address))
            .bearer_auth(ADMIN)
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        r.json().await.unwrap()
    }

    /// Sends a Plausible-style event from `ip` (via the trusted X-Forwarded-For) with `ua`.
    pub async fn event(&self, body: Value, ip: &str, ua: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/event", self.address))
            .header("X-Forwarded-For", ip)
            .header("User-Agent", ua)
            .header("Content-Type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// A page view of `url` on `domain`.
    pub async fn pageview(
        &self,
        domain: &str,
        url: &str,
        referrer: Option<&str>,
        ip: &str,
        ua: &str,
    ) {
        let r = self
            .event(
                json!({"n": "pageview", "u": url, "d": domain, "r": referrer, "w": 1280}),
                ip,
                ua,
            )
            .await;
        assert_eq!(r.status(), 202);
    }

    pub async fn query(&self, body: Value) -> Value {
        self.query_as(ADMIN, body).await
    }

    pub async fn query_as(&self, token: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}/api/v2/query", self.address))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{v}");
        v
    }

    /// An admin API call with the admin token: status and JSON answer (null when empty).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A page view of `path` on `domain` at a past UTC time (`YYYY-MM-DD HH:MM:SS`), through
    /// Matomo's `cdt` and `cip` (admin token).
    pub async fn past_view(
        &self,
        domain: &str,
        site_id: u64,
        path: &str,
        when: &str,
        ip: &str,
        ua: &str,
    ) {
        let enc =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        let q = format!(
            "idsite={site_id}&rec=1&url={}&cdt={}&cip={ip}&token_auth={ADMIN}",
            enc(&format!("https://{domain}{path}")),
            enc(when)
        );
        let r = self
            .client
            .get(format!("{}/matomo.php?{q}", self.address))
            .header("User-Agent", ua)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// The status of a one-metric Stats API query for `site` with `token`.
    pub async fn stats_status(&self, token: &str, site: &str) -> u16 {
        self.client
            .post(format!("{}/api/v2/query", self.address))
            .bearer_auth(token)
            .json(&json!({"site_id": site, "metrics": ["visitors"], "date_range": "day"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The token of a new one-time set-password link for `email` (from the admin API).
    pub async fn password_link_token(&self, email: &str) -> String {
        let (_, link) = self
            .admin(
                reqwest::Method::POST,
                &format!("/api/admin/users/{email}/password-link"),
                None,
            )
            .await;
        link["url"]
            .as_str()
            .unwrap()
            .split("token=")
            .nth(1)
            .unwrap()
            .to_string()
    }

    /// Creates a user of `customer` with a role and sets its password through a one-time link.
    pub async fn user_with_password(&self, email: &str, customer: &str, password: &str) {
        let body = json!({"memberships": [{"customer": customer, "role": "owner"}]});
        let (status, v) = self
            .admin(
                reqwest::Method::PUT,
                &format!("/api/admin/users/{email}"),
                Some(body),
            )
            .await;
        assert!(status == 200 || status == 201, "{v}");
        let token = self.password_link_token(email).await;
        let r = self
            .client
            .post(format!("{}/set-password", self.address))
            .header("Origin", &self.address)
            .form(&[
                ("token", token.as_str()),
                ("password", password),
                ("confirm", password),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// Signs in from `ip`; the answer (not followed).
    pub async fn login(&self, email: &str, password: &str, ip: &str) -> reqwest::Response {
        no_redirects()
            .post(format!("{}/login", self.address))
            .header("Origin", &self.address)
            .header("X-Forwarded-For", ip)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// A GET as a signed-in user (cookie `name=value`), redirects not followed.
    pub async fn get_as(&self, cookie: &str, path: &str) -> reqwest::Response {
        no_redirects()
            .get(format!("{}{path}", self.address))
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    /// The text of a page as a signed-in user.
    pub async fn page_as(&self, cookie: &str, path: &str) -> String {
        self.get_as(cookie, path).await.text().await.unwrap()
    }

    /// Creates each `(domain, customer)` site, and its customer first when it is new.
    pub async fn customer_sites(&self, sites: &[(&str, &str)]) {
        for (domain, customer) in sites {
            let path = format!("/api/admin/customers/{customer}");
            self.admin(
                reqwest::Method::PUT,
                &path,
                Some(json!({"name": format!("{customer} Ltd")})),
            )
            .await;
            self.add_site_spec(json!({"domain": domain, "customer": customer}))
                .await;
        }
    }

    /// A form POST as a signed-in user (cookie `name=value`), redirects not followed.
    pub async fn post_as(
        &self,
        cookie: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        no_redirects()
            .post(format!("{}{path}", self.address))
            .header("Origin", &self.address)
            .header("Cookie", cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A CORS preflight for a POST to `path` from a page of `origin`.
    pub async fn preflight(&self, path: &str, origin: &str) -> reqwest::Response {
        self.client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", self.address))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap()
    }

    /// Waits until `n` events of `site` are stored (all time).
    pub async fn wait_for_events(&self, site: &str, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self
                .query(json!({"site_id": site, "metrics": ["events"], "date_range": "all"}))
                .await;
            let got = v["results"]
                .get(0)
                .map(|r| r["metrics"][0].as_u64().unwrap())
                .unwrap_or(0);
            if got == n {
                return;
            }
            assert!(got < n, "more events stored than sent: {got} > {n}");
            assert!(Instant::now() < deadline, "only {got} of {n} events stored");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops gracefully and starts again on the same data directory, clock unchanged.
    pub async fn restart(self) -> TestApp {
        let (data_dir, now) = self.stop().await;
        spawn_app_in(data_dir, now, &[]).await
    }

    /// Stops gracefully; returns the data directory and the clock's time.
    pub async fn stop(self) -> (tempfile::TempDir, DateTime<Utc>) {
        use spurlos::clock::Clock;
        let now = self.clock.now();
        self.handle.stop(true).await;
        self.join.await.unwrap().unwrap();
        (self.data_dir, now)
    }
}

/// A client that does not follow redirects (to see 303s and cookies).
pub fn no_redirects() -> reqwest::Client {
    test_client(reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()))
}

/// Idle connections are dropped before the server's keep-alive (5 s) closes them, so a
/// request never goes out on a connection the server is closing (a slow step, such as
/// archiving, can leave pooled connections idle that long).
fn test_client(builder: reqwest::ClientBuilder) -> reqwest::Client {
    builder
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// The `name=value` part of a session cookie, after checking its attributes.
pub fn session_cookie(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    set.split(';').next().unwrap().to_string()
}

/// Every file under `dir`, recursively.
pub fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Everything the store of the app with this data directory wrote, as (what, bytes): the
/// files in the data directory and, with the ClickHouse store, the files of the app's
/// database on the ClickHouse server plus every table dumped as text and as RowBinary.
pub fn stored_blobs(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    all_files(data_dir, &mut files);
    if super::chserver::enabled() {
        let server = super::chserver::shared();
        let db = super::chserver::database_for(data_dir);
        all_files(&server.data_path().join("data").join(&db), &mut files);
        if super::chserver::chdb() {
            let replaced = server.query(&format!(
                "SELECT concat('/', table, '/', name, '/') FROM system.parts \
                 WHERE database = '{db}' AND NOT active"
            ));
            let replaced: Vec<&str> = replaced.lines().filter(|p| !p.is_empty()).collect();
            files.retain(|f| {
                let f = f.display().to_string();
                !replaced.iter().any(|p| f.contains(p))
            });
        }
        // ClickHouse's own logs (shared by every test of this run).
        files.extend(server.log_files());
    }
    let mut out: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p.display().to_string(), b)))
        .collect();
    if super::chserver::enabled() {
        let server = super::chserver::shared();
        let db = super::chserver::database_for(data_dir);
        let tables = server.query(&format!(
            "SELECT name FROM system.tables WHERE database = '{db}'"
        ));
        for table in tables.lines().filter(|t| !t.is_empty()) {
            for format in ["TabSeparated", "RowBinary"] {
                let dump =
                    server.query_bytes(&format!("SELECT * FROM {db}.{table} FORMAT {format}"));
                out.push((format!("ClickHouse table {db}.{table} ({format})"), dump));
            }
        }
    }
    out
}

/// Waits until ClickHouse has removed the parts that deletions replaced (the harness's
/// servers keep them for a second, ClickHouse's default is eight minutes). chDB runs no
/// background cleanup between queries: there [`stored_blobs`] leaves replaced parts out.
fn wait_for_old_parts(data_dir: &Path) {
    if !super::chserver::enabled() || super::chserver::chdb() {
        return;
    }
    let server = super::chserver::shared();
    let db = super::chserver::database_for(data_dir);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let inactive = server.query(&format!(
            "SELECT count() FROM system.parts WHERE database = '{db}' AND NOT active"
        ));
        if inactive.trim() == "0" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ClickHouse kept {} replaced parts",
            inactive.trim()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fails when anything the store of this data directory wrote contains `needle`.
pub fn assert_no_file_contains(dir: &Path, needle: &[u8]) {
    wait_for_old_parts(dir);
    for (what, bytes) in stored_blobs(dir) {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{what} contains {:?}",
            String::from_utf8_lossy(needle)
        );
    }
}

/// The results of a query as (dimensions, metrics) pairs.
pub fn rows(v: &Value) -> Vec<(Vec<String>, Vec<f64>)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["dimensions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect(),
                r["metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_f64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

/// The real binary running in a child process.
pub struct BinaryApp {
    pub child: Child,
    pub address: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_spurlos")
}

/// Starts `spurlos serve` on a free port with `data_dir`; its stderr goes to `log`.
pub fn spawn_binary(data_dir: &Path, log: &Path, extra: &[(&str, &str)]) -> BinaryApp {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(binary());
    cmd.arg("serve");
    for (k, v) in test_env(data_dir, extra) {
        cmd.env(k, v);
    }
    cmd.env("SPURLOS_LISTEN", &listen);
    let logfile = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = cmd
        .stdout(Stdio::from(logfile.try_clone().unwrap()))
        .stderr(Stdio::from(logfile))
        .spawn()
        .unwrap();
    let app = BinaryApp {
        child,
        address: format!("http://{listen}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(&listen).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spurlos did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    app
}

impl BinaryApp {
    /// Adds a site through the admin API.
    /// Adds a site; returns its id.
    pub async fn add_site(&self, domain: &str) -> u64 {
        let r = reqwest::Client::new()
            .post(format!("{}/api/admin/sites", self.address))
            .bearer_auth(ADMIN)
            .json(&json!({"domain": domain}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        v["id"].as_u64().unwrap()
    }

    /// A Stats API query with the admin token.
    pub async fn query(&self, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}/api/v2/query", self.address))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Kills the process with SIGKILL (a crash: nothing gets to run) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}
