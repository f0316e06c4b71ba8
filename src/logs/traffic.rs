//! Traffic for billing: requests and bytes sent per site and local day, counted from imported
//! web-server logs (every request, static files and bots included, each line once), read for
//! the sites a caller may see, with each site's totals. Shared by the admin API, the CLI and
//! the owners' dashboard page.

use crate::store::{StoreError, TrafficStore};
use crate::tenancy::customers::Customer;
use crate::tenancy::sites::Site;
use chrono::{Datelike as _, NaiveDate};

/// Longest range one report covers.
pub const MAX_DAYS: i64 = 3660;

/// One day of a site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayTraffic {
    pub date: NaiveDate,
    pub requests: u64,
    pub bytes: u64,
}

/// One site's traffic in the range: totals, and the days with requests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteTraffic {
    pub site: String,
    pub requests: u64,
    pub bytes: u64,
    pub days: Vec<DayTraffic>,
}

/// Traffic of sites over a range of their local days.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrafficReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub requests: u64,
    pub bytes: u64,
    /// Every site asked for, by domain, also those without traffic.
    pub sites: Vec<SiteTraffic>,
}

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("from {0} is after to {1}")]
    Order(NaiveDate, NaiveDate),
    #[error("at most {MAX_DAYS} days at once")]
    TooLong,
    #[error("no site {0}")]
    NoSite(String),
    #[error("no customer {0}")]
    NoCustomer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// The local day number of a date (days since 1970-01-01).
pub fn day_number(d: NaiveDate) -> i32 {
    (d - epoch()).num_days() as i32
}

/// The date of a local day number (the inverse of [`day_number`]).
pub fn date_of(day: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(i64::from(day))
}

/// The default range: the current calendar month up to today (a billing period).
pub fn this_month(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (today.with_day0(0).unwrap_or(today), today)
}

/// What traffic to report: a range (default: this month so far), one site (by domain or
/// alias) or the sites of one customer (default: every site the caller sees).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrafficQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub site: Option<String>,
    pub customer: Option<String>,
}

impl TrafficQuery {
    /// The range of local days, with the defaults filled in.
    pub fn range(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let (start, end) = this_month(today);
        (self.from.unwrap_or(start), self.to.unwrap_or(end))
    }

    /// The sites it names among those the caller sees (`visible`).
    pub fn pick<'a>(
        &self,
        visible: Vec<&'a Site>,
        customers: &[Customer],
    ) -> Result<Vec<&'a Site>, TrafficError> {
        let customer = match &self.customer {
            Some(handle) => Some(
                customers
                    .iter()
                    .find(|c| c.handle == *handle)
                    .map(|c| c.id)
                    .ok_or_else(|| TrafficError::NoCustomer(handle.clone()))?,
            ),
            None => None,
        };
        let named = |s: &Site| match &self.site {
            Some(d) => {
                let d = d.to_ascii_lowercase();
                s.domain == d || s.aliases.contains(&d)
            }
            None => true,
        };
        let sites: Vec<&Site> = visible
            .into_iter()
            .filter(|s| named(s))
            .filter(|s| customer.is_none_or(|c| s.customer_id == Some(c)))
            .collect();
        match &self.site {
            Some(d) if sites.is_empty() => Err(TrafficError::NoSite(d.clone())),
            _ => Ok(sites),
        }
    }
}

/// The traffic of `sites` on the local days `from..=to`.
pub async fn report(
    store: &dyn TrafficStore,
    sites: &[&Site],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<TrafficReport, TrafficError> {
    if from > to {
        return Err(TrafficError::Order(from, to));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(TrafficError::TooLong);
    }
    let ids: Vec<u32> = sites.iter().map(|s| s.id.0).collect();
    let rows = store.traffic(ids, day_number(from), day_number(to)).await?;
    let mut out: Vec<SiteTraffic> = sites
        .iter()
        .map(|s| SiteTraffic {
            site: s.domain.clone(),
            requests: 0,
            bytes: 0,
            days: Vec::new(),
        })
        .collect();
    for r in rows {
        let Some(i) = sites.iter().position(|s| s.id.0 == r.site_id) else {
            continue;
        };
        let t = &mut out[i];
        t.requests += r.requests;
        t.bytes += r.bytes;
        t.days.push(DayTraffic {
            date: date_of(r.day),
            requests: r.requests,
            bytes: r.bytes,
        });
    }
    out.sort_by(|a, b| a.site.cmp(&b.site));
    Ok(TrafficReport {
        from,
        to,
        requests: out.iter().map(|s| s.requests).sum(),
        bytes: out.iter().map(|s| s.bytes).sum(),
        sites: out,
    })
}

/// Bytes for people: 1.5 GB, 320 kB (decimal units, as hosting contracts count).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else if v < 10.0 {
        format!("{v:.2} {}", UNITS[unit])
    } else if v < 100.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_bytes_read_well() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(date_of(day_number(d)), d);
        assert_eq!(day_number(epoch()), 0);
        assert_eq!(
            this_month(NaiveDate::from_ymd_opt(2024, 3, 17).unwrap()),
            (d, NaiveDate::from_ymd_opt(2024, 3, 17).unwrap())
        );
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.50 kB");
        assert_eq!(human_bytes(25_300_000), "25.3 MB");
        assert_eq!(human_bytes(734_000_000_000), "734 GB");
    }
}
