//! The set-password page behind the one-time links the admin API hands out
//! (`/set-password?token=...`): a plain form (no script), German or English, the password
//! stored as an argon2 hash, the link used up on success.

use super::html::{alert, plain_page, status, Lang};
use super::{same_origin, AppState};
use crate::tenancy::secret_hash;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use crate::tenancy::users::MIN_PASSWORD_CHARS;

struct Texts {
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

fn page(status: StatusCode, lang: Lang, body: Markup) -> HttpResponse {
    plain_page(status, lang, lang.pick(&EN, &DE).title, body)
}

fn form(lang: Lang, token: &str, error: Option<&str>) -> Markup {
    let t = lang.pick(&EN, &DE);
    html! {
        p { (t.intro) }
        @if let Some(e) = error { (alert(e)) }
        form method="post" action={ "/set-password?lang=" (lang.code()) } {
            input type="hidden" name="token" value=(token);
            p { label { (t.password) br; input type="password" name="password" minlength=(MIN_PASSWORD_CHARS) required autocomplete="new-password"; } }
            p { label { (t.confirm) br; input type="password" name="confirm" minlength=(MIN_PASSWORD_CHARS) required autocomplete="new-password"; } }
            p { button type="submit" { (t.save) } }
        }
    }
}

fn invalid(lang: Lang) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        lang,
        alert(lang.pick(&EN, &DE).invalid_link),
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
    let lang = Lang::asked(&req);
    let now = state.stats.clock.now().timestamp();
    match state
        .tenancy
        .password_link_valid(&secret_hash(&q.token), now)
        .await
    {
        Ok(true) => page(StatusCode::OK, lang, form(lang, &q.token, None)),
        _ => invalid(lang),
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
    let lang = Lang::asked(&req);
    let t = lang.pick(&EN, &DE);
    if !same_origin(&req) {
        return invalid(lang);
    }
    let problem = if f.password.chars().count() < MIN_PASSWORD_CHARS || f.password.len() > 1024 {
        Some(t.too_short)
    } else if f.password != f.confirm {
        Some(t.mismatch)
    } else {
        None
    };
    let now = state.stats.clock.now().timestamp();
    let hash = secret_hash(&f.token);
    if let Some(problem) = problem {
        return match state.tenancy.password_link_valid(&hash, now).await {
            Ok(true) => page(
                StatusCode::BAD_REQUEST,
                lang,
                form(lang, &f.token, Some(problem)),
            ),
            _ => invalid(lang),
        };
    }
    let password = f.password.clone();
    let hashed =
        match tokio::task::spawn_blocking(move || crate::tenancy::users::hash_password(&password))
            .await
        {
            Ok(Ok(h)) => h,
            _ => return page(StatusCode::INTERNAL_SERVER_ERROR, lang, html! {}),
        };
    match state.tenancy.use_password_link(&hash, now, &hashed).await {
        Ok(Some(_)) => page(StatusCode::OK, lang, status(t.done)),
        _ => invalid(lang),
    }
}
