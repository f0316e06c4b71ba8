//! Bearer tokens: the admin token, or a Stats API token looked up by its hash; who may read and
//! who may manage.

use super::error::ApiError;
use super::AppState;
use crate::sites::Site;
use crate::stats::Caller;
use crate::store::{TokenAccess, TokenScope};
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

/// Who may change things through the admin API: the admin, or a manage token (or an owner in
/// the dashboard) for one site or for one customer's sites, users and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Admin,
    Site(u32),
    Customer(u32),
}

impl Manager {
    /// Whether this manager may change `site`'s settings and tokens.
    pub fn may_manage_site(&self, site: &Site) -> bool {
        match self {
            Manager::Admin => true,
            Manager::Site(id) => *id == site.id,
            Manager::Customer(c) => site.customer_id == Some(*c),
        }
    }

    /// Whether this manager may change the users and customer tokens of `customer_id`.
    pub fn may_manage_customer(&self, customer_id: u32) -> bool {
        match self {
            Manager::Admin => true,
            Manager::Customer(c) => *c == customer_id,
            Manager::Site(_) => false,
        }
    }
}

/// The manager behind the request's bearer token: the admin token or a manage token (401 for
/// no or an unknown token, 403 for a read-only one).
pub async fn manager(req: &HttpRequest, state: &AppState) -> Result<Manager, ApiError> {
    let token = bearer(req).ok_or_else(ApiError::unauthorized)?;
    if is_admin(state, token) {
        return Ok(Manager::Admin);
    }
    match state.store.token_scope(&token_hash(token)).await? {
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
