//! The audit log: who (the admin, a user, a token) did what to a customer's statistics, sites,
//! users, tokens and links, and signed in or failed to, when and from which network (the
//! address truncated like a visitor's). It holds no visitor data; entries older than
//! [`KEEP_DAYS`] are deleted. Stored as documents, so both stores keep it alike.

use super::docs::AUDIT;
use super::{put, remove, CustomerId, Tenancy};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// Days an entry is kept.
pub const KEEP_DAYS: i64 = 180;

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The provider: the admin token, or the command line on the data directory.
    Admin,
    /// A signed-in user (or one who tried to sign in), by e-mail address.
    User { email: String },
    /// A Stats API token, by the first 12 characters of its hash (as listed on the team page).
    Token { id: String },
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Admin => f.write_str("admin"),
            Actor::User { email } => f.write_str(email),
            Actor::Token { id } => write!(f, "token {id}"),
        }
    }
}

/// What happened, without time and number (given when it is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub actor: Actor,
    /// A fixed name, e.g. `sign_in`, `statistics_deleted` (see README, Audit log).
    pub action: String,
    /// The customers it concerns (whose owners see it).
    #[serde(default)]
    pub customers: Vec<CustomerId>,
    /// The site it concerns, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Details in words (never a secret, never visitor data).
    #[serde(default)]
    pub detail: String,
    /// The network it came from (truncated address), empty for the command line.
    #[serde(default)]
    pub network: String,
}

impl Event {
    /// An event of `action` by `actor`.
    pub fn new(actor: Actor, action: &str) -> Self {
        Self {
            actor,
            action: action.to_string(),
            customers: Vec::new(),
            site: None,
            detail: String::new(),
            network: String::new(),
        }
    }

    /// Concerning these customers.
    pub fn customers(mut self, customers: impl IntoIterator<Item = CustomerId>) -> Self {
        self.customers.extend(customers);
        self.customers.sort();
        self.customers.dedup();
        self
    }

    /// Concerning a site (of `customer`).
    pub fn site(mut self, domain: &str, customer: Option<CustomerId>) -> Self {
        self.site = Some(domain.to_string());
        self.customers(customer)
    }

    /// With details (at most 500 characters are kept).
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into().chars().take(500).collect();
        self
    }

    /// From a network.
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network = network.into();
        self
    }
}

/// One recorded entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: u32,
    /// Seconds since the Unix epoch, UTC.
    pub ts: i64,
    #[serde(flatten)]
    pub event: Event,
}

impl Tenancy {
    /// Records an event at `now`.
    pub async fn audit(&self, event: Event, now: i64) -> Result<(), StoreError> {
        let id = self.store.next_id(AUDIT).await?;
        let entry = Entry { id, ts: now, event };
        self.store
            .apply(vec![put(AUDIT, format!("{id:010}"), &entry)?])
            .await
    }

    /// The entries, newest first: all of them (`None`), or a customer's.
    pub async fn audit_log(&self, customer: Option<CustomerId>) -> Result<Vec<Entry>, StoreError> {
        let mut entries: Vec<Entry> = self
            .list::<Entry>(AUDIT)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| customer.is_none_or(|c| e.event.customers.contains(&c)))
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse((e.ts, e.id)));
        Ok(entries)
    }

    /// The customers a user (by e-mail address) belongs to, for events about the user.
    pub async fn customers_of(&self, email: &str) -> Result<Vec<CustomerId>, StoreError> {
        let Ok(email) = super::users::normalise_email(email) else {
            return Ok(Vec::new());
        };
        let customers = self.customers().await?;
        Ok(self
            .users()
            .await?
            .into_iter()
            .filter(|u| u.email == email)
            .flat_map(|u| u.memberships)
            .filter_map(|m| {
                customers
                    .iter()
                    .find(|c| c.handle == m.customer)
                    .map(|c| c.id)
            })
            .collect())
    }

    /// Deletes the entries older than [`KEEP_DAYS`]; answers how many.
    pub async fn expire_audit(&self, now: i64) -> Result<usize, StoreError> {
        let cutoff = now - KEEP_DAYS * 86_400;
        let old: Vec<_> = self
            .list::<Entry>(AUDIT)
            .await?
            .into_iter()
            .filter(|(_, e)| e.ts < cutoff)
            .map(|(key, _)| remove(AUDIT, key))
            .collect();
        let n = old.len();
        if n > 0 {
            self.store.apply(old).await?;
        }
        Ok(n)
    }
}
