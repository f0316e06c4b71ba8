//! `spurlos logs import` and `logs follow`: a thread of their own reads access logs (files in
//! time order, format detected per file, address truncated per line by `logs::read`) and
//! hands batches of entries to the running server or the data directory; the command shows a
//! progress bar and ends with a summary per site.

mod follow;

use super::admin::Admin;
use crate::logs::import::{BatchResult, LogBatch, OtherLines, SiteCounts};
use crate::logs::parse::Format;
use crate::logs::read::{self, Assign, Line, LineReader, ReadStats};
use crate::tenancy::sites::{Site, SiteSpec};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Prints a line to standard output; a closed pipe (`| head`) is not an error.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// Entries per batch sent.
const BATCH: usize = 10_000;
/// Other lines (traffic only) per batch sent.
const OTHER_BATCH: usize = 50_000;
/// Batches sent before the first is answered.
const IN_FLIGHT: usize = 2;
/// Longest time entries wait to be sent while lines trickle in (piped and followed logs).
const MAX_WAIT: Duration = Duration::from_secs(2);

/// Statistics from web-server access logs.
#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Import access logs: page views, 404s and downloads, counted by the same rules as live
    /// hits (README, "Statistics from web-server logs").
    #[command(long_about = IMPORT_HELP)]
    Import(LogsImport),
    /// Follow growing access logs (like tail -F) and import their lines as they come.
    #[command(long_about = FOLLOW_HELP)]
    Follow(LogsFollow),
    /// Split a shared log into one log per site, with client addresses truncated.
    #[command(long_about = SPLIT_HELP)]
    Split(LogsSplit),
    /// Requests and bytes sent per site (and day) from imported logs, for billing.
    #[command(long_about = TRAFFIC_HELP)]
    Traffic(LogsTraffic),
    /// Import a site's history from AWStats's monthly data files.
    #[command(name = "import-awstats", long_about = AWSTATS_HELP)]
    ImportAwstats(LogsImportAwstats),
}

const AWSTATS_HELP: &str = "Import a site's history from AWStats's monthly data files.

Reads awstatsMMYYYY.CONFIG.txt files (give the files, or directories holding them, like
/var/lib/awstats) and keeps each day's visits and page views as imported day sums: the
dashboard shows them like its own history on days without spurlos's own data (and says so),
the Stats API with include.imports. AWStats has no daily unique visitors: a day's visitors are
its visits; it has no bounces or visit durations: bounce rate and visit duration come from
spurlos's own visits only. Filters do not apply to imported days. Nothing of AWStats's host
list (client addresses) is read. Importing again replaces what was imported for the same
months. With several configurations in one directory, --awstats-config names the one to read
(default: the only one).";

/// `logs import-awstats`
#[derive(Debug, Args)]
pub struct LogsImportAwstats {
    /// The site the history belongs to.
    #[arg(long, value_name = "DOMAIN")]
    pub site: String,
    /// AWStats's configuration name (the CONFIG of awstatsMMYYYY.CONFIG.txt).
    #[arg(long, value_name = "NAME")]
    pub awstats_config: Option<String>,
    /// Data files or directories holding them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `logs import-awstats`.
pub(super) async fn import_awstats(
    admin: &impl Admin,
    args: LogsImportAwstats,
) -> anyhow::Result<()> {
    use crate::logs::awstats;
    let files = awstats::find_files(&args.paths, args.awstats_config.as_deref())?;
    let mut months = Vec::with_capacity(files.len());
    for f in &files {
        let name = f.display().to_string();
        let file = std::fs::File::open(f).with_context(|| format!("opening {name}"))?;
        let mut input = std::io::BufReader::new(file);
        months.push(awstats::parse(&name, &mut input)?);
    }
    let request = awstats::request(&months);
    let visits: u64 = request.rows.iter().map(|r| r.visits).sum();
    let pages: u64 = request.rows.iter().map(|r| r.pageviews).sum();
    let with_data = request.rows.len();
    let (days, _) = admin.import_statistics(&args.site, request).await?;
    let (first, last) = (
        months.first().map(|m| m.month.to_string()),
        months.last().map(|m| m.month.to_string()),
    );
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "site": args.site, "months": months.len(), "days": days,
                "days_with_visits": with_data, "visits": visits, "pageviews": pages,
                "first_month": first, "last_month": last,
            }))?
        );
        return Ok(());
    }
    say!(
        "imported {} months of AWStats history for {} ({} to {}): {with_data} days with visits, {visits} visits, {pages} page views",
        months.len(),
        args.site,
        first.unwrap_or_default(),
        last.unwrap_or_default(),
    );
    say!("the dashboard shows them on days without spurlos's own data");
    Ok(())
}

const TRAFFIC_HELP: &str = "Requests and bytes sent per site from imported logs, for billing.

Every request of the imported web-server logs counts (pages, static files, bots, errors), each
line once however often it is imported: import a site's access_log and proxy_access_log
(Plesk, nginx in front of Apache) with the same --source and requests in both count once. Days
are the site's local days. Default range: this month so far; --by-day adds a row per day.";

/// `logs traffic`
#[derive(Debug, Args)]
pub struct LogsTraffic {
    /// Only this site (domain or alias).
    #[arg(long, value_name = "DOMAIN")]
    pub site: Option<String>,
    /// Only the sites of this customer.
    #[arg(long, value_name = "HANDLE")]
    pub customer: Option<String>,
    /// First day (YYYY-MM-DD; default: the first of this month).
    #[arg(long, value_name = "DATE")]
    pub from: Option<chrono::NaiveDate>,
    /// Last day (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    pub to: Option<chrono::NaiveDate>,
    /// A row per site and day, not only per site.
    #[arg(long)]
    pub by_day: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `logs traffic`.
pub(super) async fn traffic(admin: &impl Admin, args: LogsTraffic) -> anyhow::Result<()> {
    let q = crate::logs::traffic::TrafficQuery {
        from: args.from,
        to: args.to,
        site: args.site,
        customer: args.customer,
    };
    let r = admin.traffic(&q).await?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    use crate::logs::traffic::human_bytes;
    say!("traffic from {} to {}", r.from, r.to);
    if args.by_day {
        say!(
            "{:<40} {:<10} {:>12} {:>16} {:>10}",
            "SITE",
            "DAY",
            "REQUESTS",
            "BYTES",
            ""
        );
        for s in &r.sites {
            for d in &s.days {
                say!(
                    "{:<40} {:<10} {:>12} {:>16} {:>10}",
                    s.site,
                    d.date,
                    d.requests,
                    d.bytes,
                    human_bytes(d.bytes)
                );
            }
        }
    } else {
        say!(
            "{:<40} {:>12} {:>16} {:>10}",
            "SITE",
            "REQUESTS",
            "BYTES",
            ""
        );
        for s in &r.sites {
            say!(
                "{:<40} {:>12} {:>16} {:>10}",
                s.site,
                s.requests,
                s.bytes,
                human_bytes(s.bytes)
            );
        }
    }
    say!(
        "{:<40} {:>12} {:>16} {:>10}",
        "TOTAL",
        r.requests,
        r.bytes,
        human_bytes(r.bytes)
    );
    Ok(())
}

const SPLIT_HELP: &str = "Split a shared log into one log per site, for handing over.

Writes DIR/DOMAIN.log for every site with lines in the input (its domain and aliases), in the
input format, with each client address truncated by the site's mask (as spurlos stores
visits), so a customer gets their own log without anyone else's visitors in it and without
full addresses. --keep-addresses keeps them (an explicit choice: full addresses are personal
data). Lines of hosts that are no site's go to DIR/unknown-hosts.log (addresses truncated to
/24 and /48); unreadable lines are counted, not written. DIR must be new or empty.";

/// `logs split`
#[derive(Debug, Args)]
pub struct LogsSplit {
    /// Shared log files (plain, .gz or .zst); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Split by the lines' virtual hosts (the only way there is; say it to be sure).
    #[arg(long, required = true)]
    pub by_vhost: bool,
    /// The directory to write the logs into (new or empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Keep full client addresses in the written logs.
    #[arg(long)]
    pub keep_addresses: bool,
    /// The log format; auto detects it from each file's first lines.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `logs split`.
pub(super) async fn split(admin: &impl Admin, args: LogsSplit) -> anyhow::Result<()> {
    let sites = admin.sites().await?;
    let total: u64 = args
        .files
        .iter()
        .filter(|f| *f != "-")
        .filter_map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
        .sum();
    let bar = progress_bar(total);
    let started = Instant::now();
    let stats = {
        let bar = bar.clone();
        tokio::task::spawn_blocking(move || split_files(&args, sites, &bar).map(|s| (s, args)))
            .await??
    };
    bar.finish_and_clear();
    let (stats, args) = stats;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "lines": stats.lines, "seconds": seconds, "files": stats.files,
                "malformed": stats.malformed, "no_vhost": stats.no_vhost,
            }))?
        );
        return Ok(());
    }
    say!(
        "read {} lines in {seconds:.1} s ({:.1} MB/s)",
        stats.lines,
        total as f64 / 1e6 / seconds.max(0.001)
    );
    say!("{:<40} {:>12} {:>14}", "FILE", "LINES", "BYTES");
    for (name, (lines, bytes)) in &stats.files {
        say!(
            "{:<40} {lines:>12} {bytes:>14}",
            args.out.join(name).display()
        );
    }
    for (why, n) in &stats.malformed {
        say!("skipped {n} lines: {why}");
    }
    if stats.no_vhost > 0 {
        say!("skipped {} lines without a virtual host", stats.no_vhost);
    }
    Ok(())
}

fn split_files(
    args: &LogsSplit,
    sites: Vec<Site>,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<crate::logs::split::SplitStats> {
    let mut splitter: Option<crate::logs::split::Splitter> = None;
    let read = Arc::new(AtomicU64::new(0));
    for name in &args.files {
        let (mut input, _) =
            read::open(name, read.clone()).with_context(|| format!("opening {name}"))?;
        let mut sample = Vec::new();
        let detected =
            read::detect_in(&mut input, &mut sample).with_context(|| format!("reading {name}"))?;
        let Some(format) = args.format.fixed().or(detected) else {
            if sample.is_empty() {
                continue;
            }
            bail!("{name}: no line fits a known log format (give --format)");
        };
        let s = match &mut splitter {
            Some(s) => {
                s.set_format(format);
                s
            }
            None => splitter.insert(
                crate::logs::split::Splitter::new(
                    format,
                    sites.clone(),
                    &args.out,
                    args.keep_addresses,
                )
                .with_context(|| format!("writing into {}", args.out.display()))?,
            ),
        };
        for line in &sample {
            s.line(line)?;
        }
        let mut buf = Vec::new();
        let mut n = 0u64;
        while read::next_line(&mut input, &mut buf).with_context(|| format!("reading {name}"))? {
            if !buf.iter().all(u8::is_ascii_whitespace) {
                s.line(&buf)?;
            }
            n += 1;
            if n.is_multiple_of(65_536) {
                bar.set_position(read.load(Ordering::Relaxed));
            }
        }
    }
    match splitter {
        Some(mut s) => {
            s.finish()?;
            Ok(s.stats)
        }
        None => Ok(Default::default()),
    }
}

const IMPORT_HELP: &str = "Import access logs: page views, 404s and downloads.

Reads plain, .gz and .zst files (several in one run, taken in the order of their first lines'
times) or standard input (-, also as Apache's piped log: CustomLog \"|spurlos logs import
--by-vhost -\" vhost_combined). Each line goes to the site named by --site (a per-site log, as
Plesk, cPanel, Froxlor and DirectAdmin write them) or, with --by-vhost, to the site whose
domain or alias is the line's virtual host (Apache's vhost_combined, ISPConfig's `%v %h ...`,
the JSON logs' host field). Lines of other hosts are counted and the ten most frequent listed;
--create-sites --customer HANDLE adds sites for them instead.

The client address is truncated by the site's mask as the line is read, before anything else
sees it; no address or User-Agent is stored. Counted: successful GET requests of pages (2xx,
304), not static files, not bots; 404s of pages become a `404` event, downloads (PDF,
archives, documents, media) a `File Download` event. Query strings are dropped except UTM tags.

Importing the same lines again (the same file, a rotated copy, an overlapping range) counts
nothing twice: spurlos remembers which time ranges of each site it imported from a --source.
Logs of several web servers of one site are different sources: import each with its own
--source. Works through the running server (admin API) or, when none answers, on the data
directory.";

const FOLLOW_HELP: &str = "Follow growing access logs and import their lines as they come.

Like tail -F: a log renamed by logrotate is read to its end and the new file from its start; a
log truncated in place (copytruncate) is read again from its start. The position in each file
is kept in the state file (default DATA_DIR/logs-follow.json), so a restart goes on where it
stopped; lines read twice are recognised like in `logs import` and not counted twice. Stops on
SIGINT or SIGTERM after sending what it read. The same rules and options as `logs import`.";

/// Where lines go and how they are read (shared by `import` and `follow`).
#[derive(Debug, Args)]
pub struct LogTarget {
    /// Every line belongs to this site (a per-site log).
    #[arg(
        long,
        value_name = "DOMAIN",
        conflicts_with = "by_vhost",
        required_unless_present = "by_vhost"
    )]
    pub site: Option<String>,
    /// Each line belongs to the site of its virtual host (a shared log).
    #[arg(long)]
    pub by_vhost: bool,
    /// The log format; auto detects it from each file's first lines.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Where the lines come from (a name): lines imported from the same source are imported
    /// once. Give each web server of a site its own.
    #[arg(long, default_value = "access-log", value_name = "NAME")]
    pub source: String,
    /// Add a site for each virtual host of no site (with --customer) instead of skipping its
    /// lines.
    #[arg(long, requires = "customer", requires = "by_vhost")]
    pub create_sites: bool,
    /// The customer that sites made by --create-sites belong to.
    #[arg(long, value_name = "HANDLE")]
    pub customer: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `logs import`
#[derive(Debug, Args)]
pub struct LogsImport {
    /// Log files (plain, .gz or .zst); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub target: LogTarget,
}

/// `logs follow`
#[derive(Debug, Args)]
pub struct LogsFollow {
    /// Log files to follow (plain text).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where the position in each file is kept (default DATA_DIR/logs-follow.json).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// How often the files are looked at for new lines, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub poll_ms: u64,
    #[command(flatten)]
    pub target: LogTarget,
}

/// `--format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Auto,
    Combined,
    Common,
    #[value(name = "vhost_combined")]
    VhostCombined,
    NginxJson,
    CaddyJson,
}

impl FormatArg {
    fn fixed(self) -> Option<Format> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Combined => Some(Format::Combined),
            FormatArg::Common => Some(Format::Common),
            FormatArg::VhostCombined => Some(Format::VhostCombined),
            FormatArg::NginxJson => Some(Format::NginxJson),
            FormatArg::CaddyJson => Some(Format::CaddyJson),
        }
    }
}

/// What the reading thread hands over.
enum Msg {
    Batch(LogBatch),
    /// A host to make a site for; the answer is the site, or `None`.
    NewHost(String, tokio::sync::oneshot::Sender<Option<Site>>),
    /// Positions to record, now that everything read before them is stored (`follow`).
    Checkpoint(follow::Checkpoint),
    Done(Result<ReadStats, String>),
}

/// What the reading thread shares with the command.
#[derive(Default)]
struct Progress {
    bytes: Arc<AtomicU64>,
    lines: AtomicU64,
    /// Set on SIGINT/SIGTERM: send what was read and stop.
    stop: AtomicBool,
}

/// The reading thread's end of the pipe: lines in, batches of entries out.
struct Feed<'a> {
    reader: LineReader,
    batch: LogBatch,
    /// Where each site's other lines are in `batch.others`, by site id.
    other_groups: std::collections::HashMap<u32, usize>,
    other_count: usize,
    last_send: Instant,
    tx: &'a tokio::sync::mpsc::Sender<Msg>,
    progress: &'a Progress,
}

impl<'a> Feed<'a> {
    fn new(
        target: &ReadTarget,
        format: Format,
        tx: &'a tokio::sync::mpsc::Sender<Msg>,
        progress: &'a Progress,
    ) -> Self {
        let reader = LineReader::new(format, target.assign.clone(), target.sites.clone());
        Self {
            reader: if target.create {
                reader.creating_sites()
            } else {
                reader
            },
            batch: LogBatch::default(),
            other_groups: Default::default(),
            other_count: 0,
            last_send: Instant::now(),
            tx,
            progress,
        }
    }

    /// Reads one line of `file`.
    fn line(&mut self, file: &str, line_no: u64, line: &[u8]) -> anyhow::Result<()> {
        self.progress.lines.fetch_add(1, Ordering::Relaxed);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        loop {
            match self.reader.line(file, line_no, line) {
                Line::Entry(e) => self.batch.entries.push(e),
                Line::Other(o) => {
                    let i = match self.other_groups.get(&o.site.id.0) {
                        Some(&i) => i,
                        None => {
                            self.batch.others.push(OtherLines {
                                site: o.site.domain.clone(),
                                lines: Vec::new(),
                            });
                            let i = self.batch.others.len() - 1;
                            self.other_groups.insert(o.site.id.0, i);
                            i
                        }
                    };
                    self.batch.others[i].lines.push((o.ts, o.bytes, o.digest));
                    self.other_count += 1;
                }
                Line::Skipped => {}
                Line::NewHost(host) => {
                    // Entries of earlier lines go first (their sites exist).
                    self.send()?;
                    let (answer, made) = tokio::sync::oneshot::channel();
                    self.tx
                        .blocking_send(Msg::NewHost(host.clone(), answer))
                        .map_err(|_| anyhow::anyhow!("import stopped"))?;
                    match made.blocking_recv().ok().flatten() {
                        Some(site) => self.reader.add_site(site),
                        None => self.reader.refuse_host(host),
                    }
                    continue;
                }
            }
            break;
        }
        if self.batch.entries.len() >= BATCH
            || self.other_count >= OTHER_BATCH
            || self.last_send.elapsed() >= MAX_WAIT
        {
            self.send()?;
        }
        Ok(())
    }

    /// Sends the entries read so far.
    fn send(&mut self) -> anyhow::Result<()> {
        self.last_send = Instant::now();
        if self.batch.entries.is_empty() && self.batch.others.is_empty() {
            return Ok(());
        }
        self.other_groups.clear();
        self.other_count = 0;
        self.tx
            .blocking_send(Msg::Batch(std::mem::take(&mut self.batch)))
            .map_err(|_| anyhow::anyhow!("import stopped"))
    }
}

/// What the reading thread needs to know about sites.
#[derive(Clone)]
struct ReadTarget {
    assign: Assign,
    sites: Vec<Site>,
    create: bool,
    fixed: Option<Format>,
}

async fn read_target(admin: &impl Admin, t: &LogTarget) -> anyhow::Result<ReadTarget> {
    let sites = admin.sites().await?;
    let assign = match &t.site {
        Some(d) => {
            let registry = crate::tenancy::sites::SiteRegistry::default();
            registry.replace(sites.clone());
            let site = registry
                .by_domain(d)
                .with_context(|| format!("no site {d}; add it first (spurlos site add {d})"))?;
            Assign::Site(site)
        }
        None => Assign::ByVhost,
    };
    Ok(ReadTarget {
        assign,
        sites,
        create: t.create_sites,
        fixed: t.format.fixed(),
    })
}

/// Runs `logs import` against `admin`.
pub(super) async fn import(admin: &impl Admin, args: LogsImport) -> anyhow::Result<()> {
    let target = read_target(admin, &args.target).await?;
    let total: u64 = args
        .files
        .iter()
        .filter(|f| *f != "-")
        .map(|f| std::fs::metadata(f).map(|m| m.len()))
        .collect::<Result<Vec<_>, _>>()
        .context("reading the log files' sizes")?
        .iter()
        .sum();
    let files = args.files.clone();
    drive(admin, &args.target, total, move |progress, tx| {
        read_all(&files, &target, progress, tx)
    })
    .await
}

/// Runs `logs follow` against `admin` until SIGINT or SIGTERM.
pub(super) async fn follow(
    admin: &impl Admin,
    args: LogsFollow,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let target = read_target(admin, &args.target).await?;
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| data_dir.join("logs-follow.json"));
    let files = args.files.clone();
    let poll = Duration::from_millis(args.poll_ms.max(10));
    drive(admin, &args.target, 0, move |progress, tx| {
        follow::follow(&files, &state, poll, &target, progress, tx)
    })
    .await
}

/// Runs a reading thread and stores what it sends, with a progress bar; prints the summary.
async fn drive<F>(admin: &impl Admin, t: &LogTarget, total: u64, read: F) -> anyhow::Result<()>
where
    F: FnOnce(&Progress, &tokio::sync::mpsc::Sender<Msg>) -> anyhow::Result<ReadStats>
        + Send
        + 'static,
{
    let mut run = admin.log_start(&t.source).await?;
    let progress = Arc::new(Progress::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4);
    let reader = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let done = read(&progress, &tx);
            let _ = tx.blocking_send(Msg::Done(done.map_err(|e| format!("{e:#}"))));
        })
    };
    let bar = progress_bar(total);
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut stored = BatchResult::default();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let stop = stop_signal();
    tokio::pin!(stop);
    // Batches on their way (the next is read and sent while one is stored), in order, with
    // their entries for a retry in a new run.
    let mut inflight = futures_util::stream::FuturesOrdered::new();
    let mut pending: std::collections::VecDeque<LogBatch> = Default::default();
    let (mut sent, mut done_batches) = (0u64, 0u64);
    // Positions to record once the batches before them are stored: (batches sent, state).
    let mut checkpoints: std::collections::VecDeque<(u64, follow::Checkpoint)> = Default::default();
    let mut finished_reading: Option<anyhow::Result<ReadStats>> = None;
    let outcome: anyhow::Result<ReadStats> = loop {
        if inflight.is_empty() {
            if let Some(r) = finished_reading.take() {
                break r;
            }
        }
        tokio::select! {
            msg = rx.recv(), if inflight.len() < IN_FLIGHT && finished_reading.is_none() => match msg {
                Some(Msg::Batch(entries)) => {
                    pending.push_back(entries.clone());
                    inflight.push_back(admin.log_batch(run.clone(), sent, entries));
                    sent += 1;
                }
                Some(Msg::NewHost(host, answer)) => {
                    let _ = answer.send(new_site(admin, &host, t, &bar).await);
                }
                Some(Msg::Checkpoint(c)) => checkpoints.push_back((sent, c)),
                Some(Msg::Done(r)) => finished_reading = Some(r.map_err(anyhow::Error::msg)),
                None => finished_reading = Some(Err(anyhow::anyhow!("the log reader stopped"))),
            },
            Some(r) = futures_util::StreamExt::next(&mut inflight), if !inflight.is_empty() => {
                let entries = pending.pop_front().unwrap_or_default();
                let r = match r {
                    Err(e) if format!("{e:#}").contains("no log import run") => {
                        // The run was forgotten (idle for long, or the server restarted): the
                        // rest goes in a new one, in order.
                        let again = async {
                            let _ = admin.log_finish(&run).await;
                            run = admin.log_start(&t.source).await?;
                            let mut n = 0;
                            let mut out = admin.log_batch(run.clone(), n, entries).await;
                            for more in pending.drain(..) {
                                n += 1;
                                let r = admin.log_batch(run.clone(), n, more).await?;
                                if let Ok(o) = &mut out {
                                    merge(o, r);
                                }
                            }
                            sent = n + 1;
                            out
                        };
                        let out = again.await;
                        // The old run's batches on their way fail alike; they are sent again.
                        while futures_util::StreamExt::next(&mut inflight).await.is_some() {}
                        done_batches = sent - 1;
                        out
                    }
                    other => other,
                };
                match r {
                    Ok(r) => merge(&mut stored, r),
                    Err(e) => {
                        progress.stop.store(true, Ordering::Relaxed);
                        break Err(e);
                    }
                }
                done_batches += 1;
                let mut saved = Ok(());
                while let Some((_, c)) = checkpoints.pop_front_if(|(n, _)| *n <= done_batches) {
                    saved = saved.and(c.save());
                }
                if let Err(e) = saved {
                    progress.stop.store(true, Ordering::Relaxed);
                    break Err(e);
                }
            },
            _ = &mut stop, if !progress.stop.load(Ordering::Relaxed) => {
                progress.stop.store(true, Ordering::Relaxed);
            }
            _ = tick.tick() => {
                let bytes = progress.bytes.load(Ordering::Relaxed);
                let lines = progress.lines.load(Ordering::Relaxed);
                bar.set_position(bytes);
                let rate = lines as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!("{lines} lines, {rate:.0} lines/s"));
                if bar.is_hidden() && total > 0 && last_line.elapsed() >= Duration::from_secs(10) {
                    eprintln!("read {} of {} MB, {lines} lines, {rate:.0} lines/s",
                        bytes / 1_000_000, total / 1_000_000);
                    last_line = Instant::now();
                }
            }
        }
    };
    // Checkpoints of a reader that ended with everything stored.
    if outcome.is_ok() {
        for (_, c) in checkpoints {
            c.save()?;
        }
    }
    bar.finish_and_clear();
    // The reader may wait to hand over a batch: let it, then it ends.
    progress.stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    let finished = admin.log_finish(&run).await;
    let read = outcome?;
    finished?;
    let elapsed = started.elapsed().as_secs_f64();
    if t.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&summary_json(&read, &stored, elapsed))?
        );
    } else {
        print_summary(&read, &stored, elapsed);
    }
    let after = admin.after_import().await?;
    if !t.json {
        say!("{after}");
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Makes a site for a new virtual host (`--create-sites`).
async fn new_site(
    admin: &impl Admin,
    host: &str,
    t: &LogTarget,
    bar: &indicatif::ProgressBar,
) -> Option<Site> {
    let spec = SiteSpec {
        domain: host.to_string(),
        aliases: Vec::new(),
        timezone: None,
        ip_mask_bytes: None,
        respect_dnt: None,
        excluded_ranges: Vec::new(),
        customer: t.customer.clone(),
        ..SiteSpec::default()
    };
    match admin.add_site(spec).await {
        Ok(site) => {
            let customer = t.customer.as_deref().unwrap_or_default();
            bar.println(format!(
                "added site {} for customer {customer}",
                site.domain
            ));
            Some(site)
        }
        Err(e) => {
            bar.println(format!("no site made for {host}: {e:#}"));
            None
        }
    }
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if total == 0 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn merge(into: &mut BatchResult, r: BatchResult) {
    into.unknown_sites += r.unknown_sites;
    for (site, counts) in r.sites {
        into.sites.entry(site).or_default().add(&counts);
    }
}

/// The reading thread of `import`: every file in the order of its first line's time.
fn read_all(
    files: &[String],
    target: &ReadTarget,
    progress: &Progress,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> anyhow::Result<ReadStats> {
    let mut order: Vec<(i64, usize)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let first = if f == "-" {
            i64::MAX
        } else {
            first_time(f, target.fixed).unwrap_or(i64::MAX)
        };
        order.push((first, i));
    }
    order.sort();
    let mut feed: Option<Feed> = None;
    for (_, i) in order {
        let name = &files[i];
        let (mut input, _) =
            read::open(name, progress.bytes.clone()).with_context(|| format!("opening {name}"))?;
        let mut sample = Vec::new();
        let detected =
            read::detect_in(&mut input, &mut sample).with_context(|| format!("reading {name}"))?;
        let Some(format) = target.fixed.or(detected) else {
            if sample.is_empty() {
                continue;
            }
            bail!("{name}: no line fits a known log format (give --format)");
        };
        let f = match &mut feed {
            Some(f) => {
                f.reader.format = format;
                f
            }
            None => feed.insert(Feed::new(target, format, tx, progress)),
        };
        let mut line_no = 0u64;
        for line in &sample {
            line_no += 1;
            f.line(name, line_no, line)?;
        }
        let mut buf = Vec::new();
        while !progress.stop.load(Ordering::Relaxed)
            && read::next_line(&mut input, &mut buf).with_context(|| format!("reading {name}"))?
        {
            line_no += 1;
            f.line(name, line_no, &buf)?;
        }
        f.send()?;
    }
    Ok(feed.map(|f| f.reader.stats).unwrap_or_default())
}

/// The time of a file's first readable line.
fn first_time(path: &str, fixed: Option<Format>) -> Option<i64> {
    let (mut input, _) = read::open(path, Arc::new(AtomicU64::new(0))).ok()?;
    let mut sample = Vec::new();
    let format = fixed.or(read::detect_in(&mut input, &mut sample).ok()?)?;
    sample
        .iter()
        .find_map(|l| crate::logs::parse::parse(format, l).ok())
        .map(|r| r.ts)
}

/// One site's row of the summary.
#[derive(serde::Serialize)]
struct SiteSummary<'a> {
    site: &'a str,
    lines: u64,
    #[serde(flatten)]
    stored: SiteCounts,
    skipped: BTreeMap<&'static str, u64>,
    excluded_ip: u64,
}

fn site_rows<'a>(read: &'a ReadStats, stored: &'a BatchResult) -> Vec<SiteSummary<'a>> {
    read.sites
        .iter()
        .map(|(site, seen)| SiteSummary {
            site,
            lines: seen.lines,
            stored: stored.sites.get(site).cloned().unwrap_or_default(),
            skipped: seen.skipped.clone(),
            excluded_ip: seen.excluded_ip,
        })
        .collect()
}

fn summary_json(read: &ReadStats, stored: &BatchResult, seconds: f64) -> serde_json::Value {
    let malformed: BTreeMap<&str, serde_json::Value> = read
        .malformed
        .iter()
        .map(|(why, (n, first))| {
            (
                why.as_str(),
                serde_json::json!({"lines": n, "first": first}),
            )
        })
        .collect();
    serde_json::json!({
        "lines": read.lines,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "sites": site_rows(read, stored),
        "malformed": malformed,
        "unknown_hosts": read.unknown_hosts.values().sum::<u64>(),
        "top_unknown_hosts": read.top_unknown_hosts(),
        "no_vhost": read.no_vhost,
    })
}

fn print_summary(read: &ReadStats, stored: &BatchResult, seconds: f64) {
    say!(
        "read {} lines in {seconds:.1} s ({:.0} lines/s)",
        read.lines,
        read.lines as f64 / seconds.max(0.001)
    );
    say!(
        "{:<32} {:>10} {:>10} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "SITE",
        "LINES",
        "PAGEVIEWS",
        "EVENTS",
        "REPEATED",
        "BOTS",
        "STATIC",
        "STATUS",
        "METHOD",
        "OTHER",
        "REQUESTS",
        "BYTES"
    );
    for row in site_rows(read, stored) {
        let skip =
            |k: crate::logs::classify::Skip| row.skipped.get(k.as_str()).copied().unwrap_or(0);
        use crate::logs::classify::Skip;
        say!(
            "{:<32} {:>10} {:>10} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
            row.site,
            row.lines,
            row.stored.pageviews,
            row.stored.events,
            row.stored.duplicates,
            row.stored.bots,
            skip(Skip::Static),
            skip(Skip::Status),
            skip(Skip::Method),
            row.excluded_ip + row.stored.excluded + row.stored.invalid,
            row.stored.requests,
            crate::logs::traffic::human_bytes(row.stored.bytes),
        );
    }
    for (why, (n, first)) in &read.malformed {
        say!(
            "skipped {n} lines: {} (first: {})",
            why.as_str(),
            first.join(", ")
        );
    }
    if read.no_vhost > 0 {
        say!("skipped {} lines without a virtual host", read.no_vhost);
    }
    let unknown: u64 = read.unknown_hosts.values().sum();
    if unknown > 0 {
        say!("skipped {unknown} lines of hosts that are no site's; the most frequent:");
        for (host, n) in read.top_unknown_hosts() {
            say!("  {n:>10}  {host}");
        }
        say!("(add them with spurlos site add, or import with --create-sites --customer HANDLE)");
    }
}
