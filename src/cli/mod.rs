//! The command line: `serve`, and the admin commands a hosting panel scripts (`customer ...`,
//! `site ...`, `token ...`, `archive`). Admin commands go through the running server's admin API when one answers
//! at the configured address, and open the data directory directly otherwise.

mod admin;
mod logs;
mod remote;

pub use admin::run_admin;

use crate::config::{Config, Settings};
use crate::tenancy::users::Role;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// spurlos: privacy-preserving web analytics for hosting providers.
#[derive(Debug, Parser)]
#[command(name = "spurlos", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file; environment variables (SPURLOS_*) override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

const SERVE_HELP: &str = "Run the server.

Settings come from defaults, then --config FILE (TOML; keys are the names below without
SPURLOS_, in lower case, e.g. listen = \"0.0.0.0:8000\"), then environment variables:

  SPURLOS_LISTEN             address:port to listen on (default 127.0.0.1:8000)
  SPURLOS_DATA_DIR           data directory (default ./data): database, salts, admin token
  SPURLOS_TRUSTED_PROXIES    comma-separated CIDRs whose X-Forwarded-For is believed
  SPURLOS_GEOIP_DB           optional MaxMind-format .mmdb city or country database
  SPURLOS_ADMIN_TOKEN        admin token (at least 16 characters); generated into
                             DATA_DIR/admin-token when unset
  SPURLOS_QUEUE_CAPACITY     events held in memory before clients get 503 (default 200000)
  SPURLOS_BATCH_SIZE         most events stored in one batch (default 20000)
  SPURLOS_FLUSH_INTERVAL_MS  longest wait before a batch is stored (default 250)
  SPURLOS_MAX_BODY_BYTES     largest request body (default 65536)
  SPURLOS_MAX_BULK_BYTES     largest Matomo bulk body (default 1048576)
  SPURLOS_MAX_BULK_REQUESTS  most requests in one Matomo bulk body (default 1000)
  SPURLOS_QUERY_TIMEOUT_MS   longest a statistics query runs (default 15000)
  SPURLOS_MAX_CONCURRENT_QUERIES  statistics queries at once (default: one per core)
  SPURLOS_QUERY_MAX_ROWS     most rows of one statistics query (default 100000)
  SPURLOS_METRICS_TOKEN      a token that may read /metrics besides the admin token
  SPURLOS_WORKERS            HTTP worker threads (default: one per core)
  SPURLOS_MAX_RETENTION_DAYS longest any site keeps raw events and visits (default: no
                             cap beyond each site's own setting, 760 days unless changed)
  SPURLOS_PUBLIC_URL         address users reach spurlos at (https://stats.example.net),
                             for set-password links (default: the address a request used)
  SPURLOS_LOG                log filter (default info; environment only)

  SPURLOS_STORE              embedded (default: DuckDB in DATA_DIR) or clickhouse
  SPURLOS_CLICKHOUSE_URL     ClickHouse HTTP address (default http://127.0.0.1:8123)
  SPURLOS_CLICKHOUSE_DATABASE, _USER, _PASSWORD
                             database (created when missing; default spurlos), credentials
  SPURLOS_CLICKHOUSE_CLUSTER cluster name: events in local tables on every shard behind
                             Distributed tables sharded by site
  SPURLOS_CLICKHOUSE_SHARD_URLS
                             comma-separated HTTP addresses of every shard node (DDL and
                             deletions run there; default: SPURLOS_CLICKHOUSE_URL)
  SPURLOS_CLICKHOUSE_REPLICATED
                             1: ReplicatedMergeTree with the {shard}/{replica} macros
  SPURLOS_SPOOL_MAX_BYTES    on-disk spool for batches ClickHouse did not take
                             (default 1 GiB, under DATA_DIR); when full, hits get 503
  SPURLOS_CLICKHOUSE_COMPRESSION
                             lz4 (default) or none (plain bodies, for proxies)

SIGINT/SIGTERM stop accepting, store every accepted event, then exit.";

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (collector, Stats API, opt-out page, tracker script).
    #[command(long_about = SERVE_HELP)]
    Serve,
    /// Add, list and remove hosting customers (the accounts that own sites).
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Add, list and remove tracked sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Dashboard users: their role per customer, and one-time set-password links.
    #[command(subcommand)]
    User(UserCommand),
    /// Create Stats API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Statistics from web-server access logs (import).
    #[command(subcommand)]
    Logs(logs::LogsCommand),
    /// Delete a site's statistics, of a period or all of them, for good.
    #[command(subcommand)]
    Stats(StatsCommand),
    /// Export a site's statistics (or every site of a customer) as zip files.
    #[command(long_about = EXPORT_HELP)]
    #[command(group(clap::ArgGroup::new("scope").required(true).args(["site", "customer"])))]
    Export {
        /// The site's main domain (or an alias): --out is the zip file to write.
        #[arg(long)]
        site: Option<String>,
        /// A customer's handle: every site of it, one zip each, into the directory --out.
        #[arg(long, value_name = "HANDLE")]
        customer: Option<String>,
        /// First local day (YYYY-MM-DD; default: the first with data).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last local day (YYYY-MM-DD; default: the last with data).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// The zip file (--site) or directory (--customer) to write; files must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Import statistics exported from Plausible CE (or by spurlos) as daily sums.
    #[command(long_about = IMPORT_HELP)]
    Import {
        /// The site's main domain (or an alias).
        #[arg(long)]
        site: String,
        /// Zip files or imported_TABLE_YYYYMMDD_YYYYMMDD.csv files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show the audit log: sign-ins, exports, imports, deletions, changes of settings, users,
    /// tokens and shared links (180 days), newest first.
    Audit {
        /// Only this customer's entries (its handle).
        #[arg(long, value_name = "HANDLE")]
        customer: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Archive every finished day now (the server also does so every five minutes).
    ///
    /// Day archives hold each day's sums per dimension value, so dashboards over weeks and
    /// months do not scan every event. Useful after importing history or upgrading.
    Archive,
    /// Copy the embedded store of the data directory into ClickHouse.
    #[command(long_about = MIGRATE_HELP)]
    MigrateStore,
    /// Write a consistent copy of the embedded store to a file, while spurlos runs.
    ///
    /// Through the running server when one answers (its admin API), else from the data
    /// directory. The file is a DuckDB database; salts are not in it (they are meant to vanish
    /// after a day), so visitors of the day of a restore count as new. The ClickHouse store is
    /// backed up with ClickHouse's own tools (README, Backups).
    Backup {
        /// The file to write (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into an empty data directory (no server may run on it).
    ///
    /// Checks that the file is a spurlos backup, brings its schema up to date, and puts it in
    /// place as the data directory's database. Start `spurlos serve` afterwards.
    Restore {
        /// A file written by `spurlos backup`.
        file: PathBuf,
    },
}

const MIGRATE_HELP: &str = "Copy the embedded store of the data directory into ClickHouse.

Reads the DuckDB file and the salts in SPURLOS_DATA_DIR and writes customers, sites, users,
tokens, shared links, salts, events and session versions into the ClickHouse database named by
SPURLOS_CLICKHOUSE_URL, _DATABASE, _USER and _PASSWORD (and _CLUSTER, _SHARD_URLS for a
cluster), which must hold no sites or events yet. Day archives are rebuilt by the server.

Stop the server first. Afterwards start it with SPURLOS_STORE=clickhouse; the embedded files
stay untouched (keep them as a backup until you are content).";

/// Customer administration.
#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Create a customer, or rename it when the handle exists (safe to repeat).
    Add {
        /// The hosting panel's handle for the customer: 1-64 of a-z, 0-9, '.', '_', '-'.
        handle: String,
        /// Display name (default: the handle).
        #[arg(long)]
        name: Option<String>,
    },
    /// List all customers.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a customer with all its sites, their statistics and its tokens.
    Remove {
        /// The customer's handle.
        handle: String,
    },
}

/// User administration.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, or give an existing one a role for a customer (other roles are kept).
    Add {
        /// The user's e-mail address (their login name).
        email: String,
        /// Handle of the customer whose sites the user may see.
        #[arg(long, value_name = "HANDLE")]
        customer: String,
        /// owner: manage sites, users and tokens; viewer: read only.
        #[arg(long, value_enum, default_value = "viewer")]
        role: RoleArg,
    },
    /// List all users with their roles.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user.
    Remove {
        /// The user's e-mail address.
        email: String,
    },
    /// Print a one-time link (valid 48 hours) with which the user sets a password.
    PasswordLink {
        /// The user's e-mail address.
        email: String,
    },
}

/// `--role`
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Owner,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Owner => Role::Owner,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

/// Site administration.
#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Add a site by its main domain.
    Add(SiteAdd),
    /// List all sites.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a site with all its statistics and tokens.
    Remove {
        /// The site's main domain.
        domain: String,
    },
    /// Change how long a site's statistics are kept (and CNIL mode).
    Set {
        /// The site's main domain (or an alias).
        domain: String,
        #[command(flatten)]
        retention: RetentionArgs,
    },
}

/// How long a site's statistics are kept (`site add`, `site set`).
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Days raw events and visits are kept; their daily sums stay (default 760, 25 months;
    /// SPURLOS_MAX_RETENTION_DAYS caps it).
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Months the daily sums are kept; 0: as long as the site exists (the default).
    #[arg(long, value_name = "MONTHS")]
    pub archive_months: Option<u32>,
    /// CNIL mode (France's consent-free audience measurement): at most 25 months of raw
    /// events and of daily sums, said so in the privacy notice.
    #[arg(long, value_name = "true|false")]
    pub cnil: Option<bool>,
}

/// `site add`
#[derive(Debug, Args)]
pub struct SiteAdd {
    /// Main domain, e.g. example.com (www. is ignored).
    pub domain: String,
    /// Another domain whose hits count for this site (repeatable).
    #[arg(long = "alias", value_name = "DOMAIN")]
    pub aliases: Vec<String>,
    /// IANA time zone the statistics are shown in.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// Bytes of the visitor address to drop: 1 (/24, /48), 2 (/16, /32) or 3 (/8, /16).
    #[arg(long, default_value_t = 1)]
    pub ip_mask_bytes: u8,
    /// Count visitors who send DNT: 1 or Sec-GPC: 1 (by default they are not counted).
    #[arg(long)]
    pub ignore_dnt: bool,
    /// Client range whose hits are not counted, e.g. 192.0.2.0/24 (repeatable).
    #[arg(long = "exclude-ip", value_name = "CIDR")]
    pub excluded_ranges: Vec<String>,
    /// Handle of the hosting customer the site belongs to.
    #[arg(long, value_name = "HANDLE")]
    pub customer: Option<String>,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// Statistics of a site.
#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Delete a site's statistics of a period (or all of them) for good.
    #[command(long_about = STATS_DELETE_HELP)]
    Delete {
        /// The site's main domain (or an alias).
        #[arg(long)]
        site: String,
        /// First local day to delete (YYYY-MM-DD; default: the first with data).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last local day to delete (YYYY-MM-DD; default: the last with data).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Really delete (without it, nothing is deleted and the command says what would be).
        #[arg(long)]
        yes: bool,
        /// Print what was deleted as JSON.
        #[arg(long)]
        json: bool,
    },
}

const IMPORT_HELP: &str =
    "Import statistics exported from Plausible CE (or by spurlos) as daily sums.

Reads Plausible's CSV export files (imported_visitors_YYYYMMDD_YYYYMMDD.csv and the other
imported_* tables, alone or in the zip Plausible or `spurlos export` writes). Each day of the
files' periods becomes imported day sums of the site (visitors, page views, visits, bounces,
durations; sources, pages, entry and exit pages, custom events, countries, devices, browsers
and operating systems): the dashboard and the Stats API (include.imports) show them on days
without native events and say which days are imported; filters cannot split day sums, so
filtered answers leave them out with a warning. Importing the same files again replaces what
they imported (nothing doubles). A bad file is refused whole, naming file, line and column,
before anything is stored.

Through the running server when one answers (its admin API), else on the data directory.";

const EXPORT_HELP: &str = "Export a site's statistics (or every site of a customer) as zip files.

Each zip holds the daily sums in Plausible CE's CSV import layout (imported_visitors_FROM_TO.csv,
imported_sources_..., pages, entry and exit pages, custom events, locations, devices, browsers,
operating systems: upload them to Plausible's \"Import from CSV\" as they are), every event
and visit as CSV (events.csv, visits.csv; visitors and visits appear as numbers keyed for this
export only, never the stored ids), the site's settings (site.json) and manifest.json with each
file's rows and SHA-256. Written as a stream, with a progress bar.

Through the running server when one answers (its admin API), else on the data directory.";

const STATS_DELETE_HELP: &str = "Delete a site's statistics of a period (or all of them) for good.

Deletes the events and visits of the site's local days FROM..TO (both included), their day
archives and imported days; a visit that reaches into the period is deleted whole. Hits of the
period that the server accepted before are not stored afterwards. When the command returns,
nothing of it is left in any file spurlos writes (the embedded database file is rewritten;
ClickHouse's deletions are waited for, and ClickHouse removes the replaced parts after its
old_parts_lifetime). Without --from and --to everything of the site goes; the site itself, its
settings and tokens stay. Prints the numbers of events, visits and days deleted.

Through the running server when one answers (its admin API), else on the data directory.";

/// Token administration.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a Stats API token for one site, or for all sites of a customer, and print it
    /// (read-only unless --manage).
    #[command(group(clap::ArgGroup::new("scope").required(true).args(["site", "customer"])))]
    Create {
        /// The site's main domain.
        #[arg(long)]
        site: Option<String>,
        /// The customer's handle: the token reads every site of that customer.
        #[arg(long, value_name = "HANDLE")]
        customer: Option<String>,
        /// The token may also manage within its scope (what an owner may do): change site
        /// settings, and for a customer its users and tokens, through the admin API.
        #[arg(long)]
        manage: bool,
    },
}

/// Runs `migrate-store` with a progress bar.
pub async fn migrate_store(settings: Settings) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} rows ({percent}%), {per_sec}, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let copied = crate::migrate::migrate(&settings, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "copied {} sites, {} events and {} session versions into ClickHouse {} (database {}); counts checked",
        copied.sites,
        copied.events,
        copied.sessions,
        settings.config.clickhouse.url,
        settings.config.clickhouse.database
    );
    println!("start spurlos with SPURLOS_STORE=clickhouse (the embedded files are unchanged)");
    Ok(())
}

/// Loads the settings for a command line.
pub fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    Ok(Config::load(cli.config.as_deref())?)
}

/// `spurlos restore FILE`: a backup into an empty data directory, checked and migrated in a
/// scratch directory first, then put in place.
pub async fn restore(settings: Settings, file: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = &settings.config.data_dir;
    let target = dir.join(crate::store::embedded::DB_FILE);
    if target.exists() {
        anyhow::bail!(
            "{} holds a database already; restore into an empty data directory",
            dir.display()
        );
    }
    crate::startup::private_data_dir(dir)?;
    let scratch = dir.join("restoring");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let copy = scratch.join(crate::store::embedded::DB_FILE);
    std::fs::copy(file, &copy).with_context(|| format!("reading {}", file.display()))?;
    {
        let store = crate::store::embedded::Embedded::open(&scratch)
            .with_context(|| format!("{} is not a spurlos backup", file.display()))?;
        let sites = crate::tenancy::Tenancy::new(std::sync::Arc::new(store))
            .sites()
            .await
            .with_context(|| format!("{} is not a spurlos backup", file.display()))?;
        println!("restoring {} sites", sites.len());
    }
    std::fs::rename(&copy, &target).with_context(|| format!("placing {}", target.display()))?;
    let wal = copy.with_extension("duckdb.wal");
    if wal.exists() {
        std::fs::rename(&wal, target.with_extension("duckdb.wal"))
            .with_context(|| format!("placing {}", wal.display()))?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("restored into {}; start spurlos serve", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every command's arguments fit together (clap checks names, conflicts and types).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
