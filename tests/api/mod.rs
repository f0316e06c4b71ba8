//! Integration tests against a running spurlos.

mod accounts;
mod archive;
mod bad_input;
mod cli;
mod customers;
mod dashboard;
mod helpers;
mod ingest;
mod matomo;
mod metrics;
mod privacy;
mod salts;
mod shutdown;
