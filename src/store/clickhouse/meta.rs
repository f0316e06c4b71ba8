//! Sites, customers, users, logins, links, tokens and archived days of the ClickHouse store:
//! JSON documents in the `meta` table, one new version per change (the newest wins, a version
//! with `deleted = 1` removes). The rules (unique domains, known customers) are the store
//! boundary's, shared with the embedded store.

use super::rows::{MetaDoc, MetaRecord};
use super::{ch, ClickHouse};
use crate::customers::{normalise_handle, Customer};
use crate::sites::{Site, SiteSpec};
use crate::store::{
    SharedLink, StoreError, StoredShare as ShareDoc, StoredState, StoredToken,
    StoredUser as UserDoc, TokenAccess, TokenScope,
};
use crate::users::{normalise_email, Membership, Role, User};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const SITE: &str = "site";
pub const CUSTOMER: &str = "customer";
pub const USER: &str = "user";
pub const PASSWORD_LINK: &str = "password_link";
pub const LOGIN: &str = "login";
pub const SHARE: &str = "share";
pub const TOKEN: &str = "token";
pub const ARCHIVED_DAY: &str = "archived_day";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkDoc {
    pub user_id: u32,
    pub expires_ts: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginDoc {
    pub user_id: u32,
    pub csrf: String,
    pub expires_ts: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenDoc {
    pub site_id: Option<u32>,
    pub customer_id: Option<u32>,
    #[serde(default)]
    pub access: TokenAccess,
    #[serde(default)]
    pub created_ts: i64,
}

impl TokenDoc {
    fn new(scope: TokenScope, access: TokenAccess, created_ts: i64) -> Self {
        let (site_id, customer_id) = match scope {
            TokenScope::Site(id) => (Some(id), None),
            TokenScope::Customer(id) => (None, Some(id)),
        };
        Self {
            site_id,
            customer_id,
            access,
            created_ts,
        }
    }

    fn stored(self, hash: String) -> Option<StoredToken> {
        let scope = match (self.site_id, self.customer_id) {
            (Some(s), _) => TokenScope::Site(s),
            (None, Some(c)) => TokenScope::Customer(c),
            (None, None) => return None,
        };
        Some(StoredToken {
            hash,
            scope,
            access: self.access,
            created_ts: self.created_ts,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedDoc {
    pub site_id: u32,
    pub day: i32,
    pub timezone: String,
    pub build: u64,
}

fn json_err(kind: &str, e: serde_json::Error) -> StoreError {
    StoreError::Task(format!("a stored {kind} document cannot be read: {e}"))
}

/// A change to one document: its new version, or its removal (`None`).
type Change = (&'static str, String, Option<String>);

fn doc<T: Serialize>(kind: &'static str, key: String, value: &T) -> Result<Change, StoreError> {
    let text = serde_json::to_string(value).map_err(|e| json_err(kind, e))?;
    Ok((kind, key, Some(text)))
}

impl ClickHouse {
    /// The newest live documents of a kind (optionally one key), by key.
    async fn docs<T: DeserializeOwned>(
        &self,
        kind: &str,
        key: Option<&str>,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let filter = if key.is_some() { " AND key = ?" } else { "" };
        let mut q = self
            .client
            .query(&format!(
                "SELECT key, argMax(doc, version) AS newest FROM meta WHERE kind = ?{filter} \
                 GROUP BY key HAVING argMax(deleted, version) = 0 ORDER BY key"
            ))
            .bind(kind);
        if let Some(k) = key {
            q = q.bind(k);
        }
        let rows = q
            .fetch_all::<MetaDoc>()
            .await
            .map_err(ch("reading documents"))?;
        rows.into_iter()
            .map(|r| {
                serde_json::from_str(&r.doc)
                    .map(|d| (r.key, d))
                    .map_err(|e| json_err(kind, e))
            })
            .collect()
    }

    async fn doc_values<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, StoreError> {
        Ok(self
            .docs(kind, None)
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }

    async fn one_doc<T: DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.docs(kind, Some(key)).await?.pop().map(|(_, d)| d))
    }

    /// Writes changes as one insert (all of them or none).
    async fn apply(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<MetaRecord>("meta")
            .await
            .map_err(ch("writing documents"))?;
        for (kind, key, value) in changes {
            let record = MetaRecord {
                kind: kind.to_string(),
                key,
                version: self.next_version(),
                deleted: u8::from(value.is_none()),
                doc: value.unwrap_or_default(),
            };
            insert
                .write(&record)
                .await
                .map_err(ch("writing documents"))?;
        }
        insert.end().await.map_err(ch("writing documents"))
    }

    pub(super) async fn delete_docs(
        &self,
        kind: &'static str,
        keys: Vec<String>,
    ) -> Result<(), StoreError> {
        self.apply(keys.into_iter().map(|k| (kind, k, None)).collect())
            .await
    }

    /// The next free numeric id of a kind; removed ids are not used again (their rows may
    /// still be on their way out).
    async fn next_id(&self, kind: &str) -> Result<u32, StoreError> {
        let max = self
            .client
            .query("SELECT max(toUInt32OrZero(key)) FROM meta WHERE kind = ?")
            .bind(kind)
            .fetch_one::<u32>()
            .await
            .map_err(ch("choosing an id"))?;
        Ok(max + 1)
    }

    pub(super) async fn load_sites(&self) -> Result<Vec<Site>, StoreError> {
        let mut sites: Vec<Site> = self.doc_values(SITE).await?;
        sites.sort_by_key(|s| s.id);
        Ok(sites)
    }

    pub(super) async fn create_site(&self, spec: SiteSpec) -> Result<Site, StoreError> {
        let id = self.next_id(SITE).await?;
        let site = crate::store::new_site(
            spec,
            id,
            &self.load_customers().await?,
            &self.load_sites().await?,
        )?;
        self.apply(vec![doc(SITE, id.to_string(), &site)?]).await?;
        Ok(site)
    }

    pub(super) async fn change_site(&self, site: Site) -> Result<Site, StoreError> {
        let sites = self.load_sites().await?;
        crate::store::check_domains(&sites, &site)?;
        let Some(old) = sites.into_iter().find(|s| s.id == site.id) else {
            return Ok(site);
        };
        // The main domain and the customer are not changed here.
        let stored = Site {
            domain: old.domain,
            customer_id: old.customer_id,
            ..site.clone()
        };
        self.apply(vec![doc(SITE, site.id.to_string(), &stored)?])
            .await?;
        Ok(site)
    }

    pub(super) async fn move_site(
        &self,
        site_id: u32,
        customer_id: Option<u32>,
    ) -> Result<(), StoreError> {
        if let Some(mut site) = self.one_doc::<Site>(SITE, &site_id.to_string()).await? {
            site.customer_id = customer_id;
            self.apply(vec![doc(SITE, site_id.to_string(), &site)?])
                .await?;
        }
        Ok(())
    }

    /// Removes sites with their tokens, shared links and archived days (the documents).
    pub(super) async fn delete_site_docs(&self, site_ids: &[u32]) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        let mut changes: Vec<Change> = site_ids
            .iter()
            .map(|id| (SITE, id.to_string(), None))
            .collect();
        for (key, t) in self.docs::<TokenDoc>(TOKEN, None).await? {
            if t.site_id.is_some_and(|s| site_ids.contains(&s)) {
                changes.push((TOKEN, key, None));
            }
        }
        for (key, s) in self.docs::<ShareDoc>(SHARE, None).await? {
            if site_ids.contains(&s.site_id) {
                changes.push((SHARE, key, None));
            }
        }
        for (key, d) in self.docs::<ArchivedDoc>(ARCHIVED_DAY, None).await? {
            if site_ids.contains(&d.site_id) {
                changes.push((ARCHIVED_DAY, key, None));
            }
        }
        self.apply(changes).await
    }

    /// Deletes the events, sessions and archives of sites and waits until they are gone.
    pub(super) async fn delete_site_rows(&self, site_ids: &[u32]) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        self.site_events.forget(site_ids);
        self.client
            .query("ALTER TABLE archive DELETE WHERE has(?, site_id)")
            .bind(site_ids)
            .execute()
            .await
            .map_err(ch("deleting archives"))?;
        self.delete_events_where("has(?, site_id)", site_ids)
            .await?;
        super::wait_for_mutations(&self.client).await
    }

    pub(super) async fn load_customers(&self) -> Result<Vec<Customer>, StoreError> {
        let mut customers: Vec<Customer> = self.doc_values(CUSTOMER).await?;
        customers.sort_by(|a, b| a.handle.cmp(&b.handle));
        Ok(customers)
    }

    pub(super) async fn upsert_customer(
        &self,
        handle: &str,
        name: &str,
    ) -> Result<(Customer, bool), StoreError> {
        let handle = normalise_handle(handle)?;
        let name = crate::store::customer_name(&handle, name);
        let existing = self
            .load_customers()
            .await?
            .into_iter()
            .find(|c| c.handle == handle);
        let (customer, created) = match existing {
            Some(c) => (Customer { name, ..c }, false),
            None => {
                let id = self.next_id(CUSTOMER).await?;
                (Customer { id, handle, name }, true)
            }
        };
        self.apply(vec![doc(CUSTOMER, customer.id.to_string(), &customer)?])
            .await?;
        Ok((customer, created))
    }

    /// Removes a customer and its tokens (its sites go separately).
    pub(super) async fn delete_customer_docs(&self, customer_id: u32) -> Result<(), StoreError> {
        let mut changes: Vec<Change> = vec![(CUSTOMER, customer_id.to_string(), None)];
        for (key, t) in self.docs::<TokenDoc>(TOKEN, None).await? {
            if t.customer_id == Some(customer_id) {
                changes.push((TOKEN, key, None));
            }
        }
        self.apply(changes).await
    }

    async fn user_docs(&self) -> Result<Vec<UserDoc>, StoreError> {
        self.doc_values(USER).await
    }

    fn user_view(doc: &UserDoc, customers: &[Customer]) -> User {
        let mut memberships: Vec<Membership> = doc
            .memberships
            .iter()
            .filter_map(|(id, role)| {
                customers.iter().find(|c| c.id == *id).map(|c| Membership {
                    customer: c.handle.clone(),
                    role: *role,
                })
            })
            .collect();
        memberships.sort_by(|a, b| a.customer.cmp(&b.customer));
        User {
            id: doc.id,
            email: doc.email.clone(),
            has_password: !doc.password_hash.is_empty(),
            memberships,
        }
    }

    pub(super) async fn load_users(&self) -> Result<Vec<User>, StoreError> {
        let customers = self.load_customers().await?;
        let mut users: Vec<User> = self
            .user_docs()
            .await?
            .iter()
            .map(|d| Self::user_view(d, &customers))
            .collect();
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(users)
    }

    pub(super) async fn upsert_user(
        &self,
        email: &str,
        memberships: Vec<(u32, Role)>,
    ) -> Result<(User, bool), StoreError> {
        let email = normalise_email(email)?;
        let existing = self
            .user_docs()
            .await?
            .into_iter()
            .find(|u| u.email == email);
        let created = existing.is_none();
        let mut user = match existing {
            Some(u) => u,
            None => UserDoc {
                id: self.next_id(USER).await?,
                email,
                password_hash: String::new(),
                created_ts: chrono::Utc::now().timestamp(),
                memberships: Vec::new(),
            },
        };
        user.memberships.clear();
        for (customer, role) in memberships {
            if !user.memberships.iter().any(|(c, _)| *c == customer) {
                user.memberships.push((customer, role));
            }
        }
        self.apply(vec![doc(USER, user.id.to_string(), &user)?])
            .await?;
        let view = Self::user_view(&user, &self.load_customers().await?);
        Ok((view, created))
    }

    pub(super) async fn delete_user(&self, user_id: u32) -> Result<(), StoreError> {
        let mut changes: Vec<Change> = vec![(USER, user_id.to_string(), None)];
        for (key, l) in self.docs::<LinkDoc>(PASSWORD_LINK, None).await? {
            if l.user_id == user_id {
                changes.push((PASSWORD_LINK, key, None));
            }
        }
        for (key, l) in self.docs::<LoginDoc>(LOGIN, None).await? {
            if l.user_id == user_id {
                changes.push((LOGIN, key, None));
            }
        }
        self.apply(changes).await
    }

    pub(super) async fn save_password_link(
        &self,
        hash: &str,
        user_id: u32,
        expires_ts: i64,
    ) -> Result<(), StoreError> {
        let link = LinkDoc {
            user_id,
            expires_ts,
        };
        self.apply(vec![doc(PASSWORD_LINK, hash.to_string(), &link)?])
            .await
    }

    pub(super) async fn password_link(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<LinkDoc>, StoreError> {
        Ok(self
            .one_doc::<LinkDoc>(PASSWORD_LINK, hash)
            .await?
            .filter(|l| l.expires_ts > now))
    }

    pub(super) async fn redeem_password_link(
        &self,
        hash: &str,
        now: i64,
        password_hash: &str,
    ) -> Result<Option<u32>, StoreError> {
        let Some(link) = self.password_link(hash, now).await? else {
            return Ok(None);
        };
        let Some(mut user) = self
            .one_doc::<UserDoc>(USER, &link.user_id.to_string())
            .await?
        else {
            return Ok(None);
        };
        user.password_hash = password_hash.to_string();
        self.apply(vec![
            doc(USER, user.id.to_string(), &user)?,
            (PASSWORD_LINK, hash.to_string(), None),
        ])
        .await?;
        Ok(Some(user.id))
    }

    pub(super) async fn login_of(&self, email: &str) -> Result<Option<(u32, String)>, StoreError> {
        let Ok(email) = normalise_email(email) else {
            return Ok(None);
        };
        Ok(self
            .user_docs()
            .await?
            .into_iter()
            .find(|u| u.email == email)
            .map(|u| (u.id, u.password_hash)))
    }

    pub(super) async fn store_password(
        &self,
        user_id: u32,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        if let Some(mut user) = self.one_doc::<UserDoc>(USER, &user_id.to_string()).await? {
            user.password_hash = password_hash.to_string();
            self.apply(vec![doc(USER, user_id.to_string(), &user)?])
                .await?;
        }
        Ok(())
    }

    pub(super) async fn save_login(
        &self,
        hash: &str,
        user_id: u32,
        csrf: &str,
        expires_ts: i64,
    ) -> Result<(), StoreError> {
        let login = LoginDoc {
            user_id,
            csrf: csrf.to_string(),
            expires_ts,
        };
        self.apply(vec![doc(LOGIN, hash.to_string(), &login)?])
            .await
    }

    pub(super) async fn login_session(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<(User, String)>, StoreError> {
        let Some(login) = self
            .one_doc::<LoginDoc>(LOGIN, hash)
            .await?
            .filter(|l| l.expires_ts > now)
        else {
            return Ok(None);
        };
        let Some(user) = self
            .one_doc::<UserDoc>(USER, &login.user_id.to_string())
            .await?
        else {
            return Ok(None);
        };
        let customers = self.load_customers().await?;
        Ok(Some((Self::user_view(&user, &customers), login.csrf)))
    }

    pub(super) async fn load_shares(&self) -> Result<Vec<ShareDoc>, StoreError> {
        let mut shares: Vec<ShareDoc> = self.doc_values(SHARE).await?;
        shares.sort_by_key(|s| s.id);
        Ok(shares)
    }

    pub(super) async fn create_share(
        &self,
        site_id: u32,
        hash: &str,
        password_hash: &str,
    ) -> Result<SharedLink, StoreError> {
        let share = ShareDoc {
            id: self.next_id(SHARE).await?,
            site_id,
            token_hash: hash.to_string(),
            password_hash: password_hash.to_string(),
            created_ts: chrono::Utc::now().timestamp(),
        };
        self.apply(vec![doc(SHARE, share.id.to_string(), &share)?])
            .await?;
        Ok(share.link())
    }

    pub(super) async fn save_token(
        &self,
        hash: &str,
        scope: TokenScope,
        access: TokenAccess,
    ) -> Result<(), StoreError> {
        let token = TokenDoc::new(scope, access, chrono::Utc::now().timestamp());
        self.apply(vec![doc(TOKEN, hash.to_string(), &token)?])
            .await
    }

    pub(super) async fn token(
        &self,
        hash: &str,
    ) -> Result<Option<(TokenScope, TokenAccess)>, StoreError> {
        Ok(self
            .one_doc::<TokenDoc>(TOKEN, hash)
            .await?
            .and_then(|t| t.stored(hash.to_string()))
            .map(|t| (t.scope, t.access)))
    }

    pub(super) async fn load_tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        let mut tokens: Vec<StoredToken> = self
            .docs::<TokenDoc>(TOKEN, None)
            .await?
            .into_iter()
            .filter_map(|(hash, t)| t.stored(hash))
            .collect();
        tokens.sort_by_key(|t| t.created_ts);
        Ok(tokens)
    }

    pub(super) async fn archived_docs(&self) -> Result<Vec<ArchivedDoc>, StoreError> {
        self.doc_values(ARCHIVED_DAY).await
    }

    pub(super) async fn put_archived(
        &self,
        day: &crate::store::ArchivedDay,
        build: u64,
    ) -> Result<(), StoreError> {
        let d = ArchivedDoc {
            site_id: day.site_id,
            day: day.day,
            timezone: day.timezone.clone(),
            build,
        };
        self.apply(vec![doc(
            ARCHIVED_DAY,
            format!("{}:{}", day.site_id, day.day),
            &d,
        )?])
        .await
    }

    pub(super) async fn forget_archived(
        &self,
        site_id: u32,
        days: &[i32],
    ) -> Result<(), StoreError> {
        self.delete_docs(
            ARCHIVED_DAY,
            days.iter().map(|d| format!("{site_id}:{d}")).collect(),
        )
        .await
    }

    /// Whether the store holds no sites and no events (a migration's target must be empty).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let events = self
            .client
            .query("SELECT count() FROM events")
            .fetch_one::<u64>()
            .await
            .map_err(ch("counting events"))?;
        Ok(events == 0 && self.load_sites().await?.is_empty())
    }

    /// Writes a whole state (ids kept) in one insert, and its salts.
    pub async fn import_state(&self, state: &StoredState) -> Result<(), StoreError> {
        let mut changes = Vec::new();
        for c in &state.customers {
            changes.push(doc(CUSTOMER, c.id.to_string(), c)?);
        }
        for s in &state.sites {
            changes.push(doc(SITE, s.id.to_string(), s)?);
        }
        for u in &state.users {
            changes.push(doc(USER, u.id.to_string(), u)?);
        }
        for t in &state.tokens {
            let token = TokenDoc::new(t.scope, t.access, t.created_ts);
            changes.push(doc(TOKEN, t.hash.clone(), &token)?);
        }
        for s in &state.shares {
            changes.push(doc(SHARE, s.id.to_string(), s)?);
        }
        self.apply(changes).await?;
        crate::store::Store::replace_salts(self, &state.salts).await
    }
}
