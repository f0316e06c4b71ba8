//! The embedded store's metadata documents (`meta`) and id counters (`meta_ids`): it only
//! persists what `crate::tenancy` decides.

use super::{db, query_rows, Embedded};
use crate::store::{DocChange, MetaStore, StoreFuture};
use duckdb::params;

impl MetaStore for Embedded {
    fn docs(&self, kind: &'static str) -> StoreFuture<'_, Vec<(String, String)>> {
        Box::pin(async move {
            self.with_reader(move |conn| {
                query_rows(
                    conn,
                    "SELECT key, doc FROM meta WHERE kind = ? ORDER BY key",
                    [kind],
                    "reading documents",
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .await
        })
    }

    fn doc(&self, kind: &'static str, key: &str) -> StoreFuture<'_, Option<String>> {
        let key = key.to_string();
        Box::pin(async move {
            self.with_reader(move |conn| {
                Ok(query_rows(
                    conn,
                    "SELECT doc FROM meta WHERE kind = ? AND key = ?",
                    params![kind, key],
                    "reading a document",
                    |r| r.get(0),
                )?
                .pop())
            })
            .await
        })
    }

    fn apply(&self, changes: Vec<DocChange>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                // The last change of a document wins; one DELETE and one INSERT per kind and
                // few hundred documents (a statement per document costs ~0.5 ms each).
                let mut last: Vec<&DocChange> = Vec::with_capacity(changes.len());
                let mut seen = std::collections::HashSet::new();
                for c in changes.iter().rev() {
                    if seen.insert((c.kind, c.key.as_str())) {
                        last.push(c);
                    }
                }
                last.reverse();
                let mut kinds: Vec<&str> = last.iter().map(|c| c.kind).collect();
                kinds.sort_unstable();
                kinds.dedup();
                let tx = conn.transaction().map_err(db("starting a change"))?;
                for kind in kinds {
                    let of_kind: Vec<&&DocChange> =
                        last.iter().filter(|c| c.kind == kind).collect();
                    for chunk in of_kind.chunks(300) {
                        let marks = vec!["?"; chunk.len()].join(", ");
                        let mut params: Vec<&dyn duckdb::ToSql> = vec![&kind];
                        params.extend(chunk.iter().map(|c| &c.key as &dyn duckdb::ToSql));
                        tx.execute(
                            &format!("DELETE FROM meta WHERE kind = ? AND key IN ({marks})"),
                            params.as_slice(),
                        )
                        .map_err(db("writing documents"))?;
                        let bodies: Vec<(&String, &String)> = chunk
                            .iter()
                            .filter_map(|c| c.body.as_ref().map(|b| (&c.key, b)))
                            .collect();
                        if bodies.is_empty() {
                            continue;
                        }
                        let rows = vec!["(?, ?, ?)"; bodies.len()].join(", ");
                        let mut params: Vec<&dyn duckdb::ToSql> =
                            Vec::with_capacity(bodies.len() * 3);
                        for (key, body) in &bodies {
                            params.push(&kind);
                            params.push(*key);
                            params.push(*body);
                        }
                        tx.execute(
                            &format!("INSERT INTO meta VALUES {rows}"),
                            params.as_slice(),
                        )
                        .map_err(db("writing documents"))?;
                    }
                }
                tx.commit().map_err(db("committing documents"))
            })
            .await
        })
    }

    fn next_id(&self, kind: &'static str) -> StoreFuture<'_, u32> {
        Box::pin(async move {
            self.with_writer(move |conn| {
                let tx = conn.transaction().map_err(db("starting an id choice"))?;
                // Above every id handed out (meta_ids) and every id stored (documents copied
                // in by migrate-store carry their ids).
                let next: i64 = tx
                    .query_row(
                        "SELECT CAST(greatest( \
                           COALESCE((SELECT max(last_id) FROM meta_ids WHERE kind = ?), 0), \
                           COALESCE((SELECT max(TRY_CAST(key AS UINTEGER)) FROM meta WHERE kind = ?), 0) \
                         ) AS BIGINT) + 1",
                        params![kind, kind],
                        |r| r.get(0),
                    )
                    .map_err(db("choosing an id"))?;
                let next = u32::try_from(next).map_err(|_| {
                    crate::store::StoreError::Task(format!("no {kind} ids are left"))
                })?;
                tx.execute("DELETE FROM meta_ids WHERE kind = ?", [kind])
                    .map_err(db("choosing an id"))?;
                tx.execute("INSERT INTO meta_ids VALUES (?, ?)", params![kind, next])
                    .map_err(db("choosing an id"))?;
                tx.commit().map_err(db("committing an id"))?;
                Ok(next)
            })
            .await
        })
    }
}
