//! Password attempts (logins, password changes, protected shared links): counted per account
//! and per network before the memory-hard check runs, a bounded number of checks at once, and
//! a bounded table of recent failures.

use crate::tenancy::users::verify_password;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Failed attempts are counted over this window.
const LIMIT_WINDOW: i64 = 15 * 60;
/// Failed attempts allowed per account (or shared link) in the window.
const LIMIT_PER_ACCOUNT: usize = 5;
/// Failed attempts allowed per network (truncated address) in the window.
const LIMIT_PER_NETWORK: usize = 20;
/// Most accounts and networks with recent failures kept; the stalest go first.
pub const MAX_TRACKED: usize = 100_000;
/// Longest wait for a free password check before the answer is "busy".
const CHECK_WAIT: Duration = Duration::from_secs(5);

/// What became of a password attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Right,
    Wrong,
    /// Too many failures: seconds until the next attempt may be made.
    Blocked(i64),
    /// Every password check is taken (argon2 needs 19 MiB each); try again shortly.
    Busy,
}

/// Recent failed attempts by account and by network, and the password check slots.
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<i64>>>,
    checks: tokio::sync::Semaphore,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            failures: Mutex::new(HashMap::new()),
            checks: tokio::sync::Semaphore::new(cores),
        }
    }
}

fn keys(account: &str, network: &str) -> [(String, usize); 2] {
    [
        (
            format!("account:{}", account.trim().to_ascii_lowercase()),
            LIMIT_PER_ACCOUNT,
        ),
        (format!("network:{network}"), LIMIT_PER_NETWORK),
    ]
}

impl LoginLimiter {
    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<i64>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks `password` against `stored` for `account` from `network`: refused without a
    /// check when the limit is reached; otherwise the attempt counts as a failure until the
    /// check says it was right.
    pub async fn check(
        &self,
        account: &str,
        network: &str,
        now: i64,
        password: &str,
        stored: String,
    ) -> Checked {
        {
            let mut failures = self.failures();
            if let Some(wait) = blocked_for(&mut failures, account, network, now) {
                return Checked::Blocked(wait.max(1));
            }
            record(&mut failures, account, network, now);
        }
        let Ok(Ok(_slot)) = tokio::time::timeout(CHECK_WAIT, self.checks.acquire()).await else {
            return Checked::Busy;
        };
        let password = password.to_string();
        let right = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
            .await
            .unwrap_or(false);
        if !right {
            return Checked::Wrong;
        }
        let mut failures = self.failures();
        let [(account_key, _), (network_key, _)] = keys(account, network);
        failures.remove(&account_key);
        if let Some(times) = failures.get_mut(&network_key) {
            if let Some(i) = times.iter().position(|t| *t == now) {
                times.swap_remove(i);
            }
        }
        Checked::Right
    }
}

/// Seconds until another attempt is allowed, when a limit is reached (old failures dropped).
fn blocked_for(
    failures: &mut HashMap<String, Vec<i64>>,
    account: &str,
    network: &str,
    now: i64,
) -> Option<i64> {
    failures.retain(|_, times| {
        times.retain(|t| now - t < LIMIT_WINDOW);
        !times.is_empty()
    });
    keys(account, network)
        .iter()
        .filter_map(|(key, limit)| {
            let times = failures.get(key)?;
            (times.len() >= *limit)
                .then(|| times.iter().min().map_or(1, |t| t + LIMIT_WINDOW - now))
        })
        .max()
}

/// Counts a failure; at [`MAX_TRACKED`] keys the tenth with the oldest last failure go.
fn record(failures: &mut HashMap<String, Vec<i64>>, account: &str, network: &str, now: i64) {
    if failures.len() + 2 > MAX_TRACKED {
        let mut last: Vec<(i64, String)> = failures
            .iter()
            .map(|(k, t)| (t.iter().copied().max().unwrap_or(0), k.clone()))
            .collect();
        last.sort_unstable();
        for (_, key) in last.into_iter().take(MAX_TRACKED / 10 + 2) {
            failures.remove(&key);
        }
    }
    for (key, _) in keys(account, network) {
        failures.entry(key).or_default().push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_failures_stays_bounded() {
        let mut failures = HashMap::new();
        for i in 0..(MAX_TRACKED + 5_000) {
            record(
                &mut failures,
                &format!("a{i}@example.org"),
                "192.0.2.0",
                i as i64,
            );
        }
        assert!(failures.len() <= MAX_TRACKED, "{}", failures.len());
        // The newest attempts are still known.
        let last = format!("account:a{}@example.org", MAX_TRACKED + 4_999);
        assert!(failures.contains_key(&last));
    }
}
