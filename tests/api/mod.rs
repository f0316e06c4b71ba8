//! Integration tests against a running spurlos.

mod accounts;
mod archive;
mod backup;
mod bad_input;
mod chserver;
mod cli;
mod clickhouse;
mod crash;
mod customers;
mod dashboard;
mod deletion;
mod disk_full;
mod fixtures;
mod fuzz;
mod hardening;
mod helpers;
mod ingest;
mod limits;
mod matomo;
mod meta_store;
mod metrics;
mod ops;
mod privacy;
mod salts;
mod shutdown;
mod tenancy;
