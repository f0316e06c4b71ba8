//! Truncated IP → country, region and city with a MaxMind-format database (optional).

use crate::ingest::privacy::TruncatedIp;
use maxminddb::{geoip2, Reader};
use std::path::Path;

/// Where a visitor is, as far as the truncated address tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country_code: String,
    /// ISO 3166-2, e.g. `DE-BE`.
    pub region: String,
    /// English city name.
    pub city: String,
}

/// The GeoIP database, or none.
pub struct Geo {
    reader: Option<Reader<Vec<u8>>>,
}

/// A GeoIP database that cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open GeoIP database {path}: {source}")]
pub struct GeoError {
    path: String,
    source: maxminddb::MaxMindDbError,
}

impl Geo {
    /// No database: every lookup is empty.
    pub fn disabled() -> Self {
        Self { reader: None }
    }

    /// Opens `path` when given.
    pub fn open(path: Option<&Path>) -> Result<Self, GeoError> {
        match path {
            None => Ok(Self::disabled()),
            Some(path) => Reader::open_readfile(path)
                .map(|reader| Self {
                    reader: Some(reader),
                })
                .map_err(|source| GeoError {
                    path: path.display().to_string(),
                    source,
                }),
        }
    }

    /// Looks up a truncated address.
    /// Whether a database is loaded (locations are derived).
    pub fn enabled(&self) -> bool {
        self.reader.is_some()
    }

    pub fn lookup(&self, ip: &TruncatedIp) -> GeoInfo {
        let Some(reader) = &self.reader else {
            return GeoInfo::default();
        };
        let Ok(Some(city)) = reader.lookup::<geoip2::City>(ip.addr()) else {
            return GeoInfo::default();
        };
        let country_code = city
            .country
            .and_then(|c| c.iso_code)
            .unwrap_or_default()
            .to_string();
        let region = city
            .subdivisions
            .and_then(|s| s.into_iter().next())
            .and_then(|s| s.iso_code)
            .map(|code| format!("{country_code}-{code}"))
            .unwrap_or_default();
        let city_name = city
            .city
            .and_then(|c| c.names)
            .and_then(|n| n.get("en").copied())
            .unwrap_or_default()
            .to_string();
        GeoInfo {
            country_code,
            region,
            city: city_name,
        }
    }
}
