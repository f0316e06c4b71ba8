//! The reading thread of `logs follow`: reads what was appended to each log since the last
//! look, follows rotation by rename (the old file is read to its end, then the new one from
//! its start) and by truncation (read again from the start), and hands the position in each
//! file over with the batches, so that the command records it once they are stored.

use super::{Feed, Msg, Progress, ReadTarget};
use crate::logs::parse::{self, Format, MAX_LINE_BYTES};
use crate::logs::read::ReadStats;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Where reading a file stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    dev: u64,
    ino: u64,
    /// Bytes of complete lines read.
    offset: u64,
    /// Lines read (for line numbers in the summary).
    line: u64,
    /// The file's first bytes (up to [`HEAD`]) as read: a file truncated and written again
    /// before we looked has other first bytes.
    #[serde(default)]
    head: Vec<u8>,
}

/// How many first bytes of a file tell it from a rewritten one.
const HEAD: usize = 64;

/// The first bytes of an open file (without moving its position).
fn head_of(file: &File) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; HEAD];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// The state file: positions by path.
pub type State = BTreeMap<String, Position>;

/// A state to record once everything read before it is stored.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub state: State,
}

impl Checkpoint {
    /// Writes the state file (a new file renamed over the old one).
    pub fn save(&self) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(&self.state)?;
        std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

fn load(path: &Path) -> State {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// One followed file.
struct Followed {
    path: PathBuf,
    name: String,
    file: Option<File>,
    pos: Position,
    /// The start of a line not complete yet (at most a line's bound of it) ...
    pending: Vec<u8>,
    /// ... and how many bytes it has in the file.
    pending_bytes: u64,
    format: Option<Format>,
    /// Complete lines waiting for the format to be known.
    waiting: Vec<Vec<u8>>,
}

impl Followed {
    fn open(path: &Path, saved: Option<Position>, fixed: Option<Format>) -> Self {
        let mut f = Followed {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            file: None,
            pos: Position::default(),
            pending: Vec::new(),
            pending_bytes: 0,
            format: fixed,
            waiting: Vec::new(),
        };
        if let Ok(file) = File::open(path) {
            if let Ok(meta) = file.metadata() {
                f.pos.dev = meta.dev();
                f.pos.ino = meta.ino();
                if let Some(s) = saved {
                    // The same file, not cut shorter or rewritten since: go on where we
                    // stopped.
                    let head = head_of(&file);
                    if (s.dev, s.ino) == (f.pos.dev, f.pos.ino)
                        && s.offset <= meta.len()
                        && head.starts_with(&s.head)
                    {
                        f.pos = s;
                    }
                }
            }
            let mut file = file;
            if file.seek(SeekFrom::Start(f.pos.offset)).is_err() {
                f.pos.offset = 0;
                f.pos.line = 0;
            }
            f.file = Some(file);
        }
        f
    }

    /// Reads what was appended, and follows a rename or truncation.
    fn poll<'a>(
        &mut self,
        feed: &mut Option<Feed<'a>>,
        target: &ReadTarget,
        progress: &'a Progress,
        tx: &'a tokio::sync::mpsc::Sender<Msg>,
    ) -> anyhow::Result<()> {
        // Cut shorter or written anew in place (copytruncate): from the start again. Looked
        // at before reading, so that no line is read at an offset of the old content.
        let rewritten = self.file.as_ref().is_some_and(|f| {
            let len = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
            len < self.pos.offset + self.pending_bytes || !head_of(f).starts_with(&self.pos.head)
        });
        if rewritten {
            if let Some(file) = &mut self.file {
                file.seek(SeekFrom::Start(0))?;
            }
            self.pos.offset = 0;
            self.pos.line = 0;
            self.pos.head.clear();
            self.pending.clear();
            self.pending_bytes = 0;
        }
        self.drain(feed, target, progress, tx)?;
        let Ok(meta) = std::fs::metadata(&self.path) else {
            // Renamed away and not made again yet: keep reading the old file.
            return Ok(());
        };
        if self.file.is_none() || (meta.dev(), meta.ino()) != (self.pos.dev, self.pos.ino) {
            // A new file under the name: the old one was read to its end above.
            if self.pending_bytes > 0 {
                let last = std::mem::take(&mut self.pending);
                self.pos.offset += std::mem::take(&mut self.pending_bytes);
                self.take_line(last, feed, target, progress, tx)?;
            }
            let file = File::open(&self.path)
                .with_context(|| format!("opening {}", self.path.display()))?;
            self.pos = Position {
                dev: meta.dev(),
                ino: meta.ino(),
                ..Position::default()
            };
            self.file = Some(file);
            self.drain(feed, target, progress, tx)?;
        }
        Ok(())
    }

    /// Reads to the end of the file.
    fn drain<'a>(
        &mut self,
        feed: &mut Option<Feed<'a>>,
        target: &ReadTarget,
        progress: &'a Progress,
        tx: &'a tokio::sync::mpsc::Sender<Msg>,
    ) -> anyhow::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let mut chunk = vec![0u8; 256 * 1024];
        let mut lines = Vec::new();
        loop {
            let n = match self.file.as_mut() {
                Some(file) => file
                    .read(&mut chunk)
                    .with_context(|| format!("reading {}", self.name))?,
                None => 0,
            };
            if n == 0 {
                break;
            }
            progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
            if self.pos.head.len() < HEAD {
                if let Some(file) = &self.file {
                    self.pos.head = head_of(file);
                }
            }
            let mut rest = &chunk[..n];
            while let Some(i) = memchr::memchr(b'\n', rest) {
                let mut line = std::mem::take(&mut self.pending);
                let room = (MAX_LINE_BYTES + 1).saturating_sub(line.len());
                line.extend_from_slice(&rest[..i.min(room)]);
                // The offset counts every byte, also of a line cut for its length.
                self.pos.offset += std::mem::take(&mut self.pending_bytes) + (i + 1) as u64;
                lines.push(line);
                rest = &rest[i + 1..];
            }
            let room = (MAX_LINE_BYTES + 1).saturating_sub(self.pending.len());
            self.pending
                .extend_from_slice(&rest[..rest.len().min(room)]);
            self.pending_bytes += rest.len() as u64;
            if lines.len() >= 1_000 {
                for line in std::mem::take(&mut lines) {
                    self.take_line(line, feed, target, progress, tx)?;
                }
            }
        }
        for line in lines {
            self.take_line(line, feed, target, progress, tx)?;
        }
        Ok(())
    }

    /// One complete line: to the feed, or waiting until the format is known.
    fn take_line<'a>(
        &mut self,
        mut line: Vec<u8>,
        feed: &mut Option<Feed<'a>>,
        target: &ReadTarget,
        progress: &'a Progress,
        tx: &'a tokio::sync::mpsc::Sender<Msg>,
    ) -> anyhow::Result<()> {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let format = match self.format {
            Some(f) => f,
            None => {
                self.waiting.push(line);
                match parse::detect(self.waiting.iter().map(Vec::as_slice)) {
                    Some(f) => {
                        self.format = Some(f);
                        for l in std::mem::take(&mut self.waiting) {
                            self.pass(l, f, feed, target, progress, tx)?;
                        }
                        return Ok(());
                    }
                    None if self.waiting.len() >= 50 => {
                        bail!(
                            "{}: no line fits a known log format (give --format)",
                            self.name
                        )
                    }
                    None => return Ok(()),
                }
            }
        };
        self.pass(line, format, feed, target, progress, tx)
    }

    fn pass<'a>(
        &mut self,
        line: Vec<u8>,
        format: Format,
        feed: &mut Option<Feed<'a>>,
        target: &ReadTarget,
        progress: &'a Progress,
        tx: &'a tokio::sync::mpsc::Sender<Msg>,
    ) -> anyhow::Result<()> {
        // Lines read count from the file's start; the lines waiting for the format too.
        self.pos.line += 1;
        let f = feed.get_or_insert_with(|| Feed::new(target, format, tx, progress));
        f.reader.format = format;
        f.line(&self.name, self.pos.line, &line)
    }
}

/// Follows `files` until the command says stop; answers what was read.
pub(super) fn follow(
    files: &[PathBuf],
    state_path: &Path,
    poll: Duration,
    target: &ReadTarget,
    progress: &Progress,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> anyhow::Result<ReadStats> {
    let saved = load(state_path);
    let mut followed: Vec<Followed> = files
        .iter()
        .map(|p| {
            let key = p.display().to_string();
            Followed::open(p, saved.get(&key).cloned(), target.fixed)
        })
        .collect();
    let mut feed: Option<Feed> = None;
    let mut last_state = saved;
    loop {
        for f in &mut followed {
            f.poll(&mut feed, target, progress, tx)?;
        }
        if let Some(f) = &mut feed {
            f.send()?;
        }
        let state: State = followed
            .iter()
            .map(|f| (f.path.display().to_string(), f.pos.clone()))
            .collect();
        if state != last_state {
            let checkpoint = Checkpoint {
                path: state_path.to_path_buf(),
                state: state.clone(),
            };
            tx.blocking_send(Msg::Checkpoint(checkpoint))
                .map_err(|_| anyhow::anyhow!("import stopped"))?;
            last_state = state;
        }
        if progress.stop.load(Ordering::Relaxed) {
            break;
        }
        let mut slept = Duration::ZERO;
        while slept < poll && !progress.stop.load(Ordering::Relaxed) {
            let step = Duration::from_millis(50).min(poll - slept);
            std::thread::sleep(step);
            slept += step;
        }
    }
    Ok(feed.map(|f| f.reader.stats).unwrap_or_default())
}
