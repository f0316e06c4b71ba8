//! The admin API's user routes: list, add or change, remove, and set-password links, for the
//! admin, customer manage tokens and owners (the rules: `tenancy::team`).

use super::audit::api_actor;
use super::auth::manager;
use super::error::ApiError;
use super::AppState;
use crate::tenancy::audit::Event;
use crate::tenancy::users::Membership;
use actix_web::{web, HttpRequest, HttpResponse};

/// `GET /api/admin/users`: every user (admin) or the managed customer's users.
pub async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let m = manager(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.tenancy.team(&m).await?))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct UserRequest {
    memberships: Vec<Membership>,
}

/// `PUT /api/admin/users/{email}` with `{"memberships": [{"customer": HANDLE, "role":
/// "owner"|"viewer"}]}`: creates the user (201) or sets its memberships (200).
pub async fn put_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let m = manager(&req, &state).await?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    let r: UserRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let (user, created) = state.tenancy.put_member(&m, &path, &r.memberships).await?;
    let roles: Vec<String> = user
        .memberships
        .iter()
        .map(|m| format!("{}:{}", m.customer, m.role.as_str()))
        .collect();
    let handles: Vec<&str> = user
        .memberships
        .iter()
        .map(|m| m.customer.as_str())
        .collect();
    let customers = super::audit::customers_for(&state, &m, &handles, &[]).await;
    let action = if created {
        "user_added"
    } else {
        "user_roles_changed"
    };
    let event = Event::new(api_actor(&req, &state), action)
        .customers(customers)
        .detail(format!("{}: {}", user.email, roles.join(", ")));
    super::audit::record(&state, &req, event).await;
    Ok(if created {
        HttpResponse::Created().json(user)
    } else {
        HttpResponse::Ok().json(user)
    })
}

/// `DELETE /api/admin/users/{email}`: 204, also when there was no such user.
pub async fn remove_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let m = manager(&req, &state).await?;
    let before = state.tenancy.customers_of(&path).await.unwrap_or_default();
    state.tenancy.remove_member(&m, &path).await?;
    let customers = super::audit::customers_for(&state, &m, &[], &[]).await;
    let event = Event::new(api_actor(&req, &state), "user_removed")
        .customers(before.into_iter().chain(customers))
        .detail(path.as_str());
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/admin/users/{email}/password-link`: a one-time link (valid 48 hours) with which
/// the user sets a password; no mail server needed, the panel or the CLI hands it over.
pub async fn create_password_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let m = manager(&req, &state).await?;
    let base = super::public_base(&req, &state);
    let now = state.stats.clock.now().timestamp();
    let link = state.tenancy.password_link(&m, &path, &base, now).await?;
    let customers = state.tenancy.customers_of(&path).await.unwrap_or_default();
    let event = Event::new(api_actor(&req, &state), "password_link_created")
        .customers(customers)
        .detail(path.as_str());
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Created().json(link))
}
