//! Sites: the model (domains, time zone, privacy settings), validation of new sites, and the
//! in-memory registry the ingest path resolves domains with.

use super::{CustomerId, SiteId};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One tracked site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Numeric id (also Matomo's `idsite`).
    pub id: SiteId,
    /// The main domain, lower case, without `www.`.
    pub domain: String,
    /// Further domains whose hits count for this site.
    pub aliases: Vec<String>,
    /// IANA time zone the statistics are shown in.
    pub timezone: String,
    /// How many bytes of the address are dropped: 1 (/24, /48), 2 (/16, /32) or 3 (/8, /16).
    pub ip_mask_bytes: u8,
    /// Whether `DNT: 1` and `Sec-GPC: 1` exclude hits.
    pub respect_dnt: bool,
    /// Client ranges whose hits are not counted.
    pub excluded_ranges: Vec<IpNet>,
    /// The hosting customer the site belongs to, if any.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// Days raw events and visits are kept (their daily sums stay); see
    /// `stats::retention` for the limits that apply on top.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Months the daily sums are kept; 0: as long as the site exists.
    #[serde(default)]
    pub archive_months: u32,
    /// France's CNIL conditions for consent-free audience measurement (25 months at most).
    #[serde(default)]
    pub cnil: bool,
}

/// Raw events are kept 25 months unless a site says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 760;

fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// Longest retention that can be set (a century).
const MAX_RETENTION_DAYS: u32 = 36_500;

impl Site {
    /// The main domain and the aliases.
    pub fn domains(&self) -> Vec<String> {
        let mut all = vec![self.domain.clone()];
        all.extend(self.aliases.iter().cloned());
        all
    }

    /// The site's time zone (validated when the site was made).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// What an admin gives to create or change a site.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteSpec {
    pub domain: String,
    pub aliases: Vec<String>,
    pub timezone: Option<String>,
    pub ip_mask_bytes: Option<u8>,
    pub respect_dnt: Option<bool>,
    pub excluded_ranges: Vec<String>,
    /// Handle of the hosting customer the site belongs to.
    pub customer: Option<String>,
    /// Days raw events and visits are kept (default 760).
    pub retention_days: Option<u32>,
    /// Months daily sums are kept (default 0: as long as the site exists).
    pub archive_months: Option<u32>,
    /// CNIL mode (default off).
    pub cnil: Option<bool>,
}

/// Changes to a site's settings; `None` keeps a value. The main domain and the customer are
/// not changed here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteSettings {
    pub aliases: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub ip_mask_bytes: Option<u8>,
    pub respect_dnt: Option<bool>,
    pub excluded_ranges: Option<Vec<String>>,
    pub retention_days: Option<u32>,
    pub archive_months: Option<u32>,
    pub cnil: Option<bool>,
}

impl SiteSettings {
    /// The site with these changes, checked like a new site.
    pub fn apply(self, site: &Site) -> Result<Site, SiteSpecError> {
        let spec = SiteSpec {
            domain: site.domain.clone(),
            aliases: self.aliases.unwrap_or_else(|| site.aliases.clone()),
            timezone: Some(self.timezone.unwrap_or_else(|| site.timezone.clone())),
            ip_mask_bytes: Some(self.ip_mask_bytes.unwrap_or(site.ip_mask_bytes)),
            respect_dnt: Some(self.respect_dnt.unwrap_or(site.respect_dnt)),
            excluded_ranges: self
                .excluded_ranges
                .unwrap_or_else(|| site.excluded_ranges.iter().map(|r| r.to_string()).collect()),
            customer: None,
            retention_days: Some(self.retention_days.unwrap_or(site.retention_days)),
            archive_months: Some(self.archive_months.unwrap_or(site.archive_months)),
            cnil: Some(self.cnil.unwrap_or(site.cnil)),
        };
        let mut changed = spec.into_site(site.id)?;
        changed.customer_id = site.customer_id;
        Ok(changed)
    }
}

/// A site specification that cannot be used, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SiteSpecError {
    pub field: &'static str,
    pub message: String,
}

fn spec_err(field: &'static str, message: impl Into<String>) -> SiteSpecError {
    SiteSpecError {
        field,
        message: message.into(),
    }
}

/// Lower-cases a domain, strips scheme, `www.`, port and path; `None` when it is not a host name.
pub fn normalise_domain(input: &str) -> Option<String> {
    let s = input.trim().to_ascii_lowercase();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(&s);
    let s = s.split(['/', '?', '#']).next().unwrap_or("");
    let s = s.rsplit_once(':').map(|(h, _)| h).unwrap_or(s);
    let s = s.strip_prefix("www.").unwrap_or(s).trim_end_matches('.');
    let valid = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    valid.then(|| s.to_string())
}

impl SiteSpec {
    /// Checks the spec and builds the site with id `id`.
    pub fn into_site(self, id: SiteId) -> Result<Site, SiteSpecError> {
        let domain = normalise_domain(&self.domain)
            .ok_or_else(|| spec_err("domain", format!("{:?} is not a domain name", self.domain)))?;
        let mut aliases = Vec::new();
        for alias in &self.aliases {
            let a = normalise_domain(alias)
                .ok_or_else(|| spec_err("aliases", format!("{alias:?} is not a domain name")))?;
            if a != domain && !aliases.contains(&a) {
                aliases.push(a);
            }
        }
        let timezone = self.timezone.unwrap_or_else(|| "UTC".into());
        if timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(spec_err(
                "timezone",
                format!("{timezone:?} is not an IANA time zone"),
            ));
        }
        let ip_mask_bytes = self.ip_mask_bytes.unwrap_or(1);
        if !(1..=3).contains(&ip_mask_bytes) {
            return Err(spec_err("ip_mask_bytes", "must be 1, 2 or 3"));
        }
        let excluded_ranges = self
            .excluded_ranges
            .iter()
            .map(|r| {
                crate::config::parse_net(r)
                    .map_err(|_| spec_err("excluded_ranges", format!("{r:?} is not a CIDR range")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let retention_days = self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        if !(1..=MAX_RETENTION_DAYS).contains(&retention_days) {
            return Err(spec_err(
                "retention_days",
                format!("must be between 1 and {MAX_RETENTION_DAYS}"),
            ));
        }
        let archive_months = self.archive_months.unwrap_or(0);
        if archive_months > MAX_RETENTION_DAYS / 30 {
            return Err(spec_err(
                "archive_months",
                format!(
                    "must be between 1 and {}, or 0 (as long as the site exists)",
                    MAX_RETENTION_DAYS / 30
                ),
            ));
        }
        Ok(Site {
            id,
            domain,
            aliases,
            timezone,
            ip_mask_bytes,
            respect_dnt: self.respect_dnt.unwrap_or(true),
            excluded_ranges,
            customer_id: None,
            retention_days,
            archive_months,
            cnil: self.cnil.unwrap_or(false),
        })
    }
}

/// Domain → site, shared by the request path; replaced whole when sites change.
///
/// It also holds the gate between writing a site's data and deleting it: whoever writes
/// events, visits or archives holds [`SiteRegistry::writing`] and writes only for sites still
/// registered; a deletion first takes the site out of the registry, then waits for
/// [`SiteRegistry::deleting`]. So once a deletion returns, no write of the site is in flight
/// and none can start.
#[derive(Default, Clone)]
pub struct SiteRegistry {
    inner: Arc<RwLock<Registry>>,
    gate: Arc<tokio::sync::RwLock<()>>,
}

#[derive(Default)]
struct Registry {
    by_domain: HashMap<String, Arc<Site>>,
    by_id: HashMap<SiteId, Arc<Site>>,
}

impl SiteRegistry {
    /// Replaces the registry's contents.
    pub fn replace(&self, sites: Vec<Site>) {
        let mut reg = Registry::default();
        for site in sites {
            let site = Arc::new(site);
            for d in site.domains() {
                reg.by_domain.insert(d, site.clone());
            }
            reg.by_id.insert(site.id, site);
        }
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = reg;
    }

    /// Takes sites out at once (before their data is deleted).
    pub fn forget(&self, ids: &[SiteId]) {
        let mut reg = self.inner.write().unwrap_or_else(|e| e.into_inner());
        reg.by_domain.retain(|_, s| !ids.contains(&s.id));
        reg.by_id.retain(|id, _| !ids.contains(id));
    }

    /// Held while data of registered sites is written (check registration under it).
    pub async fn writing(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// Held while a forgotten site's data is deleted: waits for writes in flight.
    pub async fn deleting(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().await
    }

    /// The site a (possibly `www.`-prefixed, any-case) domain belongs to.
    pub fn by_domain(&self, domain: &str) -> Option<Arc<Site>> {
        let d = normalise_domain(domain)?;
        let reg = self.inner.read().unwrap_or_else(|e| e.into_inner());
        reg.by_domain.get(&d).cloned()
    }

    /// The site with this id.
    pub fn by_id(&self, id: SiteId) -> Option<Arc<Site>> {
        let reg = self.inner.read().unwrap_or_else(|e| e.into_inner());
        reg.by_id.get(&id).cloned()
    }

    /// All sites, ordered by domain.
    pub fn all(&self) -> Vec<Arc<Site>> {
        let reg = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = reg.by_id.values().cloned().collect();
        all.sort_by(|a, b| a.domain.cmp(&b.domain));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_domains() {
        assert_eq!(
            normalise_domain("https://WWW.Example.com:443/x").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalise_domain("shop.example.de").as_deref(),
            Some("shop.example.de")
        );
        assert_eq!(normalise_domain("<script>"), None);
        assert_eq!(normalise_domain(""), None);
    }

    #[test]
    fn validates_specs() {
        let ok = SiteSpec {
            domain: "example.com".into(),
            aliases: vec!["www.example.org".into()],
            timezone: Some("Europe/Berlin".into()),
            ..Default::default()
        }
        .into_site(SiteId(1))
        .unwrap();
        assert_eq!(ok.aliases, vec!["example.org".to_string()]);
        let bad = SiteSpec {
            domain: "example.com".into(),
            timezone: Some("Mars/Olympus".into()),
            ..Default::default()
        }
        .into_site(SiteId(1))
        .unwrap_err();
        assert_eq!(bad.field, "timezone");
    }
}
