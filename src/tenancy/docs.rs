//! The documents of the tenancy model as the stores keep them (JSON in `MetaStore`, the same
//! in both stores, so `migrate-store` copies them as they are), and the conversion of entities
//! read from an older schema into documents.

use super::access::{StoredShare, StoredToken, TokenAccess, TokenScope};
use super::customers::Customer;
use super::sites::Site;
use super::users::Role;
use super::{CustomerId, SiteId, UserId};
use crate::store::{DocChange, StoreError};
use serde::{Deserialize, Serialize};

pub const SITE: &str = "site";
pub const CUSTOMER: &str = "customer";
pub const USER: &str = "user";
pub const PASSWORD_LINK: &str = "password_link";
pub const LOGIN: &str = "login";
pub const SHARE: &str = "share";
pub const TOKEN: &str = "token";
pub const AUDIT: &str = "audit";

/// Every kind of document the tenancy model keeps.
pub const KINDS: [&str; 8] = [
    CUSTOMER,
    SITE,
    USER,
    TOKEN,
    SHARE,
    PASSWORD_LINK,
    LOGIN,
    AUDIT,
];

/// A user as stored: password hash and memberships by customer id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUser {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub created_ts: i64,
    pub memberships: Vec<(CustomerId, Role)>,
}

/// A one-time set-password link, by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDoc {
    pub user_id: UserId,
    pub expires_ts: i64,
}

/// A login session, by its cookie's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginDoc {
    pub user_id: UserId,
    pub csrf: String,
    pub expires_ts: i64,
}

/// A token, by its hash: exactly one of `site_id` and `customer_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenDoc {
    pub site_id: Option<SiteId>,
    pub customer_id: Option<CustomerId>,
    #[serde(default)]
    pub access: TokenAccess,
    #[serde(default)]
    pub created_ts: i64,
    /// The owner who made it on the team page; it ends when they are no longer an owner of
    /// the customer it reads. Tokens the provider made have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserId>,
}

impl TokenDoc {
    pub fn new(scope: TokenScope, access: TokenAccess, created_ts: i64) -> Self {
        let (site_id, customer_id) = match scope {
            TokenScope::Site(id) => (Some(id), None),
            TokenScope::Customer(id) => (None, Some(id)),
        };
        Self {
            site_id,
            customer_id,
            access,
            created_ts,
            created_by: None,
        }
    }

    pub fn scope(&self) -> Option<TokenScope> {
        match (self.site_id, self.customer_id) {
            (Some(s), _) => Some(TokenScope::Site(s)),
            (None, Some(c)) => Some(TokenScope::Customer(c)),
            (None, None) => None,
        }
    }

    pub fn stored(self, hash: String) -> Option<StoredToken> {
        Some(StoredToken {
            hash,
            scope: self.scope()?,
            access: self.access,
            created_ts: self.created_ts,
            created_by: self.created_by,
        })
    }
}

/// Every tenancy document of a store, by kind (what `migrate-store` copies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub docs: Vec<(&'static str, Vec<(String, String)>)>,
}

impl Snapshot {
    /// How many documents of `kind` it holds.
    pub fn count(&self, kind: &str) -> usize {
        self.docs
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| d.len())
            .sum()
    }

    /// The ids of the sites it holds.
    pub fn site_ids(&self) -> Vec<u32> {
        self.docs
            .iter()
            .filter(|(k, _)| *k == SITE)
            .flat_map(|(_, d)| d.iter().filter_map(|(key, _)| key.parse().ok()))
            .collect()
    }
}

/// Entities read from an older schema (the embedded store's tables before documents).
#[derive(Debug, Clone, Default)]
pub struct Entities {
    pub customers: Vec<Customer>,
    pub sites: Vec<Site>,
    pub users: Vec<StoredUser>,
    pub tokens: Vec<StoredToken>,
    pub shares: Vec<StoredShare>,
    pub links: Vec<(String, LinkDoc)>,
    pub logins: Vec<(String, LoginDoc)>,
}

impl Entities {
    /// Their documents. What points at something that is gone (a membership of a removed
    /// customer, a token of a removed site, a login of a removed user ...) is left out, so a
    /// later entity with a reused id gains nothing.
    pub fn documents(mut self) -> Result<Vec<DocChange>, StoreError> {
        use super::put;
        let customer = |id: CustomerId, cs: &[Customer]| cs.iter().any(|c| c.id == id);
        for s in &mut self.sites {
            if s.customer_id.is_some_and(|c| !customer(c, &self.customers)) {
                s.customer_id = None;
            }
        }
        let site = |id: SiteId| self.sites.iter().any(|s| s.id == id);
        let user = |id: UserId| self.users.iter().any(|u| u.id == id);
        let mut out = Vec::new();
        for c in &self.customers {
            out.push(put(CUSTOMER, c.id.to_string(), c)?);
        }
        for s in &self.sites {
            out.push(put(SITE, s.id.to_string(), s)?);
        }
        for u in &self.users {
            let mut u = u.clone();
            u.memberships.retain(|(c, _)| customer(*c, &self.customers));
            out.push(put(USER, u.id.to_string(), &u)?);
        }
        for t in &self.tokens {
            let alive = match t.scope {
                TokenScope::Site(id) => site(id),
                TokenScope::Customer(id) => customer(id, &self.customers),
            };
            if alive {
                let doc = TokenDoc::new(t.scope, t.access, t.created_ts);
                out.push(put(TOKEN, t.hash.clone(), &doc)?);
            }
        }
        for s in self.shares.iter().filter(|s| site(s.site_id)) {
            out.push(put(SHARE, s.id.to_string(), s)?);
        }
        for (hash, l) in self.links.iter().filter(|(_, l)| user(l.user_id)) {
            out.push(put(PASSWORD_LINK, hash.clone(), l)?);
        }
        for (hash, l) in self.logins.iter().filter(|(_, l)| user(l.user_id)) {
            out.push(put(LOGIN, hash.clone(), l)?);
        }
        Ok(out)
    }
}
