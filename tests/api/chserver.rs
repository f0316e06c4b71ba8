//! Test harness for the ClickHouse store: installs Debian's `clickhouse-server` when missing,
//! starts servers on free loopback ports with a temporary data directory and a generated config
//! (optionally as shards of a cluster), and stops them again (also when the test process ends).
//! With `SPURLOS_TEST_CLICKHOUSE=chdb` the "server" is a current ClickHouse engine instead:
//! chDB (PyPI's `chdb-core`) behind `scripts/chdb-server.py`, ClickHouse's HTTP interface.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether this run tests the ClickHouse store (`SPURLOS_TEST_STORE=clickhouse`).
pub fn enabled() -> bool {
    std::env::var("SPURLOS_TEST_STORE").is_ok_and(|v| v == "clickhouse")
}

/// Whether the servers are chDB (a current ClickHouse release) rather than Debian's
/// `clickhouse-server` (`SPURLOS_TEST_CLICKHOUSE=chdb`).
pub fn chdb() -> bool {
    std::env::var("SPURLOS_TEST_CLICKHOUSE").is_ok_and(|v| v == "chdb")
}

/// What the harness's servers run, for skip messages.
pub fn engine_name() -> &'static str {
    if chdb() {
        "chDB"
    } else {
        "clickhouse-server"
    }
}

/// The path of `clickhouse-server`, installed with apt-get when missing.
pub fn server_binary() -> PathBuf {
    let find = || {
        ["/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    };
    if let Some(p) = find() {
        return p;
    }
    let status = Command::new("sh")
        .arg("-c")
        .arg("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client")
        .status()
        .expect("running apt-get");
    assert!(status.success(), "installing clickhouse-server failed");
    find().expect("clickhouse-server after installing it")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One running (or stopped) ClickHouse server.
pub struct ClickHouseServer {
    pub http_port: u16,
    dir: PathBuf,
    /// The watchdog shell that owns the server process.
    watchdog: Option<Child>,
    /// Remove the directory when the server stops.
    remove_dir: bool,
}

impl ClickHouseServer {
    /// Starts a server in a fresh temporary directory; `remote_servers` is the inner XML of
    /// `<remote_servers>` (empty for none).
    pub fn start(remote_servers: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("spurlos-ch-")
            .tempdir()
            .unwrap()
            .keep();
        Self::start_with(dir, free_port(), free_port(), remote_servers)
    }

    /// Reserves two ports and a directory without starting (for cluster configs that name
    /// every node before any starts).
    pub fn prepare() -> (PathBuf, u16, u16) {
        let dir = tempfile::Builder::new()
            .prefix("spurlos-ch-")
            .tempdir()
            .unwrap()
            .keep();
        (dir, free_port(), free_port())
    }

    pub fn start_with(dir: PathBuf, http_port: u16, tcp_port: u16, remote_servers: &str) -> Self {
        let d = dir.display();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <merge_tree><old_parts_lifetime>1</old_parts_lifetime><cleanup_delay_period>1</cleanup_delay_period><cleanup_delay_period_random_add>0</cleanup_delay_period_random_add></merge_tree>
  <remote_servers>{remote_servers}</remote_servers>
</yandex>
"#
        );
        let users = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#;
        std::fs::write(dir.join("config.xml"), config).unwrap();
        std::fs::write(dir.join("users.xml"), users).unwrap();
        let mut server = Self {
            http_port,
            dir,
            watchdog: None,
            remove_dir: true,
        };
        server.resume();
        server
    }

    /// The server's HTTP address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The server's data directory (for scanning what it wrote).
    pub fn data_path(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's log files.
    pub fn log_files(&self) -> Vec<PathBuf> {
        ["server.log", "server.err.log", "stdout.log"]
            .iter()
            .map(|f| self.dir.join(f))
            .filter(|p| p.exists())
            .collect()
    }

    /// Starts the (stopped) server again on the same ports and data: Debian's
    /// `clickhouse-server`, or `scripts/chdb-server.py` with `SPURLOS_TEST_CLICKHOUSE=chdb`.
    pub fn resume(&mut self) {
        let start = if chdb() {
            r#"python3 "$1" --port "$5" --path "$2/data""#
        } else {
            r#""$1" --config-file="$2/config.xml""#
        };
        // The watchdog stops the server when the test process ends or when it is told to.
        let script = format!(
            r#"
{start} >"$2/stdout.log" 2>&1 &
c=$!
trap 'kill $c 2>/dev/null; wait $c; exit 0' TERM INT
while kill -0 "$3" 2>/dev/null && kill -0 $c 2>/dev/null; do sleep 0.3; done
kill $c 2>/dev/null; wait $c
if [ "$4" = 1 ] && ! kill -0 "$3" 2>/dev/null; then rm -rf "$2"; fi
"#
        );
        let program = if chdb() {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/chdb-server.py")
        } else {
            server_binary()
        };
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("watchdog")
            .arg(&program)
            .arg(&self.dir)
            .arg(std::process::id().to_string())
            .arg(if self.remove_dir { "1" } else { "0" })
            .arg(self.http_port.to_string())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.watchdog = Some(child);
        wait_until_up(self.http_port, &self.dir);
    }

    /// Stops the server (it can be resumed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.watchdog.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Runs a query over HTTP and returns the answer's text.
    pub fn query(&self, sql: &str) -> String {
        http_query(self.http_port, sql)
    }

    /// Runs a query over HTTP and returns the answer's bytes.
    pub fn query_bytes(&self, sql: &str) -> Vec<u8> {
        try_http_query_bytes(self.http_port, sql)
            .unwrap_or_else(|e| panic!("query {sql:?} failed: {e}"))
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.stop();
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn try_http_query(port: u16, sql: &str) -> Result<String, String> {
    try_http_query_bytes(port, sql).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn try_http_query_bytes(port: u16, sql: &str) -> Result<Vec<u8>, String> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let request = format!(
        "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&answer[..split]);
    if head.contains(" 200 ") {
        Ok(answer[split..].to_vec())
    } else {
        Err(String::from_utf8_lossy(&answer).into_owned())
    }
}

fn http_query(port: u16, sql: &str) -> String {
    try_http_query(port, sql).unwrap_or_else(|e| panic!("query {sql:?} failed: {e}"))
}

fn wait_until_up(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = try_http_query(port, "SELECT 1").is_ok_and(|a| a.trim() == "1");
        if up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not start: {}{}",
            engine_name(),
            std::fs::read_to_string(dir.join("server.err.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server all ClickHouse-mode tests of this process share (each app has its own database).
pub fn shared() -> &'static ClickHouseServer {
    static SERVER: OnceLock<ClickHouseServer> = OnceLock::new();
    SERVER.get_or_init(|| ClickHouseServer::start(""))
}

/// The database name for an app's data directory: the same directory (a restarted app) gets
/// the same database.
pub fn database_for(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    format!("t{:016x}", h.finish())
}
