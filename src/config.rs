//! Typed configuration: defaults, then an optional TOML file, then `SPURLOS_*` environment
//! variables; validated once, before anything starts.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything spurlos can be told at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the HTTP server listens on (`SPURLOS_LISTEN`).
    pub listen: String,
    /// Directory for the embedded database, salts and the generated admin token
    /// (`SPURLOS_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Proxies whose `X-Forwarded-For` header is believed, as CIDRs
    /// (`SPURLOS_TRUSTED_PROXIES`, comma-separated).
    pub trusted_proxies: Vec<String>,
    /// Optional MaxMind/DB-IP `.mmdb` city or country database (`SPURLOS_GEOIP_DB`).
    pub geoip_db: Option<PathBuf>,
    /// Admin token for the admin API and the CLI (`SPURLOS_ADMIN_TOKEN`); generated into the
    /// data directory when unset.
    pub admin_token: Option<String>,
    /// Events the ingest queue holds before clients get 503 (`SPURLOS_QUEUE_CAPACITY`).
    pub queue_capacity: usize,
    /// Largest batch the writer stores at once (`SPURLOS_BATCH_SIZE`).
    pub batch_size: usize,
    /// Longest time an accepted event waits before its batch is written, in milliseconds
    /// (`SPURLOS_FLUSH_INTERVAL_MS`).
    pub flush_interval_ms: u64,
    /// Largest accepted request body in bytes (`SPURLOS_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Largest Matomo bulk body in bytes (`SPURLOS_MAX_BULK_BYTES`).
    pub max_bulk_bytes: usize,
    /// Most tracking requests in one Matomo bulk body (`SPURLOS_MAX_BULK_REQUESTS`).
    pub max_bulk_requests: usize,
    /// Longest a statistics query may run, in milliseconds (`SPURLOS_QUERY_TIMEOUT_MS`).
    pub query_timeout_ms: u64,
    /// Statistics queries that run at once (`SPURLOS_MAX_CONCURRENT_QUERIES`); 0 means one
    /// per core.
    pub max_concurrent_queries: usize,
    /// Most rows (groups before pagination) one statistics query may have
    /// (`SPURLOS_QUERY_MAX_ROWS`).
    pub query_max_rows: usize,
    /// Memory the store may use for queries and its cache, in MiB (`SPURLOS_STORE_MEMORY_MB`):
    /// DuckDB's `memory_limit` (it spills to disk beyond it), ClickHouse's `max_memory_usage`
    /// per statistics query. 0 (the default): for DuckDB, follow the machine (an eighth of its
    /// memory or of the container's limit, at least 64 and at most 128 MiB); for ClickHouse,
    /// the server's own limits.
    pub store_memory_mb: u64,
    /// Archived days with at least this many events of a site get rollups: the sums of every
    /// dashboard dimension per value of the common filters (source, country, browser, OS,
    /// device, event name), so that filtered dashboards read archives
    /// (`SPURLOS_ROLLUP_MIN_EVENTS`, default 50,000; 0 gives every day rollups).
    pub rollup_min_events: u64,
    /// The longest any site keeps raw events and visits, in days
    /// (`SPURLOS_MAX_RETENTION_DAYS`); 0 (the default): no cap beyond each site's setting.
    pub max_retention_days: u32,
    /// A token that may read `/metrics` (besides the admin token) (`SPURLOS_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// HTTP worker threads (`SPURLOS_WORKERS`); 0 means one per core.
    pub workers: usize,
    /// The address users reach spurlos at, e.g. `https://stats.example.net`
    /// (`SPURLOS_PUBLIC_URL`), for links spurlos hands out; default: the address a request used.
    pub public_url: Option<String>,
    /// Who runs spurlos, as visitors' privacy notices name it, e.g. `Example Hosting GmbH`
    /// (`SPURLOS_PROVIDER_NAME`).
    pub provider_name: Option<String>,
    /// How visitors reach the provider about the statistics: an e-mail address or a web page
    /// (`SPURLOS_PROVIDER_CONTACT`).
    pub provider_contact: Option<String>,
    /// Where statistics, sites, tokens and salts live: `embedded` (a DuckDB file in the data
    /// directory) or `clickhouse` (`SPURLOS_STORE`).
    pub store: StoreKind,
    /// The ClickHouse server or cluster, used when `store = "clickhouse"`.
    pub clickhouse: ClickHouseConfig,
}

/// Which store implementation spurlos uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    #[default]
    Embedded,
    #[serde(rename = "clickhouse")]
    ClickHouse,
}

/// Connection and layout of the ClickHouse store (`[clickhouse]` in the TOML file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP address of a ClickHouse server (`SPURLOS_CLICKHOUSE_URL`).
    pub url: String,
    /// Database; created when missing (`SPURLOS_CLICKHOUSE_DATABASE`).
    pub database: String,
    /// User (`SPURLOS_CLICKHOUSE_USER`).
    pub user: String,
    /// Password (`SPURLOS_CLICKHOUSE_PASSWORD`).
    pub password: String,
    /// A cluster from the server's `remote_servers`: events and sessions are then stored in
    /// local tables on every shard behind `Distributed` tables sharded by site
    /// (`SPURLOS_CLICKHOUSE_CLUSTER`).
    pub cluster: Option<String>,
    /// HTTP addresses of every node that holds local event tables, where spurlos creates them
    /// and runs deletions (`SPURLOS_CLICKHOUSE_SHARD_URLS`, comma-separated); default: `url`.
    pub shard_urls: Vec<String>,
    /// Create the local tables with ReplicatedMergeTree (paths from the `{shard}` and
    /// `{replica}` macros) instead of MergeTree (`SPURLOS_CLICKHOUSE_REPLICATED`).
    pub replicated: bool,
    /// Largest size of the on-disk spool for batches ClickHouse did not take, in bytes
    /// (`SPURLOS_SPOOL_MAX_BYTES`); when it is full, hits get 503.
    pub spool_max_bytes: u64,
    /// Compress requests and answers with LZ4 (`SPURLOS_CLICKHOUSE_COMPRESSION`: `lz4`, the
    /// default, or `none` for proxies that only pass plain HTTP bodies).
    pub compression: bool,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: "spurlos".into(),
            user: "default".into(),
            password: String::new(),
            cluster: None,
            shard_urls: Vec::new(),
            replicated: false,
            spool_max_bytes: 1 << 30,
            compression: true,
        }
    }
}

impl Config {
    /// The store's memory limit in bytes (see `store_memory_mb`).
    pub fn store_memory_bytes(&self) -> u64 {
        match self.store_memory_mb {
            0 => default_store_memory(machine_memory()),
            mb => mb.saturating_mul(1 << 20),
        }
    }

    /// Statistics queries that may run at once.
    pub fn query_slots(&self) -> usize {
        match self.max_concurrent_queries {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".into(),
            data_dir: PathBuf::from("./data"),
            trusted_proxies: Vec::new(),
            geoip_db: None,
            admin_token: None,
            queue_capacity: 200_000,
            batch_size: 20_000,
            flush_interval_ms: 250,
            max_body_bytes: 64 * 1024,
            max_bulk_bytes: 1024 * 1024,
            max_bulk_requests: 1000,
            query_timeout_ms: 15_000,
            max_concurrent_queries: 0,
            query_max_rows: 100_000,
            store_memory_mb: 0,
            rollup_min_events: crate::stats::archive::ROLLUP_MIN_EVENTS,
            max_retention_days: 0,
            metrics_token: None,
            workers: 0,
            public_url: None,
            provider_name: None,
            provider_contact: None,
            store: StoreKind::Embedded,
            clickhouse: ClickHouseConfig::default(),
        }
    }
}

/// A configuration that could not be read or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid value for {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// A configuration that passed validation, with parsed fields.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub listen: SocketAddr,
    pub trusted_proxies: Vec<IpNet>,
}

impl Config {
    /// Defaults, then `file` when given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &vars)
    }

    /// Like [`Config::load`], with the environment passed in (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_path_buf(),
                    source,
                })?
            }
            None => Config::default(),
        };
        for (key, value) in env {
            config.apply_env(key, value)?;
        }
        config.validate()
    }

    fn apply_env(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "SPURLOS_LISTEN" => self.listen = value.to_string(),
            "SPURLOS_DATA_DIR" => self.data_dir = PathBuf::from(value),
            "SPURLOS_TRUSTED_PROXIES" => {
                self.trusted_proxies = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "SPURLOS_GEOIP_DB" => {
                self.geoip_db = (!value.is_empty()).then(|| PathBuf::from(value));
            }
            "SPURLOS_METRICS_TOKEN" => {
                self.metrics_token = (!value.is_empty()).then(|| value.to_string());
            }
            "SPURLOS_ADMIN_TOKEN" => {
                self.admin_token = (!value.is_empty()).then(|| value.to_string());
            }
            "SPURLOS_QUEUE_CAPACITY" => self.queue_capacity = parse_num(key_name(key), value)?,
            "SPURLOS_BATCH_SIZE" => self.batch_size = parse_num(key_name(key), value)?,
            "SPURLOS_FLUSH_INTERVAL_MS" => {
                self.flush_interval_ms = parse_num(key_name(key), value)?
            }
            "SPURLOS_MAX_BODY_BYTES" => self.max_body_bytes = parse_num(key_name(key), value)?,
            "SPURLOS_MAX_BULK_BYTES" => self.max_bulk_bytes = parse_num(key_name(key), value)?,
            "SPURLOS_MAX_BULK_REQUESTS" => {
                self.max_bulk_requests = parse_num(key_name(key), value)?
            }
            "SPURLOS_WORKERS" => self.workers = parse_num(key_name(key), value)?,
            "SPURLOS_QUERY_TIMEOUT_MS" => self.query_timeout_ms = parse_num(key_name(key), value)?,
            "SPURLOS_MAX_CONCURRENT_QUERIES" => {
                self.max_concurrent_queries = parse_num(key_name(key), value)?
            }
            "SPURLOS_QUERY_MAX_ROWS" => self.query_max_rows = parse_num(key_name(key), value)?,
            "SPURLOS_STORE_MEMORY_MB" => self.store_memory_mb = parse_num(key_name(key), value)?,
            "SPURLOS_ROLLUP_MIN_EVENTS" => {
                self.rollup_min_events = parse_num(key_name(key), value)?
            }
            "SPURLOS_MAX_RETENTION_DAYS" => {
                self.max_retention_days = parse_num(key_name(key), value)?
            }
            "SPURLOS_PUBLIC_URL" => {
                self.public_url = (!value.is_empty()).then(|| value.to_string());
            }
            "SPURLOS_PROVIDER_NAME" => {
                self.provider_name = (!value.trim().is_empty()).then(|| value.trim().to_string());
            }
            "SPURLOS_PROVIDER_CONTACT" => {
                self.provider_contact =
                    (!value.trim().is_empty()).then(|| value.trim().to_string());
            }
            "SPURLOS_STORE" => {
                self.store = match value.trim() {
                    "embedded" => StoreKind::Embedded,
                    "clickhouse" => StoreKind::ClickHouse,
                    other => {
                        return Err(ConfigError::Invalid {
                            key: "store",
                            message: format!(
                                "{other:?} is neither \"embedded\" nor \"clickhouse\""
                            ),
                        })
                    }
                }
            }
            "SPURLOS_CLICKHOUSE_URL" => self.clickhouse.url = value.to_string(),
            "SPURLOS_CLICKHOUSE_DATABASE" => self.clickhouse.database = value.to_string(),
            "SPURLOS_CLICKHOUSE_USER" => self.clickhouse.user = value.to_string(),
            "SPURLOS_CLICKHOUSE_PASSWORD" => self.clickhouse.password = value.to_string(),
            "SPURLOS_CLICKHOUSE_CLUSTER" => {
                self.clickhouse.cluster = (!value.is_empty()).then(|| value.to_string());
            }
            "SPURLOS_CLICKHOUSE_SHARD_URLS" => {
                self.clickhouse.shard_urls = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "SPURLOS_CLICKHOUSE_REPLICATED" => {
                self.clickhouse.replicated = matches!(value.trim(), "1" | "true" | "yes")
            }
            "SPURLOS_CLICKHOUSE_COMPRESSION" => {
                self.clickhouse.compression = match value.trim() {
                    "lz4" => true,
                    "none" => false,
                    other => {
                        return Err(ConfigError::Invalid {
                            key: "clickhouse.compression",
                            message: format!("{other:?} is neither \"lz4\" nor \"none\""),
                        })
                    }
                }
            }
            "SPURLOS_SPOOL_MAX_BYTES" => {
                self.clickhouse.spool_max_bytes = parse_num("spool_max_bytes", value)?
            }
            _ => {}
        }
        Ok(())
    }

    fn validate(self) -> Result<Settings, ConfigError> {
        let listen = self.listen.parse().map_err(|e| ConfigError::Invalid {
            key: "listen",
            message: format!("{:?} is not an address:port ({e})", self.listen),
        })?;
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|s| parse_net(s))
            .collect::<Result<Vec<_>, _>>()?;
        for (key, value) in [
            ("provider_name", &self.provider_name),
            ("provider_contact", &self.provider_contact),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.len() > 200 || v.chars().any(char::is_control))
            {
                return Err(ConfigError::Invalid {
                    key,
                    message: "at most 200 characters, on one line".into(),
                });
            }
        }
        for (key, value) in [
            ("queue_capacity", self.queue_capacity),
            ("batch_size", self.batch_size),
            ("max_body_bytes", self.max_body_bytes),
            ("max_bulk_bytes", self.max_bulk_bytes),
            ("max_bulk_requests", self.max_bulk_requests),
            ("query_max_rows", self.query_max_rows),
            ("query_timeout_ms", self.query_timeout_ms as usize),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be greater than 0".into(),
                });
            }
        }
        if let Some(public) = &self.public_url {
            let ok = url::Url::parse(public)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(ConfigError::Invalid {
                    key: "public_url",
                    message: format!("{public:?} is not an http(s) URL"),
                });
            }
        }
        if self.store == StoreKind::ClickHouse {
            let ch = &self.clickhouse;
            for url in std::iter::once(&ch.url).chain(&ch.shard_urls) {
                let ok = url::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if !ok {
                    return Err(ConfigError::Invalid {
                        key: "clickhouse.url",
                        message: format!("{url:?} is not an http(s) URL"),
                    });
                }
            }
            let ident = |s: &str| {
                !s.is_empty()
                    && s.len() <= 64
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if !ident(&ch.database) {
                return Err(ConfigError::Invalid {
                    key: "clickhouse.database",
                    message: format!("{:?} must be 1-64 letters, digits or _", ch.database),
                });
            }
            if let Some(cluster) = ch.cluster.as_deref().filter(|c| !ident(c)) {
                return Err(ConfigError::Invalid {
                    key: "clickhouse.cluster",
                    message: format!("{cluster:?} must be 1-64 letters, digits or _"),
                });
            }
        }
        if let Some(token) = &self.admin_token {
            if token.len() < 16 {
                return Err(ConfigError::Invalid {
                    key: "admin_token",
                    message: "must be at least 16 characters".into(),
                });
            }
        }
        Ok(Settings {
            config: self,
            listen,
            trusted_proxies,
        })
    }
}

/// Parses `1.2.3.4/24` or a bare address (a /32 or /128).
pub fn parse_net(s: &str) -> Result<IpNet, ConfigError> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| ConfigError::Invalid {
            key: "trusted_proxies",
            message: format!("{s:?} is not a CIDR range or address"),
        })
}

/// The default store memory for a machine (or container) with `total` bytes: an eighth, at
/// least 64 and at most 128 MiB (so spurlos stays small next to the web servers it counts;
/// DuckDB spills what does not fit).
pub fn default_store_memory(total: Option<u64>) -> u64 {
    const MIB: u64 = 1 << 20;
    total.map_or(128 * MIB, |t| (t / 8).clamp(64 * MIB, 128 * MIB))
}

/// Memory of this machine, or the container's limit when lower (cgroup v2 or v1).
pub fn machine_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|s| s.trim().parse::<u64>().ok());
    match (total, limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, l) => t.or(l),
    }
}

fn key_name(env_key: &str) -> &'static str {
    match env_key {
        "SPURLOS_QUEUE_CAPACITY" => "queue_capacity",
        "SPURLOS_BATCH_SIZE" => "batch_size",
        "SPURLOS_FLUSH_INTERVAL_MS" => "flush_interval_ms",
        "SPURLOS_WORKERS" => "workers",
        "SPURLOS_MAX_BULK_BYTES" => "max_bulk_bytes",
        "SPURLOS_MAX_BULK_REQUESTS" => "max_bulk_requests",
        "SPURLOS_QUERY_TIMEOUT_MS" => "query_timeout_ms",
        "SPURLOS_MAX_CONCURRENT_QUERIES" => "max_concurrent_queries",
        "SPURLOS_QUERY_MAX_ROWS" => "query_max_rows",
        "SPURLOS_STORE_MEMORY_MB" => "store_memory_mb",
        "SPURLOS_ROLLUP_MIN_EVENTS" => "rollup_min_events",
        "SPURLOS_MAX_RETENTION_DAYS" => "max_retention_days",
        _ => "max_body_bytes",
    }
}

fn parse_num<T: std::str::FromStr>(key: &'static str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        key,
        message: format!("{value:?} is not a whole number"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_memory_follows_the_machine_unless_set() {
        const MIB: u64 = 1 << 20;
        assert_eq!(default_store_memory(Some(512 * MIB)), 64 * MIB);
        assert_eq!(default_store_memory(Some(768 * MIB)), 96 * MIB);
        assert_eq!(default_store_memory(Some(64 * 1024 * MIB)), 128 * MIB);
        assert_eq!(default_store_memory(None), 128 * MIB);
        let set = Config::load_from(None, &env(&[("SPURLOS_STORE_MEMORY_MB", "300")])).unwrap();
        assert_eq!(set.config.store_memory_bytes(), 300 * MIB);
        assert!(Config::load_from(None, &env(&[("SPURLOS_STORE_MEMORY_MB", "lots")])).is_err());
        assert!(machine_memory().is_some_and(|m| m > 64 * MIB));
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spurlos.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nbatch_size = 10\n").unwrap();
        let settings = Config::load_from(
            Some(&file),
            &env(&[
                ("SPURLOS_LISTEN", "0.0.0.0:8080"),
                ("SPURLOS_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(settings.config.batch_size, 10);
        assert_eq!(settings.trusted_proxies.len(), 2);
        assert_eq!(
            settings.config.queue_capacity,
            Config::default().queue_capacity
        );
    }

    #[test]
    fn invalid_values_are_named() {
        let err =
            Config::load_from(None, &env(&[("SPURLOS_TRUSTED_PROXIES", "nope")])).unwrap_err();
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
        let err = Config::load_from(None, &env(&[("SPURLOS_BATCH_SIZE", "0")])).unwrap_err();
        assert!(err.to_string().contains("batch_size"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "lisen = 1").unwrap();
        let err = Config::load_from(Some(&file), &[]).unwrap_err();
        assert!(err.to_string().contains("bad.toml"), "{err}");
    }
}
