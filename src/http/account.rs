//! Logging in to spurlos: the login form, sessions (an HttpOnly, SameSite=Lax cookie, Secure
//! over HTTPS; stored by hash with a CSRF token), logout, the account page with the user's
//! customers and sites, and password change. Failed logins are rate-limited per account and
//! per network. Pages are plain forms: no script, strict CSP, German or English.

use super::attempts::Checked;
pub use super::attempts::LoginLimiter;
use super::client_ip::{is_secure, ClientIp};
use super::html::{alert, plain_page, status, Lang};
use super::{same_origin, AppState};
use crate::tenancy::users::{hash_password, User, MIN_PASSWORD_CHARS};
use crate::tenancy::{new_secret, secret_hash};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

/// The session cookie of logged-in users (never set on visitors of customer sites).
pub const SESSION_COOKIE: &str = "spurlos_session";
/// How long a session lasts: 14 days.
pub const SESSION_SECONDS: i64 = 14 * 86_400;
struct Texts {
    login: &'static str,
    email: &'static str,
    password: &'static str,
    sign_in: &'static str,
    wrong: &'static str,
    too_many: &'static str,
    account: &'static str,
    signed_in_as: &'static str,
    customers: &'static str,
    sites: &'static str,
    no_sites: &'static str,
    logout: &'static str,
    change: &'static str,
    current: &'static str,
    new_password: &'static str,
    confirm: &'static str,
    changed: &'static str,
    bad_current: &'static str,
    bad_new: &'static str,
    expired: &'static str,
}

const EN: Texts = Texts {
    login: "Sign in to your statistics",
    email: "E-mail address",
    password: "Password",
    sign_in: "Sign in",
    wrong: "E-mail address or password is wrong.",
    too_many: "Too many failed attempts. Please wait a few minutes.",
    account: "Your statistics",
    signed_in_as: "Signed in as",
    customers: "Accounts",
    sites: "Sites",
    no_sites: "No sites yet.",
    logout: "Sign out",
    change: "Change password",
    current: "Current password",
    new_password: "New password (at least 10 characters)",
    confirm: "Repeat the new password",
    changed: "Your password is changed.",
    bad_current: "The current password is wrong.",
    bad_new: "The new password must have at least 10 characters and both entries must match.",
    expired: "This form has expired. Please try again.",
};

const DE: Texts = Texts {
    login: "Anmelden zur Statistik",
    email: "E-Mail-Adresse",
    password: "Passwort",
    sign_in: "Anmelden",
    wrong: "E-Mail-Adresse oder Passwort ist falsch.",
    too_many: "Zu viele Fehlversuche. Bitte warten Sie einige Minuten.",
    account: "Ihre Statistik",
    signed_in_as: "Angemeldet als",
    customers: "Konten",
    sites: "Websites",
    no_sites: "Noch keine Websites.",
    logout: "Abmelden",
    change: "Passwort ändern",
    current: "Aktuelles Passwort",
    new_password: "Neues Passwort (mindestens 10 Zeichen)",
    confirm: "Neues Passwort wiederholen",
    changed: "Ihr Passwort ist geändert.",
    bad_current: "Das aktuelle Passwort ist falsch.",
    bad_new:
        "Das neue Passwort braucht mindestens 10 Zeichen, und beide Eingaben müssen gleich sein.",
    expired: "Dieses Formular ist abgelaufen. Bitte versuchen Sie es noch einmal.",
};

fn texts(lang: Lang) -> &'static Texts {
    lang.pick(&EN, &DE)
}

/// A 303 redirect.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

fn login_page(status: StatusCode, lang: Lang, email: &str, error: Option<&str>) -> HttpResponse {
    let t = texts(lang);
    let body = html! {
        @if let Some(e) = error { (alert(e)) }
        form method="post" action="/login" {
            p { label { (t.email) br; input type="email" name="email" value=(email) required autocomplete="username"; } }
            p { label { (t.password) br; input type="password" name="password" required autocomplete="current-password"; } }
            p { button type="submit" { (t.sign_in) } }
        }
    };
    plain_page(status, lang, t.login, body)
}

/// The answer to a form whose CSRF token is not the session's.
fn expired(lang: Lang) -> HttpResponse {
    let t = texts(lang);
    plain_page(StatusCode::FORBIDDEN, lang, t.account, alert(t.expired))
}

/// The user, CSRF token and cookie hash of the request's session, if it is valid.
pub async fn session(req: &HttpRequest, state: &AppState) -> Option<(User, String, String)> {
    let cookie = req.cookie(SESSION_COOKIE)?;
    let hash = secret_hash(cookie.value());
    let now = state.stats.clock.now().timestamp();
    let login = state.tenancy.session(&hash, now).await.ok()??;
    Some((login.user, login.csrf, hash))
}

/// `GET /login`
pub async fn login_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if session(&req, &state).await.is_some() {
        return see_other("/account");
    }
    login_page(StatusCode::OK, Lang::of(&req), "", None)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

/// A hash to verify against when the account does not exist, so that both cases take as long.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("spurlos dummy password").unwrap_or_default())
}

/// `POST /login`
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientIp,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    let t = texts(lang);
    if !same_origin(&req) {
        return login_page(StatusCode::FORBIDDEN, lang, "", Some(t.expired));
    }
    let network = client.0.truncate(1).addr().to_string();
    let now = state.stats.clock.now().timestamp();
    let account = state.tenancy.user_login(&form.email).await.ok().flatten();
    let (user_id, stored) = match &account {
        Some(c) if !c.password_hash.is_empty() => (Some(c.user_id), c.password_hash.clone()),
        _ => (None, dummy_hash().to_string()),
    };
    let checked = state
        .login_limiter
        .check(&form.email, &network, now, &form.password, stored)
        .await;
    let user_id = match checked {
        Checked::Blocked(wait) => {
            let mut resp = login_page(
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                &form.email,
                Some(t.too_many),
            );
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&wait.to_string()) {
                resp.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, v);
            }
            return resp;
        }
        Checked::Busy => {
            return login_page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                &form.email,
                Some(t.too_many),
            )
        }
        Checked::Wrong => None,
        Checked::Right => user_id,
    };
    let customers = state
        .tenancy
        .customers_of(&form.email)
        .await
        .unwrap_or_default();
    let email: String = form.email.trim().chars().take(200).collect();
    let actor = crate::tenancy::audit::Actor::User { email };
    let Some(user_id) = user_id else {
        let event = crate::tenancy::audit::Event::new(actor, "sign_in_failed").customers(customers);
        super::audit::record(&state, &req, event).await;
        return login_page(StatusCode::UNAUTHORIZED, lang, &form.email, Some(t.wrong));
    };
    let event = crate::tenancy::audit::Event::new(actor, "sign_in").customers(customers);
    super::audit::record(&state, &req, event).await;
    let token = new_secret();
    let csrf = new_secret();
    if state
        .tenancy
        .add_session(&secret_hash(&token), user_id, &csrf, now + SESSION_SECONDS)
        .await
        .is_err()
    {
        return login_page(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            &form.email,
            Some(t.expired),
        );
    }
    let secure = if is_secure(&req) { "; Secure" } else { "" };
    let mut resp = see_other("/account");
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={SESSION_SECONDS}; HttpOnly; SameSite=Lax{secure}"
    )) {
        resp.headers_mut().insert(actix_web::http::header::SET_COOKIE, v);
    }
    resp
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Whether a form carries the session's CSRF token and comes from spurlos's own page.
pub fn csrf_ok(req: &HttpRequest, expected: &str, sent: &str) -> bool {
    same_origin(req)
        && blake3::hash(expected.as_bytes()) == blake3::hash(sent.as_bytes())
        && !sent.is_empty()
}

/// `POST /logout`
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Some((_, csrf, hash)) = session(&req, &state).await else {
        return see_other("/login");
    };
    if !csrf_ok(&req, &csrf, &form.csrf) {
        return expired(Lang::of(&req));
    }
    let _ = state.tenancy.remove_session(&hash).await;
    let mut resp = see_other("/login");
    resp.headers_mut().insert(
        actix_web::http::header::SET_COOKIE,
        actix_web::http::header::HeaderValue::from_static(
            "spurlos_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        ),
    );
    resp
}

async fn account_page(
    state: &AppState,
    lang: Lang,
    user: &User,
    csrf: &str,
    status: StatusCode,
    message: Option<Markup>,
) -> HttpResponse {
    let t = texts(lang);
    let customers = state.tenancy.customers().await.unwrap_or_default();
    let all_sites = state.sites.all();
    let mine: Vec<(&crate::tenancy::customers::Customer, &str)> = user
        .memberships
        .iter()
        .filter_map(|m| {
            customers
                .iter()
                .find(|c| c.handle == m.customer)
                .map(|c| (c, m.role.as_str()))
        })
        .collect();
    let domains: Vec<&str> = mine
        .iter()
        .flat_map(|(c, _)| {
            all_sites
                .iter()
                .filter(move |s| s.customer_id == Some(c.id))
                .map(|s| s.domain.as_str())
        })
        .collect();
    let body = html! {
        @if let Some(m) = message { (m) }
        p { (t.signed_in_as) " " strong { (user.email) } }
        h2 { (t.customers) }
        ul { @for (c, role) in &mine { li { (c.name) " (" (role) ")" } } }
        h2 { (t.sites) }
        ul id="sites" {
            @for d in &domains { li { (d) } }
            @if domains.is_empty() { li { (t.no_sites) } }
        }
        form method="post" action="/logout" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (t.logout) }
        }
        h2 { (t.change) }
        form method="post" action="/account/password" {
            input type="hidden" name="csrf" value=(csrf);
            p { label { (t.current) br; input type="password" name="current" required autocomplete="current-password"; } }
            p { label { (t.new_password) br; input type="password" name="password" minlength=(MIN_PASSWORD_CHARS) required autocomplete="new-password"; } }
            p { label { (t.confirm) br; input type="password" name="confirm" minlength=(MIN_PASSWORD_CHARS) required autocomplete="new-password"; } }
            p { button type="submit" { (t.change) } }
        }
    };
    plain_page(status, lang, t.account, body)
}

/// `GET /account`: who is signed in, their accounts and sites, logout and password change.
pub async fn overview(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some((user, csrf, _)) = session(&req, &state).await else {
        return see_other("/login");
    };
    account_page(&state, Lang::of(&req), &user, &csrf, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// `POST /account/password`
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientIp,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    let t = texts(lang);
    let Some((user, csrf, login_hash)) = session(&req, &state).await else {
        return see_other("/login");
    };
    if !csrf_ok(&req, &csrf, &form.csrf) {
        return expired(lang);
    }
    let stored = state
        .tenancy
        .user_login(&user.email)
        .await
        .ok()
        .flatten()
        .map(|c| c.password_hash)
        .unwrap_or_default();
    let network = client.0.truncate(1).addr().to_string();
    let now = state.stats.clock.now().timestamp();
    let current_ok = matches!(
        state
            .login_limiter
            .check(&user.email, &network, now, &form.current, stored)
            .await,
        Checked::Right
    );
    let fail =
        |status, text: &str| account_page(&state, lang, &user, &csrf, status, Some(alert(text)));
    if !current_ok {
        return fail(StatusCode::BAD_REQUEST, t.bad_current).await;
    }
    if form.password.chars().count() < MIN_PASSWORD_CHARS
        || form.password.len() > 1024
        || form.password != form.confirm
    {
        return fail(StatusCode::BAD_REQUEST, t.bad_new).await;
    }
    let password = form.password.clone();
    let hashed = tokio::task::spawn_blocking(move || hash_password(&password)).await;
    match hashed {
        Ok(Ok(h))
            if state
                .tenancy
                .set_password(user.id, &h, Some(&login_hash))
                .await
                .is_ok() =>
        {
            account_page(
                &state,
                lang,
                &user,
                &csrf,
                StatusCode::OK,
                Some(status(t.changed)),
            )
            .await
        }
        _ => fail(StatusCode::SERVICE_UNAVAILABLE, t.expired).await,
    }
}
