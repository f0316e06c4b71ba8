//! The command line: `serve`, and the admin commands a hosting panel scripts (`customer ...`,
//! `site ...`, `token ...`, `archive`). Admin commands go through the running server's admin API when one answers
//! at the configured address, and open the data directory directly otherwise.

use crate::config::{Config, Settings};
use crate::store::Store;
use crate::tenancy::customers::Customer;
use crate::tenancy::sites::{Site, SiteSpec};
use crate::tenancy::tokens::TokenRequest;
use crate::tenancy::users::{Membership, Role, User};
use crate::tenancy::{Manager, Tenancy, TokenAccess};
use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

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
  SPURLOS_WORKERS            HTTP worker threads (default: one per core)
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
    /// Archive every finished day now (the server also does so every five minutes).
    ///
    /// Day archives hold each day's sums per dimension value, so dashboards over weeks and
    /// months do not scan every event. Useful after importing history or upgrading.
    Archive,
    /// Copy the embedded store of the data directory into ClickHouse.
    #[command(long_about = MIGRATE_HELP)]
    MigrateStore,
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
}

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

/// Where admin commands are carried out.
enum Backend {
    Remote { base: String, token: String },
    Local(Tenancy),
}

impl Backend {
    async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let base = format!("http://{}", connect_addr(settings));
        let agent = agent();
        let health = format!("{base}/api/health");
        if tokio::task::block_in_place(|| agent.get(&health).call().is_ok()) {
            let token = crate::startup::admin_token(settings)?;
            return Ok(Backend::Remote { base, token });
        }
        let store = crate::store::open(&settings.config)
            .await
            .with_context(|| {
                format!(
                    "no server answers at {base}, and the data directory {} cannot be opened \
                 (is a server with another SPURLOS_LISTEN using it?)",
                    settings.config.data_dir.display()
                )
            })?;
        Ok(Backend::Local(Tenancy::new(store)))
    }
}

fn connect_addr(settings: &Settings) -> String {
    let addr = settings.listen;
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn remote_error(mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Error {
    let status = resp.status();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(String::from))
        .unwrap_or(body);
    anyhow!("the server answered {status}: {message}")
}

/// Calls the running server's admin API (blocking, off the async workers).
fn remote_json(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    tokio::task::block_in_place(|| remote_call(base, token, method, path, body))
}

fn remote_call(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{base}{path}");
    let auth = format!("Bearer {token}");
    let agent = agent();
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
        (_, Some(b)) => agent.post(&url).header("Authorization", &auth).send_json(b),
        (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .with_context(|| format!("calling {url}"))?;
    if !resp.status().is_success() {
        return Err(remote_error(resp));
    }
    let mut resp = resp;
    let text = resp.body_mut().read_to_string()?;
    if text.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    Ok(serde_json::from_str(&text)?)
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

/// Runs an admin command.
pub async fn run_admin(command: Command, settings: Settings) -> anyhow::Result<()> {
    let backend = Backend::connect(&settings).await?;
    match command {
        Command::Serve | Command::MigrateStore => {
            bail!("serve and migrate-store are not admin commands")
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
            };
            let site: Site = match &backend {
                Backend::Remote { base, token } => {
                    let v = remote_json(
                        base,
                        token,
                        "POST",
                        "/api/admin/sites",
                        Some(serde_json::to_value(&spec)?),
                    )?;
                    serde_json::from_value(v)?
                }
                Backend::Local(tenancy) => tenancy.add_site(spec).await?,
            };
            println!("added site {} (id {})", site.domain, site.id);
        }
        Command::Site(SiteCommand::List { json }) => {
            let sites: Vec<Site> = match &backend {
                Backend::Remote { base, token } => serde_json::from_value(remote_json(
                    base,
                    token,
                    "GET",
                    "/api/admin/sites",
                    None,
                )?)?,
                Backend::Local(tenancy) => tenancy.sites().await?,
            };
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
            match &backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/sites/{}", url_segment(&domain));
                    remote_json(base, token, "DELETE", &path, None)?;
                }
                Backend::Local(tenancy) => {
                    let site = tenancy
                        .site_by_domain(&domain)
                        .await?
                        .ok_or_else(|| anyhow!("no site {domain}"))?;
                    tenancy.remove_site(site.id).await?;
                }
            }
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
            let token = match &backend {
                Backend::Remote { base, token } => {
                    let v = remote_json(
                        base,
                        token,
                        "POST",
                        "/api/admin/tokens",
                        Some(
                            serde_json::json!({"site": site, "customer": customer, "access": access}),
                        ),
                    )?;
                    v["token"].as_str().unwrap_or_default().to_string()
                }
                Backend::Local(tenancy) => {
                    let request = TokenRequest {
                        site,
                        customer,
                        access,
                    };
                    tenancy.create_token(&Manager::Admin, request).await?.token
                }
            };
            println!("{token}");
        }
        Command::Customer(CustomerCommand::Add { handle, name }) => {
            let name = name.unwrap_or_default();
            let (customer, created): (Customer, bool) = match &backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/customers/{}", url_segment(&handle));
                    let v = tokio::task::block_in_place(|| {
                        remote_put(base, token, &path, serde_json::json!({"name": name}))
                    })?;
                    (serde_json::from_value(v.0)?, v.1)
                }
                Backend::Local(tenancy) => tenancy.put_customer(&handle, &name).await?,
            };
            let verb = if created { "added" } else { "updated" };
            println!("{verb} customer {} (id {})", customer.handle, customer.id);
        }
        Command::Customer(CustomerCommand::List { json }) => {
            let customers: Vec<Customer> = match &backend {
                Backend::Remote { base, token } => serde_json::from_value(remote_json(
                    base,
                    token,
                    "GET",
                    "/api/admin/customers",
                    None,
                )?)?,
                Backend::Local(tenancy) => tenancy.customers().await?,
            };
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
            match &backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/customers/{}", url_segment(&handle));
                    remote_json(base, token, "DELETE", &path, None)?;
                }
                Backend::Local(tenancy) => {
                    let c = tenancy.customer_by_handle(&handle).await?;
                    tenancy.remove_customer(c.id).await?;
                }
            }
            println!("removed customer {handle}");
        }
        Command::User(cmd) => user_command(cmd, &backend, &settings).await?,
        Command::Archive => {
            let days = match &backend {
                Backend::Remote { base, token } => {
                    println!("the server at {base} is archiving (this may take a while)");
                    let v = tokio::task::block_in_place(|| {
                        remote_call_with(
                            base,
                            token,
                            "/api/admin/archive",
                            Duration::from_secs(6 * 3600),
                        )
                    })?;
                    v["archived_days"].as_u64().unwrap_or(0)
                }
                Backend::Local(tenancy) => archive_locally(tenancy).await? as u64,
            };
            println!("archived {days} days");
        }
    }
    Ok(())
}

/// Archives the data directory's finished days with a progress bar.
async fn archive_locally(tenancy: &Tenancy) -> anyhow::Result<usize> {
    let store: std::sync::Arc<dyn Store> = tenancy.store().clone();
    let sites = crate::tenancy::sites::SiteRegistry::default();
    sites.replace(tenancy.sites().await?);
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    let archive = crate::stats::archive::Archive::load(store, sites, clock).await?;
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

/// A POST without a body to the admin API, waiting up to `timeout`.
fn remote_call_with(
    base: &str,
    token: &str,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{base}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .send_empty()
        .with_context(|| format!("calling {url}"))?;
    if !resp.status().is_success() {
        return Err(remote_error(resp));
    }
    Ok(serde_json::from_str(&resp.body_mut().read_to_string()?)?)
}

async fn all_users(backend: &Backend) -> anyhow::Result<Vec<User>> {
    Ok(match backend {
        Backend::Remote { base, token } => {
            serde_json::from_value(remote_json(base, token, "GET", "/api/admin/users", None)?)?
        }
        Backend::Local(tenancy) => tenancy.users().await?,
    })
}

async fn user_command(
    cmd: UserCommand,
    backend: &Backend,
    settings: &Settings,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            email,
            customer,
            role,
        } => {
            let email = crate::tenancy::users::normalise_email(&email)?;
            let handle = crate::tenancy::customers::normalise_handle(&customer)?;
            let mut memberships: Vec<Membership> = all_users(backend)
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
            let user: User = match backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/users/{}", url_segment(&email));
                    let body = serde_json::json!({"memberships": memberships});
                    let v = tokio::task::block_in_place(|| remote_put(base, token, &path, body))?;
                    serde_json::from_value(v.0)?
                }
                Backend::Local(tenancy) => {
                    tenancy
                        .put_member(&Manager::Admin, &email, &memberships)
                        .await?
                        .0
                }
            };
            let roles: Vec<String> = user
                .memberships
                .iter()
                .map(|m| format!("{} ({})", m.customer, m.role.as_str()))
                .collect();
            println!("user {}: {}", user.email, roles.join(", "));
        }
        UserCommand::List { json } => {
            let users = all_users(backend).await?;
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
            match backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/users/{}", url_segment(&email));
                    remote_json(base, token, "DELETE", &path, None)?;
                }
                Backend::Local(tenancy) => tenancy.remove_member(&Manager::Admin, &email).await?,
            }
            println!("removed user {email}");
        }
        UserCommand::PasswordLink { email } => {
            let url = match backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/users/{}/password-link", url_segment(&email));
                    let v = remote_json(base, token, "POST", &path, None)?;
                    v["url"].as_str().unwrap_or_default().to_string()
                }
                Backend::Local(tenancy) => {
                    let base = match &settings.config.public_url {
                        Some(u) => u.clone(),
                        None => format!("http://{}", connect_addr(settings)),
                    };
                    let now = chrono::Utc::now().timestamp();
                    tenancy
                        .password_link(&Manager::Admin, &email, &base, now)
                        .await?
                        .url
                }
            };
            println!("{url}");
        }
    }
    Ok(())
}

/// A PUT to the admin API; the answer and whether it was 201 Created.
fn remote_put(
    base: &str,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<(serde_json::Value, bool)> {
    let url = format!("{base}{path}");
    let mut resp = agent()
        .put(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .with_context(|| format!("calling {url}"))?;
    if !resp.status().is_success() {
        return Err(remote_error(resp));
    }
    let created = resp.status() == 201;
    Ok((
        serde_json::from_str(&resp.body_mut().read_to_string()?)?,
        created,
    ))
}

fn url_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Loads the settings for a command line.
pub fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    Ok(Config::load(cli.config.as_deref())?)
}
