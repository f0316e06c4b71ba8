//! The embedded default store: one DuckDB file under the data directory (plus the salt file),
//! written in batches through DuckDB's appender and queried with the SQL in [`sql`].

pub mod sql;

use super::{
    Batch, DaySalt, EventAgg, EventRow, SessionAgg, SessionRow, Store, StoreError, StoreFuture,
    TokenScope, VisitAttrs,
};
use crate::sites::{Site, SiteSpec};
use crate::stats::model::AggregateQuery;
use chrono::NaiveDate;
use duckdb::{params, params_from_iter, Connection, Row};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init",
    include_str!("../../../migrations/duckdb/0001_init.sql"),
)];

/// File name of the database under the data directory.
pub const DB_FILE: &str = "spurlos.duckdb";
/// File name of the salt file under the data directory.
pub const SALT_FILE: &str = "salts";

/// The DuckDB store.
pub struct Embedded {
    /// The connection batches and admin changes go through.
    writer: Arc<Mutex<Connection>>,
    /// Idle read connections (clones of the writer's database).
    readers: Arc<Mutex<Vec<Connection>>>,
    salt_path: PathBuf,
}

fn db(context: &'static str) -> impl FnOnce(duckdb::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

impl Embedded {
    /// Opens (creating when missing) the store in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::DataDir {
            path: data_dir.display().to_string(),
            message: e.to_string(),
        })?;
        let conn = Connection::open(data_dir.join(DB_FILE)).map_err(db("opening the database"))?;
        migrate(&conn)?;
        Ok(Self {
            writer: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
            salt_path: data_dir.join(SALT_FILE),
        })
    }

    async fn with_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = writer.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let writer = self.writer.clone();
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match pooled {
                Some(c) => c,
                None => writer
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .try_clone()
                    .map_err(db("opening a read connection"))?,
            };
            let result = f(&conn);
            readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_ts BIGINT NOT NULL)",
    )
    .map_err(db("creating the migrations table"))?;
    for (name, sql) in MIGRATIONS {
        let done: i64 = conn
            .query_row(
                "SELECT count(*) FROM schema_migrations WHERE name = ?",
                [name],
                |r| r.get(0),
            )
            .map_err(db("reading applied migrations"))?;
        if done > 0 {
            continue;
        }
        let now = chrono::Utc::now().timestamp();
        let body = sql.trim().trim_end_matches(';');
        let apply = format!(
            "BEGIN TRANSACTION; {body}; INSERT INTO schema_migrations VALUES ('{name}', {now}); COMMIT;"
        );
        conn.execute_batch(&apply)
            .map_err(|source| StoreError::Migration {
                name: name.to_string(),
                source,
            })?;
    }
    Ok(())
}

fn append_attrs(out: &mut Vec<duckdb::types::Value>, a: &VisitAttrs) {
    use duckdb::types::Value::Text;
    for s in [
        &a.referrer,
        &a.source,
        &a.utm_source,
        &a.utm_medium,
        &a.utm_campaign,
        &a.utm_content,
        &a.utm_term,
        &a.country_code,
        &a.region,
        &a.city,
        &a.browser,
        &a.browser_version,
        &a.os,
        &a.os_version,
        &a.device,
        &a.screen,
    ] {
        out.push(Text(s.clone()));
    }
}

const ATTR_COLUMNS: &str = "referrer, source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country_code, region, city, browser, browser_version, os, os_version, device, screen";

fn read_attrs(r: &Row<'_>, at: usize) -> duckdb::Result<VisitAttrs> {
    Ok(VisitAttrs {
        referrer: r.get(at)?,
        source: r.get(at + 1)?,
        utm_source: r.get(at + 2)?,
        utm_medium: r.get(at + 3)?,
        utm_campaign: r.get(at + 4)?,
        utm_content: r.get(at + 5)?,
        utm_term: r.get(at + 6)?,
        country_code: r.get(at + 7)?,
        region: r.get(at + 8)?,
        city: r.get(at + 9)?,
        browser: r.get(at + 10)?,
        browser_version: r.get(at + 11)?,
        os: r.get(at + 12)?,
        os_version: r.get(at + 13)?,
        device: r.get(at + 14)?,
        screen: r.get(at + 15)?,
    })
}

fn write_batch(conn: &mut Connection, batch: &Batch) -> Result<(), StoreError> {
    use duckdb::types::Value;
    let tx = conn.transaction().map_err(db("starting a batch"))?;
    {
        let mut events = tx.appender("events").map_err(db("appending events"))?;
        let mut props = tx.appender("props").map_err(db("appending props"))?;
        let mut row: Vec<Value> = Vec::with_capacity(25);
        for e in &batch.events {
            row.clear();
            event_values(&mut row, e);
            events
                .append_row(duckdb::appender_params_from_iter(row.iter()))
                .map_err(db("appending an event"))?;
            for (k, v) in &e.props {
                props
                    .append_row(params![e.site_id, e.ts, e.event_id, k, v])
                    .map_err(db("appending a prop"))?;
            }
        }
        let mut sessions = tx.appender("sessions").map_err(db("appending sessions"))?;
        for s in &batch.sessions {
            row.clear();
            row.extend([
                Value::UInt(s.site_id),
                Value::UBigInt(s.session_id),
                Value::UBigInt(s.visitor_id),
                Value::TinyInt(s.sign),
                Value::UInt(s.version),
                Value::BigInt(s.start_ts),
                Value::BigInt(s.end_ts),
                Value::UInt(s.pageviews),
                Value::UInt(s.events),
                Value::UInt(s.interactive),
                Value::Text(s.entry_page.clone()),
                Value::Text(s.exit_page.clone()),
                Value::Text(s.hostname.clone()),
            ]);
            append_attrs(&mut row, &s.attrs);
            sessions
                .append_row(duckdb::appender_params_from_iter(row.iter()))
                .map_err(db("appending a session"))?;
        }
        events.flush().map_err(db("flushing events"))?;
        props.flush().map_err(db("flushing props"))?;
        sessions.flush().map_err(db("flushing sessions"))?;
    }
    tx.commit().map_err(db("committing a batch"))
}

fn event_values(row: &mut Vec<duckdb::types::Value>, e: &EventRow) {
    use duckdb::types::Value;
    row.extend([
        Value::UInt(e.site_id),
        Value::BigInt(e.ts),
        Value::UBigInt(e.event_id),
        Value::UBigInt(e.session_id),
        Value::UBigInt(e.visitor_id),
        Value::Text(e.name.clone()),
        Value::Boolean(e.interactive),
        Value::Text(e.hostname.clone()),
        Value::Text(e.pathname.clone()),
    ]);
    append_attrs(row, &e.attrs);
}

/// Runs a grouped statement whose first `n` columns are the group's dimensions.
fn grouped_rows<T>(
    conn: &Connection,
    st: &sql::Statement,
    n: usize,
    read: impl Fn(&Row<'_>, Vec<String>) -> duckdb::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn
        .prepare(&st.sql)
        .map_err(db("preparing a stats query"))?;
    let rows = stmt
        .query_map(params_from_iter(st.params.iter()), |r| {
            let mut dims = Vec::with_capacity(n);
            for i in 0..n {
                dims.push(r.get::<_, Option<String>>(i)?.unwrap_or_default());
            }
            read(r, dims)
        })
        .map_err(db("running a stats query"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("reading a stats query"))?;
    Ok(rows)
}

fn site_from_row(r: &Row<'_>) -> duckdb::Result<(u32, String, String, String, u8, bool, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

fn load_sites(conn: &Connection) -> Result<Vec<Site>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT id, domain, aliases, timezone, ip_mask_bytes, respect_dnt, excluded_ranges FROM sites ORDER BY domain")
        .map_err(db("listing sites"))?;
    let rows = stmt
        .query_map([], site_from_row)
        .map_err(db("listing sites"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("reading sites"))?;
    Ok(rows
        .into_iter()
        .map(|(id, domain, aliases, timezone, mask, dnt, ranges)| Site {
            id,
            domain,
            aliases: split_list(&aliases),
            timezone,
            ip_mask_bytes: mask,
            respect_dnt: dnt,
            excluded_ranges: split_list(&ranges)
                .iter()
                .filter_map(|r| r.parse().ok())
                .collect(),
        })
        .collect())
}

impl Store for Embedded {
    fn write_batch(&self, batch: Batch) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| write_batch(conn, &batch))
                .await
        })
    }

    fn live_sessions(&self, since_ts: i64) -> StoreFuture<'_, Vec<SessionRow>> {
        Box::pin(async move {
            self.with_reader(move |conn| {
                let sql = format!(
                    "SELECT site_id, session_id, visitor_id, version, start_ts, end_ts, pageviews, events, interactive, entry_page, exit_page, hostname, {ATTR_COLUMNS} \
                     FROM sessions WHERE end_ts >= ? GROUP BY ALL HAVING sum(sign) > 0"
                );
                let mut stmt = conn.prepare(&sql).map_err(db("reading live sessions"))?;
                let rows = stmt
                    .query_map([since_ts], |r| {
                        Ok(SessionRow {
                            site_id: r.get(0)?,
                            session_id: r.get(1)?,
                            visitor_id: r.get(2)?,
                            sign: 1,
                            version: r.get(3)?,
                            start_ts: r.get(4)?,
                            end_ts: r.get(5)?,
                            pageviews: r.get(6)?,
                            events: r.get(7)?,
                            interactive: r.get(8)?,
                            entry_page: r.get(9)?,
                            exit_page: r.get(10)?,
                            hostname: r.get(11)?,
                            attrs: read_attrs(r, 12)?,
                        })
                    })
                    .map_err(db("reading live sessions"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db("reading live sessions"))?;
                Ok(rows)
            })
            .await
        })
    }

    fn event_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<EventAgg>> {
        let st = sql::event_aggregate(q);
        let n = q.dimensions.len();
        Box::pin(async move {
            self.with_reader(move |conn| {
                grouped_rows(conn, &st, n, |r, dims| {
                    Ok(EventAgg {
                        dims,
                        visitors: r.get::<_, i64>(n)? as u64,
                        pageviews: r.get::<_, i64>(n + 1)? as u64,
                        events: r.get::<_, i64>(n + 2)? as u64,
                    })
                })
            })
            .await
        })
    }

    fn session_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<SessionAgg>> {
        let st = sql::session_aggregate(q);
        let n = q.dimensions.len();
        Box::pin(async move {
            self.with_reader(move |conn| {
                grouped_rows(conn, &st, n, |r, dims| {
                    let sum = |i: usize| {
                        r.get::<_, Option<i64>>(n + i)
                            .map(Option::unwrap_or_default)
                    };
                    Ok(SessionAgg {
                        dims,
                        visits: sum(0)?,
                        pageviews: sum(1)?,
                        bounces: sum(2)?,
                        duration: sum(3)?,
                    })
                })
            })
            .await
        })
    }

    fn sites(&self) -> StoreFuture<'_, Vec<Site>> {
        Box::pin(async move { self.with_reader(load_sites).await })
    }

    fn add_site(&self, spec: SiteSpec) -> StoreFuture<'_, Site> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let next: i64 = conn
                    .query_row("SELECT COALESCE(max(id), 0) + 1 FROM sites", [], |r| {
                        r.get(0)
                    })
                    .map_err(db("choosing a site id"))?;
                let site = spec.into_site(next as u32)?;
                let existing = load_sites(conn)?;
                for d in site.domains() {
                    if existing.iter().any(|s| s.domains().contains(&d)) {
                        return Err(StoreError::DuplicateDomain(d));
                    }
                }
                let ranges: Vec<String> =
                    site.excluded_ranges.iter().map(|r| r.to_string()).collect();
                conn.execute(
                    "INSERT INTO sites VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        site.id,
                        site.domain,
                        site.aliases.join(","),
                        site.timezone,
                        site.ip_mask_bytes,
                        site.respect_dnt,
                        ranges.join(","),
                        chrono::Utc::now().timestamp()
                    ],
                )
                .map_err(db("inserting a site"))?;
                Ok(site)
            })
            .await
        })
    }

    fn remove_site(&self, site_id: u32) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting a site removal"))?;
                for table in ["events", "props", "sessions", "tokens", "sites"] {
                    let col = if table == "sites" { "id" } else { "site_id" };
                    tx.execute(&format!("DELETE FROM {table} WHERE {col} = ?"), [site_id])
                        .map_err(db("removing a site"))?;
                }
                tx.commit().map_err(db("committing a site removal"))?;
                conn.execute_batch("CHECKPOINT")
                    .map_err(db("checkpointing"))
            })
            .await
        })
    }

    fn add_token(&self, token_hash: &str, scope: TokenScope) -> StoreFuture<'_, ()> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                let TokenScope::Site(site_id) = scope;
                conn.execute(
                    "INSERT INTO tokens VALUES (?, ?, ?)",
                    params![hash, site_id, chrono::Utc::now().timestamp()],
                )
                .map_err(db("saving a token"))?;
                Ok(())
            })
            .await
        })
    }

    fn token_scope(&self, token_hash: &str) -> StoreFuture<'_, Option<TokenScope>> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_reader(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT site_id FROM tokens WHERE token_hash = ?")
                    .map_err(db("looking up a token"))?;
                let mut rows = stmt.query([hash]).map_err(db("looking up a token"))?;
                match rows.next().map_err(db("looking up a token"))? {
                    Some(r) => Ok(Some(TokenScope::Site(
                        r.get(0).map_err(db("reading a token"))?,
                    ))),
                    None => Ok(None),
                }
            })
            .await
        })
    }

    fn salts(&self) -> StoreFuture<'_, Vec<DaySalt>> {
        Box::pin(async move {
            let path = self.salt_path.clone();
            tokio::task::spawn_blocking(move || read_salts(&path))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
        })
    }

    fn replace_salts(&self, salts: &[DaySalt]) -> StoreFuture<'_, ()> {
        let path = self.salt_path.clone();
        let salts = salts.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || write_salts(&path, &salts))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
        })
    }

    fn checkpoint(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(|conn| {
                conn.execute_batch("CHECKPOINT")
                    .map_err(db("checkpointing"))
            })
            .await
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn salt_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Salts(format!("{}: {e}", path.display()))
}

/// Salts live outside the database so that a deleted salt is really gone: the file is
/// rewritten whole and renamed over the old one.
fn read_salts(path: &Path) -> Result<Vec<DaySalt>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(salt_err(path, e)),
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (day, key) = line
            .split_once(' ')
            .ok_or_else(|| salt_err(path, "malformed line"))?;
        let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|e| salt_err(path, e))?;
        if key.len() != 64 {
            return Err(salt_err(path, "malformed salt"));
        }
        let mut salt = [0u8; 32];
        for (i, chunk) in salt.iter_mut().enumerate() {
            *chunk =
                u8::from_str_radix(&key[i * 2..i * 2 + 2], 16).map_err(|e| salt_err(path, e))?;
        }
        out.push((day, salt));
    }
    Ok(out)
}

fn write_salts(path: &Path, salts: &[DaySalt]) -> Result<(), StoreError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut text = String::new();
    for (day, salt) in salts {
        text.push_str(&format!("{} {}\n", day.format("%Y-%m-%d"), hex(salt)));
    }
    let mut f = std::fs::File::create(&tmp).map_err(|e| salt_err(&tmp, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| salt_err(&tmp, e))?;
    f.sync_all().map_err(|e| salt_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| salt_err(path, e))
}
