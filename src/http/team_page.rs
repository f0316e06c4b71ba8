//! The owners' page of a customer in the dashboard: its users (add, change the role, remove,
//! hand out a set-password link) and its Stats API tokens (create read or manage tokens for one
//! site or all of them, revoke). Server-rendered, no script; every form carries the CSRF token.

use super::account::{csrf_ok, see_other, session};
use super::auth::Manager;
use super::dashboard::{german, page, segment};
use super::error::ApiError;
use super::{escape_html, AppState};
use crate::customers::Customer;
use crate::store::TokenAccess;
use crate::users::{Membership, Role};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

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
        .store
        .customers()
        .await
        .ok()
        .and_then(|cs| cs.into_iter().find(|c| c.handle == handle))
        .filter(|_| owner);
    match customer {
        Some(c) => Ok((c, csrf)),
        None => {
            let lang = if german(req) { "de" } else { "en" };
            Err(page(StatusCode::NOT_FOUND, lang, "404", "<h1>404</h1>", ""))
        }
    }
}

struct Texts {
    lang: &'static str,
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

fn texts(req: &HttpRequest) -> Texts {
    if german(req) {
        Texts {
            lang: "de",
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
        }
    } else {
        Texts {
            lang: "en",
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
        }
    }
}

/// A small form that posts `fields` (plus the CSRF token) to `action` with one button.
fn button_form(action: &str, csrf: &str, fields: &[(&str, &str)], label: &str) -> String {
    let hidden: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape_html(v)
            )
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{hidden}<button type=\"submit\">{}</button></form>",
        escape_html(action),
        escape_html(csrf),
        escape_html(label)
    )
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    customer: &Customer,
    csrf: &str,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    let t = texts(req);
    let manager = Manager::Customer(customer.id);
    let base = format!("/dashboard/team/{}", segment(&customer.handle));
    let users = super::team::list(state, &manager).await.unwrap_or_default();
    let mut user_rows = String::new();
    for u in &users {
        let role = match u.memberships.first().map(|m| m.role) {
            Some(Role::Owner) => t.owner,
            _ => t.viewer,
        };
        let password = if u.has_password {
            t.password_set
        } else {
            t.no_password
        };
        user_rows.push_str(&format!(
            "<tr><td>{}</td><td>{role}</td><td>{password}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&u.email),
            button_form(
                &format!("{base}/users/link"),
                csrf,
                &[("email", &u.email)],
                t.link
            ),
            button_form(
                &format!("{base}/users/remove"),
                csrf,
                &[("email", &u.email)],
                t.remove
            ),
        ));
    }
    let tokens = super::tokens::list(state, &manager)
        .await
        .unwrap_or_default();
    let mut token_rows = String::new();
    for tk in &tokens {
        let scope = tk.site.as_deref().unwrap_or(t.all_sites);
        let access = match tk.access {
            TokenAccess::Manage => t.manage,
            TokenAccess::Read => t.read,
        };
        token_rows.push_str(&format!(
            "<tr><td><code>{id}</code></td><td>{}</td><td>{access}</td><td>{}</td><td>{}</td></tr>",
            escape_html(scope),
            escape_html(tk.created.get(..10).unwrap_or("")),
            button_form(
                &format!("{base}/tokens/{}/revoke", tk.id),
                csrf,
                &[],
                t.revoke
            ),
            id = escape_html(&tk.id),
        ));
    }
    let mut scope_options = format!("<option value=\"\">{}</option>", t.all_sites);
    for site in state.sites.all() {
        if site.customer_id == Some(customer.id) {
            scope_options.push_str(&format!("<option>{}</option>", escape_html(&site.domain)));
        }
    }
    let csrf_field = format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape_html(csrf)
    );
    let body = format!(
        "{message}<h2>{users_h}</h2><table id=\"users\">{user_rows}</table>\
<form method=\"post\" action=\"{base}/users\">{csrf_field}<p><label>{email}<br><input type=\"email\" name=\"email\" required></label></p>\
<p><label>{role}<br><select name=\"role\"><option value=\"viewer\">{viewer}</option><option value=\"owner\">{owner}</option></select></label></p>\
<p><button type=\"submit\">{save_user}</button></p></form>\
<h2>{tokens_h}</h2><table id=\"tokens\">{token_rows}</table>\
<form method=\"post\" action=\"{base}/tokens\">{csrf_field}<p><label>{scope}<br><select name=\"site\">{scope_options}</select></label></p>\
<p><label>{access}<br><select name=\"access\"><option value=\"read\">{read}</option><option value=\"manage\">{manage}</option></select></label></p>\
<p><button type=\"submit\">{create_token}</button></p></form>",
        users_h = t.users,
        email = t.email,
        role = t.role,
        viewer = t.viewer,
        owner = t.owner,
        save_user = t.save_user,
        tokens_h = t.tokens,
        scope = t.scope,
        access = t.access,
        read = t.read,
        manage = t.manage,
        create_token = t.create_token,
        base = escape_html(&base),
    );
    let title = format!("{}: {}", customer.name, t.title);
    let header = format!(
        "<h1><a href=\"/dashboard\">←</a> {}</h1>",
        escape_html(&title)
    );
    page(status, t.lang, &title, &header, &body)
}

fn status_message(text: &str, detail: Option<&str>) -> String {
    match detail {
        Some(d) => format!(
            "<p role=\"status\">{} <code id=\"shown-once\">{}</code></p>",
            escape_html(text),
            escape_html(d)
        ),
        None => format!("<p role=\"status\">{}</p>", escape_html(text)),
    }
}

fn alert(e: &ApiError) -> String {
    format!("<p role=\"alert\">{}</p>", escape_html(&e.message))
}

/// Carries out a form post of an owner: checks the session, ownership and CSRF token, runs
/// `action` as the customer's manager, and renders the page with its message or error.
async fn act<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    handle: &str,
    sent_csrf: &str,
    action: F,
) -> HttpResponse
where
    F: FnOnce(Manager) -> Fut,
    Fut: std::future::Future<Output = Result<String, ApiError>>,
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
    match result {
        Ok(msg) => render(req, state, &customer, &csrf, StatusCode::OK, &msg).await,
        Err(e) => render(req, state, &customer, &csrf, e.status, &alert(&e)).await,
    }
}

/// `GET /dashboard/team/{handle}` (owners).
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    match owned_customer(&req, &state, &path).await {
        Ok((customer, csrf)) => render(&req, &state, &customer, &csrf, StatusCode::OK, "").await,
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
    act(&req, &state, handle, &form.csrf, |m| async move {
        let wanted = [Membership {
            customer: handle.to_string(),
            role,
        }];
        super::team::put(st, &m, &f.email, &wanted).await?;
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
    act(&req, &state, handle, &form.csrf, |m| async move {
        super::team::remove(st, &m, &f.email).await?;
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
    act(&req, &state, handle, &form.csrf, |m| async move {
        let (url, _) = super::team::password_link(st, &m, &f.email, base).await?;
        Ok(status_message(note, Some(&url)))
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
    let (st, f, handle) = (&state, &form, path.as_str());
    act(&req, &state, handle, &form.csrf, |m| async move {
        let request = super::tokens::TokenRequest {
            site: (!f.site.is_empty()).then(|| f.site.clone()),
            customer: f.site.is_empty().then(|| handle.to_string()),
            access: if f.access == "manage" {
                TokenAccess::Manage
            } else {
                TokenAccess::Read
            },
        };
        let made = super::tokens::create(st, &m, request).await?;
        Ok(status_message(note, made["token"].as_str()))
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
    act(&req, &state, &handle, &form.csrf, |m| async move {
        super::tokens::revoke(st, &m, id).await?;
        Ok(status_message(done, None))
    })
    .await
}
