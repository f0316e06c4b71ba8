//! Day archives in ClickHouse: rows of a build in `archive`, the current build named by an
//! `archived_day` document; builds that are neither current nor young are deleted.

use super::rows::ArchiveRecord;
use super::{ch, ClickHouse};
use crate::store::{ArchiveRow, ArchiveStore, ArchivedDay, StoreFuture};

/// Archive builds are named by their creation time (high bits) and chance (low 24 bits).
fn new_build() -> u64 {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    (now << 24) | (rand::random::<u64>() & 0xff_ffff)
}

/// Builds older than an hour that are not current can go. Younger ones stay: another node may
/// be about to make its build current (several nodes archive the same days).
fn build_cutoff() -> u64 {
    let hour_ago = chrono::Utc::now().timestamp().max(3600) as u64 - 3600;
    hour_ago << 24
}

impl ArchiveStore for ClickHouse {
    fn archived_days(&self) -> StoreFuture<'_, Vec<ArchivedDay>> {
        Box::pin(async move {
            Ok(self
                .archived_docs()
                .await?
                .into_iter()
                .map(|d| ArchivedDay {
                    site_id: d.site_id,
                    day: d.day,
                    timezone: d.timezone,
                    rollups: d.rollups,
                })
                .collect())
        })
    }

    fn archive_put(&self, days: Vec<(ArchivedDay, Vec<ArchiveRow>)>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if days.is_empty() {
                return Ok(());
            }
            // One build for all days: one insert, one document write, one deletion of the
            // older builds (a mutation per day would keep ClickHouse busy for hours).
            let build = new_build();
            let mut list: Vec<ArchivedDay> = Vec::with_capacity(days.len());
            let mut rows: Vec<ArchiveRecord> = Vec::new();
            for (day, day_rows) in days {
                for r in day_rows {
                    rows.push(ArchiveRecord::new(day.site_id, day.day, build, r));
                }
                list.push(day);
            }
            if !rows.is_empty() {
                let mut insert = self
                    .client
                    .insert::<ArchiveRecord>("archive")
                    .await
                    .map_err(ch("storing an archive"))?;
                for r in &rows {
                    insert.write(r).await.map_err(ch("storing an archive"))?;
                }
                insert.end().await.map_err(ch("storing an archive"))?;
            }
            self.put_archived(&list, build).await?;
            let mut by_site: std::collections::BTreeMap<u32, Vec<i32>> = Default::default();
            for d in &list {
                by_site.entry(d.site_id).or_default().push(d.day);
            }
            for (site_id, days) in by_site {
                self.client
                    .query("ALTER TABLE archive DELETE WHERE site_id = ? AND has(?, day) AND build != ? AND build < ?")
                    .bind(site_id)
                    .bind(days)
                    .bind(build)
                    .bind(build_cutoff())
                    .execute()
                    .await
                    .map_err(ch("deleting an old archive"))?;
            }
            Ok(())
        })
    }

    fn archive_get(
        &self,
        site_id: u32,
        from: i32,
        to: i32,
        dim: &str,
    ) -> StoreFuture<'_, Vec<(i32, ArchiveRow)>> {
        let dim = dim.to_string();
        Box::pin(async move {
            // Each day's current build: a build covers several days, and the rows of a day
            // rebuilt since stay in the older build for up to an hour (see `build_cutoff`).
            let current: std::collections::HashMap<i32, u64> = self
                .archived_docs()
                .await?
                .into_iter()
                .filter(|d| d.site_id == site_id && d.day >= from && d.day <= to)
                .map(|d| (d.day, d.build))
                .collect();
            if current.is_empty() {
                return Ok(Vec::new());
            }
            let mut builds: Vec<u64> = current.values().copied().collect();
            builds.sort_unstable();
            builds.dedup();
            let rows = self
                .client
                .query("SELECT site_id, day, build, dim, value, visitors, pageviews, events, visits, visit_pageviews, bounces, duration FROM archive WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ? AND has(?, build)")
                .bind(site_id)
                .bind(dim.as_str())
                .bind(from)
                .bind(to)
                .bind(builds)
                .fetch_all::<ArchiveRecord>()
                .await
                .map_err(ch("reading archives"))?;
            Ok(rows
                .into_iter()
                .filter(|r| current.get(&r.day) == Some(&r.build))
                .map(ArchiveRecord::into_row)
                .collect())
        })
    }

    fn archive_delete(&self, site_id: u32, days: Vec<i32>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if days.is_empty() {
                return Ok(());
            }
            self.forget_archived(site_id, &days).await?;
            self.client
                .query("ALTER TABLE archive DELETE WHERE site_id = ? AND has(?, day) AND build < ?")
                .bind(site_id)
                .bind(days)
                .bind(build_cutoff())
                .execute()
                .await
                .map_err(ch("deleting archives"))
        })
    }

    fn archive_purge(&self, site_id: u32, days: Vec<i32>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if days.is_empty() {
                return Ok(());
            }
            self.forget_archived(site_id, &days).await?;
            self.client
                .query("ALTER TABLE archive DELETE WHERE site_id = ? AND has(?, day)")
                .bind(site_id)
                .bind(days)
                .execute()
                .await
                .map_err(ch("deleting archives"))?;
            super::wait_for_mutations(&self.client).await
        })
    }
}
