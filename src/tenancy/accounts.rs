//! Dashboard users: memberships and roles per customer, set-password links, passwords and
//! login sessions. Removing a user removes its links and logins; a user's memberships only
//! ever name customers that exist.

use super::customers::Customer;
use super::docs::{LinkDoc, LoginDoc, StoredUser, LOGIN, PASSWORD_LINK, USER};
use super::users::{normalise_email, Membership, Role, User};
use super::{put, remove, Tenancy};
use super::{CustomerId, UserId};
use crate::store::{DocChange, StoreError};

/// What the API shows of a stored user (memberships by handle, of customers that exist).
fn user_view(doc: &StoredUser, customers: &[Customer]) -> User {
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

/// What signing in checks: the user's id and password hash (empty until one is set).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: String,
}

/// A live login session: its user and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: User,
    pub csrf: String,
}

impl Tenancy {
    async fn stored_users(&self) -> Result<Vec<StoredUser>, StoreError> {
        self.values(USER).await
    }

    async fn stored_user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        self.get(USER, &id.to_string()).await
    }

    /// All users with their memberships, by e-mail.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let customers = self.customers().await?;
        let mut users: Vec<User> = self
            .stored_users()
            .await?
            .iter()
            .map(|d| user_view(d, &customers))
            .collect();
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(users)
    }

    /// Creates the user `email` (without a password, with a new id) or keeps it, and replaces
    /// its memberships (customer id, role; customers that do not exist are left out); true
    /// when it was created.
    pub async fn put_user(
        &self,
        email: &str,
        memberships: Vec<(CustomerId, Role)>,
    ) -> Result<(User, bool), StoreError> {
        let _guard = self.lock().await;
        let email = normalise_email(email)?;
        let customers = self.customers().await?;
        let existing = self
            .stored_users()
            .await?
            .into_iter()
            .find(|u| u.email == email);
        let created = existing.is_none();
        let mut changes = Vec::new();
        let mut user = match existing {
            Some(u) => u,
            None => {
                let id = UserId(self.store.next_id(USER).await?);
                // A new id starts clean, whatever an older store left pointing at it.
                changes = self.user_references(id).await?;
                StoredUser {
                    id,
                    email,
                    password_hash: String::new(),
                    created_ts: chrono::Utc::now().timestamp(),
                    memberships: Vec::new(),
                }
            }
        };
        let before: Vec<CustomerId> = user.memberships.iter().map(|(c, _)| *c).collect();
        user.memberships.clear();
        for (customer, role) in memberships {
            let known = customers.iter().any(|c| c.id == customer);
            if known && !user.memberships.iter().any(|(c, _)| *c == customer) {
                user.memberships.push((customer, role));
            }
        }
        // Whoever set the password for the customers the user had (an owner who created the
        // user knows it) must not get a key to a further one: the password, logins and links
        // end, and the user sets a new password through a new link.
        let joins = user.memberships.iter().any(|(c, _)| !before.contains(c));
        if !before.is_empty() && joins && !user.password_hash.is_empty() {
            user.password_hash.clear();
            changes.extend(self.user_references(user.id).await?);
        }
        // Tokens the user made as an owner end where the user is no longer one.
        let owned: Vec<CustomerId> = user
            .memberships
            .iter()
            .filter(|(_, role)| *role == Role::Owner)
            .map(|(c, _)| *c)
            .collect();
        changes.extend(self.tokens_outside(user.id, &owned).await?);
        changes.push(put(USER, user.id.to_string(), &user)?);
        self.apply(changes).await?;
        Ok((user_view(&user, &customers), created))
    }

    /// The changes that remove a user's password links and logins.
    async fn user_references(&self, user_id: UserId) -> Result<Vec<DocChange>, StoreError> {
        let mut changes = Vec::new();
        for (key, l) in self.list::<LinkDoc>(PASSWORD_LINK).await? {
            if l.user_id == user_id {
                changes.push(remove(PASSWORD_LINK, key));
            }
        }
        for (key, l) in self.list::<LoginDoc>(LOGIN).await? {
            if l.user_id == user_id {
                changes.push(remove(LOGIN, key));
            }
        }
        Ok(changes)
    }

    /// Removes a user with its password links and logins.
    pub async fn remove_user(&self, user_id: UserId) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        let mut changes = vec![remove(USER, user_id.to_string())];
        changes.extend(self.user_references(user_id).await?);
        changes.extend(self.tokens_outside(user_id, &[]).await?);
        self.apply(changes).await
    }

    /// Saves a one-time set-password link (by its token's hash) for an existing user.
    pub async fn add_password_link(
        &self,
        token_hash: &str,
        user_id: UserId,
        expires_ts: i64,
    ) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        if self.stored_user(user_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("no user {user_id}")));
        }
        let link = LinkDoc {
            user_id,
            expires_ts,
        };
        self.apply(vec![put(PASSWORD_LINK, token_hash, &link)?])
            .await
    }

    async fn live_password_link(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<LinkDoc>, StoreError> {
        Ok(self
            .get::<LinkDoc>(PASSWORD_LINK, hash)
            .await?
            .filter(|l| l.expires_ts > now))
    }

    /// Uses a set-password link: when it exists and has not expired at `now`, sets the user's
    /// password hash, deletes the link and returns the user's id.
    pub async fn use_password_link(
        &self,
        token_hash: &str,
        now: i64,
        password_hash: &str,
    ) -> Result<Option<UserId>, StoreError> {
        let _guard = self.lock().await;
        let Some(link) = self.live_password_link(token_hash, now).await? else {
            return Ok(None);
        };
        let Some(mut user) = self.stored_user(link.user_id).await? else {
            return Ok(None);
        };
        user.password_hash = password_hash.to_string();
        // A new password ends every login and every other link of the user.
        let mut changes = self.user_references(user.id).await?;
        changes.push(remove(PASSWORD_LINK, token_hash));
        changes.push(put(USER, user.id.to_string(), &user)?);
        self.apply(changes).await?;
        Ok(Some(user.id))
    }

    /// Whether a set-password link exists and has not expired at `now`.
    pub async fn password_link_valid(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.live_password_link(token_hash, now).await?.is_some())
    }

    /// A user's id and password hash by e-mail address (for logging in).
    pub async fn user_login(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let Ok(email) = normalise_email(email) else {
            return Ok(None);
        };
        Ok(self
            .stored_users()
            .await?
            .into_iter()
            .find(|u| u.email == email)
            .map(|u| Credentials {
                user_id: u.id,
                password_hash: u.password_hash,
            }))
    }

    /// Replaces a user's password hash; every login but `keep_login` (a login's hash) ends.
    pub async fn set_password(
        &self,
        user_id: UserId,
        password_hash: &str,
        keep_login: Option<&str>,
    ) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        if let Some(mut user) = self.stored_user(user_id).await? {
            user.password_hash = password_hash.to_string();
            // A new password ends every other login (not `keep_login`, the session that made
            // the change) and every outstanding set-password link.
            let mut changes = self.user_references(user_id).await?;
            changes.retain(|c| !(c.kind == LOGIN && Some(c.key.as_str()) == keep_login));
            changes.push(put(USER, user_id.to_string(), &user)?);
            self.apply(changes).await?;
        }
        Ok(())
    }

    /// Saves a login session (by its cookie's hash) with its CSRF token, for an existing user.
    pub async fn add_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        csrf: &str,
        expires_ts: i64,
    ) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        if self.stored_user(user_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("no user {user_id}")));
        }
        let login = LoginDoc {
            user_id,
            csrf: csrf.to_string(),
            expires_ts,
        };
        self.apply(vec![put(LOGIN, token_hash, &login)?]).await
    }

    /// The user and CSRF token of a session that has not expired at `now`.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Login>, StoreError> {
        let Some(login) = self
            .get::<LoginDoc>(LOGIN, token_hash)
            .await?
            .filter(|l| l.expires_ts > now)
        else {
            return Ok(None);
        };
        let Some(user) = self.stored_user(login.user_id).await? else {
            return Ok(None);
        };
        let customers = self.customers().await?;
        Ok(Some(Login {
            user: user_view(&user, &customers),
            csrf: login.csrf,
        }))
    }

    /// Ends a session.
    pub async fn remove_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        self.apply(vec![remove(LOGIN, token_hash)]).await
    }
}
