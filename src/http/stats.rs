//! Stats API handlers: `POST /api/v2/query` and the realtime visitor count.

use super::auth::caller;
use super::error::ApiError;
use super::AppState;
use actix_web::{web, HttpRequest, HttpResponse};

/// `POST /api/v2/query`
pub async fn query(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req, &state).await?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("not valid JSON ({e})")))?;
    let result = state.stats.query(&who, &value).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(result))
}

#[derive(serde::Deserialize)]
pub struct RealtimeParams {
    site_id: String,
}

/// `GET /api/v1/stats/realtime/visitors?site_id=...`: visitors in the last five minutes.
pub async fn realtime(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<RealtimeParams>,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req, &state).await?;
    let n = state.stats.realtime_visitors(&who, &params.site_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(n))
}
