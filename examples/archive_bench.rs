//! Archive benchmark (issue 12, "archives follow the data"): times the archiver on
//! (1) one site whose only events are a few hundred spread over six years, and (2) the nightly
//! run of many small sites (default 10,000) with one day of light traffic each.
//!
//! `cargo run --example archive_bench -- [SITES] [EVENTS_PER_SITE] [DATA_DIR]`; the embedded
//! store in DATA_DIR (a fresh temporary directory by default), or ClickHouse as configured by
//! `SPURLOS_STORE=clickhouse` and `SPURLOS_CLICKHOUSE_*`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spurlos::clock::{ManualClock, SharedClock};
use spurlos::config::Config;
use spurlos::ingest::identify::SessionTracker;
use spurlos::ingest::Hit;
use spurlos::stats::archive::Archive;
use spurlos::store::{Store, VisitAttrs};
use spurlos::tenancy::sites::{SiteRegistry, SiteSpec};
use spurlos::tenancy::Tenancy;
use std::sync::Arc;
use std::time::Instant;

const DAY: i64 = 86_400;
/// 2024-12-02 00:00 UTC: the day the nightly run archives.
const NIGHT_DAY: i64 = 1_733_097_600;

fn hit(site_id: u32, ts: i64, path: String, visitor: u64) -> Hit {
    Hit {
        site_id,
        ts,
        name: "pageview".into(),
        interactive: true,
        hostname: "bench.example".into(),
        pathname: path,
        attrs: VisitAttrs {
            source: "Google".into(),
            country_code: "DE".into(),
            browser: "Firefox".into(),
            os: "Linux".into(),
            device: "desktop".into(),
            ..Default::default()
        },
        props: Vec::new(),
        visitor_id: visitor,
        prev_visitor_id: None,
        utc_offset: 0,
        new_visit: false,
        heartbeat: false,
        seq: 0,
    }
}

async fn store_hits(store: &Arc<dyn Store>, mut hits: Vec<Hit>) -> anyhow::Result<()> {
    hits.sort_by_key(|h| h.ts);
    let mut tracker = SessionTracker::default();
    for chunk in hits.chunks(50_000) {
        store
            .write_batch(Arc::new(tracker.assign(chunk.to_vec())))
            .await?;
    }
    Ok(())
}

async fn timed_run(
    store: &Arc<dyn Store>,
    tenancy: &Tenancy,
    clock: &SharedClock,
) -> anyhow::Result<(usize, f64)> {
    let sites = SiteRegistry::default();
    sites.replace(tenancy.sites().await?);
    let archive = Archive::load(store.clone(), sites, clock.clone()).await?;
    let t = Instant::now();
    let days = archive.run_once().await?;
    Ok((days, t.elapsed().as_secs_f64()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().collect();
    let n_sites: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let per_site: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let tmp = tempfile::tempdir()?;
    let dir = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.push(("SPURLOS_DATA_DIR".into(), dir.display().to_string()));
    let settings = Config::load_from(None, &env)?;
    let store: Arc<dyn Store> = spurlos::store::open(&settings.config).await?;
    println!("store: {:?}", settings.config.store);
    let tenancy = Tenancy::new(store.clone());
    let clock: SharedClock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(NIGHT_DAY + DAY + 3 * 3600, 0).unwrap_or_default(),
    ));
    let mut rng = StdRng::seed_from_u64(12);

    // (1) Six years, 300 events.
    let sparse = tenancy
        .add_site(SiteSpec {
            domain: "sparse.example".into(),
            timezone: Some("Europe/Berlin".into()),
            ..Default::default()
        })
        .await?;
    let start = NIGHT_DAY - 6 * 365 * DAY;
    let hits: Vec<Hit> = (0..300u64)
        .map(|i| {
            let ts = rng.random_range(start..NIGHT_DAY + DAY);
            hit(sparse.id.0, ts, format!("/p{}", i % 17), i)
        })
        .collect();
    store_hits(&store, hits).await?;
    let (days, secs) = timed_run(&store, &tenancy, &clock).await?;
    println!("sparse site: 300 events over six years: archived {days} days in {secs:.2} s");

    // (2) The nightly run: many sites, one day of light traffic each.
    let t = Instant::now();
    let mut hits = Vec::new();
    for s in 0..n_sites {
        let site = tenancy
            .add_site(SiteSpec {
                domain: format!("site{s}.example"),
                ..Default::default()
            })
            .await?;
        for i in 0..per_site {
            let ts = NIGHT_DAY + rng.random_range(0..DAY);
            hits.push(hit(site.id.0, ts, format!("/p{}", i % 7), i / 2));
        }
    }
    store_hits(&store, hits).await?;
    store.checkpoint().await?;
    println!(
        "seeded {n_sites} sites with {per_site} events each in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (days, secs) = timed_run(&store, &tenancy, &clock).await?;
    println!("nightly run: {n_sites} sites x 1 day: archived {days} days in {secs:.1} s");
    let (days, secs) = timed_run(&store, &tenancy, &clock).await?;
    println!("a second run with nothing to do: {days} days in {secs:.2} s");
    Ok(())
}
