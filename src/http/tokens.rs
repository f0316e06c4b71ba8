//! Stats API tokens: create (read or manage, for a site or a customer), list and revoke, for the
//! admin, manage tokens and owners in the dashboard, each only within their scope. A token is
//! shown once; afterwards it is known by its id (the first characters of its hash).

use super::auth::{manager, new_token, token_hash, Manager};
use super::error::ApiError;
use super::AppState;
use crate::store::{StoredToken, TokenAccess, TokenScope};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// Characters of the hash that name a token.
const ID_CHARS: usize = 12;

/// A new token's scope and access, as the API and the dashboard ask for it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub site: Option<String>,
    pub customer: Option<String>,
    #[serde(default)]
    pub access: TokenAccess,
}

/// A token as listed: never the token itself.
#[derive(Debug, serde::Serialize)]
pub struct TokenView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    pub access: TokenAccess,
    pub created: String,
}

fn not_found(what: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
}

/// Whether `manager` may see and revoke a token of `scope`.
fn in_scope(state: &AppState, manager: &Manager, scope: &TokenScope) -> bool {
    match scope {
        TokenScope::Site(id) => state
            .sites
            .by_id(*id)
            .is_some_and(|s| manager.may_manage_site(&s)),
        TokenScope::Customer(id) => manager.may_manage_customer(*id),
    }
}

/// Creates a token; answers the token (shown once) with its id and scope.
pub async fn create(
    state: &AppState,
    manager: &Manager,
    r: TokenRequest,
) -> Result<serde_json::Value, ApiError> {
    let scope = match (&r.site, &r.customer) {
        (Some(domain), None) => {
            let site = state
                .sites
                .by_domain(domain)
                .filter(|s| manager.may_manage_site(s))
                .ok_or_else(|| not_found(format!("no site {domain}")))?;
            TokenScope::Site(site.id)
        }
        (None, Some(handle)) => {
            let customer = super::admin::find_customer(state, handle).await?;
            if !manager.may_manage_customer(customer.id) {
                return Err(not_found(format!("no customer {}", customer.handle)));
            }
            TokenScope::Customer(customer.id)
        }
        _ => {
            return Err(ApiError::invalid(
                "body",
                "name exactly one of \"site\" and \"customer\"",
            ))
        }
    };
    let token = new_token();
    let hash = token_hash(&token);
    state.store.add_token(&hash, scope, r.access).await?;
    let mut answer = serde_json::json!({
        "token": token,
        "id": &hash[..ID_CHARS],
        "access": r.access,
    });
    match (r.site, r.customer) {
        (Some(site), _) => answer["site"] = site.into(),
        (_, Some(customer)) => answer["customer"] = customer.into(),
        _ => {}
    }
    Ok(answer)
}

/// The tokens `manager` may see, oldest first.
pub async fn list(state: &AppState, manager: &Manager) -> Result<Vec<TokenView>, ApiError> {
    let customers = state.store.customers().await?;
    let tokens: Vec<StoredToken> = state.store.tokens().await?;
    Ok(tokens
        .into_iter()
        .filter(|t| in_scope(state, manager, &t.scope))
        .map(|t| {
            let (site, customer) = match t.scope {
                TokenScope::Site(id) => (state.sites.by_id(id).map(|s| s.domain.clone()), None),
                TokenScope::Customer(id) => (
                    None,
                    customers
                        .iter()
                        .find(|c| c.id == id)
                        .map(|c| c.handle.clone()),
                ),
            };
            TokenView {
                id: t.hash[..ID_CHARS.min(t.hash.len())].to_string(),
                site,
                customer,
                access: t.access,
                created: chrono::DateTime::from_timestamp(t.created_ts, 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// Revokes the token with this id when `manager` may see it; nothing happens otherwise.
pub async fn revoke(state: &AppState, manager: &Manager, id: &str) -> Result<(), ApiError> {
    if id.len() != ID_CHARS || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "id",
            format!("a token id is {ID_CHARS} hexadecimal characters"),
        ));
    }
    for t in state.store.tokens().await? {
        if t.hash.starts_with(id) && in_scope(state, manager, &t.scope) {
            state.store.remove_token(&t.hash).await?;
        }
    }
    Ok(())
}

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
    Ok(HttpResponse::Created().json(create(&state, &manager, r).await?))
}

/// `GET /api/admin/tokens`: the tokens within the caller's scope (ids, never tokens).
pub async fn list_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let manager = manager(&req, &state).await?;
    Ok(HttpResponse::Ok().json(list(&state, &manager).await?))
}

/// `DELETE /api/admin/tokens/{id}`: 204, also when there was no such token.
pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let manager = manager(&req, &state).await?;
    revoke(&state, &manager, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
