//! Deleting a site's statistics, for its owners: the period chosen on the settings page, a
//! confirmation that names the site and the period (and asks for the domain typed), then what
//! was deleted. The same deletion as the admin API's and the CLI's (`stats::erase`).

use super::segment;
use super::settings::owned_site;
use crate::http::account::csrf_ok;
use crate::http::html::{alert, dashboard_page, Lang};
use crate::http::AppState;
use crate::stats::erase::{Erased, Period};
use crate::tenancy::sites::Site;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

/// A form's two date fields of a period (`from`, `to`; empty: open).
pub(super) fn period_inputs(lang: Lang) -> Markup {
    html! {
        p {
            label { (lang.pick("From", "Von")) " " input type="date" name="from"; }
            " "
            label { (lang.pick("to", "bis")) " " input type="date" name="to"; }
        }
    }
}

/// The settings page's section that starts a deletion.
pub(super) fn section(lang: Lang, site: &Site) -> Markup {
    let seg = segment(&site.domain);
    html! {
        h2 id="delete" { (lang.pick("Delete statistics", "Statistiken löschen")) }
        p { (lang.pick(
            "Deletes the page views, events and visits of the chosen days (in the site's time zone) for good, with their daily sums and imported history. Leave both dates empty to delete everything. You confirm on the next page.",
            "Löscht die Seitenaufrufe, Ereignisse und Besuche der gewählten Tage (in der Zeitzone der Website) endgültig, samt Tagessummen und importierter Historie. Lassen Sie beide Daten leer, um alles zu löschen. Sie bestätigen auf der nächsten Seite."
        )) }
        form method="get" action={ "/dashboard/" (seg) "/delete" } {
            (period_inputs(lang))
            p { button type="submit" { (lang.pick("Continue …", "Weiter …")) } }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    confirm: String,
}

fn page(lang: Lang, site: &Site, code: StatusCode, body: Markup) -> HttpResponse {
    let seg = segment(&site.domain);
    let title = format!(
        "{} – {}",
        site.domain,
        lang.pick("Delete statistics", "Statistiken löschen")
    );
    let header =
        html! { h1 { a href={ "/dashboard/" (seg) "/settings#delete" } { "←" } " " (title) } };
    dashboard_page(code, lang, &title, header, body)
}

/// The confirmation form for `period`.
fn confirmation(
    lang: Lang,
    site: &Site,
    csrf: &str,
    period: Period,
    code: StatusCode,
    message: Markup,
) -> HttpResponse {
    let seg = segment(&site.domain);
    let what = period.describe(lang == Lang::De);
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let body = html! {
        (message)
        p id="erase-what" {
            @if lang == Lang::De {
                "Sie löschen " strong { (what) } " der Website " strong { (site.domain) }
                " endgültig: Seitenaufrufe, Ereignisse, Besuche, Tagessummen und importierte Historie dieser Tage. Das lässt sich nicht rückgängig machen; die Website, ihre Einstellungen und Zugänge bleiben."
            } @else {
                "You are deleting " strong { (what) } " of " strong { (site.domain) }
                " for good: page views, events, visits, daily sums and imported history of those days. This cannot be undone; the site, its settings and access stay."
            }
        }
        form method="post" action={ "/dashboard/" (seg) "/delete" } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="from" value=(date(period.from));
            input type="hidden" name="to" value=(date(period.to));
            p { label {
                (lang.pick("Type the domain to confirm:", "Geben Sie zur Bestätigung die Domain ein:"))
                br;
                input name="confirm" autocomplete="off" required placeholder=(site.domain);
            } }
            p { button type="submit" class="danger" { (lang.pick("Delete for good", "Endgültig löschen")) } }
        }
    };
    page(lang, site, code, body)
}

/// `GET /dashboard/{domain}/delete?from=DATE&to=DATE` (owners): the confirmation.
pub async fn confirm_erase(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, csrf, site) = match owned_site(&req, &state, &path).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let lang = Lang::of(&req);
    let (mut from, mut to) = (None, None);
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "from" => from = Some(v.into_owned()),
            "to" => to = Some(v.into_owned()),
            _ => {}
        }
    }
    match Period::parse(from.as_deref(), to.as_deref()) {
        Ok(period) => confirmation(lang, &site, &csrf, period, StatusCode::OK, html! {}),
        Err(e) => page(
            lang,
            &site,
            StatusCode::BAD_REQUEST,
            html! { (alert(&e.message)) (section(lang, &site)) },
        ),
    }
}

/// `POST /dashboard/{domain}/delete` (owners, CSRF token, the domain typed): deletes and
/// says what was deleted.
pub async fn erase(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<EraseForm>,
) -> HttpResponse {
    let (_, csrf, site) = match owned_site(&req, &state, &path).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let lang = Lang::of(&req);
    let period = match Period::parse(Some(&form.from), Some(&form.to)) {
        Ok(p) => p,
        Err(e) => {
            let body = html! { (alert(&e.message)) (section(lang, &site)) };
            return page(lang, &site, StatusCode::BAD_REQUEST, body);
        }
    };
    if !csrf_ok(&req, &csrf, &form.csrf) {
        return confirmation(
            lang,
            &site,
            &csrf,
            period,
            StatusCode::FORBIDDEN,
            alert("CSRF"),
        );
    }
    let typed = crate::tenancy::sites::normalise_domain(&form.confirm);
    if typed.as_deref() != Some(site.domain.as_str()) {
        let msg = alert(lang.pick(
            "The domain typed is not this site's: nothing was deleted.",
            "Die eingegebene Domain ist nicht die dieser Website: Es wurde nichts gelöscht.",
        ));
        return confirmation(lang, &site, &csrf, period, StatusCode::BAD_REQUEST, msg);
    }
    match state.eraser.erase(&site, period).await {
        Ok(erased) => {
            let detail = format!(
                "{}: {} events, {} visits, {} archived days, {} imported days",
                period.describe(false),
                erased.events,
                erased.visits,
                erased.archived_days,
                erased.imported_days
            );
            super::settings::owner_audit(&req, &state, "statistics_deleted", &site, detail).await;
            page(
                lang,
                &site,
                StatusCode::OK,
                done(lang, &site, period, erased),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, site = %site.domain, "deleting statistics failed");
            let msg = alert(lang.pick(
                "The statistics could not be deleted; please try again.",
                "Die Statistiken konnten nicht gelöscht werden; bitte versuchen Sie es erneut.",
            ));
            confirmation(
                lang,
                &site,
                &csrf,
                period,
                StatusCode::SERVICE_UNAVAILABLE,
                msg,
            )
        }
    }
}

fn done(lang: Lang, site: &Site, period: Period, e: Erased) -> Markup {
    let seg = segment(&site.domain);
    let rows = [
        (
            lang.pick(
                "Events (page views included)",
                "Ereignisse (mit Seitenaufrufen)",
            ),
            e.events,
        ),
        (lang.pick("Visits", "Besuche"), e.visits),
        (
            lang.pick("Archived days", "Archivierte Tage"),
            e.archived_days,
        ),
        (
            lang.pick("Imported days", "Importierte Tage"),
            e.imported_days,
        ),
    ];
    html! {
        p role="status" {
            (lang.pick("Deleted for good: ", "Endgültig gelöscht: "))
            (period.describe(lang == Lang::De)) " · " (site.domain)
        }
        table id="erased" {
            @for (label, n) in rows {
                tr { th scope="row" { (label) } td { (n) } }
            }
        }
        p { a href={ "/dashboard/" (seg) } { (lang.pick("Back to the dashboard", "Zurück zum Dashboard")) } }
    }
}
