//! The embedded store's day salts: a small file of its own under the data directory, written
//! whole (temporary file, fsync, rename), so that a deleted salt leaves no trace in the
//! database file.

use super::Embedded;
use crate::store::{DaySalt, SaltStore, StoreError, StoreFuture};
use chrono::NaiveDate;
use std::path::Path;

impl SaltStore for Embedded {
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
