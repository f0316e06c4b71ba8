//! Query benchmark: seeds one site with N synthetic events (default 10 million, 30 days,
//! realistic sessions) in the store, then times a dashboard's worth of Stats API queries
//! (aggregate, 30-day series, top pages, top sources, countries) and prints the median.
//!
//! `cargo run --example query_bench -- [EVENTS] [RUNS] [DATA_DIR]`; with `RAW_ONLY=1` the day
//! archives are deleted first, to time the same queries on raw events. The store is the one the
//! environment configures (`SPURLOS_STORE=clickhouse` and `SPURLOS_CLICKHOUSE_*` for ClickHouse;
//! default: the embedded store in DATA_DIR).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use spurlos::clock::{ManualClock, SharedClock};
use spurlos::config::Config;
use spurlos::ingest::identify::SessionTracker;
use spurlos::ingest::Hit;
use spurlos::stats::archive::Archive;
use spurlos::stats::{Caller, Stats};
use spurlos::store::{Store, VisitAttrs};
use spurlos::tenancy::sites::{SiteRegistry, SiteSpec};
use spurlos::tenancy::Tenancy;
use std::sync::Arc;
use std::time::Instant;

const DAY: i64 = 86_400;

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    // Skewed towards the first items, like real top lists.
    let r: f64 = rng.random::<f64>();
    let i = ((r * r * r) * items.len() as f64) as usize;
    items[i.min(items.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(11);
    let dir = match args.get(3) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("spurlos-query-bench-{total}")),
    };
    let end = 1_717_977_600i64 + 31 * DAY; // 2024-07-11 00:00 UTC
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.push(("SPURLOS_DATA_DIR".into(), dir.display().to_string()));
    let settings = Config::load_from(None, &env)?;
    let store = spurlos::store::open(&settings.config).await?;
    println!("store: {:?}", settings.config.store);
    let store_dyn: Arc<dyn Store> = store.clone();
    let tenancy = Tenancy::new(store_dyn.clone());
    if tenancy.sites().await?.is_empty() {
        let site = tenancy
            .add_site(SiteSpec {
                domain: "bench.example".into(),
                ..Default::default()
            })
            .await?;
        seed(&store_dyn, site.id.0, total, end).await?;
    } else {
        println!("reusing seeded data in {}", dir.display());
    }
    let sites = SiteRegistry::default();
    sites.replace(tenancy.sites().await?);
    let clock: SharedClock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(end - 3600, 0).unwrap_or_default(),
    ));
    // The server archives finished days in the background; the bench does it up front and
    // reports how long it took (nothing to do when the data directory is reused).
    let archive = Arc::new(Archive::load(store_dyn.clone(), sites.clone(), clock.clone()).await?);
    let t = Instant::now();
    let days = archive.run_once().await?;
    println!("archived {days} days in {:.1} s", t.elapsed().as_secs_f64());
    let raw_only = std::env::var_os("RAW_ONLY").is_some();
    let stats = Stats {
        store: store_dyn.clone(),
        archive: if raw_only {
            // For comparison: the same queries on raw events only.
            store_dyn.archive_delete(1, archive.days(1)).await?;
            Arc::new(Archive::load(store_dyn, sites.clone(), clock.clone()).await?)
        } else {
            archive
        },
        sites,
        clock,
        limits: Default::default(),
    };
    let queries = [
        (
            "aggregate",
            json!({"site_id": "bench.example", "date_range": "30d", "metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"], "include": {"comparisons": {"mode": "previous_period"}}}),
        ),
        (
            "30-day series",
            json!({"site_id": "bench.example", "date_range": "30d", "metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]}),
        ),
        (
            "top pages",
            json!({"site_id": "bench.example", "date_range": "30d", "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "pagination": {"limit": 10}}),
        ),
        (
            "top sources",
            json!({"site_id": "bench.example", "date_range": "30d", "metrics": ["visitors"], "dimensions": ["visit:source"], "pagination": {"limit": 10}}),
        ),
        (
            "countries",
            json!({"site_id": "bench.example", "date_range": "30d", "metrics": ["visitors"], "dimensions": ["visit:country"], "pagination": {"limit": 10}}),
        ),
    ];
    let mut totals = Vec::with_capacity(runs);
    let mut per_query: Vec<Vec<f64>> = vec![Vec::new(); queries.len()];
    for run in 0..runs {
        let t_all = Instant::now();
        for (i, (_, q)) in queries.iter().enumerate() {
            let t = Instant::now();
            let v = stats.query(&Caller::Admin, q).await?;
            per_query[i].push(t.elapsed().as_secs_f64() * 1000.0);
            if run == 0 {
                let first = v["results"].get(0).cloned().unwrap_or_default();
                println!(
                    "{:>14}: {} rows, first {}",
                    queries[i].0,
                    v["results"].as_array().map_or(0, |a| a.len()),
                    first
                );
            }
        }
        totals.push(t_all.elapsed().as_secs_f64() * 1000.0);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    for (i, (name, _)) in queries.iter().enumerate() {
        println!("{name:>14}: median {:.1} ms", median(&mut per_query[i]));
    }
    println!(
        "dashboard total over {runs} runs: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        median(&mut totals.clone()),
        totals.iter().cloned().fold(f64::MAX, f64::min),
        totals.iter().cloned().fold(0.0, f64::max)
    );
    Ok(())
}

/// The id a synthetic visitor has on a given day.
fn day_id(visitor: u64, day: i64) -> u64 {
    let mut x = visitor ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

async fn seed(store: &Arc<dyn Store>, site_id: u32, total: u64, end: i64) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(7);
    let pages: Vec<String> = (0..400)
        .map(|i| format!("/section-{}/page-{i}", i % 12))
        .collect();
    let pages: Vec<&str> = std::iter::once("/")
        .chain(pages.iter().map(String::as_str))
        .collect();
    let sources = [
        "",
        "Google",
        "Twitter",
        "Facebook",
        "DuckDuckGo",
        "Bing",
        "news.example",
        "blog.example",
        "Reddit",
        "LinkedIn",
        "Hacker News",
        "GitHub",
    ];
    let countries = [
        "DE", "US", "AT", "CH", "FR", "GB", "NL", "PL", "IT", "ES", "SE", "", "CA", "JP", "BR",
    ];
    let browsers = [
        "Chrome",
        "Safari",
        "Firefox",
        "Edge",
        "Opera",
        "Samsung Internet",
    ];
    let oses = ["Windows", "macOS", "Android", "iPhone", "Linux"];
    let mut tracker = SessionTracker::default();
    let start = end - 30 * DAY;
    let mut made = 0u64;
    let mut batch: Vec<Hit> = Vec::with_capacity(50_000);
    let t = Instant::now();
    let mut last_expire = start;
    while made < total {
        // Sessions arrive in time order across the 30 days.
        let ts = start + ((made as f64 / total as f64) * (30 * DAY) as f64) as i64;
        let visitor: u64 = rng.random_range(0..total / 6 + 1);
        let attrs = VisitAttrs {
            source: pick(&mut rng, &sources).into(),
            country_code: pick(&mut rng, &countries).into(),
            browser: pick(&mut rng, &browsers).into(),
            browser_version: "120".into(),
            os: pick(&mut rng, &oses).into(),
            device: if rng.random_bool(0.4) {
                "mobile".into()
            } else {
                "desktop".into()
            },
            screen: "Laptop".into(),
            ..Default::default()
        };
        let n = 1 + (rng.random::<f64>().powi(2) * 6.0) as u64;
        let mut at = ts;
        for k in 0..n.min(total - made) {
            let custom = k > 0 && rng.random_bool(0.1);
            batch.push(Hit {
                site_id,
                ts: at,
                name: if custom {
                    "Signup".into()
                } else {
                    "pageview".into()
                },
                interactive: true,
                hostname: "bench.example".into(),
                pathname: pick(&mut rng, &pages).into(),
                attrs: attrs.clone(),
                props: Vec::new(),
                // Like real ids: one per visitor and UTC day (daily salts), continuing a
                // visit across midnight under yesterday's id.
                visitor_id: day_id(visitor, at.div_euclid(DAY)),
                prev_visitor_id: Some(day_id(visitor, at.div_euclid(DAY) - 1)),
                utc_offset: 0,
                new_visit: false,
                heartbeat: false,
                seq: 0,
            });
            at += rng.random_range(5..240);
            made += 1;
        }
        if batch.len() >= 50_000 {
            store
                .write_batch(Arc::new(tracker.assign(std::mem::take(&mut batch))))
                .await?;
            if ts - last_expire > 3600 {
                tracker.expire(ts);
                last_expire = ts;
            }
        }
    }
    store.write_batch(Arc::new(tracker.assign(batch))).await?;
    store.checkpoint().await?;
    println!("seeded {made} events in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}
