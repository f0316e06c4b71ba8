//! The tenancy model, written once for both stores: customers, sites with aliases, users with
//! their memberships and roles, tokens and their scopes, shared links, set-password links and
//! logins. Validation, cascades ("removing X removes everything that points at X") and id
//! rules (never used twice) live here; a store only persists the documents
//! ([`crate::store::MetaStore`]).

pub mod access;
mod accounts;
pub mod audit;
pub mod customers;
pub mod docs;
pub mod ids;
pub mod manager;
mod provisioning;
pub mod sites;
pub mod team;
pub mod tokens;
pub mod users;

pub use access::{SharedLink, StoredShare, StoredToken, TokenAccess, TokenScope};
pub use docs::{Snapshot, StoredUser};
pub use ids::{CustomerId, ShareId, SiteId, UserId};
pub use manager::{Manager, TenancyError};

use crate::store::{DocChange, Store, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// A new random secret (tokens, links, logins; URL-safe, 43 characters).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % 64] as char)
        .collect::<String>()
}

/// The hash under which a secret is stored (the secret itself never is).
pub fn secret_hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// The tenancy rules over the configured store. Cheap to clone; clones share one lock, so
/// that changes (read, check, write) of one process do not interleave.
#[derive(Clone)]
pub struct Tenancy {
    store: Arc<dyn Store>,
    changes: Arc<tokio::sync::Mutex<()>>,
    /// The running server's registry (a private one otherwise): removals take sites out of it
    /// before their data is deleted.
    registry: sites::SiteRegistry,
}

fn json_err(kind: &str, e: serde_json::Error) -> StoreError {
    StoreError::Task(format!("a stored {kind} document cannot be read: {e}"))
}

/// A document's new version.
pub(crate) fn put<T: Serialize>(
    kind: &'static str,
    key: impl Into<String>,
    value: &T,
) -> Result<DocChange, StoreError> {
    let body = serde_json::to_string(value).map_err(|e| json_err(kind, e))?;
    Ok(DocChange {
        kind,
        key: key.into(),
        body: Some(body),
    })
}

/// A document's removal.
pub(crate) fn remove(kind: &'static str, key: impl Into<String>) -> DocChange {
    DocChange {
        kind,
        key: key.into(),
        body: None,
    }
}

impl Tenancy {
    /// The rules over `store`; make one per process and clone it.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_registry(store, sites::SiteRegistry::default())
    }

    /// The rules over `store` for a server whose request path resolves sites in `registry`.
    pub fn with_registry(store: Arc<dyn Store>, registry: sites::SiteRegistry) -> Self {
        Self {
            store,
            changes: Arc::new(tokio::sync::Mutex::new(())),
            registry,
        }
    }

    /// The store underneath (for removing a site's events).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Every document of a kind, by key.
    async fn list<T: DeserializeOwned>(
        &self,
        kind: &'static str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        self.store
            .docs(kind)
            .await?
            .into_iter()
            .map(|(key, body)| {
                serde_json::from_str(&body)
                    .map(|d| (key, d))
                    .map_err(|e| json_err(kind, e))
            })
            .collect()
    }

    async fn values<T: DeserializeOwned>(&self, kind: &'static str) -> Result<Vec<T>, StoreError> {
        Ok(self.list(kind).await?.into_iter().map(|(_, d)| d).collect())
    }

    async fn get<T: DeserializeOwned>(
        &self,
        kind: &'static str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.store.doc(kind, key).await? {
            Some(body) => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| json_err(kind, e)),
            None => Ok(None),
        }
    }

    async fn apply(&self, changes: Vec<DocChange>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.store.apply(changes).await
    }

    /// Holds off other changes of this process until the guard is dropped.
    async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    /// Everything the tenancy model holds (for `spurlos migrate-store`).
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut snapshot = Snapshot::default();
        for kind in docs::KINDS {
            snapshot.docs.push((kind, self.store.docs(kind).await?));
        }
        Ok(snapshot)
    }

    /// Writes a snapshot into this (empty) store, ids kept.
    pub async fn restore(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        let mut changes = Vec::new();
        for (kind, docs) in &snapshot.docs {
            for (key, body) in docs {
                changes.push(DocChange {
                    kind,
                    key: key.clone(),
                    body: Some(body.clone()),
                });
            }
        }
        self.apply(changes).await
    }
}
