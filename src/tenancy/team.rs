//! Dashboard users and their roles as managers change them: the admin (every customer), and a
//! customer's manage token or owner (their own customer only: they see and change only
//! memberships of their customer, and cannot take over an account that also belongs to another
//! customer). The admin API, the owners' team page and the CLI all go through here.

use super::customers::Customer;
use super::manager::{Manager, TenancyError};
use super::users::{normalise_email, Membership, Role, User};
use super::CustomerId;
use super::{new_secret, secret_hash, Tenancy};

/// How long a set-password link works: 48 hours.
pub const LINK_VALID_SECONDS: i64 = 48 * 3600;

/// A user as `customer`'s manager may see it: only the memberships of that customer.
fn visible(user: User, customer: Option<&Customer>) -> Option<User> {
    match customer {
        None => Some(user),
        Some(c) => {
            let memberships: Vec<Membership> = user
                .memberships
                .into_iter()
                .filter(|m| m.customer == c.handle)
                .collect();
            (!memberships.is_empty()).then_some(User {
                memberships,
                ..user
            })
        }
    }
}

/// A one-time set-password link just made.
#[derive(Debug, serde::Serialize)]
pub struct PasswordLink {
    pub url: String,
    /// RFC 3339.
    pub expires: String,
}

impl Tenancy {
    /// The customer a non-admin manager manages (users belong to customers, not to sites).
    async fn managed_customer(&self, m: &Manager) -> Result<Option<Customer>, TenancyError> {
        match m {
            Manager::Admin => Ok(None),
            Manager::Customer(id) => match self.customer(*id).await? {
                Some(c) => Ok(Some(c)),
                None => Err(TenancyError::NotFound(
                    "the token's customer no longer exists".into(),
                )),
            },
            Manager::Site(_) => Err(TenancyError::Forbidden(
                "users belong to customers: use the admin token or a customer manage token".into(),
            )),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, TenancyError> {
        let email = normalise_email(email).map_err(|e| TenancyError::invalid("email", e))?;
        Ok(self.users().await?.into_iter().find(|u| u.email == email))
    }

    /// The users `m` may see.
    pub async fn team(&self, m: &Manager) -> Result<Vec<User>, TenancyError> {
        let customer = self.managed_customer(m).await?;
        Ok(self
            .users()
            .await?
            .into_iter()
            .filter_map(|u| visible(u, customer.as_ref()))
            .collect())
    }

    /// Sets a user's memberships (creating the user when new). The admin replaces them all; a
    /// customer's manager sets only its own customer's membership and keeps the others.
    pub async fn put_member(
        &self,
        m: &Manager,
        email: &str,
        wanted: &[Membership],
    ) -> Result<(User, bool), TenancyError> {
        let managed = self.managed_customer(m).await?;
        let customers = self.customers().await?;
        let mut memberships: Vec<(CustomerId, Role)> = Vec::with_capacity(wanted.len());
        for w in wanted {
            let handle = super::customers::normalise_handle(&w.customer)
                .map_err(|e| TenancyError::invalid("memberships", e))?;
            let c = customers
                .iter()
                .find(|c| c.handle == handle)
                .filter(|c| managed.as_ref().is_none_or(|mc| mc.id == c.id))
                .ok_or_else(|| {
                    TenancyError::invalid("memberships", format!("no customer {handle}"))
                })?;
            memberships.push((c.id, w.role));
        }
        if let Some(mc) = &managed {
            // Keep the user's memberships of other customers as they are.
            if let Some(existing) = self.user_by_email(email).await? {
                for other in existing
                    .memberships
                    .iter()
                    .filter(|x| x.customer != mc.handle)
                {
                    if let Some(c) = customers.iter().find(|c| c.handle == other.customer) {
                        memberships.push((c.id, other.role));
                    }
                }
            }
        }
        let (user, created) = self.put_user(email, memberships).await?;
        let user = match visible(user.clone(), managed.as_ref()) {
            Some(u) => u,
            None => User {
                memberships: Vec::new(),
                ..user
            },
        };
        Ok((user, created))
    }

    /// Removes a user (admin), or the user's membership of the managed customer (and the user,
    /// when no membership is left).
    pub async fn remove_member(&self, m: &Manager, email: &str) -> Result<(), TenancyError> {
        let managed = self.managed_customer(m).await?;
        let Some(user) = self.user_by_email(email).await? else {
            return Ok(());
        };
        let Some(mc) = managed else {
            self.remove_user(user.id).await?;
            return Ok(());
        };
        if !user.memberships.iter().any(|x| x.customer == mc.handle) {
            return Ok(());
        }
        let customers = self.customers().await?;
        let keep: Vec<(CustomerId, Role)> = user
            .memberships
            .iter()
            .filter(|x| x.customer != mc.handle)
            .filter_map(|x| {
                customers
                    .iter()
                    .find(|c| c.handle == x.customer)
                    .map(|c| (c.id, x.role))
            })
            .collect();
        if keep.is_empty() {
            self.remove_user(user.id).await?;
        } else {
            self.put_user(&user.email, keep).await?;
        }
        Ok(())
    }

    /// A one-time set-password link for a user `m` may manage: a customer's manager only for
    /// users who belong to that customer alone. `base` is where users reach spurlos; `now` in
    /// UTC seconds.
    pub async fn password_link(
        &self,
        m: &Manager,
        email: &str,
        base: &str,
        now: i64,
    ) -> Result<PasswordLink, TenancyError> {
        let managed = self.managed_customer(m).await?;
        let user = self
            .user_by_email(email)
            .await?
            .filter(|u| {
                managed
                    .as_ref()
                    .is_none_or(|mc| u.memberships.iter().any(|x| x.customer == mc.handle))
            })
            .ok_or_else(|| TenancyError::NotFound(format!("no user {email}")))?;
        if let Some(mc) = &managed {
            if user.memberships.iter().any(|x| x.customer != mc.handle) {
                return Err(TenancyError::Forbidden(
                    "this user also belongs to another customer; ask the hosting provider".into(),
                ));
            }
        }
        let token = new_secret();
        let expires = now + LINK_VALID_SECONDS;
        self.add_password_link(&secret_hash(&token), user.id, expires)
            .await?;
        Ok(PasswordLink {
            url: format!("{}/set-password?token={token}", base.trim_end_matches('/')),
            expires: chrono::DateTime::from_timestamp(expires, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        })
    }
}
