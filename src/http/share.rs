//! Shared links: a read-only dashboard of one site at `/share/{secret}` that works without an
//! account, optionally behind a password, revocable by the site's owners. A password, once
//! given, is remembered by a cookie scoped to that link's path.

use super::account::see_other;
use super::attempts::Checked;
use super::client_ip::{is_secure, ClientIp};
use super::html::{alert, plain_page, Lang};
use super::{same_origin, AppState};
use crate::stats::Caller;
use crate::tenancy::secret_hash;
use crate::tenancy::{SharedLink, TokenScope};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

fn cookie_name(share: &SharedLink) -> String {
    format!("spurlos_share_{}", share.id)
}

/// How long an unlocked link stays unlocked.
const UNLOCK_SECONDS: i64 = 12 * 3600;

/// The proof of an unlocked link until `expires`: bound to the link, its password hash and
/// the expiry, so it cannot be made without the password, dies with a new password or the
/// link, and cannot be stretched.
fn unlock_mac(secret: &str, password_hash: &str, expires: i64) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"spurlos share unlock\0");
    h.update(secret.as_bytes());
    h.update(b"\0");
    h.update(password_hash.as_bytes());
    h.update(b"\0");
    h.update(&expires.to_le_bytes());
    h.finalize()
}

/// The unlock cookie's value: `expires.mac`.
fn unlock_value(secret: &str, password_hash: &str, expires: i64) -> String {
    format!(
        "{expires}.{}",
        unlock_mac(secret, password_hash, expires).to_hex()
    )
}

/// Whether an unlock cookie's value is genuine and not expired (compared in constant time:
/// `blake3::Hash` equality is).
fn unlocked(value: &str, secret: &str, password_hash: &str, now: i64) -> bool {
    let Some((expires, mac)) = value.split_once('.') else {
        return false;
    };
    let (Ok(expires), Ok(mac)) = (expires.parse::<i64>(), blake3::Hash::from_hex(mac)) else {
        return false;
    };
    now < expires && mac == unlock_mac(secret, password_hash, expires)
}

struct Texts {
    invalid: &'static str,
    title: &'static str,
    password: &'static str,
    open: &'static str,
    wrong: &'static str,
}

const EN: Texts = Texts {
    invalid: "This link is invalid or has been revoked.",
    title: "Protected statistics",
    password: "Password",
    open: "Open",
    wrong: "The password is wrong.",
};

const DE: Texts = Texts {
    invalid: "Dieser Link ist ungültig oder wurde zurückgezogen.",
    title: "Geschützte Statistik",
    password: "Passwort",
    open: "Öffnen",
    wrong: "Das Passwort ist falsch.",
};

fn not_found(req: &HttpRequest) -> HttpResponse {
    let lang = Lang::of(req);
    plain_page(
        StatusCode::NOT_FOUND,
        lang,
        lang.pick(&EN, &DE).invalid,
        html! {},
    )
}

fn password_form(req: &HttpRequest, secret: &str, status: StatusCode, error: bool) -> HttpResponse {
    let lang = Lang::of(req);
    let t = lang.pick(&EN, &DE);
    let body = html! {
        @if error { (alert(t.wrong)) }
        form method="post" action={ "/share/" (secret) } {
            p { label { (t.password) br; input type="password" name="password" required; } }
            p { button type="submit" { (t.open) } }
        }
    };
    plain_page(status, lang, t.title, body)
}

/// The link, when it exists and (if it has a password) the request carries its unlock cookie.
async fn open(
    req: &HttpRequest,
    state: &AppState,
    secret: &str,
) -> Result<SharedLink, HttpResponse> {
    let Ok(Some(access)) = state.tenancy.share_by_token(&secret_hash(secret)).await else {
        return Err(not_found(req));
    };
    let (share, password_hash) = (access.link, access.password_hash);
    if share.has_password {
        let now = state.stats.clock.now().timestamp();
        let ok = req
            .cookie(&cookie_name(&share))
            .is_some_and(|c| unlocked(c.value(), secret, &password_hash, now));
        if !ok {
            return Err(password_form(req, secret, StatusCode::UNAUTHORIZED, false));
        }
    }
    Ok(share)
}

/// `GET /share/{secret}`
pub async fn view(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let secret = path.into_inner();
    let share = match open(&req, &state, &secret).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let Some(site) = state.sites.by_id(share.site_id) else {
        return not_found(&req);
    };
    let caller = Caller::Token(TokenScope::Site(share.site_id));
    let base = format!("/share/{secret}");
    super::dashboard::render_site(&req, &state, &caller, &site.domain, Some(&base)).await
}

/// `GET /share/{secret}/export.csv`
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let share = match open(&req, &state, &path).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let Some(site) = state.sites.by_id(share.site_id) else {
        return not_found(&req);
    };
    let caller = Caller::Token(TokenScope::Site(share.site_id));
    super::dashboard::render_export(&req, &state, &caller, &site.domain).await
}

#[derive(serde::Deserialize)]
pub struct Unlock {
    password: String,
}

/// `POST /share/{secret}` with the link's password: remembered by a cookie for this link.
pub async fn unlock(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    client: ClientIp,
    form: web::Form<Unlock>,
) -> HttpResponse {
    let secret = path.into_inner();
    let Ok(Some(access)) = state.tenancy.share_by_token(&secret_hash(&secret)).await else {
        return not_found(&req);
    };
    let (share, password_hash) = (access.link, access.password_hash);
    if !same_origin(&req) {
        return password_form(&req, &secret, StatusCode::FORBIDDEN, false);
    }
    let network = client.0.truncate(1).addr().to_string();
    let key = format!("share-{}", share.id);
    let now = state.stats.clock.now().timestamp();
    match state
        .login_limiter
        .check(&key, &network, now, &form.password, password_hash.clone())
        .await
    {
        Checked::Right => {}
        Checked::Wrong => return password_form(&req, &secret, StatusCode::UNAUTHORIZED, true),
        Checked::Blocked(_) | Checked::Busy => {
            return password_form(&req, &secret, StatusCode::TOO_MANY_REQUESTS, true)
        }
    }
    let secure = if is_secure(&req) { "; Secure" } else { "" };
    let mut resp = see_other(&format!("/share/{secret}"));
    let cookie = format!(
        "{}={}; Path=/share/{secret}; Max-Age={UNLOCK_SECONDS}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(&share),
        unlock_value(&secret, &password_hash, now + UNLOCK_SECONDS)
    );
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&cookie) {
        resp.headers_mut()
            .insert(actix_web::http::header::SET_COOKIE, v);
    }
    resp
}
