//! Admin API of log imports (`spurlos logs import` through a running server): start a run,
//! send batches of entries whose addresses the CLI truncated already, finish the run.

use super::auth::require_admin;
use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::logs::import::{Entry, LogError, MAX_BATCH_ENTRIES};
use actix_web::{web, HttpRequest, HttpResponse};

/// Largest batch body: [`MAX_BATCH_ENTRIES`] entries of at most a few KiB each.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::UnknownRun(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            LogError::TooMany => ApiError::invalid("entries", e.to_string()),
            LogError::Source => ApiError::invalid("source", e.to_string()),
            LogError::OutOfOrder(_) => ApiError::invalid("seq", e.to_string()),
            LogError::Store(s) => s.into(),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    source: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    /// The batch's number in its run (0, 1, ...): batches sent at once are stored in order.
    #[serde(default)]
    seq: Option<u64>,
    entries: Vec<Entry>,
}

/// `POST /api/admin/logs/runs` with `{"source": NAME}`: 201 with `{"run": ID}`.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    let r: StartRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let run = state.logs.start(&r.source)?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "run": run })))
}

/// `POST /api/admin/logs/runs/{run}` with `{"entries": [...]}` (at most
/// [`MAX_BATCH_ENTRIES`]): stores them all or nothing; answers what became of them per site.
pub async fn batch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = super::read_body(payload, MAX_BATCH_BYTES).await?;
    let r: BatchRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    if r.entries.len() > MAX_BATCH_ENTRIES {
        return Err(LogError::TooMany.into());
    }
    let result = state.logs.batch(&path, r.seq, r.entries).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// `DELETE /api/admin/logs/runs/{run}`: ends the run (204; 404 when there is none).
pub async fn finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    if state.logs.finish(&path) {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(LogError::UnknownRun(path.into_inner()).into())
    }
}
