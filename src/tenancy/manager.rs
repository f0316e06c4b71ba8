//! Who may change what: the admin, or a manage token (or an owner in the dashboard) for one
//! site or for one customer's sites, users and tokens; and the errors of scoped changes.

use super::sites::Site;
use super::{CustomerId, SiteId};
use crate::store::StoreError;

/// Who changes something: the admin, or a manager of one site or one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Admin,
    Site(SiteId),
    Customer(CustomerId),
}

impl Manager {
    /// Whether this manager may change `site`'s settings and tokens.
    pub fn may_manage_site(&self, site: &Site) -> bool {
        match self {
            Manager::Admin => true,
            Manager::Site(id) => *id == site.id,
            Manager::Customer(c) => site.customer_id == Some(*c),
        }
    }

    /// Whether this manager may change the users and customer tokens of `customer_id`.
    pub fn may_manage_customer(&self, customer_id: CustomerId) -> bool {
        match self {
            Manager::Admin => true,
            Manager::Customer(c) => *c == customer_id,
            Manager::Site(_) => false,
        }
    }
}

/// Why a scoped change was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    /// Nothing of that name within the manager's scope.
    #[error("{0}")]
    NotFound(String),
    /// A field of the request is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The manager may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TenancyError {
    pub(crate) fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        TenancyError::Invalid {
            field,
            message: message.to_string(),
        }
    }
}
