//! The ClickHouse store's schema: the numbered files of `migrations/clickhouse/`, each with its
//! scope (every shard, cluster only, or the main server), expanded for the configured layout
//! and applied once, recorded in `schema_migrations`.

use super::ch;
use crate::config::ClickHouseConfig;
use crate::store::StoreError;
use clickhouse::Client;

pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_events",
        include_str!("../../../migrations/clickhouse/0001_events.sql"),
    ),
    (
        "0002_distributed",
        include_str!("../../../migrations/clickhouse/0002_distributed.sql"),
    ),
    (
        "0003_meta",
        include_str!("../../../migrations/clickhouse/0003_meta.sql"),
    ),
    (
        "0004_traffic",
        include_str!("../../../migrations/clickhouse/0004_traffic.sql"),
    ),
    (
        "0005_imported",
        include_str!("../../../migrations/clickhouse/0005_imported.sql"),
    ),
];

/// The scope of a migration (`shards`, `cluster` or `main`, from its first line) and its
/// statements, with `{local}`, `{engine:...}`, `{cluster}` and `{database}` filled in.
fn expand(config: &ClickHouseConfig, sql: &str) -> (String, Vec<String>) {
    let scope = sql
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("-- scope:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "main".into());
    let engine = |table: &str| {
        if config.replicated {
            format!(
                "ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{}/{table}', '{{replica}}')",
                config.database
            )
        } else {
            "MergeTree()".to_string()
        }
    };
    let local = if config.cluster.is_some() {
        "_local"
    } else {
        ""
    };
    let text = sql
        .replace("{local}", local)
        .replace("{engine:events}", &engine("events"))
        .replace("{engine:sessions}", &engine("sessions"))
        .replace("{cluster}", config.cluster.as_deref().unwrap_or(""))
        .replace("{database}", &config.database);
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    let statements = code
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_string())
        .collect();
    (scope, statements)
}

pub(super) async fn migrate(
    config: &ClickHouseConfig,
    client: &Client,
    shards: &[Client],
) -> Result<(), StoreError> {
    client
        .query("CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_ts Int64) ENGINE = MergeTree() ORDER BY name")
        .execute()
        .await
        .map_err(ch("creating the migrations table"))?;
    let applied = client
        .query("SELECT name FROM schema_migrations")
        .fetch_all::<String>()
        .await
        .map_err(ch("reading applied migrations"))?;
    for (name, sql) in MIGRATIONS {
        if applied.iter().any(|a| a == name) {
            continue;
        }
        let (scope, statements) = expand(config, sql);
        let targets: Vec<&Client> = match scope.as_str() {
            "shards" => shards.iter().collect(),
            "cluster" if config.cluster.is_some() => vec![client],
            "cluster" => Vec::new(),
            _ => vec![client],
        };
        for target in targets {
            for st in &statements {
                target.query(st).execute().await.map_err(|source| {
                    StoreError::ClickHouseMigration {
                        name: name.to_string(),
                        source,
                    }
                })?;
            }
        }
        client
            .query("INSERT INTO schema_migrations (name, applied_ts) VALUES (?, ?)")
            .bind(*name)
            .bind(chrono::Utc::now().timestamp())
            .execute()
            .await
            .map_err(ch("recording a migration"))?;
    }
    Ok(())
}
