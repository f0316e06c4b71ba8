//! Stats API tokens as managers hand them out: create (read or manage, for a site or a
//! customer), list and revoke, each only within the manager's scope. A token is shown once;
//! afterwards it is known by its id (the first characters of its hash). The admin API, the
//! owners' dashboard page and the CLI all go through here.

use super::manager::{Manager, TenancyError};
use super::{new_secret, secret_hash, Tenancy, TokenAccess, TokenScope, UserId};

/// Characters of the hash that name a token.
pub const ID_CHARS: usize = 12;

/// A new token's scope and access, as the API, the dashboard and the CLI ask for it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub site: Option<String>,
    pub customer: Option<String>,
    #[serde(default)]
    pub access: TokenAccess,
}

/// A token as listed: never the token itself.
#[derive(Debug, serde::Serialize)]
pub struct TokenView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    pub access: TokenAccess,
    pub created: String,
}

/// A token just made: shown once.
#[derive(Debug, serde::Serialize)]
pub struct NewToken {
    pub token: String,
    pub id: String,
    pub access: TokenAccess,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

impl Tenancy {
    /// Whether `manager` may see and revoke a token of `scope`.
    async fn token_in_scope(
        &self,
        manager: &Manager,
        scope: &TokenScope,
    ) -> Result<bool, TenancyError> {
        Ok(match scope {
            TokenScope::Site(id) => self
                .site(*id)
                .await?
                .is_some_and(|s| manager.may_manage_site(&s)),
            TokenScope::Customer(id) => manager.may_manage_customer(*id),
        })
    }

    /// Creates a token within `manager`'s scope.
    pub async fn create_token(
        &self,
        manager: &Manager,
        r: TokenRequest,
    ) -> Result<NewToken, TenancyError> {
        self.create_token_by(manager, r, None).await
    }

    /// Creates a token within `manager`'s scope for the owner `created_by`: it ends when they
    /// are no longer an owner of the customer it reads.
    pub async fn create_token_by(
        &self,
        manager: &Manager,
        r: TokenRequest,
        created_by: Option<UserId>,
    ) -> Result<NewToken, TenancyError> {
        let scope = match (&r.site, &r.customer) {
            (Some(domain), None) => {
                let site = self
                    .site_by_domain(domain)
                    .await?
                    .filter(|s| manager.may_manage_site(s))
                    .ok_or_else(|| TenancyError::NotFound(format!("no site {domain}")))?;
                TokenScope::Site(site.id)
            }
            (None, Some(handle)) => {
                let customer = self.customer_by_handle(handle).await?;
                if !manager.may_manage_customer(customer.id) {
                    return Err(TenancyError::NotFound(format!(
                        "no customer {}",
                        customer.handle
                    )));
                }
                TokenScope::Customer(customer.id)
            }
            _ => {
                return Err(TenancyError::invalid(
                    "body",
                    "name exactly one of \"site\" and \"customer\"",
                ))
            }
        };
        let token = new_secret();
        let hash = secret_hash(&token);
        self.add_token(&hash, scope, r.access, created_by).await?;
        Ok(NewToken {
            token,
            id: hash[..ID_CHARS].to_string(),
            access: r.access,
            site: r.site,
            customer: r.customer,
        })
    }

    /// The tokens `manager` may see, oldest first.
    pub async fn list_tokens(&self, manager: &Manager) -> Result<Vec<TokenView>, TenancyError> {
        let customers = self.customers().await?;
        let sites = self.sites().await?;
        let mut out = Vec::new();
        for t in self.tokens().await? {
            if !self.token_in_scope(manager, &t.scope).await? {
                continue;
            }
            let (site, customer) = match t.scope {
                TokenScope::Site(id) => (
                    sites.iter().find(|s| s.id == id).map(|s| s.domain.clone()),
                    None,
                ),
                TokenScope::Customer(id) => (
                    None,
                    customers
                        .iter()
                        .find(|c| c.id == id)
                        .map(|c| c.handle.clone()),
                ),
            };
            out.push(TokenView {
                id: t.hash[..ID_CHARS.min(t.hash.len())].to_string(),
                site,
                customer,
                access: t.access,
                created: chrono::DateTime::from_timestamp(t.created_ts, 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Revokes the token with this id when `manager` may see it; nothing happens otherwise.
    pub async fn revoke_token(&self, manager: &Manager, id: &str) -> Result<(), TenancyError> {
        if id.len() != ID_CHARS || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TenancyError::invalid(
                "id",
                format!("a token id is {ID_CHARS} hexadecimal characters"),
            ));
        }
        for t in self.tokens().await? {
            if t.hash.starts_with(id) && self.token_in_scope(manager, &t.scope).await? {
                self.remove_token(&t.hash).await?;
            }
        }
        Ok(())
    }
}
