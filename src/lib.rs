//! spurlos: a self-hosted, privacy-preserving web analytics server for hosting providers.
//!
//! The path of one hit: `http` extracts the client address (truncated at once) and the request
//! fields, `ingest` resolves the site, applies exclusions, enriches and identifies the hit, and
//! hands it to a bounded queue whose batch writer stores it through a [`store::Store`]. `stats`
//! turns Stats API queries into validated query models that each store answers with its own SQL.

pub mod cli;
pub mod clock;
pub mod config;
pub mod customers;
pub mod geo;
pub mod http;
pub mod ingest;
pub mod migrate;
pub mod referrer;
pub mod salt;
pub mod sites;
pub mod startup;
pub mod stats;
pub mod store;
pub mod timezone;
pub mod useragent;
pub mod users;
