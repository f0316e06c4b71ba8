//! The set-password page behind the one-time links the admin API hands out
//! (`/set-password?token=...`): a plain form (no script), German or English, the password
//! stored as an argon2 hash, the link used up on success.

use super::auth::token_hash;
use super::{escape_html, same_origin, AppState};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// How long a set-password link works: 48 hours.
pub const LINK_VALID_SECONDS: i64 = 48 * 3600;
use crate::users::MIN_PASSWORD_CHARS;

struct Texts {
    lang: &'static str,
    title: &'static str,
    intro: &'static str,
    password: &'static str,
    confirm: &'static str,
    save: &'static str,
    done: &'static str,
    invalid_link: &'static str,
    too_short: &'static str,
    mismatch: &'static str,
}

const EN: Texts = Texts {
    lang: "en",
    title: "Set your password",
    intro: "Choose a password for your statistics account (at least 10 characters).",
    password: "New password",
    confirm: "Repeat the password",
    save: "Save password",
    done: "Your password is set. You can close this page.",
    invalid_link:
        "This link is invalid, expired or used already. Ask your hosting provider for a new one.",
    too_short: "The password must have at least 10 characters.",
    mismatch: "The two passwords differ.",
};

const DE: Texts = Texts {
    lang: "de",
    title: "Passwort festlegen",
    intro: "Wählen Sie ein Passwort für Ihren Statistik-Zugang (mindestens 10 Zeichen).",
    password: "Neues Passwort",
    confirm: "Passwort wiederholen",
    save: "Passwort speichern",
    done: "Ihr Passwort ist gespeichert. Sie können diese Seite schließen.",
    invalid_link: "Dieser Link ist ungültig, abgelaufen oder schon benutzt. Bitten Sie Ihren Hosting-Anbieter um einen neuen.",
    too_short: "Das Passwort muss mindestens 10 Zeichen haben.",
    mismatch: "Die beiden Passwörter unterscheiden sich.",
};

fn texts(req: &HttpRequest) -> &'static Texts {
    let lang = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| super::header(req, "accept-language").to_string());
    if lang.trim_start().to_ascii_lowercase().starts_with("de") {
        &DE
    } else {
        &EN
    }
}

fn page(status: StatusCode, t: &Texts, body: &str) -> HttpResponse {
    super::html_page(status, t.lang, t.title, body)
}

fn form(t: &Texts, token: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p role=\"alert\">{}</p>", escape_html(e)))
        .unwrap_or_default();
    format!(
        "<p>{intro}</p>{error}<form method=\"post\" action=\"/set-password?lang={lang}\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
<p><label>{password}<br><input type=\"password\" name=\"password\" minlength=\"{min}\" required autocomplete=\"new-password\"></label></p>\
<p><label>{confirm}<br><input type=\"password\" name=\"confirm\" minlength=\"{min}\" required autocomplete=\"new-password\"></label></p>\
<p><button type=\"submit\">{save}</button></p></form>",
        intro = escape_html(t.intro),
        lang = t.lang,
        token = escape_html(token),
        password = escape_html(t.password),
        confirm = escape_html(t.confirm),
        save = escape_html(t.save),
        min = MIN_PASSWORD_CHARS,
    )
}

fn invalid(t: &Texts) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        t,
        &format!("<p role=\"alert\">{}</p>", escape_html(t.invalid_link)),
    )
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// `GET /set-password?token=...`
pub async fn form_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> HttpResponse {
    let t = texts(&req);
    let now = state.stats.clock.now().timestamp();
    match state
        .store
        .password_link_valid(&token_hash(&q.token), now)
        .await
    {
        Ok(true) => page(StatusCode::OK, t, &form(t, &q.token, None)),
        _ => invalid(t),
    }
}

#[derive(serde::Deserialize)]
pub struct SetPassword {
    token: String,
    password: String,
    confirm: String,
}

/// `POST /set-password`: the form's secret token is the CSRF protection (a page elsewhere
/// cannot know it), and a cross-site `Origin` is refused as well.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: web::Form<SetPassword>,
) -> HttpResponse {
    let t = texts(&req);
    if !same_origin(&req) {
        return invalid(t);
    }
    let problem = if f.password.chars().count() < MIN_PASSWORD_CHARS || f.password.len() > 1024 {
        Some(t.too_short)
    } else if f.password != f.confirm {
        Some(t.mismatch)
    } else {
        None
    };
    let now = state.stats.clock.now().timestamp();
    let hash = token_hash(&f.token);
    if let Some(problem) = problem {
        return match state.store.password_link_valid(&hash, now).await {
            Ok(true) => page(
                StatusCode::BAD_REQUEST,
                t,
                &form(t, &f.token, Some(problem)),
            ),
            _ => invalid(t),
        };
    }
    let password = f.password.clone();
    let hashed =
        match tokio::task::spawn_blocking(move || crate::users::hash_password(&password)).await {
            Ok(Ok(h)) => h,
            _ => return page(StatusCode::INTERNAL_SERVER_ERROR, t, ""),
        };
    match state.store.use_password_link(&hash, now, &hashed).await {
        Ok(Some(_)) => page(
            StatusCode::OK,
            t,
            &format!("<p role=\"status\">{}</p>", escape_html(t.done)),
        ),
        _ => invalid(t),
    }
}
