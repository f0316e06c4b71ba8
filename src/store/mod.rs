//! The storage boundary: one small trait for events, sessions, sites, tokens and salts, and the
//! rows that cross it. Each implementation keeps its own SQL under its own module.

pub mod clickhouse;
pub mod embedded;
pub mod sql;

use crate::customers::Customer;
use crate::sites::{Site, SiteSpec};
use crate::stats::model::AggregateQuery;
use crate::users::{Role, User};
use chrono::NaiveDate;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Attributes that belong to a visit; every event of a session carries the session's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitAttrs {
    pub referrer: String,
    pub source: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    pub country_code: String,
    pub region: String,
    pub city: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    pub device: String,
    pub screen: String,
}

/// One stored event (a page view or a custom event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub site_id: u32,
    /// Seconds since the Unix epoch, UTC.
    pub ts: i64,
    pub event_id: u64,
    pub session_id: u64,
    pub visitor_id: u64,
    pub name: String,
    pub interactive: bool,
    pub hostname: String,
    pub pathname: String,
    /// Shared with the session's other events.
    pub attrs: Arc<VisitAttrs>,
    pub props: Vec<(String, String)>,
}

/// One version of a session. Sessions are append-only: a change is written as the old
/// version with `sign = -1` and the new one with `sign = 1`, so sums over `sign` are exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub site_id: u32,
    pub session_id: u64,
    pub visitor_id: u64,
    pub sign: i8,
    /// Number of hits the session had when this version was written.
    pub version: u32,
    pub start_ts: i64,
    pub end_ts: i64,
    pub pageviews: u32,
    pub events: u32,
    /// Interactive events other than page views.
    pub interactive: u32,
    pub entry_page: String,
    pub exit_page: String,
    pub hostname: String,
    pub attrs: Arc<VisitAttrs>,
}

/// What the batch writer stores in one go: all of it or none of it.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub events: Vec<EventRow>,
    pub sessions: Vec<SessionRow>,
}

/// Per-group sums over events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventAgg {
    pub dims: Vec<String>,
    pub visitors: u64,
    pub pageviews: u64,
    pub events: u64,
}

/// Per-group sums over sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionAgg {
    pub dims: Vec<String>,
    pub visits: i64,
    pub pageviews: i64,
    pub bounces: i64,
    pub duration: i64,
}

/// Every sum of one dimension value on one archived day (see `stats::archive`). `dim` is the
/// dimension's API name, or empty for the day's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveRow {
    pub dim: String,
    pub value: String,
    pub visitors: u64,
    pub pageviews: u64,
    pub events: u64,
    pub visits: i64,
    pub visit_pageviews: i64,
    pub bounces: i64,
    pub duration: i64,
}

/// One archived day of a site: local day number (days since 1970-01-01 in the site's time
/// zone) and the time zone it was cut in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedDay {
    pub site_id: u32,
    pub day: i32,
    pub timezone: String,
}

/// A read-only shared link to a site's dashboard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SharedLink {
    pub id: u32,
    pub site_id: u32,
    pub has_password: bool,
    pub created_ts: i64,
}

/// A user as stored: password hash and memberships by customer id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredUser {
    pub id: u32,
    pub email: String,
    pub password_hash: String,
    pub created_ts: i64,
    pub memberships: Vec<(u32, Role)>,
}

/// A shared link as stored: by its secret's hash, with its password's hash (or `""`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredShare {
    pub id: u32,
    pub site_id: u32,
    pub token_hash: String,
    pub password_hash: String,
    pub created_ts: i64,
}

impl StoredShare {
    /// What the dashboard shows of it.
    pub fn link(&self) -> SharedLink {
        SharedLink {
            id: self.id,
            site_id: self.site_id,
            has_password: !self.password_hash.is_empty(),
            created_ts: self.created_ts,
        }
    }
}

/// Everything a store keeps besides events, sessions and archives (moved whole by
/// `spurlos migrate-store`).
#[derive(Debug, Clone, Default)]
pub struct StoredState {
    pub customers: Vec<Customer>,
    pub sites: Vec<Site>,
    pub users: Vec<StoredUser>,
    pub tokens: Vec<StoredToken>,
    pub shares: Vec<StoredShare>,
    pub salts: Vec<DaySalt>,
}

/// What a token may do besides reading the statistics of its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenAccess {
    /// Read statistics only.
    #[default]
    Read,
    /// Also change site settings, users and tokens within the scope (what an owner may do).
    Manage,
}

impl TokenAccess {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAccess::Read => "read",
            TokenAccess::Manage => "manage",
        }
    }
}

/// A stored token (by its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub hash: String,
    pub scope: TokenScope,
    pub access: TokenAccess,
    pub created_ts: i64,
}

/// Who a Stats API token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// Read-only access to one site.
    Site(u32),
    /// Read-only access to every site of one customer.
    Customer(u32),
}

/// A failure below the storage boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {path} cannot be used: {message}")]
    DataDir { path: String, message: String },
    #[error("database error while {context}: {source}")]
    Database {
        context: &'static str,
        source: duckdb::Error,
    },
    #[error("migration {name} failed: {source}")]
    Migration { name: String, source: duckdb::Error },
    #[error("ClickHouse error while {context}: {source}")]
    ClickHouse {
        context: &'static str,
        source: ::clickhouse::error::Error,
    },
    #[error("ClickHouse migration {name} failed: {source}")]
    ClickHouseMigration {
        name: String,
        source: ::clickhouse::error::Error,
    },
    #[error("ClickHouse did not take a batch and the spool under {path} is full ({bytes} bytes)")]
    SpoolFull { path: String, bytes: u64 },
    #[error("spool {path}: {message}")]
    Spool { path: String, message: String },
    #[error("a site with domain {0} exists already")]
    DuplicateDomain(String),
    #[error("{0}")]
    Invalid(#[from] crate::sites::SiteSpecError),
    #[error("{0}")]
    InvalidCustomer(#[from] crate::customers::InvalidHandle),
    #[error("{0}")]
    InvalidEmail(#[from] crate::users::InvalidEmail),
    #[error("salt file: {0}")]
    Salts(String),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Opens the store the configuration names (creating and migrating it when needed).
pub async fn open(config: &crate::config::Config) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match config.store {
        crate::config::StoreKind::Embedded => Arc::new(embedded::Embedded::open(&config.data_dir)?),
        crate::config::StoreKind::ClickHouse => {
            Arc::new(clickhouse::ClickHouse::open(&config.clickhouse, &config.data_dir).await?)
        }
    })
}

/// Stored events per site, kept by each store to choose exact or estimated visitor counts
/// (`EXACT_VISITORS_LIMIT`), the same rule in both.
#[derive(Debug, Default)]
pub(crate) struct EventCounts(std::sync::Mutex<std::collections::HashMap<u32, u64>>);

impl EventCounts {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u32, u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts over from counts read from the store.
    pub fn replace(&self, counts: impl IntoIterator<Item = (u32, u64)>) {
        let mut map = self.map();
        map.clear();
        map.extend(counts);
    }

    /// Counts a stored batch.
    pub fn add(&self, batch: &Batch) {
        let mut map = self.map();
        for e in &batch.events {
            *map.entry(e.site_id).or_default() += 1;
        }
    }

    /// Forgets removed sites.
    pub fn forget(&self, site_ids: &[u32]) {
        let mut map = self.map();
        for id in site_ids {
            map.remove(id);
        }
    }

    /// Whether the visitors of `q` are estimated rather than counted exactly.
    pub fn approximate(&self, q: &AggregateQuery) -> bool {
        let stored = self.map().get(&q.site_id).copied().unwrap_or(0);
        !q.exact && stored > crate::stats::model::EXACT_VISITORS_LIMIT
    }
}

/// Fails when one of `site`'s domains belongs to another of `existing`.
pub(crate) fn check_domains(existing: &[Site], site: &Site) -> Result<(), StoreError> {
    for other in existing.iter().filter(|s| s.id != site.id) {
        if let Some(d) = site
            .domains()
            .into_iter()
            .find(|d| other.domains().contains(d))
        {
            return Err(StoreError::DuplicateDomain(d));
        }
    }
    Ok(())
}

/// Builds a new site with id `id` from a spec, resolving its customer's handle.
pub(crate) fn new_site(
    spec: SiteSpec,
    id: u32,
    customers: &[Customer],
    existing: &[Site],
) -> Result<Site, StoreError> {
    let customer = spec.customer.clone();
    let mut site = spec.into_site(id)?;
    if let Some(handle) = customer {
        let handle = crate::customers::normalise_handle(&handle)?;
        let c = customers
            .iter()
            .find(|c| c.handle == handle)
            .ok_or_else(|| crate::sites::SiteSpecError {
                field: "customer",
                message: format!("there is no customer {handle:?}"),
            })?;
        site.customer_id = Some(c.id);
    }
    check_domains(existing, &site)?;
    Ok(site)
}

/// The display name stored for a customer: the trimmed name, or the handle when empty.
pub(crate) fn customer_name(handle: &str, name: &str) -> String {
    if name.trim().is_empty() {
        handle.to_string()
    } else {
        crate::ingest::enrich::bounded(name.trim(), 200)
    }
}

/// Salt for one UTC day.
pub type DaySalt = (NaiveDate, [u8; 32]);

/// The future a store method returns (boxed, so stores can be chosen at start as `dyn Store`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Everything spurlos keeps.
pub trait Store: Send + Sync + 'static {
    /// Stores a batch atomically (shared, so a retry does not copy it).
    fn write_batch(&self, batch: Arc<Batch>) -> StoreFuture<'_, ()>;
    /// Live versions of the sessions that had a hit at or after `since_ts` (for restarts).
    fn live_sessions(&self, since_ts: i64) -> StoreFuture<'_, Vec<SessionRow>>;
    /// Sums over events, grouped by the query's dimensions.
    fn event_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<EventAgg>>;
    /// Sums over sessions, grouped by the query's dimensions.
    fn session_aggregate(&self, q: &AggregateQuery) -> StoreFuture<'_, Vec<SessionAgg>>;

    /// The most used event property keys of a site in `[from_ts, to_ts)`, with how many events
    /// carry each, most used first.
    fn prop_keys(
        &self,
        site_id: u32,
        from_ts: i64,
        to_ts: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<(String, u64)>>;

    /// Time of the site's first stored event, if any.
    fn first_event_ts(&self, site_id: u32) -> StoreFuture<'_, Option<i64>>;
    /// Every archived day of every site.
    fn archived_days(&self) -> StoreFuture<'_, Vec<ArchivedDay>>;
    /// Replaces the archive of one day atomically.
    fn archive_put(&self, day: ArchivedDay, rows: Vec<ArchiveRow>) -> StoreFuture<'_, ()>;
    /// Archive rows of one dimension (`""`: totals) for the local days `from..=to`, with their day.
    fn archive_get(
        &self,
        site_id: u32,
        from: i32,
        to: i32,
        dim: &str,
    ) -> StoreFuture<'_, Vec<(i32, ArchiveRow)>>;
    /// Forgets the archives of these days.
    fn archive_delete(&self, site_id: u32, days: Vec<i32>) -> StoreFuture<'_, ()>;

    /// All sites.
    fn sites(&self) -> StoreFuture<'_, Vec<Site>>;
    /// Creates a site; the store picks its id.
    fn add_site(&self, spec: SiteSpec) -> StoreFuture<'_, Site>;
    /// Stores changed settings of an existing site (not its main domain or customer); fails
    /// when an alias belongs to another site.
    fn update_site(&self, site: Site) -> StoreFuture<'_, Site>;
    /// Moves a site to a customer (or to none).
    fn set_site_customer(&self, site_id: u32, customer_id: Option<u32>) -> StoreFuture<'_, ()>;
    /// Removes a site with all its events, sessions and tokens.
    fn remove_site(&self, site_id: u32) -> StoreFuture<'_, ()>;

    /// All customers, by handle.
    fn customers(&self) -> StoreFuture<'_, Vec<Customer>>;
    /// Creates the customer `handle` or renames it; true when it was created.
    fn put_customer(&self, handle: &str, name: &str) -> StoreFuture<'_, (Customer, bool)>;
    /// Removes a customer with all its sites (and their data) and tokens.
    fn remove_customer(&self, customer_id: u32) -> StoreFuture<'_, ()>;

    /// All users with their memberships.
    fn users(&self) -> StoreFuture<'_, Vec<User>>;
    /// Creates the user `email` (without a password) or keeps it, and replaces its memberships
    /// (customer id, role); true when it was created.
    fn put_user(&self, email: &str, memberships: Vec<(u32, Role)>)
        -> StoreFuture<'_, (User, bool)>;
    /// Removes a user with its memberships and password links.
    fn remove_user(&self, user_id: u32) -> StoreFuture<'_, ()>;
    /// Saves a one-time set-password link (by its token's hash).
    fn add_password_link(
        &self,
        token_hash: &str,
        user_id: u32,
        expires_ts: i64,
    ) -> StoreFuture<'_, ()>;
    /// Uses a set-password link: when it exists and has not expired at `now`, sets the user's
    /// password hash, deletes the link and returns the user's id.
    fn use_password_link(
        &self,
        token_hash: &str,
        now: i64,
        password_hash: &str,
    ) -> StoreFuture<'_, Option<u32>>;
    /// Whether a set-password link exists and has not expired at `now`.
    fn password_link_valid(&self, token_hash: &str, now: i64) -> StoreFuture<'_, bool>;

    /// A user's id and password hash by e-mail address (for logging in).
    fn user_login(&self, email: &str) -> StoreFuture<'_, Option<(u32, String)>>;
    /// Replaces a user's password hash.
    fn set_password(&self, user_id: u32, password_hash: &str) -> StoreFuture<'_, ()>;
    /// Saves a login session (by its cookie's hash) with its CSRF token.
    fn add_session(
        &self,
        token_hash: &str,
        user_id: u32,
        csrf: &str,
        expires_ts: i64,
    ) -> StoreFuture<'_, ()>;
    /// The user and CSRF token of a session that has not expired at `now`.
    fn session(&self, token_hash: &str, now: i64) -> StoreFuture<'_, Option<(User, String)>>;
    /// Ends a session.
    fn remove_session(&self, token_hash: &str) -> StoreFuture<'_, ()>;

    /// Creates a shared link (by its secret's hash) with an argon2 password hash or `""`.
    fn add_share(
        &self,
        site_id: u32,
        token_hash: &str,
        password_hash: &str,
    ) -> StoreFuture<'_, SharedLink>;
    /// The shared links of a site.
    fn shares(&self, site_id: u32) -> StoreFuture<'_, Vec<SharedLink>>;
    /// A shared link and its password hash, by its secret's hash.
    fn share_by_token(&self, token_hash: &str) -> StoreFuture<'_, Option<(SharedLink, String)>>;
    /// Revokes a shared link of a site.
    fn remove_share(&self, site_id: u32, share_id: u32) -> StoreFuture<'_, ()>;

    /// Saves a token by its hash.
    fn add_token(
        &self,
        token_hash: &str,
        scope: TokenScope,
        access: TokenAccess,
    ) -> StoreFuture<'_, ()>;
    /// The scope and access of a token hash, if it exists.
    fn token_scope(&self, token_hash: &str) -> StoreFuture<'_, Option<(TokenScope, TokenAccess)>>;
    /// Every token.
    fn tokens(&self) -> StoreFuture<'_, Vec<StoredToken>>;
    /// Revokes a token (nothing happens when it does not exist).
    fn remove_token(&self, token_hash: &str) -> StoreFuture<'_, ()>;

    /// The salts kept now.
    fn salts(&self) -> StoreFuture<'_, Vec<DaySalt>>;
    /// Replaces the kept salts; salts not in `salts` are gone afterwards.
    fn replace_salts(&self, salts: &[DaySalt]) -> StoreFuture<'_, ()>;

    /// Writes everything buffered to durable storage.
    fn checkpoint(&self) -> StoreFuture<'_, ()>;
}
