//! Ids as types: a site's id cannot be passed where a customer's is meant. Each is the
//! number the API shows (`#[serde(transparent)]`), handed out once by `MetaStore::next_id`.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A site (also Matomo's `idsite`).
    SiteId
);
id_type!(
    /// A hosting customer.
    CustomerId
);
id_type!(
    /// A dashboard user.
    UserId
);
id_type!(
    /// A shared link of a site.
    ShareId
);
