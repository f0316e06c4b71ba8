//! Daily random salts for visitor ids: one per UTC day, created when first needed, and deleted
//! once the day after it has ended (48 hours after creation at the latest).

use crate::clock::SharedClock;
use crate::store::{DaySalt, Store, StoreError};
use chrono::{Days, NaiveDate};
use rand::RngCore;
use std::sync::Arc;
use tokio::sync::RwLock;

/// The salt keeper.
pub struct Salts {
    store: Arc<dyn Store>,
    clock: SharedClock,
    kept: RwLock<Vec<DaySalt>>,
}

/// The salts a hit is hashed with: today's, and yesterday's while it exists (to continue
/// sessions across midnight).
#[derive(Clone, Copy)]
pub struct CurrentSalts {
    pub today: [u8; 32],
    pub yesterday: Option<[u8; 32]>,
}

impl Salts {
    /// Loads the kept salts and rotates them for the current day.
    pub async fn load(store: Arc<dyn Store>, clock: SharedClock) -> Result<Self, StoreError> {
        let kept = store.salts().await?;
        let salts = Self {
            store,
            clock,
            kept: RwLock::new(kept),
        };
        salts.rotate().await?;
        Ok(salts)
    }

    fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    /// The salts for now, rotating first when the UTC day has changed.
    pub async fn current(&self) -> Result<CurrentSalts, StoreError> {
        let today = self.today();
        {
            let kept = self.kept.read().await;
            if let Some(found) = pick(&kept, today) {
                return Ok(found);
            }
        }
        self.rotate().await?;
        let kept = self.kept.read().await;
        pick(&kept, today).ok_or_else(|| StoreError::Salts("no salt after rotation".into()))
    }

    /// The kept salt of a UTC day, while it exists (log lines of today and yesterday are
    /// hashed like live hits of those days).
    pub async fn kept(&self, day: NaiveDate) -> Option<[u8; 32]> {
        let kept = self.kept.read().await;
        kept.iter().find(|(d, _)| *d == day).map(|(_, s)| *s)
    }

    /// Makes sure today's salt exists and every salt older than yesterday's is deleted.
    pub async fn rotate(&self) -> Result<(), StoreError> {
        let today = self.today();
        let yesterday = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        let mut kept = self.kept.write().await;
        let mut next: Vec<DaySalt> = kept
            .iter()
            .filter(|(day, _)| *day >= yesterday && *day <= today)
            .copied()
            .collect();
        if !next.iter().any(|(d, _)| *d == today) {
            let mut salt = [0u8; 32];
            rand::rng().fill_bytes(&mut salt);
            next.push((today, salt));
        }
        next.sort_by_key(|(d, _)| *d);
        if next != *kept {
            self.store.replace_salts(&next).await?;
            // Read back: where several nodes share a store, the salt written first wins.
            *kept = self
                .store
                .salts()
                .await?
                .into_iter()
                .filter(|(day, _)| *day >= yesterday && *day <= today)
                .collect();
        }
        Ok(())
    }
}

fn pick(kept: &[DaySalt], today: NaiveDate) -> Option<CurrentSalts> {
    let t = kept.iter().find(|(d, _)| *d == today)?;
    let y = today
        .checked_sub_days(Days::new(1))
        .and_then(|yd| kept.iter().find(|(d, _)| *d == yd));
    Some(CurrentSalts {
        today: t.1,
        yesterday: y.map(|(_, s)| *s),
    })
}

/// The visitor id: a keyed hash of site, truncated address and User-Agent.
pub fn visitor_id(salt: &[u8; 32], site_id: u32, truncated_ip: &[u8], user_agent: &str) -> u64 {
    let mut h = blake3::Hasher::new_keyed(salt);
    h.update(&site_id.to_le_bytes());
    h.update(&(truncated_ip.len() as u32).to_le_bytes());
    h.update(truncated_ip);
    h.update(user_agent.as_bytes());
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out.as_bytes()[..8]);
    u64::from_le_bytes(first)
}
