//! Bearer tokens: the admin token, or a Stats API token looked up by its hash.

use super::error::ApiError;
use super::AppState;
use crate::stats::Caller;
use actix_web::HttpRequest;

/// A new random token (URL-safe, 43 characters).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % 64] as char)
        .collect::<String>()
}

/// The hash under which a token is stored.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn is_admin(state: &AppState, token: &str) -> bool {
    // Compare hashes so the comparison takes the same time wherever the tokens differ.
    blake3::hash(token.as_bytes()) == blake3::hash(state.admin_token.as_bytes())
}

/// The caller behind the request's bearer token.
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let token = bearer(req).ok_or_else(ApiError::unauthorized)?;
    if is_admin(state, token) {
        return Ok(Caller::Admin);
    }
    match state.store.token_scope(&token_hash(token)).await? {
        Some(scope) => Ok(Caller::Token(scope)),
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
