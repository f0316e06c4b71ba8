//! The ingest journal: accepted means kept, also on a crash. Every hit (after the privacy
//! rules: no address, no User-Agent) is appended to a file in the data directory and synced
//! before the client gets its `202`; one sync serves every request that arrived meanwhile
//! (group commit). Hits carry a sequence number; the store records the highest one it holds
//! in the same write as the batch (`EventStore::journal_mark`), so at start exactly the hits
//! after it are replayed, and segments wholly below it are deleted.
//!
//! Two things keep the sync cheap (see BENCHMARKS.md): segments are filled with zeros ahead
//! of the writes (`PREALLOC_BYTES` at a time), so a sync writes the new data only, not the
//! file's size and the file system's journal; and the requests of a group are told through
//! per-thread relays (`relay`), one cross-thread wake-up per HTTP worker instead of one per
//! request.

mod relay;

use super::Hit;
use relay::{Done, Relays, Wait};
use std::collections::VecDeque;
use std::io::BufRead;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::OwnedPermit;

/// Directory of the journal under the data directory.
pub const JOURNAL_DIR: &str = "journal";
/// A segment is closed (and a new one begun) once it holds this many bytes.
const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;
/// Most requests one sync serves.
const GROUP_MAX: usize = 4096;
/// Zeros are written this far ahead of the data: the sync after such a step also writes the
/// file's new size; the others write data only.
const PREALLOC_BYTES: u64 = 2 * 1024 * 1024;

/// Why hits could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the journal {path}: {message}")]
pub struct JournalError {
    pub path: String,
    pub message: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> JournalError {
    JournalError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

struct Request {
    hits: Vec<Hit>,
    /// The hits as JSON, made by the caller (spread over the HTTP workers); the journal
    /// thread only puts numbers in front.
    encoded: Vec<Vec<u8>>,
    permits: Vec<OwnedPermit<Hit>>,
    done: Arc<Done>,
}

/// What the journal's thread is asked to do.
enum Job {
    Append(Request),
    /// Begin a new segment now (the old ones go once their hits are stored).
    Roll(tokio::sync::oneshot::Sender<Result<(), JournalError>>),
}

/// Segments on disk, oldest first: the first sequence number in each, and its path.
struct Segments {
    dir: PathBuf,
    list: VecDeque<(u64, PathBuf)>,
    /// Every hit up to this number is stored.
    stored: u64,
}

impl Segments {
    fn path_for(&self, first: u64) -> PathBuf {
        self.dir.join(format!("{first:020}.journal"))
    }

    /// Deletes the segments whose every hit is at or below `mark` (never the newest one).
    fn drop_through(&mut self, mark: u64) {
        self.stored = self.stored.max(mark);
        while self.list.len() > 1 && self.list[1].0 <= mark + 1 {
            if let Some((_, path)) = self.list.pop_front() {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(error = %e, path = %path.display(), "removing a stored journal segment failed");
                }
            }
        }
    }
}

/// The journal: append (with group commit) from the request path, truncate from the writer.
pub struct Journal {
    tx: std::sync::mpsc::Sender<Job>,
    segments: Arc<Mutex<Segments>>,
    relays: Arc<Relays>,
    /// The highest number given to a hit so far.
    last: Arc<std::sync::atomic::AtomicU64>,
}

impl Journal {
    /// Opens the journal in `dir`: returns it and the hits after `mark` (the store's), in
    /// order, to be stored again.
    pub fn open(dir: &Path, mark: u64) -> Result<(Self, Vec<Hit>), JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| err(dir, e))? {
            let path = entry.map_err(|e| err(dir, e))?.path();
            let first = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".journal"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(first) = first {
                found.push((first, path));
            }
        }
        found.sort();
        let mut pending = Vec::new();
        let mut last = mark;
        for (_, path) in &found {
            read_segment(path, |seq, hit| {
                last = last.max(seq);
                if seq > mark {
                    pending.push(hit);
                }
            })?;
        }
        pending.sort_by_key(|h: &Hit| h.seq);
        // Everything found is either stored or about to be (replayed into the queue): new
        // hits go to a new segment after all of it.
        let next = last + 1;
        let mut segments = Segments {
            dir: dir.to_path_buf(),
            list: found.into_iter().collect(),
            stored: mark,
        };
        let path = segments.path_for(next);
        let file = open_segment(&path)?;
        // A segment of that name from an earlier start holds no records (they would be at or
        // after `next`): it is the new one, listed once.
        segments.list.retain(|(first, _)| *first != next);
        segments.list.push_back((next, path.clone()));
        segments.drop_through(mark);
        let segments = Arc::new(Mutex::new(segments));
        let (tx, rx) = std::sync::mpsc::channel();
        let relays = Arc::new(Relays::default());
        let last = Arc::new(std::sync::atomic::AtomicU64::new(next - 1));
        let writer = SegmentWriter {
            segments: segments.clone(),
            relays: relays.clone(),
            last: last.clone(),
            file,
            path,
            bytes: 0,
            allocated: 0,
            next,
        };
        std::thread::Builder::new()
            .name("spurlos-journal".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| err(dir, e))?;
        Ok((
            Self {
                tx,
                segments,
                relays,
                last,
            },
            pending,
        ))
    }

    /// Makes `hits` durable, then queues them through `permits` (one each, in order).
    pub async fn commit(
        &self,
        hits: Vec<Hit>,
        permits: Vec<OwnedPermit<Hit>>,
    ) -> Result<(), JournalError> {
        let done = Arc::new(Done::new());
        let encoded = hits
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| JournalError {
                path: JOURNAL_DIR.into(),
                message: format!("a hit cannot be written: {e}"),
            })?;
        let gone = || JournalError {
            path: JOURNAL_DIR.into(),
            message: "the journal writer has stopped".into(),
        };
        self.tx
            .send(Job::Append(Request {
                hits,
                encoded,
                permits,
                done: done.clone(),
            }))
            .map_err(|_| gone())?;
        Wait::new(&self.relays, done).await
    }

    /// The highest number given to a hit so far: every hit accepted before this call has a
    /// number up to it.
    pub fn last_seq(&self) -> u64 {
        self.last.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Begins a new segment, so that the older ones are deleted as soon as their hits are
    /// stored (at once when they are): after statistics are deleted, none of their hits
    /// stays in the journal longer than it takes to store what was queued.
    pub async fn roll(&self) -> Result<(), JournalError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let gone = || JournalError {
            path: JOURNAL_DIR.into(),
            message: "the journal writer has stopped".into(),
        };
        self.tx.send(Job::Roll(tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Every hit up to `seq` is stored: segments wholly below it go.
    pub fn stored_through(&self, seq: u64) {
        let mut s = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        s.drop_through(seq);
    }
}

/// Reads a segment's records (`SEQ JSON` lines) in order; a torn last record (a crash
/// mid-write, never acknowledged) ends the segment.
fn read_segment(path: &Path, mut each: impl FnMut(u64, Hit)) -> Result<(), JournalError> {
    let file = std::fs::File::open(path).map_err(|e| err(path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = String::new();
    loop {
        // The zeros written ahead of the data end it.
        match reader.fill_buf() {
            Ok(b) if !b.is_empty() && b[0] != 0 => {}
            _ => break,
        }
        line.clear();
        if reader.read_line(&mut line).is_err() || !line.ends_with('\n') {
            break;
        }
        let record = line.split_once(' ').and_then(|(seq, json)| {
            let seq = seq.parse::<u64>().ok()?;
            let hit = serde_json::from_str::<Hit>(json).ok()?;
            Some((seq, hit))
        });
        match record {
            Some((seq, mut hit)) => {
                hit.seq = seq;
                each(seq, hit)
            }
            None => break,
        }
    }
    Ok(())
}

fn open_segment(path: &Path) -> Result<std::fs::File, JournalError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(|e| err(path, e))?;
    // The new name must survive a crash too.
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| err(dir, e))?;
    }
    Ok(file)
}

/// The thread that owns the open segment.
struct SegmentWriter {
    segments: Arc<Mutex<Segments>>,
    relays: Arc<Relays>,
    last: Arc<std::sync::atomic::AtomicU64>,
    file: std::fs::File,
    path: PathBuf,
    /// Bytes of records in the open segment.
    bytes: u64,
    /// Bytes of the open segment written (records, then zeros).
    allocated: u64,
    next: u64,
}

impl SegmentWriter {
    fn run(mut self, rx: std::sync::mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut group = Vec::new();
            let mut rolls = Vec::new();
            let mut job = Some(first);
            while let Some(j) = job.take() {
                match j {
                    Job::Append(r) => group.push(r),
                    Job::Roll(done) => rolls.push(done),
                }
                if group.len() < GROUP_MAX {
                    job = rx.try_recv().ok();
                }
            }
            if !group.is_empty() {
                self.append(group);
            }
            for done in rolls {
                let _ = done.send(self.roll());
            }
        }
    }

    /// Begins a new segment (unless the open one is empty) and drops the stored ones.
    fn roll(&mut self) -> Result<(), JournalError> {
        if self.bytes > 0 {
            self.rotate()?;
        }
        let mut s = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let stored = s.stored;
        s.drop_through(stored);
        Ok(())
    }

    /// Writes a group of requests and tells each how it went.
    fn append(&mut self, mut group: Vec<Request>) {
        let result = self.write_group(&mut group);
        if result.is_ok() {
            self.last
                .store(self.next - 1, std::sync::atomic::Ordering::SeqCst);
        }
        for req in group {
            if result.is_ok() {
                for (permit, hit) in req.permits.into_iter().zip(req.hits) {
                    permit.send(hit);
                }
            }
            let _ = req.done.set(result.clone());
        }
        self.relays.wake();
    }

    /// Numbers, writes and syncs a group's hits; on failure nothing of it counts (the
    /// segment is cut back to where it was).
    fn write_group(&mut self, group: &mut [Request]) -> Result<(), JournalError> {
        if self.bytes >= SEGMENT_BYTES {
            self.rotate()?;
        }
        let start = (self.next, self.bytes);
        let mut buf = Vec::new();
        for req in group.iter_mut() {
            for (hit, json) in req.hits.iter_mut().zip(&req.encoded) {
                hit.seq = self.next;
                self.next += 1;
                buf.extend_from_slice(hit.seq.to_string().as_bytes());
                buf.push(b' ');
                buf.extend_from_slice(json);
                buf.push(b'\n');
            }
        }
        let end = self.bytes + buf.len() as u64;
        let written = self
            .allocate(end)
            .and_then(|()| self.file.write_all_at(&buf, start.1))
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Cut off whatever part was written: those hits are answered 503.
            let _ = self.file.set_len(start.1);
            self.allocated = start.1;
            self.next = start.0;
            return Err(err(&self.path, e));
        }
        self.bytes = end;
        Ok(())
    }

    /// Writes zeros ahead so that the segment holds at least `end` bytes (a full disk shows
    /// here, before any record is written).
    fn allocate(&mut self, end: u64) -> std::io::Result<()> {
        if end <= self.allocated {
            return Ok(());
        }
        let target = end.div_ceil(PREALLOC_BYTES) * PREALLOC_BYTES;
        let zeros = vec![0u8; (target - self.allocated) as usize];
        self.file.write_all_at(&zeros, self.allocated)?;
        self.allocated = target;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), JournalError> {
        let mut s = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let path = s.path_for(self.next);
        self.file = open_segment(&path)?;
        self.path = path.clone();
        self.bytes = 0;
        self.allocated = 0;
        s.list.push_back((self.next, path));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(n: u32) -> Hit {
        Hit {
            site_id: 1,
            ts: 1_700_000_000 + i64::from(n),
            name: "pageview".into(),
            interactive: true,
            hostname: "example.com".into(),
            pathname: format!("/{n}"),
            attrs: Default::default(),
            props: Vec::new(),
            visitor_id: u64::from(n),
            prev_visitor_id: None,
            utc_offset: 0,
            new_visit: false,
            heartbeat: false,
            seq: 0,
        }
    }

    async fn commit(journal: &Journal, tx: &tokio::sync::mpsc::Sender<Hit>, hits: Vec<Hit>) {
        let permits = (0..hits.len())
            .map(|_| tx.clone().try_reserve_owned().unwrap())
            .collect();
        journal.commit(hits, permits).await.unwrap();
    }

    #[tokio::test]
    async fn replays_exactly_what_the_store_does_not_hold() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(100);
        let (journal, pending) = Journal::open(dir.path(), 0).unwrap();
        assert!(pending.is_empty());
        commit(&journal, &tx, vec![hit(1), hit(2)]).await;
        commit(&journal, &tx, vec![hit(3)]).await;
        let queued: Vec<u64> = (0..3).map(|_| rx.try_recv().unwrap().seq).collect();
        assert_eq!(queued, vec![1, 2, 3]);
        drop(journal);
        // The store holds up to 2: only 3 comes back, then new hits go on from 4.
        let (journal, pending) = Journal::open(dir.path(), 2).unwrap();
        assert_eq!(pending.iter().map(|h| h.seq).collect::<Vec<_>>(), vec![3]);
        assert_eq!(pending[0].pathname, "/3");
        commit(&journal, &tx, vec![hit(4)]).await;
        assert_eq!(rx.try_recv().unwrap().seq, 4);
        journal.stored_through(4);
        drop(journal);
        let (_, pending) = Journal::open(dir.path(), 4).unwrap();
        assert!(pending.is_empty());
        // Old segments are gone, a torn tail is ignored.
        let segments = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(segments <= 2, "{segments} segments");
    }

    /// Many requests from several threads at once, some given up while waiting: every kept
    /// one is answered (none waits for a wake-up that went to a dropped one), in one sequence.
    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn every_waiting_request_is_answered_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
        let (journal, _) = Journal::open(dir.path(), 0).unwrap();
        let journal = Arc::new(journal);
        let mut tasks = Vec::new();
        for t in 0..24u32 {
            let (journal, tx) = (journal.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..50u32 {
                    let n = t * 1000 + i;
                    let permits = vec![tx.clone().try_reserve_owned().unwrap()];
                    let commit = journal.commit(vec![hit(n)], permits);
                    if i % 7 == 3 {
                        // Given up almost at once: its hit may or may not be kept.
                        let _ =
                            tokio::time::timeout(std::time::Duration::from_micros(1), commit).await;
                    } else {
                        tokio::time::timeout(std::time::Duration::from_secs(10), commit)
                            .await
                            .expect("answered")
                            .unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        drop(tx);
        let mut seqs = Vec::new();
        while let Some(h) = rx.recv().await {
            seqs.push(h.seq);
        }
        assert!(seqs.len() >= 24 * 43, "{} queued", seqs.len());
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(
            seqs.len() as u64,
            seqs[seqs.len() - 1],
            "numbers without gaps"
        );
        // Reopened: the segment's zeros ahead of the data end the records.
        drop(journal);
        let (_, pending) = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(pending.len(), seqs.len());
    }

    #[tokio::test]
    async fn a_torn_last_record_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = tokio::sync::mpsc::channel(100);
        let (journal, _) = Journal::open(dir.path(), 0).unwrap();
        commit(&journal, &tx, vec![hit(1)]).await;
        drop(journal);
        let seg = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| std::fs::metadata(p).unwrap().len() > 0)
            .unwrap();
        // Written where the records end (the zeros ahead begin), as a crash would leave it.
        let bytes = std::fs::read(&seg).unwrap();
        let end = bytes.iter().position(|b| *b == 0).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(b"2 {\"site_id\":1,\"ts\":", end as u64)
            .unwrap();
        let (_, pending) = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(pending.len(), 1);
        // A whole record there is read (the zeros only end the records).
        f.write_all_at(b"7 ", end as u64).unwrap();
        let json = serde_json::to_vec(&hit(7)).unwrap();
        f.write_all_at(&json, end as u64 + 2).unwrap();
        f.write_all_at(b"\n", end as u64 + 2 + json.len() as u64)
            .unwrap();
        let (_, pending) = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(
            pending.iter().map(|h| h.seq).collect::<Vec<_>>(),
            vec![1, 7]
        );
    }
}
