//! `spurlos migrate-store`: copies an embedded installation (the DuckDB file and the salts in the
//! data directory) into an empty ClickHouse store, with a progress bar, and checks the counts.

use crate::config::Settings;
use crate::store::clickhouse::ClickHouse;
use crate::store::embedded::Embedded;
use crate::store::{EventStore, ImportedStore, SaltStore, Store, TrafficStore};
use crate::tenancy::Tenancy;
use anyhow::{bail, Context};
use std::sync::Arc;

/// Events and session versions are copied in windows of this many seconds.
const WINDOW: i64 = 6 * 3600;

/// What a migration copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub sites: usize,
    pub events: u64,
    pub sessions: u64,
}

/// Copies everything from the embedded store in the data directory into the ClickHouse store
/// of the configuration; `progress` is told (done, total) rows.
pub async fn migrate(
    settings: &Settings,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<Copied> {
    let config = &settings.config;
    let source = Arc::new(
        Embedded::open_with_memory(&config.data_dir, config.store_memory_bytes()).with_context(
            || {
                format!(
                    "opening the embedded store in {} (is a server still running on it?)",
                    config.data_dir.display()
                )
            },
        )?,
    );
    let target = Arc::new(
        ClickHouse::open(
            &config.clickhouse,
            &config.data_dir,
            crate::store::clickhouse::QueryLimits::of(config),
        )
        .await
        .with_context(|| format!("connecting to ClickHouse at {}", config.clickhouse.url))?,
    );
    if !target.is_empty().await? {
        bail!(
            "the ClickHouse database {} already holds sites or events; migrate into an empty database",
            config.clickhouse.database
        );
    }
    let snapshot = Tenancy::new(source.clone() as Arc<dyn Store>)
        .snapshot()
        .await?;
    let salts = source.salts().await?;
    // The data directory's ingest journal holds hits the copy includes: they must not be
    // stored a second time when spurlos starts on ClickHouse.
    let journal_mark = source.journal_mark().await?;
    let spans = source.export_spans().await?;
    let total: u64 = spans.iter().map(|s| s.rows).sum();
    progress(0, total);
    Tenancy::new(target.clone() as Arc<dyn Store>)
        .restore(&snapshot)
        .await
        .context("writing sites, customers, users, tokens and links")?;
    target
        .replace_salts(&salts)
        .await
        .context("writing salts")?;
    let mut copied = Copied {
        sites: snapshot.count(crate::tenancy::docs::SITE),
        ..Copied::default()
    };
    let mut done = 0;
    for span in &spans {
        let site_id = span.site_id;
        let mut from = span.first_ts.div_euclid(WINDOW) * WINDOW;
        while from <= span.last_ts {
            let batch = source.export_window(site_id, from, from + WINDOW).await?;
            from += WINDOW;
            if batch.events.is_empty() && batch.sessions.is_empty() {
                continue;
            }
            let rows = (batch.events.len() + batch.sessions.len()) as u64;
            copied.events += batch.events.len() as u64;
            copied.sessions += batch.sessions.len() as u64;
            target
                .write_batch(Arc::new(batch))
                .await
                .with_context(|| format!("copying the events of site {site_id}"))?;
            done += rows;
            progress(done, total);
        }
    }
    // Traffic sums of imported logs, as they are.
    let site_ids: Vec<u32> = spans.iter().map(|s| s.site_id).collect();
    let mut all_ids = snapshot.site_ids();
    all_ids.extend(site_ids);
    all_ids.sort_unstable();
    all_ids.dedup();
    let traffic = source.traffic(all_ids, i32::MIN, i32::MAX).await?;
    target
        .traffic_add(traffic)
        .await
        .context("copying traffic sums")?;
    // Imported history (AWStats), by site and source.
    for imported in source.export_imported().await? {
        target
            .imported_put(
                imported.site_id,
                imported.source,
                imported.days,
                imported.rows,
            )
            .await
            .context("copying imported statistics")?;
    }
    target.set_journal_mark(journal_mark)?;
    // Batches ClickHouse refused wait in the spool; hand them over before checking.
    target.checkpoint().await?;
    let stored = target.row_counts().await?;
    let expected: u64 = copied.events + copied.sessions;
    let got: u64 = stored.iter().map(|(_, e, s)| e + s).sum();
    if got != expected {
        bail!("ClickHouse holds {got} rows after copying {expected}; spooled batches remain in the data directory and are stored when spurlos starts on ClickHouse");
    }
    Ok(copied)
}
