//! Statistics from web-server access logs: `parse` reads lines of the common formats,
//! `classify` decides what a request counts as, `read` turns files into entries for sites
//! (address truncated at once by the site's mask), and `import` stores them through the same
//! rules as live hits, once per line however often a file is imported; `split` cuts a shared
//! log into one log per site for handing over; `traffic` reports requests and bytes per site
//! and day for billing; `awstats` reads AWStats's monthly history files.

pub mod awstats;
pub mod classify;
pub mod import;
pub mod parse;
pub mod read;
pub mod split;
pub mod traffic;
