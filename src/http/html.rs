//! The one page shell of spurlos's own HTML pages (dashboard, account, team, share, password
//! and opt-out pages) and the one way they choose their language. Pages are `maud` templates:
//! every value is escaped unless a page says otherwise, so visitor text stays text by
//! construction.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup, DOCTYPE};

/// The language of a page: English or German.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    /// For spurlos's own pages: the language the user chose (cookie), else the browser's.
    pub fn of(req: &HttpRequest) -> Self {
        if super::german(req) {
            Lang::De
        } else {
            Lang::En
        }
    }

    /// For pages embedded in or linked from customers' sites: the `lang` (or Matomo's
    /// `language`) parameter, else the browser's first language.
    pub fn asked(req: &HttpRequest) -> Self {
        let asked = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "lang" || k == "language")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_else(|| super::header(req, "accept-language").to_ascii_lowercase());
        if asked.trim_start().starts_with("de") {
            Lang::De
        } else {
            Lang::En
        }
    }

    /// The language's code (`en`, `de`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// One of two texts (or tables of texts).
    pub fn pick<T>(self, en: T, de: T) -> T {
        match self {
            Lang::En => en,
            Lang::De => de,
        }
    }

    fn other(self) -> Self {
        self.pick(Lang::De, Lang::En)
    }

    /// The language's name in itself.
    fn name(self) -> &'static str {
        self.pick("English", "Deutsch")
    }
}

/// The link to the same page in the other language.
pub fn language_switch(lang: Lang) -> Markup {
    let other = lang.other();
    html! {
        a href={ "/lang/" (other.code()) } hreflang=(other.code()) lang=(other.code()) { (other.name()) }
    }
}

/// Which style sheet and frame a page has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A small page (sign-in, account, password, shared-link password): the title as heading,
    /// the language switch below.
    Plain,
    /// A dashboard page: a header bar, the page, a footer with the language switch.
    Dashboard,
    /// The opt-out page, framed by customers' sites: the page and its script only (the
    /// embedding site chooses the language).
    OptOut,
    /// A page framed by customers' sites without a script (the privacy notice).
    Embedded,
}

/// A whole page of spurlos's own.
pub fn document(lang: Lang, title: &str, frame: Frame, header: Markup, body: Markup) -> Markup {
    let style = match frame {
        Frame::Plain | Frame::OptOut | Frame::Embedded => "/opt-out.css",
        Frame::Dashboard => "/dashboard.css",
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(style);
            }
            body {
                @match frame {
                    Frame::Plain => {
                        main {
                            h1 { (title) }
                            (body)
                            p { (language_switch(lang)) }
                        }
                    }
                    Frame::Dashboard => {
                        header { (header) }
                        main { (body) }
                        footer { (language_switch(lang)) }
                    }
                    Frame::OptOut => {
                        (body)
                        script src="/opt-out.js" {}
                    }
                    Frame::Embedded => {
                        (body)
                    }
                }
            }
        }
    }
}

/// A plain page as a private answer.
pub fn plain_page(status: StatusCode, lang: Lang, title: &str, body: Markup) -> HttpResponse {
    private(status, document(lang, title, Frame::Plain, html! {}, body))
}

/// A dashboard page as a private answer.
pub fn dashboard_page(
    status: StatusCode,
    lang: Lang,
    title: &str,
    header: Markup,
    body: Markup,
) -> HttpResponse {
    private(
        status,
        document(lang, title, Frame::Dashboard, header, body),
    )
}

/// The headers every private page of spurlos's own gets: not cached, no script, not framed,
/// and a same-origin referrer so its forms post back with a real `Origin` (the default
/// no-referrer makes it "null"); other sites still get no referrer.
pub fn private(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(page.into_string())
}

/// A message a page shows after something went wrong.
pub fn alert(text: &str) -> Markup {
    html! { p role="alert" { (text) } }
}

/// A message a page shows after something went right.
pub fn status(text: &str) -> Markup {
    html! { p role="status" { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_shell_names_the_language() {
        let page = document(
            Lang::De,
            "<script>alert(1)</script>",
            Frame::Plain,
            html! {},
            html! { p { ("\"quoted\" & <b>") } },
        )
        .into_string();
        assert!(
            page.starts_with("<!DOCTYPE html><html lang=\"de\">"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(
            page.contains("&quot;quoted&quot; &amp; &lt;b&gt;"),
            "{page}"
        );
        assert!(
            page.contains("<a href=\"/lang/en\" hreflang=\"en\" lang=\"en\">English</a>"),
            "{page}"
        );
    }
}
