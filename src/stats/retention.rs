//! How long statistics are kept: each site's setting (raw events and visits for some days,
//! daily sums for some months or as long as the site exists), capped by the provider
//! (`SPURLOS_MAX_RETENTION_DAYS`) and by CNIL mode (25 months of both at most), and the job
//! that deletes what is older, for every site, on both stores. Raw events go only once their
//! days are archived, so the daily sums stay whole.

use crate::stats::archive::{day_start, local_day};
use crate::stats::erase::{Eraser, Span};
use crate::store::StoreError;
use crate::tenancy::sites::Site;
use chrono::{Months, NaiveDate};
use std::sync::Arc;

/// CNIL's longest retention for consent-free audience measurement: 25 months.
pub const CNIL_MONTHS: u32 = 25;
/// 25 months in days.
pub const CNIL_DAYS: u32 = 760;

/// The provider's rules on top of each site's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// The longest any site keeps raw events (`None`: each site's setting).
    pub max_days: Option<u32>,
}

/// How long one site's statistics are kept, all limits applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Kept {
    /// Days of raw events and visits, today included.
    pub events_days: u32,
    /// Months of daily sums (`None`: as long as the site exists).
    pub archive_months: Option<u32>,
    /// Whether a limit above the site's own setting shortened it.
    pub capped: bool,
}

impl Policy {
    /// The policy of a configuration.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            max_days: (config.max_retention_days > 0).then_some(config.max_retention_days),
        }
    }

    /// How long `site` keeps its statistics.
    pub fn kept(&self, site: &Site) -> Kept {
        let mut days = site.retention_days.max(1);
        let mut months = (site.archive_months > 0).then_some(site.archive_months);
        if let Some(max) = self.max_days {
            days = days.min(max.max(1));
        }
        if site.cnil {
            days = days.min(CNIL_DAYS);
            months = Some(months.map_or(CNIL_MONTHS, |m| m.min(CNIL_MONTHS)));
        }
        // Raw events never outlive their daily sums (a month: 30.44 days on average).
        if let Some(m) = months {
            days = days.min(m.saturating_mul(3044).div_ceil(100).max(1));
        }
        Kept {
            events_days: days,
            archive_months: months,
            capped: days < site.retention_days || months.is_some() && site.archive_months == 0,
        }
    }
}

impl Kept {
    /// The first local day whose raw events are kept when today is `today`.
    pub fn raw_from(&self, today: i32) -> i32 {
        today - self.events_days as i32 + 1
    }

    /// The first local day whose daily sums are kept (`None`: all of them).
    pub fn archives_from(&self, today: i32) -> Option<i32> {
        let months = self.archive_months?;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
        let date = epoch.checked_add_signed(chrono::Duration::days(i64::from(today)))?;
        let from = date.checked_sub_months(Months::new(months))?;
        Some((from - epoch).num_days() as i32 + 1)
    }
}

/// What one run deleted for one site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    pub site_id: u32,
    pub events: u64,
    pub visits: u64,
    pub archived_days: u64,
}

/// Deletes every site's statistics older than it keeps them: first the finished days are
/// archived, then raw events and visits before the first kept day (only of archived days),
/// then daily sums and imported days before their first kept day; the store is compacted
/// once when anything went.
pub async fn enforce(
    eraser: &Eraser,
    sites: &[Arc<Site>],
    policy: Policy,
    now: i64,
) -> Result<Vec<Expired>, StoreError> {
    let archive = eraser.archive();
    archive.run_once().await?;
    let mut out = Vec::new();
    for site in sites {
        let kept = policy.kept(site);
        let tz = site.tz();
        let today = local_day(tz, now);
        // Only days whose sums are archived lose their raw events.
        let cutoff = match archive.archived_through(site.id.0) {
            Some(last) => kept.raw_from(today).min(last + 1),
            None => continue,
        };
        let mut expired = Expired {
            site_id: site.id.0,
            ..Expired::default()
        };
        let deleted = archive
            .expire_raw(site.id.0, cutoff, day_start(tz, cutoff))
            .await?;
        expired.events = deleted.events;
        expired.visits = deleted.visits;
        if let Some(from) = kept.archives_from(today) {
            let span = Span {
                from_day: i32::MIN,
                to_day: from - 1,
                from_ts: i64::MIN,
                to_ts: day_start(tz, from),
            };
            let erased = archive.erase(site.id.0, span).await?;
            expired.events += erased.events;
            expired.visits += erased.visits;
            expired.archived_days = erased.archived_days;
        }
        if expired.events + expired.visits + expired.archived_days > 0 {
            tracing::info!(
                site = %site.domain,
                events = expired.events,
                visits = expired.visits,
                archived_days = expired.archived_days,
                "statistics older than the site keeps them deleted"
            );
            out.push(expired);
        }
    }
    if !out.is_empty() {
        eraser.seal(true).await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(days: u32, months: u32, cnil: bool) -> Site {
        let mut s = crate::tenancy::sites::SiteSpec {
            domain: "example.com".into(),
            ..Default::default()
        }
        .into_site(crate::tenancy::SiteId(1))
        .unwrap();
        s.retention_days = days;
        s.archive_months = months;
        s.cnil = cnil;
        s
    }

    #[test]
    fn limits_apply_on_top_of_the_site() {
        let free = Policy::default();
        assert_eq!(
            free.kept(&site(760, 0, false)),
            Kept {
                events_days: 760,
                archive_months: None,
                capped: false
            }
        );
        let capped = Policy {
            max_days: Some(400),
        };
        let k = capped.kept(&site(760, 0, false));
        assert_eq!((k.events_days, k.capped), (400, true));
        let cnil = free.kept(&site(3650, 0, true));
        assert_eq!((cnil.events_days, cnil.archive_months), (760, Some(25)));
        let short = free.kept(&site(760, 2, false));
        assert_eq!(short.events_days, 61, "raw events never outlive their sums");
    }

    #[test]
    fn kept_days_are_counted_back_from_today() {
        let k = Policy::default().kept(&site(30, 12, false));
        // 2024-06-10 is day 19884.
        assert_eq!(k.raw_from(19884), 19884 - 29);
        // 2023-06-10 is day 19518: sums from 2023-06-11 on.
        assert_eq!(k.archives_from(19884), Some(19519));
    }
}
