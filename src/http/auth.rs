//! Bearer tokens: the admin token, or a Stats API token looked up by its hash, as the caller
//! who reads (`Caller`) or the manager who changes (`tenancy::Manager`).

use super::error::ApiError;
use super::AppState;
use crate::stats::Caller;
use crate::tenancy::{secret_hash, Manager, TokenAccess, TokenScope};
use actix_web::HttpRequest;

pub(super) fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub(super) fn is_admin(state: &AppState, token: &str) -> bool {
    // Compare hashes so the comparison takes the same time wherever the tokens differ.
    blake3::hash(token.as_bytes()) == blake3::hash(state.admin_token.as_bytes())
}

/// 401 unless the bearer token is the admin token or the metrics token.
pub fn require_metrics_reader(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let token = bearer(req).ok_or_else(ApiError::unauthorized)?;
    let metrics_token = state.metrics_token.as_deref().is_some_and(|t| {
        // The same time wherever the tokens differ, as for the admin token.
        blake3::hash(token.as_bytes()) == blake3::hash(t.as_bytes())
    });
    if is_admin(state, token) || metrics_token {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// The caller behind the request's bearer token.
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let token = bearer(req).ok_or_else(ApiError::unauthorized)?;
    if is_admin(state, token) {
        return Ok(Caller::Admin);
    }
    match state.tenancy.token_scope(&secret_hash(token)).await? {
        Some((scope, _)) => Ok(Caller::Token(scope)),
        None => Err(ApiError::unauthorized()),
    }
}

/// Only the admin token.
pub fn require_admin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    match bearer(req) {
        Some(t) if is_admin(state, t) => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

/// The manager behind the request's bearer token: the admin token or a manage token (401 for
/// no or an unknown token, 403 for a read-only one).
pub async fn manager(req: &HttpRequest, state: &AppState) -> Result<Manager, ApiError> {
    let token = bearer(req).ok_or_else(ApiError::unauthorized)?;
    if is_admin(state, token) {
        return Ok(Manager::Admin);
    }
    match state.tenancy.token_scope(&secret_hash(token)).await? {
        Some((scope, TokenAccess::Manage)) => Ok(match scope {
            TokenScope::Site(id) => Manager::Site(id),
            TokenScope::Customer(id) => Manager::Customer(id),
        }),
        Some((_, TokenAccess::Read)) => Err(ApiError::forbidden(
            "this token only reads statistics; changes need a manage token",
        )),
        None => Err(ApiError::unauthorized()),
    }
}
