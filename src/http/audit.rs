//! The audit log over HTTP: who a request acts as (the admin token, a token by its id, a
//! signed-in user), its network (truncated), recording an event, and reading the log (the
//! provider's admin API, an owner's page per customer).

use super::account::session;
use super::error::ApiError;
use super::html::{dashboard_page, Lang};
use super::AppState;
use crate::tenancy::audit::{Actor, Entry, Event};
use crate::tenancy::customers::Customer;
use crate::tenancy::users::Role;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

/// The network a request came from: its client address truncated to /24 (IPv4) or /48
/// (IPv6), as visitors' addresses are.
pub fn network(req: &HttpRequest) -> String {
    super::client_ip::client_addr(req)
        .truncate(1)
        .addr()
        .to_string()
}

/// Who an admin API request acts as: the admin token, or a token by its id.
pub fn api_actor(req: &HttpRequest, state: &AppState) -> Actor {
    match super::auth::bearer(req) {
        Some(t) if super::auth::is_admin(state, t) => Actor::Admin,
        Some(t) => Actor::Token {
            id: token_id(&crate::tenancy::secret_hash(t)),
        },
        None => Actor::Admin,
    }
}

/// A token's id in the log: the first 12 characters of its hash.
pub fn token_id(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// The signed-in user as an actor.
pub async fn session_actor(req: &HttpRequest, state: &AppState) -> Option<Actor> {
    session(req, state)
        .await
        .map(|(user, _, _)| Actor::User { email: user.email })
}

/// Records `event` with the request's network; a failure is logged, not passed on (the action
/// itself happened).
pub async fn record(state: &AppState, req: &HttpRequest, event: Event) {
    let now = state.stats.clock.now().timestamp();
    let event = event.network(network(req));
    if let Err(e) = state.tenancy.audit(event, now).await {
        tracing::error!(error = %e, "writing the audit log failed");
    }
}

/// An event concerning a site, by the request's API actor.
pub fn site_event(
    req: &HttpRequest,
    state: &AppState,
    action: &str,
    site: &crate::tenancy::sites::Site,
) -> Event {
    Event::new(api_actor(req, state), action).site(&site.domain, site.customer_id)
}

/// The customers an action concerns: the manager's own, and those of the named customers
/// (handles) and sites (domains).
pub async fn customers_for(
    state: &AppState,
    manager: &crate::tenancy::Manager,
    handles: &[&str],
    domains: &[&str],
) -> Vec<crate::tenancy::CustomerId> {
    let mut out = Vec::new();
    match manager {
        crate::tenancy::Manager::Customer(c) => out.push(*c),
        crate::tenancy::Manager::Site(id) => {
            out.extend(state.sites.by_id(*id).and_then(|s| s.customer_id))
        }
        crate::tenancy::Manager::Admin => {}
    }
    if !handles.is_empty() {
        let customers = state.tenancy.customers().await.unwrap_or_default();
        for h in handles {
            out.extend(customers.iter().filter(|c| c.handle == *h).map(|c| c.id));
        }
    }
    for d in domains {
        out.extend(state.sites.by_domain(d).and_then(|s| s.customer_id));
    }
    out
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    customer: Option<String>,
}

/// `GET /api/admin/audit[?customer=HANDLE]`: the audit log, newest first: all of it (admin
/// token), or one customer's (the admin token, or that customer's manage token).
pub async fn api_log(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let p = web::Query::<AuditParams>::from_query(req.query_string())
        .map_err(|e| ApiError::invalid("query", e.to_string()))?
        .into_inner();
    let customer = match p.customer {
        Some(handle) => Some(state.tenancy.customer_by_handle(&handle).await?.id),
        None => None,
    };
    let scope = match (&manager, customer) {
        (crate::tenancy::Manager::Admin, c) => c,
        (crate::tenancy::Manager::Customer(mine), Some(c)) if *mine == c => Some(c),
        (crate::tenancy::Manager::Customer(mine), None) => Some(*mine),
        _ => {
            return Err(ApiError::forbidden(
                "the audit log is the provider's, or a customer's for its manage token",
            ))
        }
    };
    Ok(HttpResponse::Ok().json(state.tenancy.audit_log(scope).await?))
}

/// `GET /dashboard/team/{handle}/audit` (owners of the customer): its audit log.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    let Some((user, _, _)) = session(&req, &state).await else {
        return super::account::see_other("/login");
    };
    let owner = user
        .memberships
        .iter()
        .any(|m| m.customer == *path && m.role == Role::Owner);
    let customer: Option<Customer> = state
        .tenancy
        .customers()
        .await
        .ok()
        .and_then(|cs| cs.into_iter().find(|c| c.handle == *path))
        .filter(|_| owner);
    let Some(customer) = customer else {
        return super::dashboard::not_found_page(lang);
    };
    let entries = state
        .tenancy
        .audit_log(Some(customer.id))
        .await
        .unwrap_or_default();
    let title = format!(
        "{} – {}",
        customer.name,
        lang.pick("Audit log", "Protokoll")
    );
    let back = format!(
        "/dashboard/team/{}",
        super::dashboard::segment(&customer.handle)
    );
    let header = html! { h1 { a href=(back) { "←" } " " (title) } };
    let body = html! {
        p { (lang.pick(
            "Who changed or exported what, and every sign-in, for the last 180 days. Networks are shortened like visitors' addresses.",
            "Wer was geändert oder exportiert hat, und jede Anmeldung, für die letzten 180 Tage. Netze sind wie die Adressen der Besucher gekürzt."
        )) }
        table id="audit" {
            thead { tr {
                th { (lang.pick("When (UTC)", "Wann (UTC)")) }
                th { (lang.pick("Who", "Wer")) }
                th { (lang.pick("What", "Was")) }
                th { (lang.pick("Site", "Website")) }
                th { (lang.pick("Details", "Einzelheiten")) }
                th { (lang.pick("Network", "Netz")) }
            } }
            tbody {
                @for e in &entries {
                    (row(e))
                }
            }
        }
        @if entries.is_empty() {
            p { (lang.pick("Nothing recorded yet.", "Noch nichts aufgezeichnet.")) }
        }
    };
    dashboard_page(StatusCode::OK, lang, &title, header, body)
}

fn row(e: &Entry) -> maud::Markup {
    let when = chrono::DateTime::from_timestamp(e.ts, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    html! {
        tr {
            td { (when) }
            td { (e.event.actor.to_string()) }
            td { code { (e.event.action) } }
            td { (e.event.site.clone().unwrap_or_default()) }
            td { (e.event.detail) }
            td { (e.event.network) }
        }
    }
}
