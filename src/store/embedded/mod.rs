//! The embedded default store: one DuckDB file under the data directory (plus the salt file),
//! written in batches through DuckDB's appender and queried with the SQL in [`sql`].

mod archive;
pub mod export;
mod imported;
mod legacy;
mod meta;
mod salts;
mod traffic;

use super::sql::{self, Dialect};
use super::{
    Batch, Deleted, EventAgg, EventRow, EventStore, SessionAgg, SessionRow, Store, StoreError,
    StoreFuture, VisitAttrs,
};
use crate::stats::model::AggregateQuery;
use duckdb::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, Int8Array, StringArray, UInt32Array, UInt64Array,
};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{params, params_from_iter, Connection, Row};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One schema step: SQL, or a Rust function (run in the same transaction as its record).
enum Step {
    Sql(&'static str),
    Rust(fn(&Connection) -> Result<(), StoreError>),
}

const MIGRATIONS: &[(&str, Step)] = &[
    (
        "0001_init",
        Step::Sql(include_str!("../../../migrations/duckdb/0001_init.sql")),
    ),
    (
        "0002_archive",
        Step::Sql(include_str!("../../../migrations/duckdb/0002_archive.sql")),
    ),
    (
        "0003_customers",
        Step::Sql(include_str!(
            "../../../migrations/duckdb/0003_customers.sql"
        )),
    ),
    (
        "0004_users",
        Step::Sql(include_str!("../../../migrations/duckdb/0004_users.sql")),
    ),
    (
        "0005_sessions",
        Step::Sql(include_str!("../../../migrations/duckdb/0005_sessions.sql")),
    ),
    (
        "0006_shares",
        Step::Sql(include_str!("../../../migrations/duckdb/0006_shares.sql")),
    ),
    (
        "0007_token_access",
        Step::Sql(include_str!(
            "../../../migrations/duckdb/0007_token_access.sql"
        )),
    ),
    (
        "0008_meta",
        Step::Sql(include_str!("../../../migrations/duckdb/0008_meta.sql")),
    ),
    (
        "0009_tenancy_documents",
        Step::Rust(legacy::move_to_documents),
    ),
    (
        "0010_journal",
        Step::Sql(include_str!("../../../migrations/duckdb/0010_journal.sql")),
    ),
    (
        "0011_archive_rollups",
        Step::Sql(include_str!(
            "../../../migrations/duckdb/0011_archive_rollups.sql"
        )),
    ),
    (
        "0012_traffic",
        Step::Sql(include_str!("../../../migrations/duckdb/0012_traffic.sql")),
    ),
    (
        "0013_imported",
        Step::Sql(include_str!("../../../migrations/duckdb/0013_imported.sql")),
    ),
];

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
    /// Stored events per site, to choose exact or estimated visitor counts.
    site_events: Arc<super::EventCounts>,
    /// Scans of events and visits that may run at once, one per core: DuckDB runs each on
    /// every core already, so more at once only share the cores and the memory limit. A
    /// scan that joins events with visits takes every permit: two such at once spill (a
    /// page-filtered dashboard: 2.6 s with two at once, 1.5 s alone).
    scanning: Arc<tokio::sync::Semaphore>,
    scan_permits: u32,
    /// Held by every read for its time, and alone by a compaction (which replaces the
    /// database file under the connections).
    gate: Arc<tokio::sync::RwLock<()>>,
    db_path: PathBuf,
    memory_mib: u64,
}

fn db(context: &'static str) -> impl FnOnce(duckdb::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

impl Embedded {
    /// Opens (creating when missing) the store in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_memory(
            data_dir,
            crate::config::default_store_memory(crate::config::machine_memory()),
        )
    }

    /// Opens the store with a memory limit for DuckDB (queries and its cache; beyond it,
    /// DuckDB spills to a temporary directory next to the database file).
    pub fn open_with_memory(data_dir: &Path, memory_bytes: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::DataDir {
            path: data_dir.display().to_string(),
            message: e.to_string(),
        })?;
        let db_path = data_dir.join(DB_FILE);
        let memory_mib = (memory_bytes >> 20).max(16);
        let conn = open_file(&db_path, memory_mib)?;
        let scan_permits = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        migrate(&conn)?;
        let counts = {
            let mut stmt = conn
                .prepare("SELECT site_id, count(*) FROM events GROUP BY site_id")
                .map_err(db("counting events"))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)? as u64))
                })
                .map_err(db("counting events"))?
                .collect::<Result<HashMap<_, _>, _>>()
                .map_err(db("counting events"))?;
            rows
        };
        Ok(Self {
            writer: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
            salt_path: data_dir.join(SALT_FILE),
            site_events: {
                let c = super::EventCounts::default();
                c.replace(counts);
                Arc::new(c)
            },
            scanning: Arc::new(tokio::sync::Semaphore::new(scan_permits as usize)),
            scan_permits,
            gate: Arc::new(tokio::sync::RwLock::new(())),
            db_path,
            memory_mib,
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

    /// [`Embedded::with_reader`] for a scan of events or visits: one of the few at once,
    /// or the only one when it joins events with visits (`join`).
    async fn with_scanner<T, F>(&self, join: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .scanning
            .acquire_many(if join { self.scan_permits } else { 1 })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        self.with_reader(f).await
    }

    /// Runs `f` on a read connection. Dropping the returned future (a query over its time)
    /// interrupts DuckDB, so that abandoned queries do not go on using the machine.
    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let writer = self.writer.clone();
        let readers = self.readers.clone();
        let guard = InterruptOnDrop::default();
        let shared = guard.0.clone();
        let open = self.gate.clone().read_owned().await;
        let result = tokio::task::spawn_blocking(move || {
            let _open = open;
            let pooled = readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match pooled {
                Some(c) => c,
                None => writer
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .try_clone()
                    .map_err(db("opening a read connection"))?,
            };
            let cancelled = {
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                s.handle = Some(conn.interrupt_handle());
                s.cancelled
            };
            let result = if cancelled {
                Err(StoreError::Task("the query was cancelled".into()))
            } else {
                f(&conn)
            };
            // Before the connection serves anyone else, it is no longer this read's to stop.
            shared.lock().unwrap_or_else(|e| e.into_inner()).handle = None;
            readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()));
        drop(guard);
        result?
    }
}

/// Opens the database file with the store's memory limit (queries and cache; beyond it,
/// DuckDB spills to a temporary directory next to the file).
fn open_file(path: &Path, memory_mib: u64) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(db("opening the database"))?;
    conn.execute_batch(&format!("SET memory_limit = '{memory_mib}MiB'"))
        .map_err(db("setting the memory limit"))?;
    Ok(conn)
}

/// Copies the database behind `conn` into a new file and puts that in the old one's place:
/// the new file holds no free blocks, so nothing deleted is left in it. Every connection to
/// the old file is closed first (`readers` must be idle); `conn` is on the new file after.
fn compact_file(
    conn: &mut Connection,
    path: &Path,
    memory_mib: u64,
    readers: &Mutex<Vec<Connection>>,
) -> Result<(), StoreError> {
    let fresh = path.with_extension("compacting");
    let failed = |e: std::io::Error| StoreError::DataDir {
        path: fresh.display().to_string(),
        message: e.to_string(),
    };
    for leftover in [fresh.clone(), fresh.with_extension("compacting.wal")] {
        if leftover.exists() {
            std::fs::remove_file(&leftover).map_err(failed)?;
        }
    }
    conn.execute_batch("CHECKPOINT")
        .map_err(db("checkpointing before a compaction"))?;
    let main: String = conn
        .query_row("SELECT current_database()", [], |r| r.get(0))
        .map_err(db("naming the database"))?;
    let target = fresh.display().to_string().replace('\'', "''");
    conn.execute_batch(&format!(
        "ATTACH '{target}' AS spurlos_compact; \
         COPY FROM DATABASE \"{main}\" TO spurlos_compact; \
         DETACH spurlos_compact;"
    ))
    .map_err(db("copying the database for a compaction"))?;
    readers.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let in_memory = Connection::open_in_memory().map_err(db("closing the database"))?;
    drop(std::mem::replace(conn, in_memory));
    let wal = path.with_extension("duckdb.wal");
    let swapped = if wal.exists() {
        // The old database did not close cleanly: keep it, drop the copy.
        std::fs::remove_file(&fresh).map_err(failed)?;
        Err(StoreError::DataDir {
            path: wal.display().to_string(),
            message: "the database kept a write-ahead log; compaction skipped".into(),
        })
    } else {
        std::fs::rename(&fresh, path)
            .and_then(|()| match path.parent() {
                Some(dir) => std::fs::File::open(dir).and_then(|d| d.sync_all()),
                None => Ok(()),
            })
            .map_err(failed)
    };
    *conn = open_file(path, memory_mib)?;
    swapped
}

/// Interrupts the DuckDB query of a read when the future waiting for it is dropped.
#[derive(Default)]
struct InterruptOnDrop(Arc<Mutex<Interruptible>>);

#[derive(Default)]
struct Interruptible {
    handle: Option<Arc<duckdb::InterruptHandle>>,
    cancelled: bool,
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.cancelled = true;
        if let Some(handle) = s.handle.take() {
            handle.interrupt();
        }
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_ts BIGINT NOT NULL)",
    )
    .map_err(db("creating the migrations table"))?;
    for (name, step) in MIGRATIONS {
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
        let failed = |source| StoreError::Migration {
            name: name.to_string(),
            source,
        };
        conn.execute_batch("BEGIN TRANSACTION").map_err(failed)?;
        let applied = match step {
            Step::Sql(sql) => conn.execute_batch(sql).map_err(failed),
            Step::Rust(f) => f(conn),
        }
        .and_then(|()| {
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)",
                params![name, chrono::Utc::now().timestamp()],
            )
            .map_err(failed)?;
            conn.execute_batch("COMMIT").map_err(failed)
        });
        if let Err(e) = applied {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(())
}

const ATTR_COLUMNS: &str = "referrer, source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country_code, region, city, browser, browser_version, os, os_version, device, screen";

/// A session version's columns after its site (and before its sign), as [`read_session`]
/// reads them.
const SESSION_COLUMNS: &str = "session_id, visitor_id, version, start_ts, end_ts, pageviews, events, interactive, entry_page, exit_page, hostname, referrer, source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country_code, region, city, browser, browser_version, os, os_version, device, screen";

/// A session version from [`SESSION_COLUMNS`] starting at column `at`.
fn read_session(r: &Row<'_>, at: usize, site_id: u32, sign: i8) -> duckdb::Result<SessionRow> {
    Ok(SessionRow {
        site_id,
        session_id: r.get(at)?,
        visitor_id: r.get(at + 1)?,
        sign,
        version: r.get(at + 2)?,
        start_ts: r.get(at + 3)?,
        end_ts: r.get(at + 4)?,
        pageviews: r.get(at + 5)?,
        events: r.get(at + 6)?,
        interactive: r.get(at + 7)?,
        entry_page: r.get(at + 8)?,
        exit_page: r.get(at + 9)?,
        hostname: r.get(at + 10)?,
        attrs: Arc::new(read_attrs(r, at + 11)?),
    })
}

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

fn strings<'a, T>(rows: &'a [T], f: impl Fn(&'a T) -> &'a str) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
}

/// The visit attribute columns, in table order.
fn attr_columns<'a, T>(
    rows: &'a [T],
    attrs: impl Fn(&'a T) -> &'a VisitAttrs + Copy,
) -> Vec<ArrayRef> {
    vec![
        strings(rows, move |r| &attrs(r).referrer),
        strings(rows, move |r| &attrs(r).source),
        strings(rows, move |r| &attrs(r).utm_source),
        strings(rows, move |r| &attrs(r).utm_medium),
        strings(rows, move |r| &attrs(r).utm_campaign),
        strings(rows, move |r| &attrs(r).utm_content),
        strings(rows, move |r| &attrs(r).utm_term),
        strings(rows, move |r| &attrs(r).country_code),
        strings(rows, move |r| &attrs(r).region),
        strings(rows, move |r| &attrs(r).city),
        strings(rows, move |r| &attrs(r).browser),
        strings(rows, move |r| &attrs(r).browser_version),
        strings(rows, move |r| &attrs(r).os),
        strings(rows, move |r| &attrs(r).os_version),
        strings(rows, move |r| &attrs(r).device),
        strings(rows, move |r| &attrs(r).screen),
    ]
}

fn record_batch(columns: Vec<ArrayRef>) -> Result<RecordBatch, StoreError> {
    let named = columns
        .into_iter()
        .enumerate()
        .map(|(i, c)| (format!("c{i}"), c));
    RecordBatch::try_from_iter(named)
        .map_err(|e| StoreError::Task(format!("building a batch: {e}")))
}

fn events_batch(events: &[EventRow]) -> Result<RecordBatch, StoreError> {
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(
            events.iter().map(|e| e.site_id),
        )),
        Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.ts))),
        Arc::new(UInt64Array::from_iter_values(
            events.iter().map(|e| e.event_id),
        )),
        Arc::new(UInt64Array::from_iter_values(
            events.iter().map(|e| e.session_id),
        )),
        Arc::new(UInt64Array::from_iter_values(
            events.iter().map(|e| e.visitor_id),
        )),
        strings(events, |e| &e.name),
        Arc::new(BooleanArray::from_iter(
            events.iter().map(|e| Some(e.interactive)),
        )),
        strings(events, |e| &e.hostname),
        strings(events, |e| &e.pathname),
    ];
    cols.extend(attr_columns(events, |e| e.attrs.as_ref()));
    record_batch(cols)
}

fn sessions_batch(sessions: &[SessionRow]) -> Result<RecordBatch, StoreError> {
    let u32s = |f: fn(&SessionRow) -> u32| -> ArrayRef {
        Arc::new(UInt32Array::from_iter_values(sessions.iter().map(f)))
    };
    let mut cols: Vec<ArrayRef> = vec![
        u32s(|s| s.site_id),
        Arc::new(UInt64Array::from_iter_values(
            sessions.iter().map(|s| s.session_id),
        )),
        Arc::new(UInt64Array::from_iter_values(
            sessions.iter().map(|s| s.visitor_id),
        )),
        Arc::new(Int8Array::from_iter_values(sessions.iter().map(|s| s.sign))),
        u32s(|s| s.version),
        Arc::new(Int64Array::from_iter_values(
            sessions.iter().map(|s| s.start_ts),
        )),
        Arc::new(Int64Array::from_iter_values(
            sessions.iter().map(|s| s.end_ts),
        )),
        u32s(|s| s.pageviews),
        u32s(|s| s.events),
        u32s(|s| s.interactive),
        strings(sessions, |s| &s.entry_page),
        strings(sessions, |s| &s.exit_page),
        strings(sessions, |s| &s.hostname),
    ];
    cols.extend(attr_columns(sessions, |s| s.attrs.as_ref()));
    record_batch(cols)
}

fn props_batch(events: &[EventRow]) -> Result<Option<RecordBatch>, StoreError> {
    let rows: Vec<(&EventRow, &(String, String))> = events
        .iter()
        .flat_map(|e| e.props.iter().map(move |p| (e, p)))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    record_batch(vec![
        Arc::new(UInt32Array::from_iter_values(
            rows.iter().map(|(e, _)| e.site_id),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|(e, _)| e.ts))),
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|(e, _)| e.event_id),
        )),
        strings(&rows, |(_, p)| &p.0),
        strings(&rows, |(_, p)| &p.1),
    ])
    .map(Some)
}

/// Stores a batch in one transaction through DuckDB's Arrow appender.
fn write_batch(conn: &mut Connection, batch: &Batch) -> Result<(), StoreError> {
    let events = events_batch(&batch.events)?;
    let props = props_batch(&batch.events)?;
    let sessions = sessions_batch(&batch.sessions)?;
    let tx = conn.transaction().map_err(db("starting a batch"))?;
    // A batch may hold nothing but its journal mark (its hits were of a deleted site).
    if !batch.events.is_empty() {
        let mut app = tx.appender("events").map_err(db("appending events"))?;
        app.append_record_batch(events)
            .map_err(db("appending events"))?;
        app.flush().map_err(db("flushing events"))?;
    }
    if let Some(props) = props {
        let mut app = tx.appender("props").map_err(db("appending props"))?;
        app.append_record_batch(props)
            .map_err(db("appending props"))?;
        app.flush().map_err(db("flushing props"))?;
    }
    if !batch.sessions.is_empty() {
        let mut app = tx.appender("sessions").map_err(db("appending sessions"))?;
        app.append_record_batch(sessions)
            .map_err(db("appending sessions"))?;
        app.flush().map_err(db("flushing sessions"))?;
    }
    if let Some(hi) = batch.journal_hi {
        tx.execute("INSERT OR REPLACE INTO journal_mark VALUES (1, ?)", [hi])
            .map_err(db("recording the journal mark"))?;
    }
    tx.commit().map_err(db("committing a batch"))
}

fn duck_value(v: &sql::Value) -> duckdb::types::Value {
    match v {
        sql::Value::Text(t) => duckdb::types::Value::Text(t.clone()),
        sql::Value::UInt(n) => duckdb::types::Value::UInt(*n),
        sql::Value::BigInt(n) => duckdb::types::Value::BigInt(*n),
    }
}

/// Runs a grouped statement whose first `n` columns are the group's dimensions.
fn grouped_rows<T>(
    conn: &Connection,
    st: &sql::Statement,
    n: usize,
    read: impl Fn(&Row<'_>, Vec<String>) -> duckdb::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let started = std::time::Instant::now();
    let mut stmt = conn
        .prepare(&st.sql)
        .map_err(db("preparing a stats query"))?;
    let rows = stmt
        .query_map(params_from_iter(st.params.iter().map(duck_value)), |r| {
            let mut dims = Vec::with_capacity(n);
            for i in 0..n {
                dims.push(match r.get::<_, duckdb::types::Value>(i)? {
                    duckdb::types::Value::Text(t) => t,
                    duckdb::types::Value::BigInt(v) => v.to_string(),
                    duckdb::types::Value::HugeInt(v) => v.to_string(),
                    duckdb::types::Value::Int(v) => v.to_string(),
                    _ => String::new(),
                });
            }
            read(r, dims)
        })
        .map_err(db("running a stats query"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("reading a stats query"))?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        rows = rows.len(),
        sql = %st.sql,
        "stats query"
    );
    Ok(rows)
}

/// Runs a query and reads every row with `read`; errors name `context`.
fn query_rows<T, P: duckdb::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    context: &'static str,
    read: impl FnMut(&Row<'_>) -> duckdb::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(sql).map_err(db(context))?;
    let rows = stmt
        .query_map(params, read)
        .map_err(db(context))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db(context));
    rows
}

impl EventStore for Embedded {
    fn write_batch(&self, batch: Arc<Batch>) -> StoreFuture<'_, ()> {
        let counts = self.site_events.clone();
        Box::pin(async move {
            self.with_writer(move |conn| {
                write_batch(conn, &batch)?;
                counts.add(&batch);
                Ok(())
            })
            .await
        })
    }

    fn journal_mark(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            self.with_reader(|conn| {
                conn.query_row("SELECT coalesce(max(seq), 0) FROM journal_mark", [], |r| {
                    r.get::<_, u64>(0)
                })
                .map_err(db("reading the journal mark"))
            })
            .await
        })
    }

    fn live_sessions(&self, since_ts: i64) -> StoreFuture<'_, Vec<SessionRow>> {
        Box::pin(async move {
            self.with_reader(move |conn| {
                query_rows(
                    conn,
                    &format!(
                        "SELECT site_id, {SESSION_COLUMNS} FROM sessions WHERE end_ts >= ? \
                         GROUP BY ALL HAVING sum(sign) > 0"
                    ),
                    [since_ts],
                    "reading live sessions",
                    |r| read_session(r, 1, r.get(0)?, 1),
                )
            })
            .await
        })
    }

    fn event_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<EventAgg>> {
        let st = sql::event_aggregate(q, self.site_events.approximate(q), Dialect::DuckDb);
        let n = q.group_columns();
        let join = sql::joins_events_and_visits(q, false);
        Box::pin(async move {
            self.with_scanner(join, move |conn| {
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
        let st = sql::session_aggregate(q, Dialect::DuckDb);
        let n = q.group_columns();
        let join = sql::joins_events_and_visits(q, true);
        Box::pin(async move {
            self.with_scanner(join, move |conn| {
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
                        untimed: 0,
                    })
                })
            })
            .await
        })
    }

    fn prop_keys(
        &self,
        site_id: u32,
        from_ts: i64,
        to_ts: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<(String, u64)>> {
        Box::pin(async move {
            self.with_reader(move |conn| {
                query_rows(
                    conn,
                    "SELECT key, count(*) FROM props WHERE site_id = ? AND ts >= ? AND ts < ? \
                     GROUP BY key ORDER BY count(*) DESC, key LIMIT ?",
                    params![site_id, from_ts, to_ts, limit],
                    "listing prop keys",
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)),
                )
            })
            .await
        })
    }

    fn first_events(&self) -> StoreFuture<'_, Vec<(u32, i64)>> {
        Box::pin(async move {
            self.with_reader(move |conn| {
                query_rows(
                    conn,
                    "SELECT site_id, min(ts) FROM events GROUP BY site_id",
                    [],
                    "finding the first events",
                    |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)),
                )
            })
            .await
        })
    }

    fn event_hours(
        &self,
        site_ids: Vec<u32>,
        from_ts: i64,
        to_ts: i64,
    ) -> StoreFuture<'_, Vec<(u32, i64, u64)>> {
        Box::pin(async move {
            if site_ids.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT site_id, ts // 3600 * 3600 AS h, count(*) FROM events \
                 WHERE site_id IN ({}) AND ts >= ? AND ts < ? GROUP BY site_id, h",
                sql::int_list(&site_ids)
            );
            self.with_reader(move |conn| {
                query_rows(
                    conn,
                    &sql,
                    params![from_ts, to_ts],
                    "listing the hours with events",
                    |r| {
                        Ok((
                            r.get::<_, u32>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)? as u64,
                        ))
                    },
                )
            })
            .await
        })
    }

    fn delete_site_data(&self, site_ids: Vec<u32>) -> StoreFuture<'_, ()> {
        self.site_events.forget(&site_ids);
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting a site removal"))?;
                for table in [
                    "events",
                    "props",
                    "sessions",
                    "archive",
                    "archived_days",
                    "traffic",
                    "imported",
                ] {
                    for id in &site_ids {
                        tx.execute(&format!("DELETE FROM {table} WHERE site_id = ?"), [id])
                            .map_err(db("removing a site's data"))?;
                    }
                }
                tx.commit().map_err(db("committing a site removal"))?;
                conn.execute_batch("CHECKPOINT")
                    .map_err(db("checkpointing"))
            })
            .await
        })
    }

    fn window(&self, site_id: u32, from_ts: i64, to_ts: i64) -> StoreFuture<'_, Batch> {
        Box::pin(self.export_window(site_id, from_ts, to_ts))
    }

    fn delete_range(&self, site_id: u32, from_ts: i64, to_ts: i64) -> StoreFuture<'_, Deleted> {
        Box::pin(async move {
            let deleted = self
                .with_writer(move |conn| {
                    let tx = conn.transaction().map_err(db("starting a deletion"))?;
                    let args = params![site_id, from_ts, to_ts];
                    let events: i64 = tx
                        .query_row(
                            "SELECT count(*) FROM events WHERE site_id = ? AND ts >= ? AND ts < ?",
                            args,
                            |r| r.get(0),
                        )
                        .map_err(db("counting the events to delete"))?;
                    // Every version of the visits with a hit in the period.
                    let visits_sql = "FROM sessions WHERE site_id = ? AND session_id IN \
                         (SELECT session_id FROM sessions \
                          WHERE site_id = ? AND start_ts < ? AND end_ts >= ?)";
                    let visit_args = params![site_id, site_id, to_ts, from_ts];
                    let (visits, first, last): (i64, Option<i64>, Option<i64>) = tx
                        .query_row(
                            &format!(
                                "SELECT coalesce(sum(sign), 0), min(start_ts), max(end_ts) {visits_sql}"
                            ),
                            visit_args,
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .map_err(db("counting the visits to delete"))?;
                    tx.execute(&format!("DELETE {visits_sql}"), visit_args)
                        .map_err(db("deleting visits"))?;
                    for sql in [
                        "DELETE FROM props WHERE site_id = ? AND ts >= ? AND ts < ?",
                        "DELETE FROM events WHERE site_id = ? AND ts >= ? AND ts < ?",
                    ] {
                        tx.execute(sql, args).map_err(db("deleting events"))?;
                    }
                    tx.commit().map_err(db("committing a deletion"))?;
                    Ok(Deleted {
                        events: events.max(0) as u64,
                        visits: visits.max(0) as u64,
                        reach: first.zip(last),
                    })
                })
                .await?;
            self.site_events.subtract(site_id, deleted.events);
            Ok(deleted)
        })
    }
}

impl Store for Embedded {
    /// Writes the database into a new file and puts it in place of the old one, so that no
    /// deleted row is left in the file's free blocks. Reads and writes wait meanwhile.
    fn compact(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let _no_reads = self.gate.clone().write_owned().await;
            let db_path = self.db_path.clone();
            let memory = self.memory_mib;
            let readers = self.readers.clone();
            self.with_writer(move |conn| compact_file(conn, &db_path, memory, &readers))
                .await
        })
    }

    fn backup_to(&self, path: std::path::PathBuf) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // On the writer's connection: no batch lands in the middle of the copy.
            self.with_writer(move |conn| {
                let target = path.display().to_string().replace('\'', "''");
                let main: String = conn
                    .query_row("SELECT current_database()", [], |r| r.get(0))
                    .map_err(db("naming the database"))?;
                conn.execute_batch(&format!(
                    "ATTACH '{target}' AS spurlos_backup; \
                     COPY FROM DATABASE \"{main}\" TO spurlos_backup; \
                     DETACH spurlos_backup;"
                ))
                .map_err(db("copying the database"))
            })
            .await
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_reader(|conn| {
                conn.execute_batch("SELECT 1")
                    .map_err(db("checking the database"))
            })
            .await
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal mark is stored with each batch, also with a batch that holds nothing else
    /// (its hits were of a site deleted meanwhile), and only grows with the batches.
    #[tokio::test]
    async fn the_journal_mark_is_written_with_every_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Embedded::open(dir.path()).unwrap();
        assert_eq!(store.journal_mark().await.unwrap(), 0);
        let empty = Batch {
            journal_hi: Some(7),
            ..Batch::default()
        };
        store.write_batch(Arc::new(empty)).await.unwrap();
        assert_eq!(store.journal_mark().await.unwrap(), 7);
        let unjournaled = Batch::default();
        store.write_batch(Arc::new(unjournaled)).await.unwrap();
        assert_eq!(store.journal_mark().await.unwrap(), 7);
    }

    /// The configured memory limit reaches DuckDB, also on the connections that readers use.
    #[tokio::test]
    async fn duckdb_gets_the_memory_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Embedded::open_with_memory(dir.path(), 96 << 20).unwrap();
        let limit = store
            .with_reader(|conn| {
                conn.query_row("SELECT current_setting('memory_limit')", [], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(db("reading the memory limit"))
            })
            .await
            .unwrap();
        assert_eq!(limit, "96.0 MiB");
    }
}
