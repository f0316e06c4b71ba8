//! A site's settings page for its owners: aliases, time zone, address truncation, Do Not
//! Track, excluded ranges, the tracker snippet and opt-out iframe to copy, and the site's
//! shared links (create, shown once; revoke). Every form carries the session's CSRF token.

use super::{not_found_page, segment};
use crate::http::account::{csrf_ok, see_other, session};
use crate::http::html::{alert, dashboard_page, status, Lang};
use crate::http::AppState;
use crate::stats::Caller;
use crate::tenancy::sites::Site;
use crate::tenancy::users::{Role, User};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use std::sync::Arc;

struct Texts {
    settings: &'static str,
    aliases: &'static str,
    timezone: &'static str,
    mask: &'static str,
    dnt: &'static str,
    ranges: &'static str,
    save: &'static str,
    saved: &'static str,
    snippet: &'static str,
    optout: &'static str,
    shares: &'static str,
    share_password: &'static str,
    share_new: &'static str,
    new_link: &'static str,
    revoke: &'static str,
    revoked: &'static str,
    traffic: &'static str,
    notice: &'static str,
    notice_about: &'static str,
    notice_html: &'static str,
    notice_text: &'static str,
    notice_embed: &'static str,
}

const EN: Texts = Texts {
    settings: "Settings",
    aliases: "Other domains (comma-separated)",
    timezone: "Time zone (IANA, e.g. Europe/Berlin)",
    mask: "IP address truncation",
    dnt: "Do not count browsers that send Do Not Track or Global Privacy Control",
    ranges: "Excluded IP ranges (one CIDR per line)",
    save: "Save",
    saved: "Saved.",
    snippet: "Tracker snippet",
    optout: "Opt-out for your privacy policy",
    shares: "Shared links (read-only, no account needed)",
    share_password: "Password for the new link (optional)",
    share_new: "Create a shared link",
    new_link: "New shared link (shown only now):",
    revoke: "Revoke",
    revoked: "Revoked.",
    traffic: "Traffic from the web-server logs (requests, bytes sent)",
    notice: "Privacy notice for your visitors",
    notice_about: "Made from this site's settings above: change them and the notice changes. Add it to your privacy policy as HTML or text, or embed it.",
    notice_html: "HTML",
    notice_text: "Plain text",
    notice_embed: "Embedded (follows later changes by itself)",
};

const DE: Texts = Texts {
    settings: "Einstellungen",
    aliases: "Weitere Domains (durch Kommas getrennt)",
    timezone: "Zeitzone (IANA, z. B. Europe/Berlin)",
    mask: "Kürzung der IP-Adresse",
    dnt: "Browser mit Do Not Track oder Global Privacy Control nicht zählen",
    ranges: "Ausgeschlossene IP-Bereiche (ein CIDR je Zeile)",
    save: "Speichern",
    saved: "Gespeichert.",
    snippet: "Tracker-Code",
    optout: "Widerspruch für Ihre Datenschutzerklärung",
    shares: "Geteilte Links (nur lesen, ohne Konto)",
    share_password: "Passwort für den neuen Link (optional)",
    share_new: "Geteilten Link anlegen",
    new_link: "Neuer geteilter Link (wird nur jetzt angezeigt):",
    revoke: "Zurückziehen",
    revoked: "Zurückgezogen.",
    traffic: "Datenverkehr laut Webserver-Logs (Anfragen, gesendete Bytes)",
    notice: "Datenschutzhinweis für Ihre Besucher",
    notice_about: "Aus den Einstellungen dieser Website oben erzeugt: Ändern Sie sie, ändert sich der Hinweis. Übernehmen Sie ihn als HTML oder Text in Ihre Datenschutzerklärung, oder betten Sie ihn ein.",
    notice_html: "HTML",
    notice_text: "Nur Text",
    notice_embed: "Eingebettet (folgt späteren Änderungen von selbst)",
};

fn texts(req: &HttpRequest) -> &'static Texts {
    Lang::of(req).pick(&EN, &DE)
}

/// The signed-in user, their CSRF token and the site, when the user is an owner of the site's
/// customer; otherwise the response to give.
pub(super) async fn owned_site(
    req: &HttpRequest,
    state: &AppState,
    domain: &str,
) -> Result<(User, String, Arc<Site>), HttpResponse> {
    let Some((user, csrf, _)) = session(req, state).await else {
        return Err(see_other("/login"));
    };
    let customers = state.tenancy.customers().await.unwrap_or_default();
    let owned: Vec<crate::tenancy::CustomerId> = user
        .memberships
        .iter()
        .filter(|m| m.role == Role::Owner)
        .filter_map(|m| {
            customers
                .iter()
                .find(|c| c.handle == m.customer)
                .map(|c| c.id)
        })
        .collect();
    match state.stats.readable_site(&Caller::Customers(owned), domain) {
        Ok(site) => Ok((user, csrf, site)),
        Err(_) => Err(not_found_page(Lang::of(req))),
    }
}

async fn settings_page(
    req: &HttpRequest,
    state: &AppState,
    site: &Site,
    csrf: &str,
    code: StatusCode,
    message: Markup,
) -> HttpResponse {
    let lang = Lang::of(req);
    let t = lang.pick(&EN, &DE);
    let shares = state.tenancy.shares(site.id).await.unwrap_or_default();
    let base = crate::http::public_base(req, state);
    let seg = segment(&site.domain);
    let snippet = format!(
        "<script defer data-domain=\"{}\" src=\"{base}/s.js\"></script>",
        site.domain
    );
    let optout = format!(
        "<iframe src=\"{base}/opt-out?lang={}\" style=\"border:0;width:100%;height:160px\"></iframe>",
        lang.code()
    );
    let ranges: Vec<String> = site.excluded_ranges.iter().map(|r| r.to_string()).collect();
    let notice = crate::http::notice::site_notice(req, state, site, lang);
    let notice_html = crate::http::notice::fragment(&notice).into_string();
    let notice_frame = format!(
        "<iframe src=\"{base}/privacy-notice?site={}&amp;lang={}\" style=\"border:0;width:100%;height:640px\"></iframe>",
        site.domain,
        lang.code()
    );
    let masks = [
        (1, "IPv4 /24, IPv6 /48"),
        (2, "IPv4 /16, IPv6 /32"),
        (3, "IPv4 /8, IPv6 /16"),
    ];
    let body = html! {
        (message)
        form method="post" action={ "/dashboard/" (seg) "/settings" } {
            input type="hidden" name="csrf" value=(csrf);
            p { label { (t.aliases) br; input name="aliases" value=(site.aliases.join(", ")) size="60"; } }
            p { label { (t.timezone) br; input name="timezone" value=(site.timezone) required; } }
            p { label { (t.mask) br; select name="ip_mask_bytes" {
                @for (n, text) in masks {
                    option value=(n) selected[site.ip_mask_bytes == n] { (text) }
                }
            } } }
            p { label { input type="checkbox" name="respect_dnt" checked[site.respect_dnt]; " " (t.dnt) } }
            p { label { (t.ranges) br; textarea name="excluded_ranges" rows="3" cols="40" { (ranges.join("\n")) } } }
            (retention_fields(lang, site, state.retention.kept(site)))
            p { button type="submit" { (t.save) } }
        }
        p { a id="traffic" href={ "/dashboard/" (seg) "/traffic" } { (t.traffic) } }
        h2 { (t.snippet) }
        pre { code { (snippet) } }
        p { "Matomo: idsite = " (site.id) }
        h2 { (t.optout) }
        pre { code { (optout) } }
        h2 id="notice" { (t.notice) }
        p { (t.notice_about) }
        blockquote { (crate::http::notice::fragment(&notice)) }
        h3 { (t.notice_html) }
        pre { code id="notice-html" { (notice_html) } }
        h3 { (t.notice_text) }
        textarea id="notice-text" readonly rows="12" cols="80" { (notice.text()) }
        h3 { (t.notice_embed) }
        pre { code { (notice_frame) } }
        h2 id="export" { (lang.pick("Export all data", "Alle Daten exportieren")) }
        p { (lang.pick(
            "One zip file: the daily sums in Plausible's CSV import layout (upload it to Plausible as it is), every page view, event and visit as CSV (visitors and visits as numbers that mean nothing outside this file), the settings, and a manifest with checksums. Leave the dates empty for everything.",
            "Eine ZIP-Datei: die Tagessummen im CSV-Importformat von Plausible (so wie sie ist bei Plausible hochladbar), jeder Seitenaufruf, jedes Ereignis und jeder Besuch als CSV (Besucher und Besuche als Nummern, die außerhalb dieser Datei nichts bedeuten), die Einstellungen und ein Manifest mit Prüfsummen. Lassen Sie die Daten leer für alles."
        )) }
        form method="get" action={ "/dashboard/" (seg) "/export.zip" } {
            (super::erase::period_inputs(lang))
            p { button type="submit" id="export-zip" { (lang.pick("Download", "Herunterladen")) } }
        }
        (super::erase::section(lang, site))
        h2 { (t.shares) }
        ul id="shares" {
            @for sh in &shares {
                li {
                    "#" (sh.id) " · "
                    (chrono::DateTime::from_timestamp(sh.created_ts, 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default())
                    @if sh.has_password { " · 🔒" }
                    " "
                    form method="post" action={ "/dashboard/" (seg) "/shares/" (sh.id) "/revoke" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { (t.revoke) }
                    }
                }
            }
        }
        form method="post" action={ "/dashboard/" (seg) "/shares" } {
            input type="hidden" name="csrf" value=(csrf);
            p { label { (t.share_password) br; input type="password" name="password" autocomplete="new-password"; } }
            p { button type="submit" { (t.share_new) } }
        }
    };
    let title = format!("{} – {}", site.domain, t.settings);
    let header = html! { h1 { a href={ "/dashboard/" (seg) } { "←" } " " (title) } };
    dashboard_page(code, lang, &title, header, body)
}

/// The settings form's retention fields, with what applies after the provider's limits.
fn retention_fields(lang: Lang, site: &Site, kept: crate::stats::retention::Kept) -> Markup {
    let sums = match kept.archive_months {
        Some(m) => lang
            .pick("daily sums for {m} months", "Tagessummen {m} Monate lang")
            .replace("{m}", &m.to_string()),
        None => lang
            .pick(
                "daily sums as long as the site exists",
                "Tagessummen, solange die Website besteht",
            )
            .to_string(),
    };
    html! {
        fieldset id="retention" {
            legend { (lang.pick("How long statistics are kept", "Aufbewahrung der Statistiken")) }
            p { label {
                (lang.pick("Days single page views and visits are kept", "Tage, die einzelne Seitenaufrufe und Besuche aufbewahrt werden"))
                br;
                input type="number" name="retention_days" min="1" max="36500" value=(site.retention_days);
            } }
            p { label {
                (lang.pick("Months daily sums are kept (0: as long as the site exists)", "Monate, die Tagessummen aufbewahrt werden (0: solange die Website besteht)"))
                br;
                input type="number" name="archive_months" min="0" max="1216" value=(site.archive_months);
            } }
            p { label {
                input type="checkbox" name="cnil" checked[site.cnil];
                " "
                (lang.pick(
                    "CNIL mode (France: consent-free audience measurement; at most 25 months, said so in the privacy notice)",
                    "CNIL-Modus (Frankreich: einwilligungsfreie Reichweitenmessung; höchstens 25 Monate, im Datenschutzhinweis genannt)"
                ))
            } }
            p id="retention-applies" {
                (lang.pick("Applies: ", "Es gilt: "))
                (kept.events_days) " " (lang.pick("days of single page views and visits, ", "Tage einzelne Seitenaufrufe und Besuche, "))
                (sums)
                @if kept.capped {
                    " " (lang.pick("(shortened by the provider's or CNIL's limits)", "(durch die Grenzen des Anbieters oder der CNIL verkürzt)"))
                }
            }
        }
    }
}

/// `GET /dashboard/{domain}/settings` (owners only).
pub async fn settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    match owned_site(&req, &state, &path).await {
        Ok((_, csrf, site)) => {
            settings_page(&req, &state, &site, &csrf, StatusCode::OK, html! {}).await
        }
        Err(resp) => resp,
    }
}

#[derive(serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    aliases: String,
    timezone: String,
    ip_mask_bytes: u8,
    respect_dnt: Option<String>,
    #[serde(default)]
    excluded_ranges: String,
    retention_days: Option<u32>,
    archive_months: Option<u32>,
    cnil: Option<String>,
}

/// `POST /dashboard/{domain}/settings` (owners only, CSRF token and same origin).
pub async fn save_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> HttpResponse {
    let (csrf, site) = match owner_form(&req, &state, &path, &form.csrf).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let list = |s: &str| -> Vec<String> {
        s.split([',', '\n', ' '])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    };
    let changes = crate::tenancy::sites::SiteSettings {
        aliases: Some(list(&form.aliases)),
        timezone: Some(form.timezone.trim().to_string()),
        ip_mask_bytes: Some(form.ip_mask_bytes),
        respect_dnt: Some(form.respect_dnt.is_some()),
        excluded_ranges: Some(list(&form.excluded_ranges)),
        retention_days: form.retention_days,
        archive_months: form.archive_months,
        cnil: Some(form.cnil.is_some()),
    };
    // The signed-in owner manages the site as its customer's owner.
    let manager = match site.customer_id {
        Some(c) => crate::tenancy::Manager::Customer(c),
        None => crate::tenancy::Manager::Site(site.id),
    };
    let what = crate::http::admin::settings_changed(&changes);
    match crate::http::admin::change_site(&state, &manager, &site, changes).await {
        Ok(changed) => {
            owner_audit(&req, &state, "site_settings_changed", &changed, what).await;
            let msg = status(texts(&req).saved);
            settings_page(&req, &state, &changed, &csrf, StatusCode::OK, msg).await
        }
        Err(e) => settings_page(&req, &state, &site, &csrf, e.status, alert(&e.message)).await,
    }
}

/// Records a signed-in user's action on a site in the audit log.
pub(super) async fn owner_audit(
    req: &HttpRequest,
    state: &AppState,
    action: &str,
    site: &Site,
    detail: String,
) {
    if let Some(actor) = crate::http::audit::session_actor(req, state).await {
        let event = crate::tenancy::audit::Event::new(actor, action)
            .site(&site.domain, site.customer_id)
            .detail(detail);
        crate::http::audit::record(state, req, event).await;
    }
}

/// An owner's form post: the site and the session's CSRF token, when the user owns the site and
/// the form carries that token from spurlos's own page; otherwise the response to give.
async fn owner_form(
    req: &HttpRequest,
    state: &AppState,
    domain: &str,
    sent_csrf: &str,
) -> Result<(String, Arc<Site>), HttpResponse> {
    let (_, csrf, site) = owned_site(req, state, domain).await?;
    if !csrf_ok(req, &csrf, sent_csrf) {
        let page = settings_page(
            req,
            state,
            &site,
            &csrf,
            StatusCode::FORBIDDEN,
            alert("CSRF"),
        );
        return Err(page.await);
    }
    Ok((csrf, site))
}

#[derive(serde::Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// `POST /dashboard/{domain}/shares` (owners): a new shared link, shown once.
pub async fn create_share(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ShareForm>,
) -> HttpResponse {
    let (csrf, site) = match owner_form(&req, &state, &path, &form.csrf).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    let password_hash = if form.password.is_empty() {
        String::new()
    } else {
        let password = form.password.clone();
        let hashed =
            tokio::task::spawn_blocking(move || crate::tenancy::users::hash_password(&password))
                .await;
        match hashed {
            Ok(Ok(h)) => h,
            _ => return settings_page(&req, &state, &site, &csrf, unavailable, html! {}).await,
        }
    };
    let secret = crate::tenancy::new_secret();
    let hash = crate::tenancy::secret_hash(&secret);
    if state
        .tenancy
        .add_share(site.id, &hash, &password_hash)
        .await
        .is_err()
    {
        return settings_page(&req, &state, &site, &csrf, unavailable, html! {}).await;
    }
    owner_audit(&req, &state, "shared_link_created", &site, String::new()).await;
    let url = format!("{}/share/{secret}", crate::http::public_base(&req, &state));
    let msg = html! {
        p role="status" { (texts(&req).new_link) " " a id="new-share" href=(url) { (url) } }
    };
    settings_page(&req, &state, &site, &csrf, StatusCode::OK, msg).await
}

/// `POST /dashboard/{domain}/shares/{id}/revoke` (owners).
pub async fn revoke_share(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, u32)>,
    form: web::Form<ShareForm>,
) -> HttpResponse {
    let (domain, id) = path.into_inner();
    let (csrf, site) = match owner_form(&req, &state, &domain, &form.csrf).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let (code, msg) = match state.tenancy.remove_share(site.id, id).await {
        Ok(()) => {
            owner_audit(&req, &state, "shared_link_revoked", &site, format!("#{id}")).await;
            (StatusCode::OK, texts(&req).revoked)
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "–"),
    };
    settings_page(&req, &state, &site, &csrf, code, status(msg)).await
}
