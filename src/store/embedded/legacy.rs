//! The move from the embedded store's first schema (customers, sites, users, tokens and links
//! in tables of their own) to the tenancy documents: read the old rows, leave out what points
//! at something removed, write the documents, remember the highest ids, drop the old tables.

use super::{db, query_rows};
use crate::store::StoreError;
use crate::tenancy::customers::Customer;
use crate::tenancy::docs::{Entities, LinkDoc, LoginDoc, StoredUser};
use crate::tenancy::sites::Site;
use crate::tenancy::users::Role;
use crate::tenancy::{
    CustomerId, SiteId, StoredShare, StoredToken, TokenAccess, TokenScope, UserId,
};
use duckdb::{params, Connection, Row};

/// The first schema's id columns read as the tenancy's id types.
macro_rules! id_from_sql {
    ($($t:ty),*) => {$(
        impl duckdb::types::FromSql for $t {
            fn column_result(v: duckdb::types::ValueRef<'_>) -> duckdb::types::FromSqlResult<Self> {
                u32::column_result(v).map(Self)
            }
        }
    )*};
}
id_from_sql!(
    crate::tenancy::CustomerId,
    crate::tenancy::SiteId,
    crate::tenancy::UserId,
    crate::tenancy::ShareId
);

/// The tables of the first schema, dropped once their rows are documents.
const OLD_TABLES: [&str; 11] = [
    "site_customers",
    "customer_tokens",
    "token_access",
    "tokens",
    "memberships",
    "password_links",
    "user_sessions",
    "shared_links",
    "users",
    "customers",
    "sites",
];

/// Moves the old tables' rows into `meta` (inside the migration's transaction).
pub(super) fn move_to_documents(conn: &Connection) -> Result<(), StoreError> {
    let entities = read(conn)?;
    let highest = [
        ("site", entities.sites.iter().map(|s| s.id.0).max()),
        ("customer", entities.customers.iter().map(|c| c.id.0).max()),
        ("user", entities.users.iter().map(|u| u.id.0).max()),
        ("share", entities.shares.iter().map(|s| s.id.0).max()),
    ];
    for change in entities.documents()? {
        if let Some(body) = change.body {
            conn.execute(
                "INSERT INTO meta VALUES (?, ?, ?)",
                params![change.kind, change.key, body],
            )
            .map_err(db("moving tenancy rows into documents"))?;
        }
    }
    for (kind, id) in highest {
        if let Some(id) = id {
            conn.execute("INSERT INTO meta_ids VALUES (?, ?)", params![kind, id])
                .map_err(db("remembering the highest ids"))?;
        }
    }
    for table in OLD_TABLES {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {table}"))
            .map_err(db("dropping a table of the first schema"))?;
    }
    Ok(())
}

fn read(conn: &Connection) -> Result<Entities, StoreError> {
    let mut users: Vec<StoredUser> = query_rows(
        conn,
        "SELECT id, email, password_hash, created_ts FROM users ORDER BY id",
        [],
        "reading users",
        |r| {
            Ok(StoredUser {
                id: r.get(0)?,
                email: r.get(1)?,
                password_hash: r.get(2)?,
                created_ts: r.get(3)?,
                memberships: Vec::new(),
            })
        },
    )?;
    let memberships = query_rows(
        conn,
        "SELECT user_id, customer_id, role FROM memberships ORDER BY customer_id",
        [],
        "reading memberships",
        |r| {
            Ok((
                r.get::<_, UserId>(0)?,
                r.get::<_, CustomerId>(1)?,
                r.get::<_, String>(2)?,
            ))
        },
    )?;
    for (user_id, customer_id, role) in memberships {
        if let (Some(u), Some(role)) = (
            users.iter_mut().find(|u| u.id == user_id),
            Role::parse(&role),
        ) {
            u.memberships.push((customer_id, role));
        }
    }
    let shares = query_rows(
        conn,
        "SELECT id, site_id, token_hash, password_hash, created_ts FROM shared_links ORDER BY id",
        [],
        "reading shared links",
        |r| {
            Ok(StoredShare {
                id: r.get(0)?,
                site_id: r.get(1)?,
                token_hash: r.get(2)?,
                password_hash: r.get(3)?,
                created_ts: r.get(4)?,
            })
        },
    )?;
    let links = query_rows(
        conn,
        "SELECT token_hash, user_id, expires_ts FROM password_links",
        [],
        "reading password links",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                LinkDoc {
                    user_id: r.get(1)?,
                    expires_ts: r.get(2)?,
                },
            ))
        },
    )?;
    let logins = query_rows(
        conn,
        "SELECT token_hash, user_id, csrf, expires_ts FROM user_sessions",
        [],
        "reading login sessions",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                LoginDoc {
                    user_id: r.get(1)?,
                    csrf: r.get(2)?,
                    expires_ts: r.get(3)?,
                },
            ))
        },
    )?;
    Ok(Entities {
        customers: load_customers(conn)?,
        sites: load_sites(conn)?,
        users,
        tokens: load_tokens(conn)?,
        shares,
        links,
        logins,
    })
}

fn load_customers(conn: &Connection) -> Result<Vec<Customer>, StoreError> {
    query_rows(
        conn,
        "SELECT id, handle, name FROM customers ORDER BY handle",
        [],
        "reading customers",
        |r| {
            Ok(Customer {
                id: r.get(0)?,
                handle: r.get(1)?,
                name: r.get(2)?,
            })
        },
    )
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
                id: SiteId(id),
                domain,
                aliases: split_list(&aliases),
                timezone,
                ip_mask_bytes: mask,
                respect_dnt: dnt,
                excluded_ranges: split_list(&ranges)
                    .iter()
                    .filter_map(|r| r.parse().ok())
                    .collect(),
                customer_id: customer_id.map(CustomerId),
                retention_days: crate::tenancy::sites::DEFAULT_RETENTION_DAYS,
                archive_months: 0,
                cnil: false,
            },
        )
        .collect())
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
                    TokenScope::Customer(CustomerId(id))
                } else {
                    TokenScope::Site(SiteId(id))
                },
                access: if access == "manage" {
                    TokenAccess::Manage
                } else {
                    TokenAccess::Read
                },
                created_ts: r.get(3)?,
                created_by: None,
            })
        },
    )
}
