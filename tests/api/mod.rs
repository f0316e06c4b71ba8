//! Integration tests against a running spurlos.

mod bad_input;
mod cli;
mod helpers;
mod ingest;
mod metrics;
mod privacy;
mod salts;
mod shutdown;
