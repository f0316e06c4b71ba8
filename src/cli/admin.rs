//! The admin commands (`site`, `customer`, `user`, `token`, `archive`) over one interface,
//! [`Admin`], with two implementations: the running server's admin API (`remote::Remote`) and
//! the data directory through `tenancy::Tenancy` as the admin ([`Local`]). The same rules apply
//! either way: they are the tenancy model's.

use super::remote::Backend;
use super::{Command, CustomerCommand, SiteCommand, StatsCommand, TokenCommand, UserCommand};
use crate::config::Settings;
use crate::logs::import::{BatchResult, LogBatch, LogImporter};
use crate::logs::traffic::{report, TrafficQuery, TrafficReport};
use crate::stats::erase::{Erased, Eraser, Period};
use crate::stats::imported::ImportRequest;
use crate::stats::restore::Restored;
use crate::store::Store;
use crate::tenancy::audit::{Actor, Entry, Event};
use crate::tenancy::customers::Customer;
use crate::tenancy::sites::{Site, SiteSettings, SiteSpec};
use crate::tenancy::tokens::TokenRequest;
use crate::tenancy::users::{Membership, User};
use crate::tenancy::{Manager, Tenancy, TokenAccess};
use anyhow::{anyhow, bail, Context};
use std::path::PathBuf;

/// What the admin commands ask of a spurlos installation.
pub(super) trait Admin {
    async fn add_site(&self, spec: SiteSpec) -> anyhow::Result<Site>;
    async fn sites(&self) -> anyhow::Result<Vec<Site>>;
    async fn remove_site(&self, domain: &str) -> anyhow::Result<()>;
    /// Changes a site's settings; answers the changed site.
    async fn update_site(&self, domain: &str, settings: SiteSettings) -> anyhow::Result<Site>;
    /// A new token (shown once).
    async fn create_token(&self, request: TokenRequest) -> anyhow::Result<String>;
    /// The customer and whether it was created.
    async fn put_customer(&self, handle: &str, name: &str) -> anyhow::Result<(Customer, bool)>;
    async fn customers(&self) -> anyhow::Result<Vec<Customer>>;
    async fn remove_customer(&self, handle: &str) -> anyhow::Result<()>;
    async fn users(&self) -> anyhow::Result<Vec<User>>;
    async fn put_user(&self, email: &str, memberships: &[Membership]) -> anyhow::Result<User>;
    async fn remove_user(&self, email: &str) -> anyhow::Result<()>;
    /// A one-time set-password link's URL.
    async fn password_link(&self, email: &str) -> anyhow::Result<String>;
    /// Archives the finished days; how many.
    async fn archive(&self) -> anyhow::Result<u64>;
    /// Writes a site's export (zip) to `out`; answers its size in bytes.
    async fn export(
        &self,
        site: &str,
        period: Period,
        out: &std::path::Path,
    ) -> anyhow::Result<u64>;
    /// Imports spurlos's own export (a zip) into a site: its visits and events replace the
    /// site's statistics of the export's days.
    async fn restore(&self, site: &str, zip: &std::path::Path) -> anyhow::Result<Restored>;
    /// The audit log, newest first (all, or one customer's).
    async fn audit_log(&self, customer: Option<&str>) -> anyhow::Result<Vec<Entry>>;
    /// Deletes a site's statistics of a period for good; what was deleted.
    async fn erase_statistics(&self, site: &str, period: Period) -> anyhow::Result<Erased>;
    /// Writes a consistent copy of the store to `out`; answers its size.
    async fn backup(&self, out: &std::path::Path) -> anyhow::Result<u64>;
    /// Starts a log import run for lines of `source`; answers its id.
    async fn log_start(&self, source: &str) -> anyhow::Result<String>;
    /// Stores batch number `seq` (0, 1, ...) of a run; batches may be sent before the one
    /// before them is answered.
    async fn log_batch(
        &self,
        run: String,
        seq: u64,
        batch: LogBatch,
    ) -> anyhow::Result<BatchResult>;
    /// Ends a log import run.
    async fn log_finish(&self, run: &str) -> anyhow::Result<()>;
    /// What happens after an import (archives rebuilt now, or by the server soon).
    async fn after_import(&self) -> anyhow::Result<String>;
    /// Requests and bytes per site and day from imported logs.
    async fn traffic(&self, q: &TrafficQuery) -> anyhow::Result<TrafficReport>;
    /// Stores statistics imported from another tool for a site; answers the days replaced
    /// and the rows stored.
    async fn import_statistics(
        &self,
        site: &str,
        request: ImportRequest,
    ) -> anyhow::Result<(usize, usize)>;
}

/// The data directory, when no server runs on it.
pub(super) struct Local {
    tenancy: Tenancy,
    /// The data directory (for the ingest journal).
    data_dir: std::path::PathBuf,
    /// Where users reach spurlos (for set-password links).
    base: String,
    /// Days with this many events get rollups when archived (`SPURLOS_ROLLUP_MIN_EVENTS`).
    rollup_min_events: u64,
    /// The GeoIP database for log imports.
    geoip: Option<std::path::PathBuf>,
    logs: tokio::sync::OnceCell<LogImporter>,
}

impl Local {
    pub(super) fn new(
        tenancy: Tenancy,
        data_dir: std::path::PathBuf,
        base: String,
        rollup_min_events: u64,
        geoip: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            tenancy,
            data_dir,
            base,
            rollup_min_events,
            geoip,
            logs: tokio::sync::OnceCell::new(),
        }
    }

    /// The log importer on the data directory, made when first needed.
    async fn logs(&self) -> anyhow::Result<&LogImporter> {
        self.logs
            .get_or_try_init(|| async {
                let store: std::sync::Arc<dyn Store> = self.tenancy.store().clone();
                let sites = crate::tenancy::sites::SiteRegistry::default();
                sites.replace(self.tenancy.sites().await?);
                let clock: crate::clock::SharedClock =
                    std::sync::Arc::new(crate::clock::SystemClock);
                let geo = crate::geo::Geo::open(self.geoip.as_deref())?;
                let salts = crate::salt::Salts::load(store.clone(), clock.clone())
                    .await
                    .context("loading salts")?;
                let archive =
                    crate::stats::archive::Archive::load(store.clone(), sites.clone(), clock)
                        .await
                        .context("loading the day archives")?
                        .with_rollup_min_events(self.rollup_min_events);
                Ok::<_, anyhow::Error>(LogImporter::new(
                    store,
                    sites,
                    std::sync::Arc::new(geo),
                    std::sync::Arc::new(salts),
                    std::sync::Arc::new(archive),
                ))
            })
            .await
    }
}

impl Admin for Local {
    async fn add_site(&self, spec: SiteSpec) -> anyhow::Result<Site> {
        Ok(self.tenancy.add_site(spec).await?)
    }

    async fn sites(&self) -> anyhow::Result<Vec<Site>> {
        Ok(self.tenancy.sites().await?)
    }

    async fn update_site(&self, domain: &str, settings: SiteSettings) -> anyhow::Result<Site> {
        let site = self
            .tenancy
            .site_by_domain(domain)
            .await?
            .ok_or_else(|| anyhow!("no site {domain}"))?;
        Ok(self
            .tenancy
            .change_site_settings(&Manager::Admin, &site, settings)
            .await?)
    }

    async fn remove_site(&self, domain: &str) -> anyhow::Result<()> {
        let site = self
            .tenancy
            .site_by_domain(domain)
            .await?
            .ok_or_else(|| anyhow!("no site {domain}"))?;
        Ok(self.tenancy.remove_site(site.id).await?)
    }

    async fn create_token(&self, request: TokenRequest) -> anyhow::Result<String> {
        let made = self.tenancy.create_token(&Manager::Admin, request).await?;
        Ok(made.token)
    }

    async fn put_customer(&self, handle: &str, name: &str) -> anyhow::Result<(Customer, bool)> {
        Ok(self.tenancy.put_customer(handle, name).await?)
    }

    async fn customers(&self) -> anyhow::Result<Vec<Customer>> {
        Ok(self.tenancy.customers().await?)
    }

    async fn remove_customer(&self, handle: &str) -> anyhow::Result<()> {
        let c = self.tenancy.customer_by_handle(handle).await?;
        Ok(self.tenancy.remove_customer(c.id).await?)
    }

    async fn users(&self) -> anyhow::Result<Vec<User>> {
        Ok(self.tenancy.users().await?)
    }

    async fn put_user(&self, email: &str, memberships: &[Membership]) -> anyhow::Result<User> {
        let (user, _) = self
            .tenancy
            .put_member(&Manager::Admin, email, memberships)
            .await?;
        Ok(user)
    }

    async fn remove_user(&self, email: &str) -> anyhow::Result<()> {
        Ok(self.tenancy.remove_member(&Manager::Admin, email).await?)
    }

    async fn password_link(&self, email: &str) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let link = self
            .tenancy
            .password_link(&Manager::Admin, email, &self.base, now)
            .await?;
        Ok(link.url)
    }

    async fn archive(&self) -> anyhow::Result<u64> {
        Ok(archive_locally(&self.tenancy, self.rollup_min_events).await? as u64)
    }

    async fn export(
        &self,
        site: &str,
        period: Period,
        out: &std::path::Path,
    ) -> anyhow::Result<u64> {
        let site = self
            .tenancy
            .site_by_domain(site)
            .await?
            .ok_or_else(|| anyhow!("no site {site}"))?;
        let store = self.tenancy.store().clone();
        let file = std::fs::File::create_new(out)
            .with_context(|| format!("creating {}", out.display()))?;
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events, {eta} left")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let rt = tokio::runtime::Handle::current();
        let path = out.to_path_buf();
        let written = tokio::task::spawn_blocking(move || {
            let mut w = std::io::BufWriter::new(file);
            let manifest =
                crate::stats::export::write_export(&rt, &store, &site, period, &mut w, &|d, t| {
                    bar.set_length(t);
                    bar.set_position(d);
                });
            bar.finish_and_clear();
            use std::io::Write as _;
            manifest.map_err(anyhow::Error::from).and_then(|m| {
                w.flush()?;
                Ok(m)
            })
        })
        .await?;
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let event = Event::new(Actor::Admin, "statistics_exported")
            .detail(format!("zip (command line), {}", period.describe(false)));
        self.tenancy
            .audit(event, chrono::Utc::now().timestamp())
            .await?;
        Ok(std::fs::metadata(out)?.len())
    }

    async fn restore(&self, site: &str, zip: &std::path::Path) -> anyhow::Result<Restored> {
        let site = self
            .tenancy
            .site_by_domain(site)
            .await?
            .ok_or_else(|| anyhow!("no site {site}"))?;
        let label = zip.display().to_string();
        let file = std::fs::File::open(zip).with_context(|| format!("opening {label}"))?;
        let site_id = site.id.0;
        let parsed = tokio::task::spawn_blocking(move || {
            crate::stats::restore::from_zip(&label, std::io::BufReader::new(file), site_id)
        })
        .await??
        .ok_or_else(|| anyhow!("{} is not a spurlos export", zip.display()))?;
        let store = self.tenancy.store().clone();
        let archive = local_archive(&self.tenancy, self.rollup_min_events).await?;
        let eraser = Eraser::offline(store.clone(), std::sync::Arc::new(archive));
        let restored = crate::stats::restore::restore(&eraser, &store, &site, parsed).await?;
        let event = Event::new(Actor::Admin, "statistics_imported")
            .site(&site.domain, site.customer_id)
            .detail(format!(
                "spurlos export (command line): {} events, {} visits",
                restored.events, restored.visits
            ));
        self.tenancy
            .audit(event, chrono::Utc::now().timestamp())
            .await?;
        Ok(restored)
    }

    async fn audit_log(&self, customer: Option<&str>) -> anyhow::Result<Vec<Entry>> {
        let id = match customer {
            Some(h) => Some(self.tenancy.customer_by_handle(h).await?.id),
            None => None,
        };
        Ok(self.tenancy.audit_log(id).await?)
    }

    async fn erase_statistics(&self, site: &str, period: Period) -> anyhow::Result<Erased> {
        let site = self
            .tenancy
            .site_by_domain(site)
            .await?
            .ok_or_else(|| anyhow!("no site {site}"))?;
        let store = self.tenancy.store().clone();
        // Accepted hits a stopped server has not stored yet would come back at its start.
        let mark = store.journal_mark().await?;
        let journal_dir = self.data_dir.join(crate::ingest::journal::JOURNAL_DIR);
        let (journal, unstored) = crate::ingest::journal::Journal::open(&journal_dir, mark)?;
        if !unstored.is_empty() {
            bail!(
                "{} accepted hits in {} are not stored yet: start the server (it stores them) \
                 and delete through it",
                unstored.len(),
                journal_dir.display()
            );
        }
        let archive = local_archive(&self.tenancy, self.rollup_min_events).await?;
        let erased = Eraser::offline(store, std::sync::Arc::new(archive))
            .erase(&site, period)
            .await?;
        // Every journal segment is stored: rolling over leaves none of them.
        journal.roll().await?;
        let event = Event::new(Actor::Admin, "statistics_deleted")
            .site(&site.domain, site.customer_id)
            .detail(format!(
                "{} (command line): {} events, {} visits, {} archived days, {} imported days",
                period.describe(false),
                erased.events,
                erased.visits,
                erased.archived_days,
                erased.imported_days
            ));
        self.tenancy
            .audit(event, chrono::Utc::now().timestamp())
            .await?;
        Ok(erased)
    }

    async fn log_start(&self, source: &str) -> anyhow::Result<String> {
        Ok(self.logs().await?.start(source)?)
    }

    async fn log_batch(
        &self,
        run: String,
        seq: u64,
        batch: LogBatch,
    ) -> anyhow::Result<BatchResult> {
        Ok(self.logs().await?.batch(&run, Some(seq), batch).await?)
    }

    async fn log_finish(&self, run: &str) -> anyhow::Result<()> {
        self.logs().await?.finish(run);
        Ok(())
    }

    async fn after_import(&self) -> anyhow::Result<String> {
        let days = self.archive().await?;
        Ok(format!("archived {days} days"))
    }

    async fn import_statistics(
        &self,
        site: &str,
        request: ImportRequest,
    ) -> anyhow::Result<(usize, usize)> {
        let site = self
            .tenancy
            .site_by_domain(site)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no site {site}"))?;
        let (source, days, rows) = request.checked()?;
        let counts = (days.len(), rows.len());
        self.tenancy
            .store()
            .imported_put(site.id.0, source, days, rows)
            .await?;
        Ok(counts)
    }

    async fn traffic(&self, q: &TrafficQuery) -> anyhow::Result<TrafficReport> {
        let sites = self.tenancy.sites().await?;
        let customers = match q.customer {
            Some(_) => self.tenancy.customers().await?,
            None => Vec::new(),
        };
        let picked = q.pick(sites.iter().collect(), &customers)?;
        let (from, to) = q.range(chrono::Utc::now().date_naive());
        Ok(report(self.tenancy.store().as_ref(), &picked, from, to).await?)
    }

    async fn backup(&self, out: &std::path::Path) -> anyhow::Result<u64> {
        self.tenancy.store().backup_to(out.to_path_buf()).await?;
        Ok(std::fs::metadata(out)?.len())
    }
}

/// Runs an admin command where `settings` say: on the running server, else on the data
/// directory.
pub async fn run_admin(command: Command, settings: Settings) -> anyhow::Result<()> {
    let backend = Backend::connect(&settings).await?;
    if let Command::Logs(super::logs::LogsCommand::Follow(args)) = command {
        let dir = &settings.config.data_dir;
        return match backend {
            Backend::Remote(remote) => super::logs::follow(&remote, args, dir).await,
            Backend::Local(local) => super::logs::follow(local.as_ref(), args, dir).await,
        };
    }
    match backend {
        Backend::Remote(remote) => run(&remote, command).await,
        Backend::Local(local) => run(local.as_ref(), command).await,
    }
}

async fn run(admin: &impl Admin, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve | Command::MigrateStore | Command::Restore { .. } => {
            bail!("serve, migrate-store and restore are not admin commands")
        }
        Command::Backup { out } => {
            if out.exists() {
                bail!("{} exists already; name a new file", out.display());
            }
            let bytes = admin.backup(&out).await?;
            println!("wrote {} ({bytes} bytes)", out.display());
        }
        Command::Site(SiteCommand::Add(a)) => {
            let spec = SiteSpec {
                domain: a.domain,
                aliases: a.aliases,
                timezone: Some(a.timezone),
                ip_mask_bytes: Some(a.ip_mask_bytes),
                respect_dnt: Some(!a.ignore_dnt),
                excluded_ranges: a.excluded_ranges,
                customer: a.customer,
                retention_days: a.retention.retention_days,
                archive_months: a.retention.archive_months,
                cnil: a.retention.cnil,
            };
            let site = admin.add_site(spec).await?;
            println!("added site {} (id {})", site.domain, site.id);
        }
        Command::Site(SiteCommand::Set { domain, retention }) => {
            let settings = SiteSettings {
                retention_days: retention.retention_days,
                archive_months: retention.archive_months,
                cnil: retention.cnil,
                ..SiteSettings::default()
            };
            let site = admin.update_site(&domain, settings).await?;
            let archives = match site.archive_months {
                0 => "as long as the site exists".to_string(),
                m => format!("{m} months"),
            };
            println!(
                "{}: raw events kept {} days, daily sums {archives}{}",
                site.domain,
                site.retention_days,
                if site.cnil { ", CNIL mode" } else { "" }
            );
        }
        Command::Site(SiteCommand::List { json }) => {
            let sites = admin.sites().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sites)?);
            } else {
                println!("{:<6} {:<32} {:<20} ALIASES", "ID", "DOMAIN", "TIMEZONE");
                for s in sites {
                    println!(
                        "{:<6} {:<32} {:<20} {}",
                        s.id,
                        s.domain,
                        s.timezone,
                        s.aliases.join(",")
                    );
                }
            }
        }
        Command::Site(SiteCommand::Remove { domain }) => {
            admin.remove_site(&domain).await?;
            println!("removed site {domain}");
        }
        Command::Token(TokenCommand::Create {
            site,
            customer,
            manage,
        }) => {
            let access = if manage {
                TokenAccess::Manage
            } else {
                TokenAccess::Read
            };
            let request = TokenRequest {
                site,
                customer,
                access,
            };
            println!("{}", admin.create_token(request).await?);
        }
        Command::Customer(CustomerCommand::Add { handle, name }) => {
            let name = name.unwrap_or_default();
            let (customer, created) = admin.put_customer(&handle, &name).await?;
            let verb = if created { "added" } else { "updated" };
            println!("{verb} customer {} (id {})", customer.handle, customer.id);
        }
        Command::Customer(CustomerCommand::List { json }) => {
            let customers = admin.customers().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&customers)?);
            } else {
                println!("{:<6} {:<32} NAME", "ID", "HANDLE");
                for c in customers {
                    println!("{:<6} {:<32} {}", c.id, c.handle, c.name);
                }
            }
        }
        Command::Customer(CustomerCommand::Remove { handle }) => {
            admin.remove_customer(&handle).await?;
            println!("removed customer {handle}");
        }
        Command::User(cmd) => user_command(cmd, admin).await?,
        Command::Archive => {
            let days = admin.archive().await?;
            println!("archived {days} days");
        }
        Command::Logs(super::logs::LogsCommand::Import(args)) => {
            super::logs::import(admin, args).await?;
        }
        Command::Logs(super::logs::LogsCommand::Split(args)) => {
            super::logs::split(admin, args).await?;
        }
        Command::Logs(super::logs::LogsCommand::Traffic(args)) => {
            super::logs::traffic(admin, args).await?;
        }
        Command::Logs(super::logs::LogsCommand::ImportAwstats(args)) => {
            super::logs::import_awstats(admin, args).await?;
        }
        Command::Logs(super::logs::LogsCommand::Follow(_)) => {
            bail!("logs follow needs the data directory's path")
        }
        Command::Export {
            site,
            customer,
            from,
            to,
            out,
        } => {
            let period = Period::parse(from.as_deref(), to.as_deref())?;
            let sites: Vec<(String, PathBuf)> = match (site, customer) {
                (Some(domain), _) => vec![(domain, out)],
                (None, Some(handle)) => {
                    let customer = admin
                        .customers()
                        .await?
                        .into_iter()
                        .find(|c| c.handle == handle)
                        .ok_or_else(|| anyhow!("no customer {handle}"))?;
                    std::fs::create_dir_all(&out)
                        .with_context(|| format!("creating {}", out.display()))?;
                    admin
                        .sites()
                        .await?
                        .into_iter()
                        .filter(|s| s.customer_id == Some(customer.id))
                        .map(|s| {
                            let file = out.join(format!("{}.zip", s.domain));
                            (s.domain, file)
                        })
                        .collect()
                }
                (None, None) => bail!("name --site or --customer"),
            };
            for (domain, file) in sites {
                if file.exists() {
                    bail!("{} exists already; name a new file", file.display());
                }
                let bytes = admin.export(&domain, period, &file).await?;
                println!("exported {domain} to {} ({bytes} bytes)", file.display());
            }
        }
        Command::Import { site, files } => {
            let mut collected = crate::stats::plausible_csv::Collected::default();
            let mut read = 0usize;
            for path in &files {
                if is_spurlos_export(path) {
                    let r = admin.restore(&site, path).await?;
                    println!(
                        "imported {} into {site}: {} events, {} visits (the export's days replaced)",
                        path.display(),
                        r.events,
                        r.visits
                    );
                    continue;
                }
                read += read_import_file(&mut collected, path)?;
            }
            if read == 0 && files.iter().all(|p| is_spurlos_export(p)) {
                return Ok(());
            }
            if read == 0 {
                bail!("no imported_TABLE_YYYYMMDD_YYYYMMDD.csv file among the files given");
            }
            let requests = collected.requests(
                crate::stats::imported::MAX_DAYS,
                crate::stats::imported::MAX_ROWS,
            );
            let (mut days, mut rows) = (0, 0);
            for r in requests {
                let (d, n) = admin.import_statistics(&site, r).await?;
                days += d;
                rows += n;
            }
            println!("imported {read} files into {site}: {days} days, {rows} rows (Plausible's day sums)");
        }
        Command::Audit { customer, json } => {
            let entries = admin.audit_log(customer.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                println!(
                    "{:<20} {:<32} {:<24} {:<24} {:<18} DETAILS",
                    "WHEN (UTC)", "WHO", "WHAT", "SITE", "NETWORK"
                );
                for e in entries {
                    let when = chrono::DateTime::from_timestamp(e.ts, 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_default();
                    println!(
                        "{:<20} {:<32} {:<24} {:<24} {:<18} {}",
                        when,
                        e.event.actor.to_string(),
                        e.event.action,
                        e.event.site.unwrap_or_default(),
                        e.event.network,
                        e.event.detail
                    );
                }
            }
        }
        Command::Stats(StatsCommand::Delete {
            site,
            from,
            to,
            yes,
            json,
        }) => {
            let period = Period::parse(from.as_deref(), to.as_deref())?;
            let what = format!("{} of {site}", period.describe(false));
            if !yes {
                bail!("this deletes {what} for good (events, visits, day archives, imported days); add --yes to do it");
            }
            let erased = admin.erase_statistics(&site, period).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&erased)?);
            } else {
                println!(
                    "deleted {what}: {} events, {} visits, {} archived days, {} imported days",
                    erased.events, erased.visits, erased.archived_days, erased.imported_days
                );
            }
        }
    }
    Ok(())
}

/// Whether a file is a zip written by `spurlos export` (it holds `events.csv`).
fn is_spurlos_export(path: &std::path::Path) -> bool {
    std::fs::File::open(path)
        .ok()
        .and_then(|f| zip::ZipArchive::new(f).ok())
        .is_some_and(|z| z.index_for_name("events.csv").is_some())
}

/// Reads one file given to `import` (a zip or a CSV file) into `into`; answers how many CSV
/// files it read.
fn read_import_file(
    into: &mut crate::stats::plausible_csv::Collected,
    path: &std::path::Path,
) -> anyhow::Result<usize> {
    use std::io::Read;
    let limit = crate::stats::plausible_csv::MAX_FILE_BYTES;
    let name = path.display().to_string();
    if name.ends_with(".zip") {
        let file = std::fs::File::open(path).with_context(|| format!("opening {name}"))?;
        let mut zip =
            zip::ZipArchive::new(file).with_context(|| format!("{name} is no zip file"))?;
        let mut read = 0;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).with_context(|| format!("reading {name}"))?;
            let inner = entry.name().map(|n| n.to_string()).unwrap_or_default();
            if crate::stats::plausible_csv::parse_name(&inner).is_none() {
                continue;
            }
            if entry.size() > limit {
                bail!("{name}: {inner} is larger than {limit} bytes");
            }
            let mut text = String::new();
            entry
                .by_ref()
                .take(limit)
                .read_to_string(&mut text)
                .with_context(|| format!("{name}: {inner} is not UTF-8 text"))?;
            into.add_file(&format!("{name}: {inner}"), &inner, &text)
                .map_err(|e| anyhow!("{e}"))?;
            read += 1;
        }
        return Ok(read);
    }
    let meta = std::fs::metadata(path).with_context(|| format!("opening {name}"))?;
    if meta.len() > limit {
        bail!("{name} is larger than {limit} bytes");
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("{name} is not UTF-8 text"))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    into.add_file(&name, &file_name, &text)
        .map_err(|e| anyhow!("{e}"))?;
    Ok(1)
}

/// The day archives of the data directory.
async fn local_archive(
    tenancy: &Tenancy,
    rollup_min_events: u64,
) -> anyhow::Result<crate::stats::archive::Archive> {
    let store: std::sync::Arc<dyn Store> = tenancy.store().clone();
    let sites = crate::tenancy::sites::SiteRegistry::default();
    sites.replace(tenancy.sites().await?);
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    Ok(crate::stats::archive::Archive::load(store, sites, clock)
        .await?
        .with_rollup_min_events(rollup_min_events))
}

/// Archives the data directory's finished days with a progress bar.
async fn archive_locally(tenancy: &Tenancy, rollup_min_events: u64) -> anyhow::Result<usize> {
    let archive = local_archive(tenancy, rollup_min_events).await?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} days, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let made = archive
        .run_with_progress(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    Ok(made)
}

async fn user_command(cmd: UserCommand, admin: &impl Admin) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            email,
            customer,
            role,
        } => {
            let email = crate::tenancy::users::normalise_email(&email)?;
            let handle = crate::tenancy::customers::normalise_handle(&customer)?;
            let mut memberships: Vec<Membership> = admin
                .users()
                .await?
                .into_iter()
                .find(|u| u.email == email)
                .map(|u| u.memberships)
                .unwrap_or_default();
            memberships.retain(|m| m.customer != handle);
            memberships.push(Membership {
                customer: handle,
                role: role.into(),
            });
            let user = admin.put_user(&email, &memberships).await?;
            let roles: Vec<String> = user
                .memberships
                .iter()
                .map(|m| format!("{} ({})", m.customer, m.role.as_str()))
                .collect();
            println!("user {}: {}", user.email, roles.join(", "));
        }
        UserCommand::List { json } => {
            let users = admin.users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                println!("{:<6} {:<40} {:<9} ROLES", "ID", "EMAIL", "PASSWORD");
                for u in users {
                    let roles: Vec<String> = u
                        .memberships
                        .iter()
                        .map(|m| format!("{}:{}", m.customer, m.role.as_str()))
                        .collect();
                    let pw = if u.has_password { "set" } else { "not set" };
                    println!("{:<6} {:<40} {:<9} {}", u.id, u.email, pw, roles.join(","));
                }
            }
        }
        UserCommand::Remove { email } => {
            admin.remove_user(&email).await?;
            println!("removed user {email}");
        }
        UserCommand::PasswordLink { email } => {
            let url = admin.password_link(&email).await?;
            println!("{url}");
        }
    }
    Ok(())
}
