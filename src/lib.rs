//! spurlos: a self-hosted, privacy-preserving web analytics server for hosting providers.
//!
//! The path of one hit: `http` extracts the client address (truncated at once) and the request
//! fields, `ingest` resolves the site, applies exclusions, enriches and identifies the hit, and
//! hands it to a bounded queue whose batch writer stores it through a [`store::Store`]. `stats`
//! turns Stats API queries into validated query models that both stores answer through one SQL
//! builder. `tenancy` holds the rules about customers, sites, users, tokens and links, written
//! once over the stores' metadata documents.

pub mod cli;
pub mod clock;
pub mod config;
pub mod geo;
pub mod http;
pub mod ingest;
pub mod logs;
pub mod metrics;
pub mod migrate;
pub mod notice;
pub mod referrer;
pub mod salt;
pub mod startup;
pub mod stats;
pub mod store;
pub mod tenancy;
pub mod timezone;
pub mod useragent;
