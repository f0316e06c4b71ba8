//! Application assembly: opens the store, loads sites and salts, recovers live sessions,
//! starts the batch writer and binds the HTTP server (port 0 in tests); runs until stopped and
//! then drains every accepted event into the store.

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::geo::Geo;
use crate::http::{self, AppState};
use crate::ingest::identify::{SessionTracker, SESSION_TIMEOUT};
use crate::ingest::{queue, Ingest};
use crate::salt::Salts;
use crate::stats::archive::Archive;
use crate::stats::Stats;
use crate::store::Store;
use crate::tenancy::sites::SiteRegistry;
use crate::tenancy::Tenancy;
use actix_web::{dev::Server, dev::ServerHandle, middleware, web, App, HttpServer};
use anyhow::Context;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A built, not yet running spurlos.
pub struct Application {
    port: u16,
    server: Server,
    writer: queue::Writer,
    salt_task: tokio::task::JoinHandle<()>,
    archive_task: tokio::task::JoinHandle<()>,
    retention_task: tokio::task::JoinHandle<()>,
    archive: Arc<Archive>,
    admin_token: String,
}

/// How often the archiver looks for finished days.
const ARCHIVE_EVERY: Duration = Duration::from_secs(300);
/// How often statistics past their retention are deleted.
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 3600);

/// File under the data directory holding the generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// The admin token: configured, or read from (or first written to) the data directory.
pub fn admin_token(settings: &Settings) -> anyhow::Result<String> {
    if let Some(t) = &settings.config.admin_token {
        return Ok(t.clone());
    }
    let dir = &settings.config.data_dir;
    let path = dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let token = crate::tenancy::new_secret();
    write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// Makes the data directory spurlos's alone: created 0700, or made so (with every file in it
/// 0600) when an older version or an operator left it looser. Salts in it would let anyone
/// on the host recompute visitor ids.
pub fn private_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", d.display()))?;
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry.with_context(|| format!("reading {}", d.display()))?;
            let kind = entry
                .file_type()
                .with_context(|| format!("reading {}", d.display()))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let mode = entry
                    .metadata()
                    .with_context(|| format!("reading {}", entry.path().display()))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(
                        entry.path(),
                        std::fs::Permissions::from_mode(mode & 0o700),
                    )
                    .with_context(|| format!("making {} private", entry.path().display()))?;
                }
            }
        }
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

impl Application {
    /// Builds with the system clock.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Arc::new(SystemClock)).await
    }

    /// Builds with the given clock (tests move it by hand).
    pub async fn build_with(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let config = &settings.config;
        private_data_dir(&config.data_dir)?;
        let admin_token = admin_token(&settings)?;
        let store: Arc<dyn Store> =
            crate::store::open(config)
                .await
                .with_context(|| match config.store {
                    crate::config::StoreKind::Embedded => {
                        format!("opening the store in {}", config.data_dir.display())
                    }
                    crate::config::StoreKind::ClickHouse => {
                        format!("opening the ClickHouse store at {}", config.clickhouse.url)
                    }
                })?;
        let geo = Arc::new(Geo::open(config.geoip_db.as_deref())?);
        let sites = SiteRegistry::default();
        let tenancy = Tenancy::with_registry(store.clone(), sites.clone());
        sites.replace(tenancy.sites().await.context("loading sites")?);
        let salts = Arc::new(
            Salts::load(store.clone(), clock.clone())
                .await
                .context("loading salts")?,
        );
        let now = clock.now().timestamp();
        let live = store
            .live_sessions(now - SESSION_TIMEOUT)
            .await
            .context("recovering live sessions")?;
        let archive = Arc::new(
            Archive::load(store.clone(), sites.clone(), clock.clone())
                .await
                .context("loading the day archives")?
                .with_rollup_min_events(config.rollup_min_events),
        );
        let metrics = Arc::new(crate::metrics::Metrics::default());
        // Hits acknowledged before a crash and not yet stored come back from the journal.
        let mark = store
            .journal_mark()
            .await
            .context("reading the journal mark")?;
        let (journal, unstored) = crate::ingest::journal::Journal::open(
            &config.data_dir.join(crate::ingest::journal::JOURNAL_DIR),
            mark,
        )
        .context("opening the ingest journal")?;
        if !unstored.is_empty() {
            tracing::info!(
                events = unstored.len(),
                "storing accepted events the journal kept over a stop"
            );
        }
        let journal = Arc::new(journal);
        let purges = Arc::new(crate::ingest::purge::Purges::default());
        let eraser = Arc::new(crate::stats::erase::Eraser::live(
            store.clone(),
            archive.clone(),
            purges.clone(),
            journal.clone(),
        ));
        let (sender, writer) = queue::start(
            queue::WriterSettings {
                capacity: config.queue_capacity,
                batch_size: config.batch_size,
                flush_interval: Duration::from_millis(config.flush_interval_ms),
            },
            queue::WriterParts {
                store: store.clone(),
                tracker: SessionTracker::with_sessions(live),
                clock: clock.clone(),
                archive: archive.clone(),
                sites: sites.clone(),
                metrics: metrics.clone(),
                journal: Some(journal),
                purges,
            },
        );
        sender
            .replay(unstored)
            .await
            .context("queueing the journal's events")?;
        let archive_for_shutdown = archive.clone();
        let archive_task = {
            let archive = archive.clone();
            tokio::spawn(async move {
                // The first run waits a little so that start-up is not slowed down.
                tokio::time::sleep(Duration::from_secs(10)).await;
                let mut tick = tokio::time::interval(ARCHIVE_EVERY);
                loop {
                    tick.tick().await;
                    if let Err(e) = archive.run_once().await {
                        tracing::error!(error = %e, "archiving days failed");
                    }
                }
            })
        };
        let retention = crate::stats::retention::Policy::of(config);
        let retention_task = {
            let (eraser, sites, clock, tenancy) = (
                eraser.clone(),
                sites.clone(),
                clock.clone(),
                tenancy.clone(),
            );
            tokio::spawn(async move {
                // After the first archive run; then once a day.
                tokio::time::sleep(Duration::from_secs(60)).await;
                let mut tick = tokio::time::interval(RETENTION_EVERY);
                loop {
                    tick.tick().await;
                    let now = clock.now().timestamp();
                    let all = sites.all();
                    let run = crate::stats::retention::enforce(&eraser, &all, retention, now);
                    if let Err(e) = run.await {
                        tracing::error!(error = %e, "deleting statistics past their retention failed");
                    }
                    if let Err(e) = tenancy.expire_audit(now).await {
                        tracing::error!(error = %e, "deleting old audit log entries failed");
                    }
                }
            })
        };
        let salt_task = {
            let salts = salts.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    if let Err(e) = salts.rotate().await {
                        tracing::error!(error = %e, "rotating salts failed");
                    }
                }
            })
        };
        let logs = Arc::new(crate::logs::import::LogImporter::new(
            store.clone(),
            sites.clone(),
            geo.clone(),
            salts.clone(),
            archive.clone(),
        ));
        let state = web::Data::new(AppState {
            logs,
            eraser,
            retention,
            ingest: Ingest {
                sites: sites.clone(),
                geo,
                salts,
                clock: clock.clone(),
                queue: sender,
                metrics: metrics.clone(),
            },
            stats: Stats {
                store: store.clone(),
                archive,
                sites: sites.clone(),
                clock,
                limits: crate::stats::QueryLimits::new(
                    Duration::from_millis(config.query_timeout_ms),
                    config.query_slots(),
                    config.query_max_rows,
                ),
            },
            store,
            tenancy,
            sites,
            trusted_proxies: settings.trusted_proxies.clone(),
            admin_token: admin_token.clone(),
            max_body_bytes: config.max_body_bytes,
            max_bulk_bytes: config.max_bulk_bytes,
            max_bulk_requests: config.max_bulk_requests,
            public_url: config.public_url.clone(),
            login_limiter: http::account::LoginLimiter::default(),
            metrics,
            metrics_token: config.metrics_token.clone(),
            data_dir: config.data_dir.clone(),
            provider_name: config.provider_name.clone(),
            provider_contact: config.provider_contact.clone(),
        });
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(middleware::Compress::default())
                .wrap(middleware::from_fn(http::observe))
                .wrap(
                    middleware::DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "no-referrer"))
                        .add((
                            "Content-Security-Policy",
                            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
                        )),
                )
                .configure(http::configure)
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .workers(workers)
        .shutdown_timeout(30)
        .disable_signals()
        .run();
        Ok(Self {
            port,
            server,
            writer,
            salt_task,
            archive_task,
            retention_task,
            archive: archive_for_shutdown,
            admin_token,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin token in force.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// A handle to stop the server (gracefully with `stop(true)`).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or a handle's stop), then stores everything accepted.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // SIGINT/SIGTERM: archive runs stop after their current day (an archive request
        // would otherwise hold up the graceful stop), then the server stops.
        let signals = {
            let (handle, archive) = (self.server.handle(), self.archive.clone());
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("stopping: archive runs end, then the server");
                archive.stop();
                handle.stop(true).await;
            })
        };
        let result = self.server.await;
        signals.abort();
        self.archive.stop();
        tracing::info!("server stopped; storing queued events");
        self.writer.drain().await;
        self.salt_task.abort();
        self.archive_task.abort();
        self.retention_task.abort();
        result
    }
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT; stop spurlos with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, http::error::ApiError> {
    Err(http::error::ApiError::new(
        crate::http::error::ErrorCode::NotFound,
        "no such endpoint",
    ))
}
