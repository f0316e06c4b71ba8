//! The embedded default store: one DuckDB file under the data directory (plus the salt file),
//! written in batches through DuckDB's appender and queried with the SQL in [`sql`].

mod export;

use super::sql::{self, Dialect};
use super::{
    ArchiveRow, ArchivedDay, Batch, DaySalt, EventAgg, EventRow, SessionAgg, SessionRow,
    SharedLink, Store, StoreError, StoreFuture, StoredToken, TokenAccess, TokenScope, VisitAttrs,
};
use crate::customers::{normalise_handle, Customer};
use crate::sites::{Site, SiteSpec};
use crate::stats::model::AggregateQuery;
use crate::users::{normalise_email, Membership, Role, User};
use chrono::NaiveDate;
use duckdb::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, Int8Array, StringArray, UInt32Array, UInt64Array,
};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{params, params_from_iter, Connection, Row};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/duckdb/0001_init.sql"),
    ),
    (
        "0002_archive",
        include_str!("../../../migrations/duckdb/0002_archive.sql"),
    ),
    (
        "0003_customers",
        include_str!("../../../migrations/duckdb/0003_customers.sql"),
    ),
    (
        "0004_users",
        include_str!("../../../migrations/duckdb/0004_users.sql"),
    ),
    (
        "0005_sessions",
        include_str!("../../../migrations/duckdb/0005_sessions.sql"),
    ),
    (
        "0006_shares",
        include_str!("../../../migrations/duckdb/0006_shares.sql"),
    ),
    (
        "0007_token_access",
        include_str!("../../../migrations/duckdb/0007_token_access.sql"),
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
    {
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
    {
        let mut app = tx.appender("sessions").map_err(db("appending sessions"))?;
        app.append_record_batch(sessions)
            .map_err(db("appending sessions"))?;
        app.flush().map_err(db("flushing sessions"))?;
    }
    tx.commit().map_err(db("committing a batch"))
}

/// Deletes one archived day (its rows and its record) inside a transaction.
fn delete_archived_day(conn: &Connection, site_id: u32, day: i32) -> Result<(), StoreError> {
    for table in ["archive", "archived_days"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE site_id = ? AND day = ?"),
            params![site_id, day],
        )
        .map_err(db("deleting an archived day"))?;
    }
    Ok(())
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
    Ok(rows)
}

type SiteRow = (u32, String, String, String, u8, bool, String, Option<u32>);

fn site_from_row(r: &Row<'_>) -> duckdb::Result<SiteRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
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
        .prepare(
            "SELECT s.id, s.domain, s.aliases, s.timezone, s.ip_mask_bytes, s.respect_dnt, s.excluded_ranges, c.customer_id \
             FROM sites s LEFT JOIN site_customers c ON c.site_id = s.id ORDER BY s.domain",
        )
        .map_err(db("listing sites"))?;
    let rows = stmt
        .query_map([], site_from_row)
        .map_err(db("listing sites"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("reading sites"))?;
    Ok(rows
        .into_iter()
        .map(
            |(id, domain, aliases, timezone, mask, dnt, ranges, customer_id)| Site {
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
                customer_id,
            },
        )
        .collect())
}

fn load_customers(conn: &Connection) -> Result<Vec<Customer>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT id, handle, name FROM customers ORDER BY handle")
        .map_err(db("listing customers"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Customer {
                id: r.get(0)?,
                handle: r.get(1)?,
                name: r.get(2)?,
            })
        })
        .map_err(db("listing customers"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("reading customers"))?;
    Ok(rows)
}

fn load_users(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT u.id, u.email, u.password_hash <> '', c.handle, m.role FROM users u \
             LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN customers c ON c.id = m.customer_id \
             ORDER BY u.email, c.handle",
        )
        .map_err(db("listing users"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .map_err(db("listing users"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("reading users"))?;
    let mut users: Vec<User> = Vec::new();
    for (id, email, has_password, handle, role) in rows {
        if users.last().is_none_or(|u| u.id != id) {
            users.push(User {
                id,
                email,
                has_password,
                memberships: Vec::new(),
            });
        }
        if let (Some(customer), Some(role), Some(user)) = (
            handle,
            role.as_deref().and_then(Role::parse),
            users.last_mut(),
        ) {
            user.memberships.push(Membership { customer, role });
        }
    }
    Ok(users)
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

/// Every token with its scope and access.
fn load_tokens(conn: &Connection) -> Result<Vec<StoredToken>, StoreError> {
    query_rows(
        conn,
        "SELECT t.token_hash, t.id, t.kind, t.created_ts, COALESCE(a.access, 'read') FROM ( \
           SELECT token_hash, site_id AS id, 's' AS kind, created_ts FROM tokens \
           UNION ALL SELECT token_hash, customer_id, 'c', created_ts FROM customer_tokens \
         ) t LEFT JOIN token_access a ON a.token_hash = t.token_hash ORDER BY t.created_ts",
        [],
        "listing tokens",
        |r| {
            let id: u32 = r.get(1)?;
            let kind: String = r.get(2)?;
            let access: String = r.get(4)?;
            Ok(StoredToken {
                hash: r.get(0)?,
                scope: if kind == "c" {
                    TokenScope::Customer(id)
                } else {
                    TokenScope::Site(id)
                },
                access: if access == "manage" {
                    TokenAccess::Manage
                } else {
                    TokenAccess::Read
                },
                created_ts: r.get(3)?,
            })
        },
    )
}

/// Deletes a site with everything that belongs to it (inside the caller's transaction).
fn delete_site(conn: &Connection, site_id: u32) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM token_access WHERE token_hash IN (SELECT token_hash FROM tokens WHERE site_id = ?)",
        [site_id],
    )
    .map_err(db("removing a site"))?;
    for table in [
        "events",
        "props",
        "sessions",
        "tokens",
        "archive",
        "archived_days",
        "site_customers",
        "shared_links",
        "sites",
    ] {
        let col = if table == "sites" { "id" } else { "site_id" };
        conn.execute(&format!("DELETE FROM {table} WHERE {col} = ?"), [site_id])
            .map_err(db("removing a site"))?;
    }
    Ok(())
}

impl Store for Embedded {
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
        let st = sql::session_aggregate(q, Dialect::DuckDb);
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

    fn first_event_ts(&self, site_id: u32) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async move {
            self.with_reader(move |conn| {
                conn.query_row(
                    "SELECT min(ts) FROM events WHERE site_id = ?",
                    [site_id],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .map_err(db("finding the first event"))
            })
            .await
        })
    }

    fn archived_days(&self) -> StoreFuture<'_, Vec<ArchivedDay>> {
        Box::pin(async move {
            self.with_reader(|conn| {
                let mut stmt = conn
                    .prepare("SELECT site_id, day, timezone FROM archived_days")
                    .map_err(db("listing archived days"))?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(ArchivedDay {
                            site_id: r.get(0)?,
                            day: r.get(1)?,
                            timezone: r.get(2)?,
                        })
                    })
                    .map_err(db("listing archived days"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db("reading archived days"))?;
                Ok(rows)
            })
            .await
        })
    }

    fn archive_put(&self, day: ArchivedDay, rows: Vec<ArchiveRow>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting an archive"))?;
                delete_archived_day(&tx, day.site_id, day.day)?;
                {
                    let mut app = tx.appender("archive").map_err(db("appending an archive"))?;
                    for r in &rows {
                        app.append_row(params![
                            day.site_id,
                            day.day,
                            r.dim,
                            r.value,
                            r.visitors as i64,
                            r.pageviews as i64,
                            r.events as i64,
                            r.visits,
                            r.visit_pageviews,
                            r.bounces,
                            r.duration
                        ])
                        .map_err(db("appending an archive"))?;
                    }
                    app.flush().map_err(db("flushing an archive"))?;
                }
                tx.execute(
                    "INSERT INTO archived_days VALUES (?, ?, ?, ?)",
                    params![
                        day.site_id,
                        day.day,
                        day.timezone,
                        chrono::Utc::now().timestamp()
                    ],
                )
                .map_err(db("recording an archived day"))?;
                tx.commit().map_err(db("committing an archive"))
            })
            .await
        })
    }

    fn archive_get(
        &self,
        site_id: u32,
        from: i32,
        to: i32,
        dim: &str,
    ) -> StoreFuture<'_, Vec<(i32, ArchiveRow)>> {
        let dim = dim.to_string();
        Box::pin(async move {
            self.with_reader(move |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT day, value, visitors, pageviews, events, visits, visit_pageviews, bounces, duration \
                         FROM archive WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ?",
                    )
                    .map_err(db("reading archives"))?;
                let rows = stmt
                    .query_map(params![site_id, dim, from, to], |r| {
                        Ok((
                            r.get::<_, i32>(0)?,
                            ArchiveRow {
                                dim: dim.clone(),
                                value: r.get(1)?,
                                visitors: r.get::<_, i64>(2)? as u64,
                                pageviews: r.get::<_, i64>(3)? as u64,
                                events: r.get::<_, i64>(4)? as u64,
                                visits: r.get(5)?,
                                visit_pageviews: r.get(6)?,
                                bounces: r.get(7)?,
                                duration: r.get(8)?,
                            },
                        ))
                    })
                    .map_err(db("reading archives"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db("reading archives"))?;
                Ok(rows)
            })
            .await
        })
    }

    fn archive_delete(&self, site_id: u32, days: Vec<i32>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn
                    .transaction()
                    .map_err(db("starting an archive removal"))?;
                for day in days {
                    delete_archived_day(&tx, site_id, day)?;
                }
                tx.commit().map_err(db("committing an archive removal"))
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
                let site = super::new_site(
                    spec,
                    next as u32,
                    &load_customers(conn)?,
                    &load_sites(conn)?,
                )?;
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
                if let Some(c) = site.customer_id {
                    conn.execute(
                        "INSERT INTO site_customers VALUES (?, ?)",
                        params![site.id, c],
                    )
                    .map_err(db("assigning a site to its customer"))?;
                }
                Ok(site)
            })
            .await
        })
    }

    fn update_site(&self, site: Site) -> StoreFuture<'_, Site> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                super::check_domains(&load_sites(conn)?, &site)?;
                let ranges: Vec<String> =
                    site.excluded_ranges.iter().map(|r| r.to_string()).collect();
                conn.execute(
                    "UPDATE sites SET aliases = ?, timezone = ?, ip_mask_bytes = ?, respect_dnt = ?, excluded_ranges = ? WHERE id = ?",
                    params![
                        site.aliases.join(","),
                        site.timezone,
                        site.ip_mask_bytes,
                        site.respect_dnt,
                        ranges.join(","),
                        site.id
                    ],
                )
                .map_err(db("changing a site"))?;
                Ok(site)
            })
            .await
        })
    }

    fn set_site_customer(&self, site_id: u32, customer_id: Option<u32>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting a site move"))?;
                tx.execute("DELETE FROM site_customers WHERE site_id = ?", [site_id])
                    .map_err(db("moving a site"))?;
                if let Some(c) = customer_id {
                    tx.execute(
                        "INSERT INTO site_customers VALUES (?, ?)",
                        params![site_id, c],
                    )
                    .map_err(db("moving a site"))?;
                }
                tx.commit().map_err(db("committing a site move"))
            })
            .await
        })
    }

    fn remove_site(&self, site_id: u32) -> StoreFuture<'_, ()> {
        self.site_events.forget(&[site_id]);
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting a site removal"))?;
                delete_site(&tx, site_id)?;
                tx.commit().map_err(db("committing a site removal"))?;
                conn.execute_batch("CHECKPOINT")
                    .map_err(db("checkpointing"))
            })
            .await
        })
    }

    fn customers(&self) -> StoreFuture<'_, Vec<Customer>> {
        Box::pin(async move { self.with_reader(load_customers).await })
    }

    fn put_customer(&self, handle: &str, name: &str) -> StoreFuture<'_, (Customer, bool)> {
        let handle = handle.to_string();
        let name = name.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                let handle = normalise_handle(&handle)?;
                let name = super::customer_name(&handle, &name);
                if let Some(c) = load_customers(conn)?
                    .into_iter()
                    .find(|c| c.handle == handle)
                {
                    conn.execute(
                        "UPDATE customers SET name = ? WHERE id = ?",
                        params![name, c.id],
                    )
                    .map_err(db("renaming a customer"))?;
                    return Ok((Customer { name, ..c }, false));
                }
                let id: i64 = conn
                    .query_row("SELECT COALESCE(max(id), 0) + 1 FROM customers", [], |r| {
                        r.get(0)
                    })
                    .map_err(db("choosing a customer id"))?;
                conn.execute(
                    "INSERT INTO customers VALUES (?, ?, ?, ?)",
                    params![id as u32, handle, name, chrono::Utc::now().timestamp()],
                )
                .map_err(db("inserting a customer"))?;
                Ok((
                    Customer {
                        id: id as u32,
                        handle,
                        name,
                    },
                    true,
                ))
            })
            .await
        })
    }

    fn remove_customer(&self, customer_id: u32) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let sites: Vec<u32> = self
                .sites()
                .await?
                .into_iter()
                .filter(|s| s.customer_id == Some(customer_id))
                .map(|s| s.id)
                .collect();
            self.site_events.forget(&sites);
            self.with_writer(move |conn| {
                let tx = conn
                    .transaction()
                    .map_err(db("starting a customer removal"))?;
                for id in sites {
                    delete_site(&tx, id)?;
                }
                tx.execute(
                    "DELETE FROM token_access WHERE token_hash IN (SELECT token_hash FROM customer_tokens WHERE customer_id = ?)",
                    [customer_id],
                )
                .map_err(db("removing a customer"))?;
                for table in ["customer_tokens", "customers"] {
                    let col = if table == "customers" {
                        "id"
                    } else {
                        "customer_id"
                    };
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE {col} = ?"),
                        [customer_id],
                    )
                    .map_err(db("removing a customer"))?;
                }
                tx.commit().map_err(db("committing a customer removal"))?;
                conn.execute_batch("CHECKPOINT")
                    .map_err(db("checkpointing"))
            })
            .await
        })
    }

    fn users(&self) -> StoreFuture<'_, Vec<User>> {
        Box::pin(async move { self.with_reader(load_users).await })
    }

    fn put_user(
        &self,
        email: &str,
        memberships: Vec<(u32, Role)>,
    ) -> StoreFuture<'_, (User, bool)> {
        let email = email.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                let email = normalise_email(&email)?;
                let tx = conn.transaction().map_err(db("starting a user change"))?;
                let existing = load_users(&tx)?.into_iter().find(|u| u.email == email);
                let created = existing.is_none();
                let id = match existing {
                    Some(u) => u.id,
                    None => {
                        let id: i64 = tx
                            .query_row("SELECT COALESCE(max(id), 0) + 1 FROM users", [], |r| {
                                r.get(0)
                            })
                            .map_err(db("choosing a user id"))?;
                        tx.execute(
                            "INSERT INTO users VALUES (?, ?, '', ?)",
                            params![id as u32, email, chrono::Utc::now().timestamp()],
                        )
                        .map_err(db("inserting a user"))?;
                        id as u32
                    }
                };
                tx.execute("DELETE FROM memberships WHERE user_id = ?", [id])
                    .map_err(db("replacing memberships"))?;
                for (customer_id, role) in memberships {
                    tx.execute(
                        "INSERT INTO memberships VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        params![id, customer_id, role.as_str()],
                    )
                    .map_err(db("adding a membership"))?;
                }
                let user = load_users(&tx)?
                    .into_iter()
                    .find(|u| u.id == id)
                    .ok_or_else(|| StoreError::Task("the user vanished".into()))?;
                tx.commit().map_err(db("committing a user change"))?;
                Ok((user, created))
            })
            .await
        })
    }

    fn remove_user(&self, user_id: u32) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting a user removal"))?;
                for table in ["memberships", "password_links", "user_sessions", "users"] {
                    let col = if table == "users" { "id" } else { "user_id" };
                    tx.execute(&format!("DELETE FROM {table} WHERE {col} = ?"), [user_id])
                        .map_err(db("removing a user"))?;
                }
                tx.commit().map_err(db("committing a user removal"))
            })
            .await
        })
    }

    fn add_password_link(
        &self,
        token_hash: &str,
        user_id: u32,
        expires_ts: i64,
    ) -> StoreFuture<'_, ()> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                conn.execute(
                    "INSERT INTO password_links VALUES (?, ?, ?)",
                    params![hash, user_id, expires_ts],
                )
                .map_err(db("saving a password link"))?;
                Ok(())
            })
            .await
        })
    }

    fn use_password_link(
        &self,
        token_hash: &str,
        now: i64,
        password_hash: &str,
    ) -> StoreFuture<'_, Option<u32>> {
        let hash = token_hash.to_string();
        let password_hash = password_hash.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting a password change"))?;
                let user: Option<u32> = {
                    let mut stmt = tx
                        .prepare("SELECT user_id FROM password_links WHERE token_hash = ? AND expires_ts > ?")
                        .map_err(db("looking up a password link"))?;
                    let mut rows = stmt
                        .query(params![hash, now])
                        .map_err(db("looking up a password link"))?;
                    match rows.next().map_err(db("looking up a password link"))? {
                        Some(r) => Some(r.get(0).map_err(db("reading a password link"))?),
                        None => None,
                    }
                };
                if let Some(id) = user {
                    tx.execute(
                        "UPDATE users SET password_hash = ? WHERE id = ?",
                        params![password_hash, id],
                    )
                    .map_err(db("setting a password"))?;
                    tx.execute("DELETE FROM password_links WHERE token_hash = ?", [&hash])
                        .map_err(db("using a password link"))?;
                }
                tx.commit().map_err(db("committing a password change"))?;
                Ok(user)
            })
            .await
        })
    }

    fn password_link_valid(&self, token_hash: &str, now: i64) -> StoreFuture<'_, bool> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_reader(move |conn| {
                conn.query_row(
                    "SELECT count(*) FROM password_links WHERE token_hash = ? AND expires_ts > ?",
                    params![hash, now],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)
                .map_err(db("looking up a password link"))
            })
            .await
        })
    }

    fn user_login(&self, email: &str) -> StoreFuture<'_, Option<(u32, String)>> {
        let email = email.to_string();
        Box::pin(async move {
            self.with_reader(move |conn| {
                let Ok(email) = normalise_email(&email) else {
                    return Ok(None);
                };
                let mut stmt = conn
                    .prepare("SELECT id, password_hash FROM users WHERE email = ?")
                    .map_err(db("looking up a user"))?;
                let mut rows = stmt.query([email]).map_err(db("looking up a user"))?;
                match rows.next().map_err(db("looking up a user"))? {
                    Some(r) => Ok(Some((
                        r.get(0).map_err(db("reading a user"))?,
                        r.get(1).map_err(db("reading a user"))?,
                    ))),
                    None => Ok(None),
                }
            })
            .await
        })
    }

    fn set_password(&self, user_id: u32, password_hash: &str) -> StoreFuture<'_, ()> {
        let hash = password_hash.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                conn.execute(
                    "UPDATE users SET password_hash = ? WHERE id = ?",
                    params![hash, user_id],
                )
                .map_err(db("setting a password"))?;
                Ok(())
            })
            .await
        })
    }

    fn add_session(
        &self,
        token_hash: &str,
        user_id: u32,
        csrf: &str,
        expires_ts: i64,
    ) -> StoreFuture<'_, ()> {
        let (hash, csrf) = (token_hash.to_string(), csrf.to_string());
        Box::pin(async move {
            self.with_writer(move |conn| {
                conn.execute(
                    "INSERT INTO user_sessions VALUES (?, ?, ?, ?)",
                    params![hash, user_id, csrf, expires_ts],
                )
                .map_err(db("saving a session"))?;
                Ok(())
            })
            .await
        })
    }

    fn session(&self, token_hash: &str, now: i64) -> StoreFuture<'_, Option<(User, String)>> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_reader(move |conn| {
                let found: Option<(u32, String)> = {
                    let mut stmt = conn
                        .prepare("SELECT user_id, csrf FROM user_sessions WHERE token_hash = ? AND expires_ts > ?")
                        .map_err(db("looking up a session"))?;
                    let mut rows = stmt
                        .query(params![hash, now])
                        .map_err(db("looking up a session"))?;
                    match rows.next().map_err(db("looking up a session"))? {
                        Some(r) => Some((
                            r.get(0).map_err(db("reading a session"))?,
                            r.get(1).map_err(db("reading a session"))?,
                        )),
                        None => None,
                    }
                };
                let Some((user_id, csrf)) = found else {
                    return Ok(None);
                };
                Ok(load_users(conn)?
                    .into_iter()
                    .find(|u| u.id == user_id)
                    .map(|u| (u, csrf)))
            })
            .await
        })
    }

    fn remove_session(&self, token_hash: &str) -> StoreFuture<'_, ()> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                conn.execute("DELETE FROM user_sessions WHERE token_hash = ?", [hash])
                    .map_err(db("ending a session"))?;
                Ok(())
            })
            .await
        })
    }

    fn add_share(
        &self,
        site_id: u32,
        token_hash: &str,
        password_hash: &str,
    ) -> StoreFuture<'_, SharedLink> {
        let (hash, password) = (token_hash.to_string(), password_hash.to_string());
        Box::pin(async move {
            self.with_writer(move |conn| {
                let id: i64 = conn
                    .query_row(
                        "SELECT COALESCE(max(id), 0) + 1 FROM shared_links",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(db("choosing a shared link id"))?;
                let now = chrono::Utc::now().timestamp();
                conn.execute(
                    "INSERT INTO shared_links VALUES (?, ?, ?, ?, ?)",
                    params![id as u32, site_id, hash, password, now],
                )
                .map_err(db("saving a shared link"))?;
                Ok(SharedLink {
                    id: id as u32,
                    site_id,
                    has_password: !password.is_empty(),
                    created_ts: now,
                })
            })
            .await
        })
    }

    fn shares(&self, site_id: u32) -> StoreFuture<'_, Vec<SharedLink>> {
        Box::pin(async move {
            self.with_reader(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT id, site_id, password_hash <> '', created_ts FROM shared_links WHERE site_id = ? ORDER BY id")
                    .map_err(db("listing shared links"))?;
                let rows = stmt
                    .query_map([site_id], |r| {
                        Ok(SharedLink {
                            id: r.get(0)?,
                            site_id: r.get(1)?,
                            has_password: r.get(2)?,
                            created_ts: r.get(3)?,
                        })
                    })
                    .map_err(db("listing shared links"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db("reading shared links"))?;
                Ok(rows)
            })
            .await
        })
    }

    fn share_by_token(&self, token_hash: &str) -> StoreFuture<'_, Option<(SharedLink, String)>> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_reader(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT id, site_id, password_hash, created_ts FROM shared_links WHERE token_hash = ?")
                    .map_err(db("looking up a shared link"))?;
                let mut rows = stmt.query([hash]).map_err(db("looking up a shared link"))?;
                let Some(r) = rows.next().map_err(db("looking up a shared link"))? else {
                    return Ok(None);
                };
                let password: String = r.get(2).map_err(db("reading a shared link"))?;
                Ok(Some((
                    SharedLink {
                        id: r.get(0).map_err(db("reading a shared link"))?,
                        site_id: r.get(1).map_err(db("reading a shared link"))?,
                        has_password: !password.is_empty(),
                        created_ts: r.get(3).map_err(db("reading a shared link"))?,
                    },
                    password,
                )))
            })
            .await
        })
    }

    fn remove_share(&self, site_id: u32, share_id: u32) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                conn.execute(
                    "DELETE FROM shared_links WHERE site_id = ? AND id = ?",
                    params![site_id, share_id],
                )
                .map_err(db("revoking a shared link"))?;
                Ok(())
            })
            .await
        })
    }

    fn add_token(
        &self,
        token_hash: &str,
        scope: TokenScope,
        access: TokenAccess,
    ) -> StoreFuture<'_, ()> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                let now = chrono::Utc::now().timestamp();
                let tx = conn.transaction().map_err(db("starting a token"))?;
                match scope {
                    TokenScope::Site(id) => tx.execute(
                        "INSERT INTO tokens VALUES (?, ?, ?)",
                        params![hash, id, now],
                    ),
                    TokenScope::Customer(id) => tx.execute(
                        "INSERT INTO customer_tokens VALUES (?, ?, ?)",
                        params![hash, id, now],
                    ),
                }
                .map_err(db("saving a token"))?;
                if access == TokenAccess::Manage {
                    tx.execute(
                        "INSERT INTO token_access VALUES (?, ?)",
                        params![hash, access.as_str()],
                    )
                    .map_err(db("saving a token"))?;
                }
                tx.commit().map_err(db("committing a token"))
            })
            .await
        })
    }

    fn token_scope(&self, token_hash: &str) -> StoreFuture<'_, Option<(TokenScope, TokenAccess)>> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            Ok(self
                .tokens()
                .await?
                .into_iter()
                .find(|t| t.hash == hash)
                .map(|t| (t.scope, t.access)))
        })
    }

    fn tokens(&self) -> StoreFuture<'_, Vec<StoredToken>> {
        Box::pin(async move { self.with_reader(load_tokens).await })
    }

    fn remove_token(&self, token_hash: &str) -> StoreFuture<'_, ()> {
        let hash = token_hash.to_string();
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting a token removal"))?;
                for table in ["tokens", "customer_tokens", "token_access"] {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE token_hash = ?"),
                        [&hash],
                    )
                    .map_err(db("revoking a token"))?;
                }
                tx.commit().map_err(db("committing a token removal"))
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
