//! The opt-out page, made to be embedded in a customer's privacy policy (`/opt-out?lang=de`):
//! it shows whether this browser is opted out and toggles the one cookie spurlos sets.

use super::client_ip::is_secure;
use super::html::{document, Frame, Lang};
use crate::ingest::privacy::OPT_OUT_COOKIE;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

const SCRIPT: &str = include_str!("../../assets/opt-out.js");
const MATOMO_SCRIPT: &str = include_str!("../../assets/matomo-opt-out.js");
const STYLE: &str = include_str!("../../assets/opt-out.css");
/// Ten years.
const MAX_AGE: u64 = 10 * 365 * 24 * 3600;

struct Texts {
    title: &'static str,
    counted: &'static str,
    opted_out: &'static str,
    button_counted: &'static str,
    button_opted_out: &'static str,
    checkbox_in: &'static str,
    checkbox_out: &'static str,
}

const EN: Texts = Texts {
    title: "Web analytics opt-out",
    counted: "Your visit is counted anonymously by our privacy-friendly web analytics. No personal data is stored and no tracking cookie is set. You may opt out: this browser will then not be counted at all.",
    opted_out: "You have opted out: visits from this browser are not counted. To keep this choice, an opt-out cookie is stored in your browser.",
    button_counted: "Opt out",
    button_opted_out: "Count my visits again",
    checkbox_in: "You are not opted out. Uncheck this box to opt out.",
    checkbox_out: "You are currently opted out. Check this box to opt in.",
};

const DE: Texts = Texts {
    title: "Widerspruch gegen die Webanalyse",
    counted: "Ihr Besuch wird von unserer datenschutzfreundlichen Webanalyse anonym gezählt. Es werden keine personenbezogenen Daten gespeichert und kein Tracking-Cookie gesetzt. Sie können widersprechen: Dieser Browser wird dann gar nicht mehr gezählt.",
    opted_out: "Sie haben widersprochen: Besuche mit diesem Browser werden nicht gezählt. Damit diese Wahl erhalten bleibt, wird ein Widerspruchs-Cookie in Ihrem Browser gespeichert.",
    button_counted: "Widersprechen",
    button_opted_out: "Besuche wieder zählen",
    checkbox_in: "Ihr Besuch wird gezählt. Entfernen Sie den Haken, um zu widersprechen.",
    checkbox_out: "Sie haben widersprochen. Setzen Sie den Haken, um wieder gezählt zu werden.",
};

fn texts(req: &HttpRequest) -> &'static Texts {
    Lang::asked(req).pick(&EN, &DE)
}

/// Matomo's `optOutJS`: a script for the customer's own page that draws an opt-out checkbox
/// into the element `divId` (default `matomo-opt-out`) and keeps the choice in Matomo's
/// first-party cookie `mtm_consent_removed`.
pub async fn matomo_script(req: HttpRequest) -> HttpResponse {
    let t = texts(&req);
    let div = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "divId")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 100)
        .unwrap_or_else(|| "matomo-opt-out".to_string());
    let config = serde_json::json!({
        "divId": div,
        "counted": t.counted,
        "optedOut": t.opted_out,
        "checkboxIn": t.checkbox_in,
        "checkboxOut": t.checkbox_out,
    });
    // JSON is valid JavaScript; `<` is escaped so no string can end a surrounding script tag.
    let config = config.to_string().replace('<', "\\u003c");
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(format!("window.SPURLOS_OPTOUT={config};\n{MATOMO_SCRIPT}"))
}

/// Whether this browser carries the opt-out cookie.
pub fn opted_out(req: &HttpRequest) -> bool {
    req.cookie(OPT_OUT_COOKIE).is_some()
}

/// `GET /opt-out`
pub async fn page(req: HttpRequest) -> HttpResponse {
    let lang = Lang::asked(&req);
    let t = lang.pick(&EN, &DE);
    let out = opted_out(&req);
    let (status, button) = if out {
        (t.opted_out, t.button_opted_out)
    } else {
        (t.counted, t.button_counted)
    };
    let body = html! {
        div id="spurlos-optout" data-opted-out=(if out { "1" } else { "0" })
            data-text-in=(t.counted) data-text-out=(t.opted_out)
            data-button-in=(t.button_counted) data-button-out=(t.button_opted_out) {
            p id="spurlos-status" { (status) }
            button id="spurlos-toggle" type="button" { (button) }
        }
    };
    let html = document(lang, t.title, Frame::OptOut, html! {}, body).into_string();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors *; base-uri 'none'",
        ))
        .body(html)
}

#[derive(serde::Deserialize)]
pub struct Toggle {
    action: String,
}

/// `POST /opt-out` with `action=out` or `action=in`, from the opt-out page itself.
pub async fn toggle(req: HttpRequest, form: web::Form<Toggle>) -> HttpResponse {
    if !super::same_origin(&req) {
        return HttpResponse::Forbidden().json(serde_json::json!({"error": {
            "code": "cross_origin",
            "message": "the opt-out can only be changed from the opt-out page itself",
        }}));
    }
    let out = form.action == "out";
    let attrs = if is_secure(&req) {
        "; SameSite=None; Secure; Partitioned"
    } else {
        "; SameSite=Lax"
    };
    let cookie = if out {
        format!("{OPT_OUT_COOKIE}=1; Path=/; Max-Age={MAX_AGE}; HttpOnly{attrs}")
    } else {
        format!("{OPT_OUT_COOKIE}=; Path=/; Max-Age=0; HttpOnly{attrs}")
    };
    HttpResponse::Ok()
        .insert_header(("Set-Cookie", cookie))
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"opted_out": out}))
}

/// `GET /opt-out.js`
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(SCRIPT)
}

/// `GET /opt-out.css`
pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(STYLE)
}
