//! The admin API's token routes: create (read or manage, for a site or a customer), list and
//! revoke, each within the caller's scope (the rules: `tenancy::tokens`).

use super::audit::api_actor;
use super::auth::manager;
use super::error::ApiError;
use super::AppState;
use crate::tenancy::audit::Event;
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
    let made = state.tenancy.create_token(&manager, r).await?;
    let handles: Vec<&str> = made.customer.as_deref().into_iter().collect();
    let domains: Vec<&str> = made.site.as_deref().into_iter().collect();
    let customers = super::audit::customers_for(&state, &manager, &handles, &domains).await;
    let scope = made
        .site
        .clone()
        .or(made.customer.clone())
        .unwrap_or_default();
    let event = Event::new(api_actor(&req, &state), "token_created")
        .customers(customers)
        .detail(format!("{} ({:?}, {scope})", made.id, made.access));
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Created().json(made))
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
    let customers = super::audit::customers_for(&state, &manager, &[], &[]).await;
    let event = Event::new(api_actor(&req, &state), "token_revoked")
        .customers(customers)
        .detail(path.as_str());
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::NoContent().finish())
}
