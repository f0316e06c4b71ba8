//! `POST /api/event`: Plausible's Events API (JSON or text/plain bodies), with CORS.

use super::client_ip::ClientIp;
use super::cors;
use super::error::ApiError;
use super::AppState;
use crate::ingest::{enrich, Outcome, RawHit};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

/// `OPTIONS /api/event`
pub async fn preflight(req: HttpRequest) -> HttpResponse {
    super::preflight(&req, "POST, OPTIONS")
}

fn field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    short: &str,
    long: &str,
) -> Option<&'a Value> {
    obj.get(short)
        .or_else(|| obj.get(long))
        .filter(|v| !v.is_null())
}

fn text(
    obj: &serde_json::Map<String, Value>,
    short: &str,
    long: &str,
) -> Result<Option<String>, ApiError> {
    match field(obj, short, long) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(long, "must be a string")),
    }
}

fn flag(obj: &serde_json::Map<String, Value>, short: &str, long: &str, default: bool) -> bool {
    match field(obj, short, long) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => default,
    }
}

/// `POST /api/event`
pub async fn post_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientIp,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let result = match super::read_body(payload, state.max_body_bytes).await {
        Ok(body) => handle(&req, &state, client, &body).await,
        Err(e) => Err(e),
    };
    let mut resp = match &result {
        Ok(_) => HttpResponse::build(StatusCode::ACCEPTED),
        Err(e) => HttpResponse::build(e.status),
    };
    cors(&req, &mut resp);
    match result {
        Ok(Outcome::Excluded(crate::ingest::privacy::Exclusion::UnknownSite)) => {
            resp.insert_header(("x-spurlos-dropped", "unknown-site"));
            Ok(resp.content_type("text/plain").body("ok"))
        }
        Ok(_) => Ok(resp.content_type("text/plain").body("ok")),
        Err(e) => {
            let mut inner = actix_web::ResponseError::error_response(&e);
            for (k, v) in resp.finish().headers() {
                inner.headers_mut().insert(k.clone(), v.clone());
            }
            Ok(inner)
        }
    }
}

async fn handle(
    req: &HttpRequest,
    state: &AppState,
    client: ClientIp,
    body: &[u8],
) -> Result<Outcome, ApiError> {
    let text_body =
        std::str::from_utf8(body).map_err(|_| ApiError::invalid("body", "is not valid UTF-8"))?;
    let value: Value = serde_json::from_str(text_body)
        .map_err(|e| ApiError::invalid("body", format!("is not valid JSON ({e})")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("body", "must be a JSON object"))?;
    let name = text(obj, "n", "name")?.ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let url = text(obj, "u", "url")?.ok_or_else(|| ApiError::invalid("url", "is required"))?;
    let domain =
        text(obj, "d", "domain")?.ok_or_else(|| ApiError::invalid("domain", "is required"))?;
    let referrer = text(obj, "r", "referrer")?;
    let props_value = field(obj, "p", "props").or_else(|| field(obj, "m", "meta"));
    let props = enrich::props(props_value).map_err(|m| ApiError::invalid("props", m))?;
    let screen_width = match field(obj, "w", "screen_width") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|w| *w <= 100_000)
                .ok_or_else(|| ApiError::invalid("screen_width", "must be a whole number"))?
                as u32,
        ),
    };
    let raw = RawHit {
        domains: domain
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(String::from)
            .collect(),
        name,
        url,
        referrer,
        props,
        hash_mode: flag(obj, "h", "hashMode", false),
        interactive: flag(obj, "i", "interactive", true),
        screen_width,
        user_agent: super::header(req, "user-agent").to_string(),
        signals: super::privacy_signals(req),
        client: client.0,
        ts: None,
        site_id: None,
        track_bots: false,
        new_visit: false,
        heartbeat: false,
    };
    Ok(state.ingest.accept(raw).await?)
}
