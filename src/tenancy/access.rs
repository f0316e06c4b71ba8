//! Access without an account: Stats API tokens (read or manage, for a site or a customer) and
//! read-only shared links to a site's dashboard. Both are kept by the hash of their secret.

use super::docs::{TokenDoc, SHARE, TOKEN};
use super::{put, remove, CustomerId, ShareId, SiteId, Tenancy, UserId};
use crate::store::{DocChange, StoreError};

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
    /// The owner who made it (team page), if any.
    pub created_by: Option<UserId>,
}

/// Who a Stats API token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// One site.
    Site(SiteId),
    /// Every site of one customer.
    Customer(CustomerId),
}

/// A read-only shared link to a site's dashboard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SharedLink {
    pub id: ShareId,
    pub site_id: SiteId,
    pub has_password: bool,
    pub created_ts: i64,
}

/// A shared link as stored: by its secret's hash, with its password's hash (or `""`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredShare {
    pub id: ShareId,
    pub site_id: SiteId,
    pub token_hash: String,
    pub password_hash: String,
    pub created_ts: i64,
}

/// A shared link found by its secret, with what opening it needs.
#[derive(Debug, Clone)]
pub struct ShareAccess {
    pub link: SharedLink,
    /// The argon2 hash of its password, or `""` for none.
    pub password_hash: String,
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

impl Tenancy {
    /// Saves a token by its hash, for a site or customer that exists.
    pub async fn add_token(
        &self,
        token_hash: &str,
        scope: TokenScope,
        access: TokenAccess,
        created_by: Option<UserId>,
    ) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        let exists = match scope {
            TokenScope::Site(id) => self.site(id).await?.is_some(),
            TokenScope::Customer(id) => self.customer(id).await?.is_some(),
        };
        if !exists {
            return Err(StoreError::NotFound(format!(
                "no owner for a token of {scope:?}"
            )));
        }
        let doc = TokenDoc {
            created_by,
            ..TokenDoc::new(scope, access, chrono::Utc::now().timestamp())
        };
        self.apply(vec![put(TOKEN, token_hash, &doc)?]).await
    }

    /// The scope and access of a token hash, if it exists.
    pub async fn token_scope(
        &self,
        token_hash: &str,
    ) -> Result<Option<(TokenScope, TokenAccess)>, StoreError> {
        Ok(self
            .get::<TokenDoc>(TOKEN, token_hash)
            .await?
            .and_then(|t| Some((t.scope()?, t.access))))
    }

    /// Every token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        let mut tokens: Vec<StoredToken> = self
            .list::<TokenDoc>(TOKEN)
            .await?
            .into_iter()
            .filter_map(|(hash, t)| t.stored(hash))
            .collect();
        tokens.sort_by_key(|t| t.created_ts);
        Ok(tokens)
    }

    /// The removals of tokens `user_id` made that read outside the customers the user owns
    /// (`owned`: empty when the user goes).
    pub(super) async fn tokens_outside(
        &self,
        user_id: UserId,
        owned: &[CustomerId],
    ) -> Result<Vec<DocChange>, StoreError> {
        let sites = self.sites().await?;
        let mut out = Vec::new();
        for (hash, t) in self.list::<TokenDoc>(TOKEN).await? {
            if t.created_by != Some(user_id) {
                continue;
            }
            let customer = match t.scope() {
                Some(TokenScope::Site(id)) => sites
                    .iter()
                    .find(|s| s.id == id)
                    .and_then(|s| s.customer_id),
                Some(TokenScope::Customer(id)) => Some(id),
                None => None,
            };
            if !customer.is_some_and(|c| owned.contains(&c)) {
                out.push(remove(TOKEN, hash));
            }
        }
        Ok(out)
    }

    /// Revokes a token (nothing happens when it does not exist).
    pub async fn remove_token(&self, token_hash: &str) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        self.apply(vec![remove(TOKEN, token_hash)]).await
    }

    async fn stored_shares(&self) -> Result<Vec<StoredShare>, StoreError> {
        let mut shares: Vec<StoredShare> = self.values(SHARE).await?;
        shares.sort_by_key(|s| s.id);
        Ok(shares)
    }

    /// Creates a shared link of an existing site (by its secret's hash) with an argon2
    /// password hash or `""`.
    pub async fn add_share(
        &self,
        site_id: SiteId,
        token_hash: &str,
        password_hash: &str,
    ) -> Result<SharedLink, StoreError> {
        let _guard = self.lock().await;
        if self.site(site_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("no site {site_id} to share")));
        }
        let share = StoredShare {
            id: ShareId(self.store.next_id(SHARE).await?),
            site_id,
            token_hash: token_hash.to_string(),
            password_hash: password_hash.to_string(),
            created_ts: chrono::Utc::now().timestamp(),
        };
        self.apply(vec![put(SHARE, share.id.to_string(), &share)?])
            .await?;
        Ok(share.link())
    }

    /// The shared links of a site.
    pub async fn shares(&self, site_id: SiteId) -> Result<Vec<SharedLink>, StoreError> {
        Ok(self
            .stored_shares()
            .await?
            .into_iter()
            .filter(|s| s.site_id == site_id)
            .map(|s| s.link())
            .collect())
    }

    /// A shared link and its password hash, by its secret's hash.
    pub async fn share_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<ShareAccess>, StoreError> {
        Ok(self
            .stored_shares()
            .await?
            .into_iter()
            .find(|s| s.token_hash == token_hash)
            .map(|s| ShareAccess {
                link: s.link(),
                password_hash: s.password_hash,
            }))
    }

    /// Revokes a shared link of a site.
    pub async fn remove_share(&self, site_id: SiteId, share_id: u32) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        let found = self
            .get::<StoredShare>(SHARE, &share_id.to_string())
            .await?
            .is_some_and(|s| s.site_id == site_id);
        if found {
            self.apply(vec![remove(SHARE, share_id.to_string())])
                .await?;
        }
        Ok(())
    }
}
