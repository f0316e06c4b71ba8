//! Dashboard users and their roles, for the admin (every customer), customer manage tokens and
//! owners in the dashboard (their own customer only: they see and change only memberships of
//! their customer, and cannot take over an account that also belongs to another customer).

use super::auth::{manager, new_token, token_hash, Manager};
use super::error::ApiError;
use super::AppState;
use crate::customers::Customer;
use crate::users::{normalise_email, Membership, Role, User};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

fn not_found(what: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
}

/// The customer a non-admin manager manages (users belong to customers, not to sites).
async fn managed_customer(state: &AppState, m: &Manager) -> Result<Option<Customer>, ApiError> {
    match m {
        Manager::Admin => Ok(None),
        Manager::Customer(id) => Ok(state
            .store
            .customers()
            .await?
            .into_iter()
            .find(|c| c.id == *id)),
        Manager::Site(_) => Err(ApiError::forbidden(
            "users belong to customers: use the admin token or a customer manage token",
        )),
    }
    .and_then(|c| match (m, c) {
        (Manager::Customer(_), None) => Err(not_found("the token's customer no longer exists")),
        (_, c) => Ok(c),
    })
}

/// A user as `m` may see it: only the memberships of the managed customer.
fn visible(user: User, customer: Option<&Customer>) -> Option<User> {
    match customer {
        None => Some(user),
        Some(c) => {
            let memberships: Vec<Membership> = user
                .memberships
                .into_iter()
                .filter(|m| m.customer == c.handle)
                .collect();
            (!memberships.is_empty()).then_some(User {
                memberships,
                ..user
            })
        }
    }
}

/// The users `m` may see.
pub async fn list(state: &AppState, m: &Manager) -> Result<Vec<User>, ApiError> {
    let customer = managed_customer(state, m).await?;
    Ok(state
        .store
        .users()
        .await?
        .into_iter()
        .filter_map(|u| visible(u, customer.as_ref()))
        .collect())
}

async fn find_user(state: &AppState, email: &str) -> Result<Option<User>, ApiError> {
    let email = normalise_email(email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    Ok(state
        .store
        .users()
        .await?
        .into_iter()
        .find(|u| u.email == email))
}

/// Sets a user's memberships (creating the user when new). The admin replaces them all; a
/// customer's manager sets only its own customer's membership and keeps the others.
pub async fn put(
    state: &AppState,
    m: &Manager,
    email: &str,
    wanted: &[Membership],
) -> Result<(User, bool), ApiError> {
    let managed = managed_customer(state, m).await?;
    let customers = state.store.customers().await?;
    let mut memberships: Vec<(u32, Role)> = Vec::with_capacity(wanted.len());
    for w in wanted {
        let handle = crate::customers::normalise_handle(&w.customer)
            .map_err(|e| ApiError::invalid("memberships", e.to_string()))?;
        let c = customers
            .iter()
            .find(|c| c.handle == handle)
            .filter(|c| managed.as_ref().is_none_or(|mc| mc.id == c.id))
            .ok_or_else(|| ApiError::invalid("memberships", format!("no customer {handle}")))?;
        memberships.push((c.id, w.role));
    }
    if let Some(mc) = &managed {
        // Keep the user's memberships of other customers as they are.
        if let Some(existing) = find_user(state, email).await? {
            for other in existing
                .memberships
                .iter()
                .filter(|x| x.customer != mc.handle)
            {
                if let Some(c) = customers.iter().find(|c| c.handle == other.customer) {
                    memberships.push((c.id, other.role));
                }
            }
        }
    }
    let (user, created) = state.store.put_user(email, memberships).await?;
    let user = match visible(user.clone(), managed.as_ref()) {
        Some(u) => u,
        None => User {
            memberships: Vec::new(),
            ..user
        },
    };
    Ok((user, created))
}

/// Removes a user (admin), or the user's membership of the managed customer (and the user,
/// when no membership is left).
pub async fn remove(state: &AppState, m: &Manager, email: &str) -> Result<(), ApiError> {
    let managed = managed_customer(state, m).await?;
    let Some(user) = find_user(state, email).await? else {
        return Ok(());
    };
    let Some(mc) = managed else {
        state.store.remove_user(user.id).await?;
        return Ok(());
    };
    if !user.memberships.iter().any(|x| x.customer == mc.handle) {
        return Ok(());
    }
    let rest: Vec<Membership> = user
        .memberships
        .iter()
        .filter(|x| x.customer != mc.handle)
        .cloned()
        .collect();
    if rest.is_empty() {
        state.store.remove_user(user.id).await?;
    } else {
        let customers = state.store.customers().await?;
        let keep = rest
            .iter()
            .filter_map(|x| {
                customers
                    .iter()
                    .find(|c| c.handle == x.customer)
                    .map(|c| (c.id, x.role))
            })
            .collect();
        state.store.put_user(&user.email, keep).await?;
    }
    Ok(())
}

/// A one-time set-password link for a user `m` may manage: a customer's manager only for users
/// who belong to that customer alone. Answers the link's URL and expiry (RFC 3339).
pub async fn password_link(
    state: &AppState,
    m: &Manager,
    email: &str,
    base: &str,
) -> Result<(String, String), ApiError> {
    let managed = managed_customer(state, m).await?;
    let user = find_user(state, email)
        .await?
        .filter(|u| {
            managed
                .as_ref()
                .is_none_or(|mc| u.memberships.iter().any(|x| x.customer == mc.handle))
        })
        .ok_or_else(|| not_found(format!("no user {email}")))?;
    if let Some(mc) = &managed {
        if user.memberships.iter().any(|x| x.customer != mc.handle) {
            return Err(ApiError::forbidden(
                "this user also belongs to another customer; ask the hosting provider",
            ));
        }
    }
    let token = new_token();
    let expires = state.stats.clock.now().timestamp() + super::password::LINK_VALID_SECONDS;
    state
        .store
        .add_password_link(&token_hash(&token), user.id, expires)
        .await?;
    let expires_at = chrono::DateTime::from_timestamp(expires, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    Ok((format!("{base}/set-password?token={token}"), expires_at))
}

/// `GET /api/admin/users`: every user (admin) or the managed customer's users.
pub async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let m = manager(&req, &state).await?;
    Ok(HttpResponse::Ok().json(list(&state, &m).await?))
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
    let (user, created) = put(&state, &m, &path, &r.memberships).await?;
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
    remove(&state, &m, &path).await?;
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
    let (url, expires) = password_link(&state, &m, &path, &base).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"url": url, "expires": expires})))
}
