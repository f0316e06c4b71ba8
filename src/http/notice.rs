//! The privacy notice for a site's visitors as a page to embed in the site's privacy policy
//! (`/privacy-notice?site=DOMAIN&lang=de`, framable like the opt-out page, no script), and as
//! HTML and plain text for the owners' settings page. The wording lives in `crate::notice`.

use super::html::{document, Frame, Lang};
use super::AppState;
use crate::notice::{notice, Notice, NoticeFacts};
use crate::tenancy::sites::Site;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

/// The notice of `site` as this server would show it.
pub fn site_notice(req: &HttpRequest, state: &AppState, site: &Site, lang: Lang) -> Notice {
    let base = super::public_base(req, state);
    let facts = NoticeFacts {
        site,
        provider_name: state.provider_name.as_deref(),
        provider_contact: state.provider_contact.as_deref(),
        location: state.ingest.geo.enabled(),
        base: &base,
        kept: state.retention.kept(site),
    };
    notice(&facts, lang == Lang::De)
}

/// The notice as HTML (a heading and paragraphs), every text escaped.
pub fn fragment(n: &Notice) -> Markup {
    html! {
        div class="spurlos-notice" {
            h2 { (n.title) }
            @for p in &n.paragraphs {
                p { (p) }
            }
        }
    }
}

/// `GET /privacy-notice?site=DOMAIN&lang=de|en`
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = Lang::asked(&req);
    let asked = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "site")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (status, title, body) = match state.sites.by_domain(&asked) {
        Some(site) => {
            let n = site_notice(&req, &state, &site, lang);
            (StatusCode::OK, n.title.clone(), fragment(&n))
        }
        None => {
            let text = lang.pick(
                "There is no such site (give ?site=DOMAIN).",
                "Diese Website gibt es nicht (?site=DOMAIN angeben).",
            );
            (
                StatusCode::NOT_FOUND,
                text.to_string(),
                html! { p { (text) } },
            )
        }
    };
    let page = document(lang, &title, Frame::Embedded, html! {}, body).into_string();
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; frame-ancestors *; base-uri 'none'",
        ))
        .body(page)
}
