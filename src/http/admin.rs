//! Admin API for hosting panels and the CLI (admin token): sites and Stats API tokens.

use super::auth::{new_token, require_admin, token_hash};
use super::error::ApiError;
use super::AppState;
use crate::sites::{normalise_domain, SiteSpec};
use crate::store::TokenScope;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// Checks the admin token, then reads and parses the JSON body.
async fn admin_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<T, ApiError> {
    require_admin(req, state)?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))
}

/// Reloads the in-memory registry after a change.
pub async fn reload_sites(state: &AppState) -> Result<(), ApiError> {
    let sites = state.store.sites().await?;
    state.sites.replace(sites);
    Ok(())
}

/// `GET /api/admin/sites`
pub async fn list_sites(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let sites: Vec<_> = state.sites.all().iter().map(|s| (**s).clone()).collect();
    Ok(HttpResponse::Ok().json(sites))
}

/// `POST /api/admin/sites` with a [`SiteSpec`]: 201 with the site, 409 when a domain is taken.
pub async fn add_site(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let spec: SiteSpec = admin_body(&req, &state, payload).await?;
    let site = state.store.add_site(spec).await?;
    reload_sites(&state).await?;
    Ok(HttpResponse::Created().json(site))
}

/// `DELETE /api/admin/sites/{domain}`: removes the site and all its data.
pub async fn remove_site(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let domain = path.into_inner();
    let site = normalise_domain(&domain)
        .and_then(|d| state.sites.all().into_iter().find(|s| s.domain == d))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no site {domain}"),
            )
        })?;
    state.store.remove_site(site.id).await?;
    state.stats.archive.forget_site(site.id);
    reload_sites(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/admin/archive`: archives every finished day now (the server also does so every
/// few minutes); answers how many days it archived.
pub async fn archive(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let days = state.stats.archive.run_once().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"archived_days": days})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    site: String,
}

/// `POST /api/admin/tokens` with `{"site": DOMAIN}`: a new read-only Stats API token.
pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let r: TokenRequest = admin_body(&req, &state, payload).await?;
    let site = state.sites.by_domain(&r.site).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no site {}", r.site),
        )
    })?;
    let token = new_token();
    state
        .store
        .add_token(&token_hash(&token), TokenScope::Site(site.id))
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"token": token, "site": site.domain})))
}
