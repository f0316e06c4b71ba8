//! The admin API's token routes: create (read or manage, for a site or a customer), list and
//! revoke, each within the caller's scope (the rules: `tenancy::tokens`).

use super::auth::manager;
use super::error::ApiError;
use super::AppState;
use crate::tenancy::tokens::TokenRequest;
use actix_web::{web, HttpRequest, HttpResponse};

/// `POST /api/admin/tokens` with `{"site": DOMAIN}` or `{"customer": HANDLE}` and optionally
/// `"access": "read"|"manage"`: 201 with the token (shown once) and its id.
pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let manager = manager(&req, &state).await?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    let r: TokenRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    Ok(HttpResponse::Created().json(state.tenancy.create_token(&manager, r).await?))
}

/// `GET /api/admin/tokens`: the tokens within the caller's scope (ids, never tokens).
pub async fn list_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let manager = manager(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.tenancy.list_tokens(&manager).await?))
}

/// `DELETE /api/admin/tokens/{id}`: 204, also when there was no such token.
pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let manager = manager(&req, &state).await?;
    state.tenancy.revoke_token(&manager, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
