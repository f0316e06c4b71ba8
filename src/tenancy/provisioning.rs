//! Customers and their sites: create, change, move and remove, with the rules both stores
//! share (unique domains and aliases, known customers, ids never used twice, removal of
//! everything that points at a removed customer or site).

use super::customers::{normalise_handle, Customer};
use super::docs::{StoredUser, TokenDoc, CUSTOMER, SHARE, SITE, TOKEN, USER};
use super::manager::TenancyError;
use super::sites::{normalise_domain, Site, SiteSpec, SiteSpecError};
use super::{put, remove, StoredShare, Tenancy};
use super::{CustomerId, SiteId};
use crate::store::{DocChange, StoreError};

/// Fails when one of `site`'s domains belongs to another of `existing`.
fn check_domains(existing: &[Site], site: &Site) -> Result<(), StoreError> {
    for other in existing.iter().filter(|s| s.id != site.id) {
        if let Some(d) = site
            .domains()
            .into_iter()
            .find(|d| other.domains().contains(d))
        {
            return Err(StoreError::DuplicateDomain(d));
        }
    }
    Ok(())
}

/// The display name stored for a customer: the trimmed name, or the handle when empty.
fn customer_name(handle: &str, name: &str) -> String {
    if name.trim().is_empty() {
        handle.to_string()
    } else {
        crate::ingest::enrich::bounded(name.trim(), 200)
    }
}

impl Tenancy {
    /// All sites, by id.
    pub async fn sites(&self) -> Result<Vec<Site>, StoreError> {
        let mut sites: Vec<Site> = self.values(SITE).await?;
        sites.sort_by_key(|s| s.id);
        Ok(sites)
    }

    pub(super) async fn site(&self, id: SiteId) -> Result<Option<Site>, StoreError> {
        self.get(SITE, &id.to_string()).await
    }

    /// The site a domain (main or alias; any case, `www.` or not) belongs to.
    pub async fn site_by_domain(&self, domain: &str) -> Result<Option<Site>, StoreError> {
        let Some(d) = normalise_domain(domain) else {
            return Ok(None);
        };
        Ok(self
            .sites()
            .await?
            .into_iter()
            .find(|s| s.domains().contains(&d)))
    }

    /// The customer with this handle.
    pub async fn customer_by_handle(&self, handle: &str) -> Result<Customer, TenancyError> {
        let h = normalise_handle(handle).map_err(|e| TenancyError::invalid("customer", e))?;
        self.customers()
            .await?
            .into_iter()
            .find(|c| c.handle == h)
            .ok_or_else(|| TenancyError::NotFound(format!("no customer {h}")))
    }

    /// Creates a site (resolving its customer's handle); the id is new.
    pub async fn add_site(&self, spec: SiteSpec) -> Result<Site, StoreError> {
        let _guard = self.lock().await;
        let handle = spec.customer.clone();
        // Validated before it gets an id (an invalid spec uses none up).
        let mut site = spec.into_site(SiteId(0))?;
        site.customer_id = match handle {
            Some(handle) => {
                let handle = normalise_handle(&handle)?;
                let c = self
                    .customers()
                    .await?
                    .into_iter()
                    .find(|c| c.handle == handle)
                    .ok_or_else(|| SiteSpecError {
                        field: "customer",
                        message: format!("there is no customer {handle:?}"),
                    })?;
                Some(c.id)
            }
            None => None,
        };
        check_domains(&self.sites().await?, &site)?;
        site.id = SiteId(self.store.next_id(SITE).await?);
        // A new id starts clean, whatever an older store left pointing at it.
        let mut changes = self.site_removals(&[site.id]).await?;
        changes.retain(|c| c.kind != SITE);
        changes.push(put(SITE, site.id.to_string(), &site)?);
        self.apply(changes).await?;
        Ok(site)
    }

    /// Stores changed settings of an existing site (not its main domain or customer); fails
    /// when an alias belongs to another site.
    pub async fn update_site(&self, site: Site) -> Result<Site, StoreError> {
        let _guard = self.lock().await;
        let sites = self.sites().await?;
        check_domains(&sites, &site)?;
        let Some(old) = sites.into_iter().find(|s| s.id == site.id) else {
            return Err(StoreError::NotFound(format!("no site {}", site.id)));
        };
        let stored = Site {
            domain: old.domain,
            customer_id: old.customer_id,
            ..site
        };
        self.apply(vec![put(SITE, stored.id.to_string(), &stored)?])
            .await?;
        Ok(stored)
    }

    /// Changes a site's settings as `manager` may: anyone but the admin adds aliases only
    /// under the main domains the provider gave the site's customer (a host nobody assigned
    /// them cannot be claimed this way).
    pub async fn change_site_settings(
        &self,
        manager: &super::Manager,
        site: &Site,
        settings: super::sites::SiteSettings,
    ) -> Result<Site, super::TenancyError> {
        if !manager.may_manage_site(site) {
            return Err(super::TenancyError::NotFound(format!(
                "no site {}",
                site.domain
            )));
        }
        let changed = settings
            .apply(site)
            .map_err(|e| super::TenancyError::invalid(e.field, e.message))?;
        if *manager != super::Manager::Admin {
            let assigned: Vec<String> = match site.customer_id {
                Some(c) => self
                    .sites()
                    .await?
                    .into_iter()
                    .filter(|s| s.customer_id == Some(c))
                    .map(|s| s.domain)
                    .collect(),
                None => vec![site.domain.clone()],
            };
            let under = |alias: &str| {
                assigned
                    .iter()
                    .any(|d| alias == d || alias.ends_with(&format!(".{d}")))
            };
            for alias in &changed.aliases {
                if !site.aliases.contains(alias) && !under(alias) {
                    return Err(super::TenancyError::Forbidden(format!(
                        "{alias} is not under a domain of this customer ({}); ask the provider to add it",
                        assigned.join(", ")
                    )));
                }
            }
        }
        Ok(self.update_site(changed).await?)
    }

    /// Moves a site to an existing customer (or to none).
    pub async fn set_site_customer(
        &self,
        site_id: SiteId,
        customer_id: Option<CustomerId>,
    ) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        if let Some(c) = customer_id {
            if self.customer(c).await?.is_none() {
                return Err(StoreError::NotFound(format!("no customer {c}")));
            }
        }
        if let Some(mut site) = self.site(site_id).await? {
            site.customer_id = customer_id;
            self.apply(vec![put(SITE, site_id.to_string(), &site)?])
                .await?;
        }
        Ok(())
    }

    /// The documents that go with sites: the sites, their tokens and shared links.
    async fn site_removals(&self, site_ids: &[SiteId]) -> Result<Vec<DocChange>, StoreError> {
        let mut changes: Vec<DocChange> = site_ids
            .iter()
            .map(|id| remove(SITE, id.to_string()))
            .collect();
        for (key, t) in self.list::<TokenDoc>(TOKEN).await? {
            if t.site_id.is_some_and(|s| site_ids.contains(&s)) {
                changes.push(remove(TOKEN, key));
            }
        }
        for (key, s) in self.list::<StoredShare>(SHARE).await? {
            if site_ids.contains(&s.site_id) {
                changes.push(remove(SHARE, key));
            }
        }
        Ok(changes)
    }

    /// Removes a site with its tokens and shared links, then its events, sessions and
    /// archives.
    pub async fn remove_site(&self, site_id: SiteId) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        let changes = self.site_removals(&[site_id]).await?;
        self.apply(changes).await?;
        self.delete_data(&[site_id]).await
    }

    /// Deletes the data of removed sites so that none comes back: out of the registry first
    /// (no new hits), then, once no write is in flight, the events, visits and archives, and
    /// then the store's files are compacted.
    async fn delete_data(&self, site_ids: &[SiteId]) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        self.registry.forget(site_ids);
        {
            let _no_writes = self.registry.deleting().await;
            self.store
                .delete_site_data(site_ids.iter().map(|s| s.0).collect())
                .await?;
        }
        // Nothing of them is left in the store's files either.
        self.store.compact().await
    }

    /// All customers, by handle.
    pub async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        let mut customers: Vec<Customer> = self.values(CUSTOMER).await?;
        customers.sort_by(|a, b| a.handle.cmp(&b.handle));
        Ok(customers)
    }

    pub(super) async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        self.get(CUSTOMER, &id.to_string()).await
    }

    /// Creates the customer `handle` (with a new id) or renames it; true when it was created.
    pub async fn put_customer(
        &self,
        handle: &str,
        name: &str,
    ) -> Result<(Customer, bool), StoreError> {
        let _guard = self.lock().await;
        let handle = normalise_handle(handle)?;
        let name = customer_name(&handle, name);
        let existing = self
            .customers()
            .await?
            .into_iter()
            .find(|c| c.handle == handle);
        let (customer, created, mut changes) = match existing {
            Some(c) => (Customer { name, ..c }, false, Vec::new()),
            None => {
                let id = CustomerId(self.store.next_id(CUSTOMER).await?);
                // A new id starts clean, whatever an older store left pointing at it.
                let stale = self.customer_references(id).await?;
                (Customer { id, handle, name }, true, stale)
            }
        };
        changes.push(put(CUSTOMER, customer.id.to_string(), &customer)?);
        self.apply(changes).await?;
        Ok((customer, created))
    }

    /// The changes that remove whatever points at customer `id`: its tokens and every
    /// membership in it.
    async fn customer_references(&self, id: CustomerId) -> Result<Vec<DocChange>, StoreError> {
        let mut changes = Vec::new();
        for (key, t) in self.list::<TokenDoc>(TOKEN).await? {
            if t.customer_id == Some(id) {
                changes.push(remove(TOKEN, key));
            }
        }
        for mut user in self.values::<StoredUser>(USER).await? {
            let before = user.memberships.len();
            user.memberships.retain(|(c, _)| *c != id);
            if user.memberships.len() != before {
                changes.push(put(USER, user.id.to_string(), &user)?);
            }
        }
        Ok(changes)
    }

    /// Removes a customer with its sites (and their data), its tokens and every membership in
    /// it.
    pub async fn remove_customer(&self, customer_id: CustomerId) -> Result<(), StoreError> {
        let _guard = self.lock().await;
        let sites: Vec<SiteId> = self
            .sites()
            .await?
            .into_iter()
            .filter(|s| s.customer_id == Some(customer_id))
            .map(|s| s.id)
            .collect();
        let mut changes = self.site_removals(&sites).await?;
        changes.push(remove(CUSTOMER, customer_id.to_string()));
        changes.extend(self.customer_references(customer_id).await?);
        self.apply(changes).await?;
        self.delete_data(&sites).await
    }
}
