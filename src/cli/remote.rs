//! The running server's admin API as the CLI's [`Admin`](super::admin::Admin) interface (with
//! the admin token), and the choice between it and the data directory.

use super::admin::{Admin, Local};
use crate::config::Settings;
use crate::logs::import::{BatchResult, LogBatch};
use crate::logs::traffic::{TrafficQuery, TrafficReport};
use crate::stats::erase::{Erased, Period};
use crate::stats::imported::ImportRequest;
use crate::stats::restore::Restored;
use crate::tenancy::audit::Entry;
use crate::tenancy::customers::Customer;
use crate::tenancy::sites::{Site, SiteSettings, SiteSpec};
use crate::tenancy::tokens::TokenRequest;
use crate::tenancy::users::{Membership, User};
use crate::tenancy::Tenancy;
use anyhow::{anyhow, Context};
use std::time::Duration;

/// Where admin commands are carried out: the running server, or the data directory.
pub(super) enum Backend {
    Remote(Remote),
    Local(Box<Local>),
}

/// The admin API of a running server.
pub(super) struct Remote {
    base: String,
    token: String,
}

impl Backend {
    pub(super) async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let base = format!("http://{}", connect_addr(settings));
        let agent = agent();
        let health = format!("{base}/api/health");
        if tokio::task::block_in_place(|| agent.get(&health).call().is_ok()) {
            let token = crate::startup::admin_token(settings)?;
            return Ok(Backend::Remote(Remote { base, token }));
        }
        let store = crate::store::open(&settings.config)
            .await
            .with_context(|| {
                format!(
                    "no server answers at {base}, and the data directory {} cannot be opened \
                 (is a server with another SPURLOS_LISTEN using it?)",
                    settings.config.data_dir.display()
                )
            })?;
        let base = match &settings.config.public_url {
            Some(u) => u.clone(),
            None => base,
        };
        Ok(Backend::Local(Box::new(Local::new(
            Tenancy::new(store),
            settings.config.data_dir.clone(),
            base,
            settings.config.rollup_min_events,
            settings.config.geoip_db.clone(),
        ))))
    }
}

fn connect_addr(settings: &Settings) -> String {
    let addr = settings.listen;
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn remote_error(mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Error {
    let status = resp.status();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(String::from))
        .unwrap_or(body);
    anyhow!("the server answered {status}: {message}")
}

/// Calls the running server's admin API (blocking, off the async workers).
fn remote_json(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    tokio::task::block_in_place(|| remote_call(base, token, method, path, body))
}

fn remote_call(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{base}{path}");
    let auth = format!("Bearer {token}");
    let agent = agent();
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
        (_, Some(b)) => agent.post(&url).header("Authorization", &auth).send_json(b),
        (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .with_context(|| format!("calling {url}"))?;
    if !resp.status().is_success() {
        return Err(remote_error(resp));
    }
    let mut resp = resp;
    let text = resp.body_mut().read_to_string()?;
    if text.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    Ok(serde_json::from_str(&text)?)
}

/// A POST (or DELETE) without a body to the admin API, waiting up to `timeout`.
fn remote_call_with(
    base: &str,
    token: &str,
    delete: bool,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{base}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let auth = format!("Bearer {token}");
    let mut resp = if delete {
        agent.delete(&url).header("Authorization", &auth).call()
    } else {
        agent.post(&url).header("Authorization", &auth).send_empty()
    }
    .with_context(|| format!("calling {url}"))?;
    if !resp.status().is_success() {
        return Err(remote_error(resp));
    }
    Ok(serde_json::from_str(&resp.body_mut().read_to_string()?)?)
}

/// A PUT to the admin API; the answer and whether it was 201 Created.
fn remote_put(
    base: &str,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<(serde_json::Value, bool)> {
    let url = format!("{base}{path}");
    let mut resp = agent()
        .put(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .with_context(|| format!("calling {url}"))?;
    if !resp.status().is_success() {
        return Err(remote_error(resp));
    }
    let created = resp.status() == 201;
    Ok((
        serde_json::from_str(&resp.body_mut().read_to_string()?)?,
        created,
    ))
}

fn url_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Remote {
    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        Ok(serde_json::from_value(self.json("GET", path, None)?)?)
    }

    fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.json("DELETE", path, None).map(|_| ())
    }

    fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        remote_json(&self.base, &self.token, method, path, body)
    }

    fn put(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(serde_json::Value, bool)> {
        tokio::task::block_in_place(|| remote_put(&self.base, &self.token, path, body))
    }
}

impl Admin for Remote {
    async fn add_site(&self, spec: SiteSpec) -> anyhow::Result<Site> {
        let v = self.json(
            "POST",
            "/api/admin/sites",
            Some(serde_json::to_value(&spec)?),
        )?;
        Ok(serde_json::from_value(v)?)
    }

    async fn import_statistics(
        &self,
        site: &str,
        request: ImportRequest,
    ) -> anyhow::Result<(usize, usize)> {
        let path = format!("/api/admin/sites/{}/imported", url_segment(site));
        let v = self.json("POST", &path, Some(serde_json::to_value(&request)?))?;
        Ok((
            v["days"].as_u64().unwrap_or_default() as usize,
            v["rows"].as_u64().unwrap_or_default() as usize,
        ))
    }

    async fn traffic(&self, q: &TrafficQuery) -> anyhow::Result<TrafficReport> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("from", q.from.map(|d| d.to_string())),
            ("to", q.to.map(|d| d.to_string())),
            ("site", q.site.clone()),
            ("customer", q.customer.clone()),
        ] {
            if let Some(v) = v {
                query.append_pair(k, &v);
            }
        }
        self.get(&format!("/api/admin/traffic?{}", query.finish()))
    }

    async fn sites(&self) -> anyhow::Result<Vec<Site>> {
        self.get("/api/admin/sites")
    }

    async fn update_site(&self, domain: &str, settings: SiteSettings) -> anyhow::Result<Site> {
        let path = format!("/api/admin/sites/{}", url_segment(domain));
        let body = serde_json::to_value(settings)?;
        let v = tokio::task::block_in_place(|| {
            let url = format!("{}{path}", self.base);
            let mut resp = agent()
                .patch(&url)
                .header("Authorization", &format!("Bearer {}", self.token))
                .send_json(body)
                .with_context(|| format!("calling {url}"))?;
            if !resp.status().is_success() {
                return Err(remote_error(resp));
            }
            Ok::<_, anyhow::Error>(serde_json::from_str(&resp.body_mut().read_to_string()?)?)
        })?;
        Ok(v)
    }

    async fn remove_site(&self, domain: &str) -> anyhow::Result<()> {
        let path = format!("/api/admin/sites/{}", url_segment(domain));
        self.delete(&path)
    }

    async fn create_token(&self, request: TokenRequest) -> anyhow::Result<String> {
        let v = self.json(
            "POST",
            "/api/admin/tokens",
            Some(serde_json::to_value(&request)?),
        )?;
        Ok(v["token"].as_str().unwrap_or_default().to_string())
    }

    async fn put_customer(&self, handle: &str, name: &str) -> anyhow::Result<(Customer, bool)> {
        let path = format!("/api/admin/customers/{}", url_segment(handle));
        let (v, created) = self.put(&path, serde_json::json!({ "name": name }))?;
        Ok((serde_json::from_value(v)?, created))
    }

    async fn customers(&self) -> anyhow::Result<Vec<Customer>> {
        self.get("/api/admin/customers")
    }

    async fn remove_customer(&self, handle: &str) -> anyhow::Result<()> {
        let path = format!("/api/admin/customers/{}", url_segment(handle));
        self.delete(&path)
    }

    async fn users(&self) -> anyhow::Result<Vec<User>> {
        self.get("/api/admin/users")
    }

    async fn put_user(&self, email: &str, memberships: &[Membership]) -> anyhow::Result<User> {
        let path = format!("/api/admin/users/{}", url_segment(email));
        let (v, _) = self.put(&path, serde_json::json!({ "memberships": memberships }))?;
        Ok(serde_json::from_value(v)?)
    }

    async fn remove_user(&self, email: &str) -> anyhow::Result<()> {
        let path = format!("/api/admin/users/{}", url_segment(email));
        self.delete(&path)
    }

    async fn password_link(&self, email: &str) -> anyhow::Result<String> {
        let path = format!("/api/admin/users/{}/password-link", url_segment(email));
        let v = self.json("POST", &path, None)?;
        Ok(v["url"].as_str().unwrap_or_default().to_string())
    }

    async fn backup(&self, out: &std::path::Path) -> anyhow::Result<u64> {
        let url = format!("{}/api/admin/backup", self.base);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(24 * 3600)))
            .http_status_as_error(false)
            .build()
            .into();
        tokio::task::block_in_place(|| {
            let resp = agent
                .post(&url)
                .header("Authorization", &format!("Bearer {}", self.token))
                .send_empty()
                .with_context(|| format!("calling {url}"))?;
            if !resp.status().is_success() {
                return Err(remote_error(resp));
            }
            let len = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let bar = indicatif::ProgressBar::new(len).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let tmp = out.with_extension("partial");
            let mut file = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let mut reader = bar.wrap_read(resp.into_body().into_reader());
            let copied = std::io::copy(&mut reader, &mut file)
                .with_context(|| format!("writing {}", tmp.display()))?;
            file.sync_all()?;
            bar.finish_and_clear();
            if len != 0 && copied != len {
                anyhow::bail!("the backup was cut off after {copied} of {len} bytes");
            }
            std::fs::rename(&tmp, out).with_context(|| format!("naming {}", out.display()))?;
            Ok(copied)
        })
    }

    async fn log_start(&self, source: &str) -> anyhow::Result<String> {
        let v = self.json(
            "POST",
            "/api/admin/logs/runs",
            Some(serde_json::json!({ "source": source })),
        )?;
        v["run"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| anyhow!("the server answered no run id"))
    }

    async fn log_batch(
        &self,
        run: String,
        seq: u64,
        batch: LogBatch,
    ) -> anyhow::Result<BatchResult> {
        let url = format!("{}/api/admin/logs/runs/{}", self.base, url_segment(&run));
        let auth = format!("Bearer {}", self.token);
        // On a thread of its own, so that the next batch can be on its way meanwhile.
        tokio::task::spawn_blocking(move || {
            let body = serde_json::to_vec(&serde_json::json!({ "seq": seq, "entries": batch.entries, "others": batch.others }))?;
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(600)))
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(&body[..])
                .with_context(|| format!("calling {url}"))?;
            if !resp.status().is_success() {
                return Err(remote_error(resp));
            }
            Ok(serde_json::from_str(&resp.body_mut().read_to_string()?)?)
        })
        .await?
    }

    async fn log_finish(&self, run: &str) -> anyhow::Result<()> {
        self.delete(&format!("/api/admin/logs/runs/{}", url_segment(run)))
    }

    async fn after_import(&self) -> anyhow::Result<String> {
        Ok(format!(
            "the server at {} archives the imported days within five minutes",
            self.base
        ))
    }

    async fn export(
        &self,
        site: &str,
        period: Period,
        out: &std::path::Path,
    ) -> anyhow::Result<u64> {
        let mut query = Vec::new();
        if let Some(d) = period.from {
            query.push(format!("from={d}"));
        }
        if let Some(d) = period.to {
            query.push(format!("to={d}"));
        }
        let url = format!(
            "{}/api/admin/sites/{}/export?{}",
            self.base,
            url_segment(site),
            query.join("&")
        );
        let token = self.token.clone();
        let path = out.to_path_buf();
        tokio::task::block_in_place(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(24 * 3600)))
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = agent
                .get(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .with_context(|| format!("calling {url}"))?;
            if !resp.status().is_success() {
                return Err(remote_error(resp));
            }
            let mut file = std::fs::File::create_new(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes} received, {bytes_per_sec}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            let mut reader = bar.wrap_read(resp.body_mut().with_config().limit(u64::MAX).reader());
            let copied = std::io::copy(&mut reader, &mut file);
            bar.finish_and_clear();
            match copied {
                Ok(n) => Ok(n),
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    Err(anyhow!("receiving the export: {e}"))
                }
            }
        })
    }

    async fn restore(&self, site: &str, zip: &std::path::Path) -> anyhow::Result<Restored> {
        let bytes = std::fs::read(zip).with_context(|| format!("reading {}", zip.display()))?;
        let url = format!("{}/api/admin/sites/{}/import", self.base, url_segment(site));
        let token = self.token.clone();
        let v: serde_json::Value = tokio::task::block_in_place(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(6 * 3600)))
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = agent
                .post(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .header("Content-Type", "application/zip")
                .send(&bytes[..])
                .with_context(|| format!("calling {url}"))?;
            if !resp.status().is_success() {
                return Err(remote_error(resp));
            }
            Ok::<_, anyhow::Error>(serde_json::from_str(&resp.body_mut().read_to_string()?)?)
        })?;
        Ok(serde_json::from_value(v)?)
    }

    async fn audit_log(&self, customer: Option<&str>) -> anyhow::Result<Vec<Entry>> {
        let path = match customer {
            Some(h) => format!("/api/admin/audit?customer={}", url_segment(h)),
            None => "/api/admin/audit".to_string(),
        };
        self.get(&path)
    }

    async fn erase_statistics(&self, site: &str, period: Period) -> anyhow::Result<Erased> {
        let mut query = Vec::new();
        if let Some(d) = period.from {
            query.push(format!("from={d}"));
        }
        if let Some(d) = period.to {
            query.push(format!("to={d}"));
        }
        let path = format!(
            "/api/admin/sites/{}/statistics?{}",
            url_segment(site),
            query.join("&")
        );
        let v = tokio::task::block_in_place(|| {
            remote_call_with(
                &self.base,
                &self.token,
                true,
                &path,
                Duration::from_secs(6 * 3600),
            )
        })?;
        Ok(serde_json::from_value(v["deleted"].clone())?)
    }

    async fn archive(&self) -> anyhow::Result<u64> {
        println!(
            "the server at {} is archiving (this may take a while)",
            self.base
        );
        let v = tokio::task::block_in_place(|| {
            remote_call_with(
                &self.base,
                &self.token,
                false,
                "/api/admin/archive",
                Duration::from_secs(6 * 3600),
            )
        })?;
        Ok(v["archived_days"].as_u64().unwrap_or(0))
    }
}
