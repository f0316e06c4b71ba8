//! The owners' page of a customer in the dashboard: its users (add, change the role, remove,
//! hand out a set-password link) and its Stats API tokens (create read or manage tokens for one
//! site or all of them, revoke). Server-rendered, no script; every form carries the CSRF token.

use super::account::{csrf_ok, see_other, session};
use super::dashboard::{not_found_page, segment};
use super::error::ApiError;
use super::html::{alert, dashboard_page, Lang};
use super::AppState;
use crate::tenancy::customers::Customer;
use crate::tenancy::users::{Membership, Role};
use crate::tenancy::{Manager, TokenAccess};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

/// The customer `handle` when the signed-in user owns it, with the session's CSRF token.
async fn owned_customer(
    req: &HttpRequest,
    state: &AppState,
    handle: &str,
) -> Result<(Customer, String), HttpResponse> {
    let Some((user, csrf, _)) = session(req, state).await else {
        return Err(see_other("/login"));
    };
    let owner = user
        .memberships
        .iter()
        .any(|m| m.customer == handle && m.role == Role::Owner);
    let customer = state
        .tenancy
        .customers()
        .await
        .ok()
        .and_then(|cs| cs.into_iter().find(|c| c.handle == handle))
        .filter(|_| owner);
    match customer {
        Some(c) => Ok((c, csrf)),
        None => Err(not_found_page(Lang::of(req))),
    }
}

struct Texts {
    title: &'static str,
    users: &'static str,
    email: &'static str,
    role: &'static str,
    owner: &'static str,
    viewer: &'static str,
    save_user: &'static str,
    remove: &'static str,
    link: &'static str,
    password_set: &'static str,
    no_password: &'static str,
    tokens: &'static str,
    all_sites: &'static str,
    read: &'static str,
    manage: &'static str,
    create_token: &'static str,
    revoke: &'static str,
    scope: &'static str,
    access: &'static str,
    new_token: &'static str,
    new_link: &'static str,
    done: &'static str,
}

const DE: Texts = Texts {
    title: "Team und Tokens",
    users: "Benutzer",
    email: "E-Mail-Adresse",
    role: "Rolle",
    owner: "Inhaber (verwaltet)",
    viewer: "Betrachter (nur lesen)",
    save_user: "Benutzer hinzufügen oder Rolle ändern",
    remove: "Entfernen",
    link: "Link zum Passwort-Setzen",
    password_set: "Passwort gesetzt",
    no_password: "noch kein Passwort",
    tokens: "API-Tokens",
    all_sites: "alle Websites",
    read: "nur lesen",
    manage: "lesen und verwalten",
    create_token: "Token anlegen",
    revoke: "Zurückziehen",
    scope: "Für",
    access: "Rechte",
    new_token: "Neues Token (wird nur jetzt angezeigt):",
    new_link: "Einmaliger Link zum Passwort-Setzen (48 Stunden gültig):",
    done: "Erledigt.",
};

const EN: Texts = Texts {
    title: "Team and tokens",
    users: "Users",
    email: "E-mail address",
    role: "Role",
    owner: "Owner (manages)",
    viewer: "Viewer (read only)",
    save_user: "Add a user or change a role",
    remove: "Remove",
    link: "Set-password link",
    password_set: "password set",
    no_password: "no password yet",
    tokens: "API tokens",
    all_sites: "all sites",
    read: "read only",
    manage: "read and manage",
    create_token: "Create a token",
    revoke: "Revoke",
    scope: "For",
    access: "Access",
    new_token: "New token (shown only now):",
    new_link: "One-time set-password link (valid for 48 hours):",
    done: "Done.",
};

fn texts(req: &HttpRequest) -> &'static Texts {
    Lang::of(req).pick(&EN, &DE)
}

/// A small form that posts `fields` (plus the CSRF token) to `action` with one button.
fn button_form(action: &str, csrf: &str, fields: &[(&str, &str)], label: &str) -> Markup {
    html! {
        form method="post" action=(action) class="inline" {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            button type="submit" { (label) }
        }
    }
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    customer: &Customer,
    csrf: &str,
    status: StatusCode,
    message: Markup,
) -> HttpResponse {
    let lang = Lang::of(req);
    let t = texts(req);
    let manager = Manager::Customer(customer.id);
    let base = format!("/dashboard/team/{}", segment(&customer.handle));
    let users = state.tenancy.team(&manager).await.unwrap_or_default();
    let tokens = state
        .tenancy
        .list_tokens(&manager)
        .await
        .unwrap_or_default();
    let sites: Vec<String> = state
        .sites
        .all()
        .iter()
        .filter(|s| s.customer_id == Some(customer.id))
        .map(|s| s.domain.clone())
        .collect();
    let body = html! {
        (message)
        p { a id="audit-link" href={ "/dashboard/team/" (segment(&customer.handle)) "/audit" } {
            (Lang::of(req).pick("Audit log (who did what, sign-ins)", "Protokoll (wer was getan hat, Anmeldungen)"))
        } }
        h2 { (t.users) }
        table id="users" {
            @for u in &users {
                tr {
                    td { (u.email) }
                    td { (match u.memberships.first().map(|m| m.role) { Some(Role::Owner) => t.owner, _ => t.viewer }) }
                    td { (if u.has_password { t.password_set } else { t.no_password }) }
                    td { (button_form(&format!("{base}/users/link"), csrf, &[("email", &u.email)], t.link)) }
                    td { (button_form(&format!("{base}/users/remove"), csrf, &[("email", &u.email)], t.remove)) }
                }
            }
        }
        form method="post" action={ (base) "/users" } {
            input type="hidden" name="csrf" value=(csrf);
            p { label { (t.email) br; input type="email" name="email" required; } }
            p { label { (t.role) br; select name="role" { option value="viewer" { (t.viewer) } option value="owner" { (t.owner) } } } }
            p { button type="submit" { (t.save_user) } }
        }
        h2 { (t.tokens) }
        table id="tokens" {
            @for tk in &tokens {
                tr {
                    td { code { (tk.id) } }
                    td { (tk.site.as_deref().unwrap_or(t.all_sites)) }
                    td { (match tk.access { TokenAccess::Manage => t.manage, TokenAccess::Read => t.read }) }
                    td { (tk.created.get(..10).unwrap_or("")) }
                    td { (button_form(&format!("{base}/tokens/{}/revoke", tk.id), csrf, &[], t.revoke)) }
                }
            }
        }
        form method="post" action={ (base) "/tokens" } {
            input type="hidden" name="csrf" value=(csrf);
            p { label { (t.scope) br; select name="site" {
                option value="" { (t.all_sites) }
                @for d in &sites { option { (d) } }
            } } }
            p { label { (t.access) br; select name="access" { option value="read" { (t.read) } option value="manage" { (t.manage) } } } }
            p { button type="submit" { (t.create_token) } }
        }
    };
    let title = format!("{}: {}", customer.name, t.title);
    let header = html! { h1 { a href="/dashboard" { "←" } " " (title) } };
    dashboard_page(status, lang, &title, header, body)
}

fn status_message(text: &str, detail: Option<&str>) -> Markup {
    html! {
        p role="status" {
            (text)
            @if let Some(d) = detail { " " code id="shown-once" { (d) } }
        }
    }
}

/// Carries out a form post of an owner: checks the session, ownership and CSRF token, runs
/// `action` as the customer's manager, and renders the page with its message or error.
async fn act<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    handle: &str,
    sent_csrf: &str,
    audit: (&str, String),
    action: F,
) -> HttpResponse
where
    F: FnOnce(Manager) -> Fut,
    Fut: std::future::Future<Output = Result<Markup, ApiError>>,
{
    let (customer, csrf) = match owned_customer(req, state, handle).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let result = if csrf_ok(req, &csrf, sent_csrf) {
        action(Manager::Customer(customer.id)).await
    } else {
        Err(ApiError::forbidden(
            "the form has expired; please try again",
        ))
    };
    if result.is_ok() {
        if let Some(actor) = super::audit::session_actor(req, state).await {
            let event = crate::tenancy::audit::Event::new(actor, audit.0)
                .customers([customer.id])
                .detail(audit.1);
            super::audit::record(state, req, event).await;
        }
    }
    match result {
        Ok(msg) => render(req, state, &customer, &csrf, StatusCode::OK, msg).await,
        Err(e) => render(req, state, &customer, &csrf, e.status, alert(&e.message)).await,
    }
}

/// `GET /dashboard/team/{handle}` (owners).
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    match owned_customer(&req, &state, &path).await {
        Ok((customer, csrf)) => {
            render(&req, &state, &customer, &csrf, StatusCode::OK, html! {}).await
        }
        Err(resp) => resp,
    }
}

#[derive(serde::Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// `POST /dashboard/team/{handle}/users`: adds a user or changes the user's role.
pub async fn save_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<UserForm>,
) -> HttpResponse {
    let role = Role::parse(&form.role).unwrap_or(Role::Viewer);
    let done = texts(&req).done;
    let (st, f, handle) = (&state, &form, path.as_str());
    let what = (
        "user_roles_changed",
        format!("{}: {handle}:{}", form.email, role.as_str()),
    );
    act(&req, &state, handle, &form.csrf, what, |m| async move {
        let wanted = [Membership {
            customer: handle.to_string(),
            role,
        }];
        st.tenancy.put_member(&m, &f.email, &wanted).await?;
        Ok(status_message(done, None))
    })
    .await
}

/// `POST /dashboard/team/{handle}/users/remove`: removes the user from the customer.
pub async fn remove_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<UserForm>,
) -> HttpResponse {
    let done = texts(&req).done;
    let (st, f, handle) = (&state, &form, path.as_str());
    let what = ("user_removed", form.email.clone());
    act(&req, &state, handle, &form.csrf, what, |m| async move {
        st.tenancy.remove_member(&m, &f.email).await?;
        Ok(status_message(done, None))
    })
    .await
}

/// `POST /dashboard/team/{handle}/users/link`: a one-time set-password link, shown once.
pub async fn password_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<UserForm>,
) -> HttpResponse {
    let base = super::public_base(&req, &state);
    let note = texts(&req).new_link;
    let (st, f, handle) = (&state, &form, path.as_str());
    let base = &base;
    let what = ("password_link_created", form.email.clone());
    act(&req, &state, handle, &form.csrf, what, |m| async move {
        let now = st.stats.clock.now().timestamp();
        let link = st.tenancy.password_link(&m, &f.email, base, now).await?;
        Ok(status_message(note, Some(&link.url)))
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    access: String,
}

/// `POST /dashboard/team/{handle}/tokens`: a new token, shown once.
pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let note = texts(&req).new_token;
    let owner = super::account::session(&req, &state)
        .await
        .map(|(u, _, _)| u.id);
    let (st, f, handle) = (&state, &form, path.as_str());
    let scope = if form.site.is_empty() {
        handle.to_string()
    } else {
        form.site.clone()
    };
    let what = ("token_created", format!("{} ({scope})", form.access));
    act(&req, &state, handle, &form.csrf, what, |m| async move {
        let request = crate::tenancy::tokens::TokenRequest {
            site: (!f.site.is_empty()).then(|| f.site.clone()),
            customer: f.site.is_empty().then(|| handle.to_string()),
            access: if f.access == "manage" {
                TokenAccess::Manage
            } else {
                TokenAccess::Read
            },
        };
        let made = st.tenancy.create_token_by(&m, request, owner).await?;
        Ok(status_message(note, Some(&made.token)))
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /dashboard/team/{handle}/tokens/{id}/revoke`
pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let (handle, id) = path.into_inner();
    let done = texts(&req).done;
    let (st, id) = (&state, id.as_str());
    let what = ("token_revoked", id.to_string());
    act(&req, &state, &handle, &form.csrf, what, |m| async move {
        st.tenancy.revoke_token(&m, id).await?;
        Ok(status_message(done, None))
    })
    .await
}
