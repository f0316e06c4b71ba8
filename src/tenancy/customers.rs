//! Hosting customers: the provider's accounts that own sites. A customer is named by the
//! hosting panel's own handle (stable, URL-safe), so provisioning can be repeated safely.

use serde::{Deserialize, Serialize};

/// One hosting customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: super::CustomerId,
    /// The hosting panel's name for the customer: 1–64 of `a-z 0-9 . _ -`.
    pub handle: String,
    /// Display name.
    pub name: String,
}

/// A handle that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("customer: {0:?} is not a handle (1-64 of a-z, 0-9, '.', '_', '-')")]
pub struct InvalidHandle(pub String);

/// Lower-cases and checks a handle.
pub fn normalise_handle(handle: &str) -> Result<String, InvalidHandle> {
    let h = handle.trim().to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(h)
    } else {
        Err(InvalidHandle(handle.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_normalised_and_checked() {
        assert_eq!(normalise_handle(" ACME-42 ").unwrap(), "acme-42");
        assert!(normalise_handle("").is_err());
        assert!(normalise_handle("a/b").is_err());
        assert!(normalise_handle("<script>").is_err());
        assert!(normalise_handle(&"x".repeat(65)).is_err());
    }
}
