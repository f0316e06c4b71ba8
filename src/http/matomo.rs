//! Matomo (Piwik) tracking endpoints: `/matomo.php`, `/piwik.php` and `/js/` with a query
//! string or a body: GET, form POST, POST with an empty body (`sendBeacon`), and bulk JSON.
//! Answers as Matomo does: the 43-byte GIF, 204 with `send_image=0`, 400 for bad requests
//! (with a JSON body naming the parameter), and `{"status":"success",...}` for bulk requests.

use super::client_ip::ClientIp;
use super::cors;
use super::error::ApiError;
use super::AppState;
use crate::ingest::matomo::{self, Params, Tracked, GIF};
use crate::ingest::privacy::ClientAddr;
use crate::ingest::{Prepared, RawHit};
use crate::tenancy::SiteId;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// `OPTIONS` on the tracking endpoints.
pub async fn preflight(req: HttpRequest) -> HttpResponse {
    super::preflight(&req, "GET, POST, OPTIONS")
}

fn with_cors(req: &HttpRequest, mut inner: HttpResponse) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    cors(req, &mut resp);
    for (k, v) in resp.finish().headers() {
        inner.headers_mut().insert(k.clone(), v.clone());
    }
    inner
}

fn error(req: &HttpRequest, e: ApiError) -> HttpResponse {
    with_cors(req, actix_web::ResponseError::error_response(&e))
}

fn is_admin_token(state: &AppState, token: Option<&str>) -> bool {
    token.is_some_and(|t| super::auth::is_admin(state, t))
}

/// spurlos's tracker for Matomo snippets (`_paq`), built from `tracker-js/src/matomo.js`.
pub const MATOMO_JS: &str = include_str!("../../tracker-js/dist/matomo.js");

/// `GET /matomo.js`, `/piwik.js`, and `/js/` without a query string.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(MATOMO_JS)
}

/// `GET|POST /matomo.php` (and `/piwik.php`, `/js/`).
pub async fn track(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientIp,
    payload: web::Payload,
) -> HttpResponse {
    if req.path().contains("/js/")
        && req.method() == actix_web::http::Method::GET
        && req.query_string().is_empty()
    {
        return script().await;
    }
    // Bulk bodies (JSON, or forms with `requests=`) may be larger than single requests.
    let limit = state.max_body_bytes.max(state.max_bulk_bytes);
    let body = match super::read_body(payload, limit).await {
        Ok(b) => b,
        Err(e) => return error(&req, e),
    };
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        let result = match serde_json::from_slice::<Value>(&body) {
            Err(e) => Err(ApiError::invalid(
                "body",
                format!("is not valid JSON ({e})"),
            )),
            Ok(v) => match v.get("requests").and_then(Value::as_array) {
                None => Err(ApiError::invalid("requests", "must be an array")),
                Some(requests) => {
                    let token = v.get("token_auth").and_then(Value::as_str);
                    bulk(&req, &state, client, requests, token).await
                }
            },
        };
        return match result {
            Ok(v) => with_cors(&req, HttpResponse::Ok().json(v)),
            Err(e) => error(&req, e),
        };
    }
    let mut params = Params::from_query(req.query_string());
    match std::str::from_utf8(&body) {
        Ok(text) => params.extend(Params::from_query(text)),
        Err(_) => return error(&req, ApiError::invalid("body", "is not valid UTF-8")),
    }
    if params.is_empty() {
        return error(
            &req,
            ApiError::invalid("idsite", "no tracking parameters were sent"),
        );
    }
    // Some clients (the Python `matomo` package) send a bulk as a form: `requests=...` repeated.
    let is_bulk =
        params.get("idsite").is_none() && params.0.iter().any(|(k, _)| is_requests_key(k));
    let most = if is_bulk {
        state.max_bulk_bytes
    } else {
        state.max_body_bytes
    };
    if body.len() > most {
        return error(&req, ApiError::too_large(most));
    }
    if is_bulk {
        let requests: Vec<Value> = params
            .0
            .iter()
            .filter(|(k, _)| is_requests_key(k))
            .map(|(_, v)| Value::String(v.clone()))
            .collect();
        let token = params.get("token_auth").map(String::from);
        return match bulk(&req, &state, client, &requests, token.as_deref()).await {
            Ok(v) => with_cors(&req, HttpResponse::Ok().json(v)),
            Err(e) => error(&req, e),
        };
    }
    let admin = is_admin_token(&state, params.get("token_auth"));
    let tracked = match matomo::parse(&params, admin) {
        Ok(t) => t,
        Err(e) => return error(&req, ApiError::invalid(e.field, e.message)),
    };
    let send_image = tracked.send_image;
    match raw_hit(&req, &state, client.0, tracked) {
        Err(e) => return error(&req, e),
        Ok(None) => {}
        Ok(Some(raw)) => {
            if let Err(e) = state.ingest.accept(raw).await {
                return error(&req, e.into());
            }
        }
    }
    let mut resp = if send_image {
        let mut r = HttpResponse::Ok();
        r.content_type("image/gif");
        r
    } else {
        HttpResponse::NoContent()
    };
    cors(&req, &mut resp);
    resp.insert_header(("Cache-Control", "no-store"));
    if send_image {
        resp.body(GIF)
    } else {
        resp.finish()
    }
}

/// The hit a parsed request records, `None` when it records nothing (no `rec=1`, or an
/// action spurlos does not keep). An unknown site is a 400, as in Matomo.
fn raw_hit(
    req: &HttpRequest,
    state: &AppState,
    client: ClientAddr,
    t: Tracked,
) -> Result<Option<RawHit>, ApiError> {
    if state.sites.by_id(SiteId(t.site_id)).is_none() {
        return Err(ApiError::invalid(
            "idsite",
            format!("there is no site with id {}", t.site_id),
        ));
    }
    if !t.record || (t.name.is_empty() && !t.heartbeat) {
        return Ok(None);
    }
    let client = match t.client_ip {
        Some(ip) => ClientAddr::reported(ip),
        None => client,
    };
    let user_agent = t
        .user_agent
        .unwrap_or_else(|| super::header(req, "user-agent").to_string());
    // Matomo's log importer puts the User-Agent into a custom variable (`Bot`/`Not-Bot`):
    // raw User-Agents are never stored, so such values are dropped.
    let ua = user_agent.trim();
    let props = t
        .props
        .into_iter()
        .filter(|(_, v)| ua.len() < 10 || !v.contains(ua))
        .collect();
    Ok(Some(RawHit {
        domains: Vec::new(),
        site_id: Some(t.site_id),
        name: if t.heartbeat {
            "heartbeat".to_string()
        } else {
            t.name
        },
        url: t.url,
        referrer: t.referrer,
        props,
        hash_mode: false,
        interactive: true,
        screen_width: t.screen_width,
        user_agent,
        signals: super::privacy_signals(req),
        client,
        ts: t.time,
        track_bots: t.track_bots,
        new_visit: t.new_visit,
        heartbeat: t.heartbeat,
    }))
}

fn is_requests_key(k: &str) -> bool {
    k == "requests" || k == "requests[]"
}

/// A bulk request: `{"requests": ["?idsite=1&...", {"idsite": "1", ...}], "token_auth": ..}`.
/// Every valid request is queued at once, or none is (503 when the queue is full).
async fn bulk(
    req: &HttpRequest,
    state: &AppState,
    client: ClientIp,
    requests: &[Value],
    bulk_token: Option<&str>,
) -> Result<Value, ApiError> {
    if requests.len() > state.max_bulk_requests {
        return Err(ApiError::invalid(
            "requests",
            format!("at most {} requests per bulk", state.max_bulk_requests),
        ));
    }
    let mut hits = Vec::new();
    let mut recorded = 0u64;
    let mut tracked = 0u64;
    let mut invalid: Vec<usize> = Vec::new();
    // Requests without `cip` are the sender's own: they all share its address.
    let peer = client.0;
    for (i, r) in requests.iter().enumerate() {
        let params = match r {
            Value::String(q) => Params::from_query(q.split_once('?').map_or(q.as_str(), |x| x.1)),
            Value::Object(o) => Params(
                o.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            _ => {
                invalid.push(i);
                continue;
            }
        };
        let admin = is_admin_token(state, params.get("token_auth").or(bulk_token));
        let Ok(t) = matomo::parse(&params, admin) else {
            invalid.push(i);
            continue;
        };
        let client = match t.client_ip {
            Some(ip) => ClientAddr::reported(ip),
            None => peer.duplicate(),
        };
        let raw = match raw_hit(req, state, client, t) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                tracked += 1;
                continue;
            }
            Err(_) => {
                invalid.push(i);
                continue;
            }
        };
        match state.ingest.prepare(raw).await {
            Ok(Prepared::Hits(h)) => {
                hits.extend(h);
                recorded += 1;
                tracked += 1;
            }
            Ok(Prepared::Excluded(_)) => tracked += 1,
            Err(crate::ingest::IngestError::Invalid { .. }) => invalid.push(i),
            Err(e) => return Err(e.into()),
        }
    }
    state
        .ingest
        .queue
        .send_all(hits)
        .await
        .map_err(ApiError::from)?;
    state.ingest.metrics.accepted(recorded);
    Ok(json!({
        "status": "success",
        "tracked": tracked,
        "invalid": invalid.len(),
        "invalid_indices": invalid,
    }))
}

/// `GET|POST /index.php` (and `POST /`): Matomo's legacy URLs. `module=API` is the API subset
/// of [`super::matomo_api`]; `module=CoreAdminHome&action=optOut` (with `language=de|en`) is
/// spurlos's opt-out page, so iframes in existing privacy policies keep working.
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    let body = match super::read_body(payload, state.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return error(&req, e),
    };
    let mut params = Params::from_query(req.query_string());
    if let Ok(text) = std::str::from_utf8(&body) {
        params.extend(Params::from_query(text));
    }
    match (params.get("module"), params.get("action")) {
        (Some("API"), _) => with_cors(&req, super::matomo_api::call(&state, &params).await),
        (Some("CoreAdminHome"), Some("optOut")) => super::optout::page(req).await,
        (Some("CoreAdminHome"), Some("optOutJS")) => super::optout::matomo_script(req).await,
        (Some(module), _) => error(
            &req,
            ApiError::new(
                crate::http::error::ErrorCode::NotFound,
                format!("module {module:?} with this action is not available in spurlos"),
            ),
        ),
        (None, _) => error(&req, ApiError::invalid("module", "is required")),
    }
}
