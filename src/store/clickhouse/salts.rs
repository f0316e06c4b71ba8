//! Day salts in ClickHouse: one partition per UTC day (dropped whole when the salt goes), the
//! earliest write of a day wins.

use super::rows::SaltRecord;
use super::{ch, ClickHouse};
use crate::store::{DaySalt, SaltStore, StoreError, StoreFuture};

fn salt_hex(salt: &[u8; 32]) -> String {
    salt.iter().map(|b| format!("{b:02x}")).collect()
}

fn salt_bytes(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

impl SaltStore for ClickHouse {
    fn salts(&self) -> StoreFuture<'_, Vec<DaySalt>> {
        Box::pin(async move {
            let rows = self
                .client
                .query("SELECT day, argMin(salt, created) AS s, min(created) AS c FROM salts GROUP BY day ORDER BY day")
                .fetch_all::<SaltRecord>()
                .await
                .map_err(ch("reading salts"))?;
            let mut out = Vec::new();
            for r in rows {
                let day = chrono::NaiveDate::parse_from_str(&r.day, "%Y-%m-%d")
                    .map_err(|e| StoreError::Salts(format!("day {:?}: {e}", r.day)))?;
                let salt = salt_bytes(&r.salt)
                    .ok_or_else(|| StoreError::Salts(format!("malformed salt of {}", r.day)))?;
                out.push((day, salt));
            }
            Ok(out)
        })
    }

    fn replace_salts(&self, salts: &[DaySalt]) -> StoreFuture<'_, ()> {
        let salts = salts.to_vec();
        Box::pin(async move {
            let kept = self.salts().await?;
            let new: Vec<&DaySalt> = salts
                .iter()
                .filter(|(d, _)| !kept.iter().any(|(k, _)| k == d))
                .collect();
            if !new.is_empty() {
                let mut insert = self
                    .client
                    .insert::<SaltRecord>("salts")
                    .await
                    .map_err(ch("storing salts"))?;
                for (day, salt) in new {
                    insert
                        .write(&SaltRecord {
                            day: day.format("%Y-%m-%d").to_string(),
                            salt: salt_hex(salt),
                            created: self.next_version(),
                        })
                        .await
                        .map_err(ch("storing salts"))?;
                }
                insert.end().await.map_err(ch("storing salts"))?;
            }
            // A salt that is no longer kept goes with its partition.
            for (day, _) in kept
                .iter()
                .filter(|(d, _)| !salts.iter().any(|(s, _)| s == d))
            {
                self.client
                    .query(&format!(
                        "ALTER TABLE salts DROP PARTITION '{}'",
                        day.format("%Y-%m-%d")
                    ))
                    .execute()
                    .await
                    .map_err(ch("dropping a salt"))?;
            }
            Ok(())
        })
    }
}
