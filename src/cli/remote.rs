//! Where admin commands run: through the running server's admin API (with the admin token),
//! or, when no server answers, on the data directory through `tenancy::Tenancy` as the admin.

use crate::config::Settings;
use crate::tenancy::Tenancy;
use anyhow::{anyhow, Context};
use std::time::Duration;

/// Where admin commands are carried out.
pub(super) enum Backend {
    Remote { base: String, token: String },
    Local(Tenancy),
}

impl Backend {
    pub(super) async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let base = format!("http://{}", connect_addr(settings));
        let agent = agent();
        let health = format!("{base}/api/health");
        if tokio::task::block_in_place(|| agent.get(&health).call().is_ok()) {
            let token = crate::startup::admin_token(settings)?;
            return Ok(Backend::Remote { base, token });
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
        Ok(Backend::Local(Tenancy::new(store)))
    }
}

pub(super) fn connect_addr(settings: &Settings) -> String {
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
pub(super) fn remote_json(
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

/// A POST without a body to the admin API, waiting up to `timeout`.
pub(super) fn remote_call_with(
    base: &str,
    token: &str,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{base}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .send_empty()
        .with_context(|| format!("calling {url}"))?;
    if !resp.status().is_success() {
        return Err(remote_error(resp));
    }
    Ok(serde_json::from_str(&resp.body_mut().read_to_string()?)?)
}

/// A PUT to the admin API; the answer and whether it was 201 Created.
pub(super) fn remote_put(
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

pub(super) fn url_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
