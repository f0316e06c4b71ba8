//! The on-disk spool of the ClickHouse store: batches ClickHouse did not take wait here, one
//! file each, and are replayed in order (and exactly once: rows carry their batch id).

use super::rows::{EventRecord, SessionRecord};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A batch as it is kept in the spool.
#[derive(Debug, Serialize, Deserialize)]
pub struct SpooledBatch<'a> {
    pub batch: u64,
    /// The highest ingest-journal number of its hits, if journaled.
    #[serde(default)]
    pub journal_hi: Option<u64>,
    pub events: Vec<EventRecord<'a>>,
    pub sessions: Vec<SessionRecord<'a>>,
}

/// A directory of spooled batches with a size limit.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    /// Held while a batch is replayed (read, inserted, forgotten), and while batches are
    /// rewritten, so that a rewrite never races a replay of the old contents.
    pub replaying: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// Spooled files, oldest first, with their sizes.
    files: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    next_seq: u64,
}

/// The file (in the spool directory) with the highest journal number stored in ClickHouse.
const MARK_FILE: &str = "journal.mark";

fn read_mark(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// What waits in `dir`, oldest first.
fn scan(dir: &Path) -> Result<State, StoreError> {
    let mut found: Vec<(u64, PathBuf, u64)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| spool_err(dir, e))? {
        let entry = entry.map_err(|e| spool_err(dir, e))?;
        let path = entry.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".batch"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            let len = entry.metadata().map_err(|e| spool_err(&path, e))?.len();
            found.push((seq, path, len));
        }
    }
    found.sort();
    Ok(State {
        next_seq: found.last().map_or(0, |(s, _, _)| s + 1),
        bytes: found.iter().map(|(_, _, l)| l).sum(),
        files: found.into_iter().map(|(_, p, l)| (p, l)).collect(),
    })
}

fn spool_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Spool {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl Spool {
    /// Opens (creating when missing) the spool directory and lists what waits in it.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| spool_err(dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            state: Mutex::new(scan(dir)?),
            replaying: tokio::sync::Mutex::new(()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.state().files.is_empty()
    }

    /// Batches and bytes waiting.
    pub fn usage(&self) -> (usize, u64) {
        let s = self.state();
        (s.files.len(), s.bytes)
    }

    /// Appends a serialized batch durably (written, synced, then renamed into place); answers
    /// its path.
    pub fn push(&self, data: &[u8]) -> Result<PathBuf, StoreError> {
        self.push_as(data, false)
    }

    /// Like [`Spool::push`]; a `passing` batch (into an empty spool, on its way straight to
    /// ClickHouse) is not held to the size limit: it waits only if that insert fails.
    pub fn push_as(&self, data: &[u8], passing: bool) -> Result<PathBuf, StoreError> {
        let mut state = self.state();
        let len = data.len() as u64;
        if !passing && state.bytes + len > self.max_bytes {
            return Err(StoreError::SpoolFull {
                path: self.dir.display().to_string(),
                bytes: self.max_bytes,
            });
        }
        let path = self.dir.join(format!("{:020}.batch", state.next_seq));
        write_durably(&path, data)?;
        state.next_seq += 1;
        state.bytes += len;
        state.files.push_back((path.clone(), len));
        Ok(path)
    }

    /// The oldest waiting batch, read from disk.
    pub fn oldest(&self) -> Result<Option<(PathBuf, Vec<u8>)>, StoreError> {
        let Some((path, _)) = self.state().files.front().cloned() else {
            return Ok(None);
        };
        let data = std::fs::read(&path).map_err(|e| spool_err(&path, e))?;
        Ok(Some((path, data)))
    }

    /// Rewrites every waiting batch with `change` (`None`: the batch goes); each file is
    /// replaced atomically. Hold [`Spool::replaying`] around it.
    pub fn rewrite(
        &self,
        change: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let files: Vec<PathBuf> = state.files.iter().map(|(p, _)| p.clone()).collect();
        let result = files.iter().try_for_each(|path| {
            let data = std::fs::read(path).map_err(|e| spool_err(path, e))?;
            match change(&data)? {
                None => std::fs::remove_file(path).map_err(|e| spool_err(path, e)),
                Some(new) if new == data => Ok(()),
                Some(new) => write_durably(path, &new),
            }
        });
        // Whatever happened, the state follows the files.
        let next_seq = state.next_seq;
        *state = scan(&self.dir)?;
        state.next_seq = state.next_seq.max(next_seq);
        result
    }

    /// Records that every journaled hit up to `hi` is in ClickHouse (before its spool file
    /// goes; also `migrate-store`, for what it copied).
    pub fn set_mark(&self, hi: u64) -> Result<(), StoreError> {
        let path = self.dir.join(MARK_FILE);
        if read_mark(&path) >= hi {
            return Ok(());
        }
        write_durably(&path, hi.to_string().as_bytes())
    }

    /// The highest journal number handed over durably: in ClickHouse (the mark) or waiting
    /// here (spooled batches are stored exactly once).
    pub fn mark(&self) -> Result<u64, StoreError> {
        let mut mark = read_mark(&self.dir.join(MARK_FILE));
        let files: Vec<PathBuf> = self.state().files.iter().map(|(p, _)| p.clone()).collect();
        for path in files {
            let data = std::fs::read(&path).map_err(|e| spool_err(&path, e))?;
            let batch: SpooledBatch<'_> =
                serde_json::from_slice(&data).map_err(|e| spool_err(&path, e))?;
            mark = mark.max(batch.journal_hi.unwrap_or(0));
        }
        Ok(mark)
    }

    /// Forgets the oldest batch once it is stored.
    pub fn pop(&self, path: &Path) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.files.front().map(|(p, _)| p.as_path()) != Some(path) {
            return Ok(());
        }
        std::fs::remove_file(path).map_err(|e| spool_err(path, e))?;
        if let Some((_, len)) = state.files.pop_front() {
            state.bytes -= len;
        }
        Ok(())
    }
}

/// A spooled batch without the rows of `site_ids` (`None` when nothing is left).
pub fn without_sites(data: &[u8], site_ids: &[u32]) -> Result<Option<Vec<u8>>, StoreError> {
    without_rows(data, |site, _| site_ids.contains(&site))
}

/// A spooled batch without the rows `gone(site, time)` picks: events by their time, visits
/// by their start (`None` when nothing is left to store or to remember).
pub fn without_rows(
    data: &[u8],
    gone: impl Fn(u32, i64) -> bool,
) -> Result<Option<Vec<u8>>, StoreError> {
    let unreadable = |e: serde_json::Error| StoreError::Task(format!("a spooled batch: {e}"));
    let mut batch: SpooledBatch<'_> = serde_json::from_slice(data).map_err(unreadable)?;
    let before = batch.events.len() + batch.sessions.len();
    batch.events.retain(|e| !gone(e.site_id, e.ts));
    batch.sessions.retain(|s| !gone(s.site_id, s.start_ts));
    // An emptied batch that carries journal numbers stays (empty): the mark must not fall
    // back, or the journal would bring its hits back at the next start.
    if batch.events.is_empty() && batch.sessions.is_empty() && batch.journal_hi.is_none() {
        return Ok(None);
    }
    if batch.events.len() + batch.sessions.len() == before {
        return Ok(Some(data.to_vec()));
    }
    serde_json::to_vec(&batch).map(Some).map_err(unreadable)
}

/// Writes `data` to a temporary file, syncs it, then renames it to `path` (owner-only).
fn write_durably(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| spool_err(&tmp, e))?;
    f.write_all(data).map_err(|e| spool_err(&tmp, e))?;
    f.sync_all().map_err(|e| spool_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| spool_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_reopening_and_refuses_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 10).unwrap();
        spool.push(b"aaaa").unwrap();
        spool.push(b"bbbb").unwrap();
        assert!(matches!(
            spool.push(b"cccc"),
            Err(StoreError::SpoolFull { .. })
        ));
        let spool = Spool::open(dir.path(), 10).unwrap();
        assert_eq!(spool.usage(), (2, 8));
        let (path, data) = spool.oldest().unwrap().unwrap();
        assert_eq!(data, b"aaaa");
        spool.pop(&path).unwrap();
        spool.push(b"cccc").unwrap();
        let mut seen = Vec::new();
        while let Some((path, data)) = spool.oldest().unwrap() {
            seen.push(data);
            spool.pop(&path).unwrap();
        }
        assert_eq!(seen, vec![b"bbbb".to_vec(), b"cccc".to_vec()]);
        assert!(spool.is_empty());
    }

    #[test]
    fn rewrites_change_shrink_or_remove_batches() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 100).unwrap();
        for b in [&b"keep"[..], b"drop", b"shrinkme"] {
            spool.push(b).unwrap();
        }
        spool
            .rewrite(|d| {
                Ok(match d {
                    b"drop" => None,
                    b"shrinkme" => Some(b"s".to_vec()),
                    other => Some(other.to_vec()),
                })
            })
            .unwrap();
        assert_eq!(spool.usage(), (2, 5));
        spool.push(b"new").unwrap();
        let mut seen = Vec::new();
        while let Some((path, data)) = spool.oldest().unwrap() {
            seen.push(data);
            spool.pop(&path).unwrap();
        }
        assert_eq!(seen, vec![b"keep".to_vec(), b"s".to_vec(), b"new".to_vec()]);
    }
}
