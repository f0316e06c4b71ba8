//! The ingest pipeline: resolve the site, apply the exclusions, enrich, hash the visitor and
//! queue the hit. Nothing here sees a full client address; `privacy` makes sure of it.

pub mod enrich;
pub mod identify;
pub mod journal;
pub mod matomo;
pub mod privacy;
pub mod purge;
pub mod queue;

use crate::clock::SharedClock;
use crate::geo::Geo;
use crate::salt::{visitor_id, Salts};
use crate::store::{StoreError, VisitAttrs};
use crate::tenancy::sites::SiteRegistry;
use privacy::{ClientAddr, Exclusion, PrivacySignals};
use std::sync::Arc;

/// A hit as it arrives, before any rule ran.
pub struct RawHit {
    /// Domains named by the client (Plausible's `d`, comma list allowed).
    pub domains: Vec<String>,
    /// A site named by its numeric id instead (Matomo's `idsite`).
    pub site_id: Option<u32>,
    pub name: String,
    pub url: String,
    pub referrer: Option<String>,
    pub props: Vec<(String, String)>,
    pub hash_mode: bool,
    pub interactive: bool,
    pub screen_width: Option<u32>,
    pub user_agent: String,
    pub signals: PrivacySignals,
    pub client: ClientAddr,
    /// The hit's own time (imports); `None` means now.
    pub ts: Option<i64>,
    /// Record even when the User-Agent is a bot's (Matomo's `bots=1`).
    pub track_bots: bool,
    /// End the visitor's current visit first (Matomo's `new_visit=1`).
    pub new_visit: bool,
    /// Only extend the visit; nothing else is recorded (Matomo's `ping=1`).
    pub heartbeat: bool,
}

/// A hit ready for sessions and storage: no address, no User-Agent (what the journal holds).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    pub site_id: u32,
    pub ts: i64,
    pub name: String,
    pub interactive: bool,
    pub hostname: String,
    pub pathname: String,
    pub attrs: VisitAttrs,
    pub props: Vec<(String, String)>,
    pub visitor_id: u64,
    pub prev_visitor_id: Option<u64>,
    /// The site's UTC offset at `ts` in seconds: visitor ids belong to one local day.
    pub utc_offset: i64,
    /// End the visitor's current visit first.
    pub new_visit: bool,
    /// Extends the visitor's current visit and records nothing else.
    pub heartbeat: bool,
    /// Its number in the journal (given when it is made durable; 0 before).
    #[serde(default)]
    pub seq: u64,
}

/// A hit that passed the rules (one per site it names), or why it was excluded.
#[derive(Debug)]
pub enum Prepared {
    Hits(Vec<Hit>),
    Excluded(Exclusion),
}

/// What became of a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Excluded(Exclusion),
}

/// Why a hit could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the ingest queue is full")]
    QueueFull,
    #[error("spurlos is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The request-side half of the pipeline.
pub struct Ingest {
    pub sites: SiteRegistry,
    pub geo: Arc<Geo>,
    pub salts: Arc<Salts>,
    pub clock: SharedClock,
    pub queue: queue::QueueSender,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Ingest {
    /// Runs one hit through the rules and queues it for every known site it names.
    pub async fn accept(&self, raw: RawHit) -> Result<Outcome, IngestError> {
        match self.prepare(raw).await? {
            Prepared::Hits(hits) => {
                self.queue.send_all(hits).await?;
                self.metrics.accepted(1);
                Ok(Outcome::Accepted)
            }
            Prepared::Excluded(why) => Ok(Outcome::Excluded(why)),
        }
    }

    /// Runs one hit through the rules without queueing it (bulk requests queue all their
    /// hits at once, or none).
    pub async fn prepare(&self, raw: RawHit) -> Result<Prepared, IngestError> {
        let prepared = self.prepare_uncounted(raw).await?;
        if let Prepared::Excluded(why) = &prepared {
            self.metrics.excluded(why.as_str());
        }
        Ok(prepared)
    }

    async fn prepare_uncounted(&self, raw: RawHit) -> Result<Prepared, IngestError> {
        let salts = self.salts.current().await?;
        let now = self.clock.now().timestamp();
        prepare_hits(&self.sites, &self.geo, raw, salts, now)
    }
}

/// Runs one hit through every rule with the given salts (`now` stands in for a missing time):
/// live hits use the current salts, log imports the salts of each line's day.
pub fn prepare_hits(
    sites: &SiteRegistry,
    geo: &Geo,
    raw: RawHit,
    salts: crate::salt::CurrentSalts,
    now: i64,
) -> Result<Prepared, IngestError> {
    let name = raw.name.trim();
    if name.is_empty() {
        return Err(IngestError::Invalid {
            field: "name",
            message: "is required".into(),
        });
    }
    let page =
        enrich::page_url(&raw.url, raw.hash_mode).map_err(|message| IngestError::Invalid {
            field: "url",
            message,
        })?;
    if name == "engagement" {
        return Ok(Prepared::Excluded(Exclusion::Engagement));
    }
    if raw.signals.opted_out {
        return Ok(Prepared::Excluded(Exclusion::OptOutCookie));
    }
    let sites: Vec<_> = match raw.site_id {
        Some(id) => sites
            .by_id(crate::tenancy::SiteId(id))
            .into_iter()
            .collect(),
        None => raw
            .domains
            .iter()
            .filter_map(|d| sites.by_domain(d))
            .collect(),
    };
    if sites.is_empty() {
        return Ok(Prepared::Excluded(Exclusion::UnknownSite));
    }
    let agent = crate::useragent::classify(&raw.user_agent);
    if agent.bot && !raw.track_bots {
        return Ok(Prepared::Excluded(Exclusion::Bot));
    }
    // Each site's own rules: its privacy-signal switch and its excluded ranges.
    let mut first_exclusion = None;
    let sites: Vec<_> = sites
        .into_iter()
        .filter(|s| match site_exclusion(s, &raw) {
            None => true,
            Some(why) => {
                first_exclusion.get_or_insert(why);
                false
            }
        })
        .collect();
    if sites.is_empty() {
        return Ok(Prepared::Excluded(
            first_exclusion.unwrap_or(Exclusion::UnknownSite),
        ));
    }
    let ua = &agent.info;
    let ts = raw.ts.unwrap_or(now);
    let name = enrich::bounded(name, enrich::MAX_NAME);
    let interactive = raw.interactive || name == "pageview";
    let props = enrich::bound_props(raw.props);
    let mut hits = Vec::with_capacity(sites.len());
    for site in &sites {
        // Truncate first: from here on only the site's truncated address exists.
        let ip = raw.client.duplicate().truncate(site.ip_mask_bytes);
        let geo = geo.lookup(&ip);
        let referrer = raw
            .referrer
            .as_deref()
            .and_then(|r| crate::referrer::classify(r, &site.domains()))
            .unwrap_or_default();
        let source = if page.utm_source.is_empty() {
            referrer.source.clone()
        } else {
            crate::referrer::source_for_utm(&page.utm_source)
        };
        let attrs = VisitAttrs {
            referrer: enrich::bounded(&referrer.referrer, enrich::MAX_TEXT),
            source: enrich::bounded(&source, enrich::MAX_NAME * 2),
            utm_source: page.utm_source.clone(),
            utm_medium: page.utm_medium.clone(),
            utm_campaign: page.utm_campaign.clone(),
            utm_content: page.utm_content.clone(),
            utm_term: page.utm_term.clone(),
            country_code: geo.country_code.clone(),
            region: geo.region.clone(),
            city: geo.city.clone(),
            browser: ua.browser.clone(),
            browser_version: ua.browser_version.clone(),
            os: ua.os.clone(),
            os_version: ua.os_version.clone(),
            device: ua.device.clone(),
            screen: enrich::screen_class(raw.screen_width),
        };
        let bytes = ip.hash_bytes();
        hits.push(Hit {
            site_id: site.id.0,
            ts,
            name: name.clone(),
            interactive,
            hostname: page.hostname.clone(),
            pathname: page.pathname.clone(),
            attrs,
            props: props.clone(),
            visitor_id: visitor_id(&salts.today, site.id.0, &bytes, &raw.user_agent),
            prev_visitor_id: salts
                .yesterday
                .map(|y| visitor_id(&y, site.id.0, &bytes, &raw.user_agent)),
            utc_offset: crate::timezone::offset_at(site.tz(), ts),
            new_visit: raw.new_visit,
            heartbeat: raw.heartbeat,
            seq: 0,
        });
    }
    Ok(Prepared::Hits(hits))
}

/// Why `site`'s own rules exclude the hit, if they do.
fn site_exclusion(site: &crate::tenancy::sites::Site, raw: &RawHit) -> Option<Exclusion> {
    if site.respect_dnt && raw.signals.gpc {
        return Some(Exclusion::GlobalPrivacyControl);
    }
    if site.respect_dnt && raw.signals.dnt {
        return Some(Exclusion::DoNotTrack);
    }
    raw.client
        .is_in(&site.excluded_ranges)
        .then_some(Exclusion::ExcludedRange)
}
