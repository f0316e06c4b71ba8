//! The HTTP layer, the only module that knows actix-web: routes, extractors and error
//! responses. Handlers are thin: they parse, call `ingest`/`stats`/the store, and answer.

pub mod account;
pub mod admin;
pub mod attempts;
pub mod audit;
pub mod auth;
pub mod client_ip;
pub mod dashboard;
pub mod error;
pub mod event;
pub mod export;
pub mod html;
pub mod logs;
pub mod matomo;
pub mod matomo_api;
pub mod notice;
pub mod optout;
pub mod password;
pub mod share;
pub mod stats;
pub mod team;
pub mod team_page;
pub mod tokens;

use crate::ingest::privacy::{PrivacySignals, OPT_OUT_COOKIE};
use crate::ingest::Ingest;
use crate::stats::Stats;
use crate::store::Store;
use crate::tenancy::sites::SiteRegistry;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use ipnet::IpNet;
use std::sync::Arc;

/// What every handler can reach.
pub struct AppState {
    pub ingest: Ingest,
    pub stats: Stats,
    pub store: Arc<dyn Store>,
    /// The rules about customers, sites, users, tokens and links.
    pub tenancy: crate::tenancy::Tenancy,
    pub sites: SiteRegistry,
    pub trusted_proxies: Vec<IpNet>,
    pub admin_token: String,
    pub max_body_bytes: usize,
    /// Largest Matomo bulk body, and most requests in one.
    pub max_bulk_bytes: usize,
    pub max_bulk_requests: usize,
    /// Base of links spurlos hands out (`SPURLOS_PUBLIC_URL`); `None`: the request's own.
    pub public_url: Option<String>,
    /// Failed logins per account and per network, for rate limiting.
    pub login_limiter: account::LoginLimiter,
    /// Operational metrics (`/metrics`), and the token besides the admin's that reads them.
    pub metrics: Arc<crate::metrics::Metrics>,
    pub metrics_token: Option<String>,
    /// The data directory (for backups in the making).
    pub data_dir: std::path::PathBuf,
    /// Log imports through the admin API.
    pub logs: Arc<crate::logs::import::LogImporter>,
    /// Deletions of statistics.
    pub eraser: Arc<crate::stats::erase::Eraser>,
    /// The provider's limits on how long statistics are kept.
    pub retention: crate::stats::retention::Policy,
    /// Who runs spurlos, for visitors' privacy notices (`SPURLOS_PROVIDER_NAME`,
    /// `SPURLOS_PROVIDER_CONTACT`).
    pub provider_name: Option<String>,
    pub provider_contact: Option<String>,
}

/// The tracker script, built from `tracker-js/` (see its README).
pub const TRACKER_JS: &str = include_str!("../../tracker-js/dist/s.js");

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/health", web::get().to(health))
        .route("/api/live", web::get().to(live))
        .route("/api/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .route("/api/event", web::post().to(event::post_event))
        .route(
            "/api/event",
            web::method(actix_web::http::Method::OPTIONS).to(event::preflight),
        )
        .route("/api/v2/query", web::post().to(stats::query))
        .route(
            "/api/v1/stats/realtime/visitors",
            web::get().to(stats::realtime),
        )
        .route("/api/admin/sites", web::get().to(admin::list_sites))
        .route("/api/admin/sites", web::post().to(admin::add_site))
        .route(
            "/api/admin/sites/{domain}",
            web::delete().to(admin::remove_site),
        )
        .route("/api/admin/tokens", web::post().to(tokens::create_token))
        .route("/api/admin/tokens", web::get().to(tokens::list_tokens))
        .route(
            "/api/admin/tokens/{id}",
            web::delete().to(tokens::revoke_token),
        )
        .route(
            "/api/admin/sites/{domain}",
            web::patch().to(admin::update_site),
        )
        .route(
            "/api/admin/sites/{domain}/customer",
            web::put().to(admin::set_site_customer),
        )
        .route("/api/admin/customers", web::get().to(admin::list_customers))
        .route(
            "/api/admin/customers/{handle}",
            web::put().to(admin::put_customer),
        )
        .route(
            "/api/admin/customers/{handle}",
            web::delete().to(admin::remove_customer),
        )
        .route("/api/admin/archive", web::post().to(admin::archive))
        .route("/api/admin/retention", web::post().to(admin::retention))
        .route("/api/admin/audit", web::get().to(audit::api_log))
        .route("/api/admin/backup", web::post().to(admin::backup))
        .route("/api/admin/logs/runs", web::post().to(logs::start))
        .route("/api/admin/logs/runs/{run}", web::post().to(logs::batch))
        .route("/api/admin/logs/runs/{run}", web::delete().to(logs::finish))
        .route("/api/admin/traffic", web::get().to(logs::traffic))
        .route(
            "/api/admin/sites/{domain}/imported",
            web::post().to(logs::import_statistics),
        )
        .route(
            "/api/admin/sites/{domain}/statistics",
            web::delete().to(admin::erase_statistics),
        )
        .route(
            "/api/admin/sites/{domain}/export",
            web::get().to(export::api_export),
        )
        .route(
            "/api/admin/sites/{domain}/import",
            web::post().to(export::api_import),
        )
        .route(
            "/dashboard/{domain}/export.zip",
            web::get().to(dashboard::export_zip),
        )
        .route("/api/openapi.json", web::get().to(openapi))
        .route("/api/admin/users", web::get().to(team::list_users))
        .route("/api/admin/users/{email}", web::put().to(team::put_user))
        .route(
            "/api/admin/users/{email}",
            web::delete().to(team::remove_user),
        )
        .route(
            "/api/admin/users/{email}/password-link",
            web::post().to(team::create_password_link),
        )
        .route("/lang/{code}", web::get().to(choose_language))
        .route("/set-password", web::get().to(password::form_page))
        .route("/set-password", web::post().to(password::submit))
        .route("/login", web::get().to(account::login_form))
        .route("/login", web::post().to(account::login))
        .route("/logout", web::post().to(account::logout))
        .route("/account", web::get().to(account::overview))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route("/dashboard", web::get().to(dashboard::sites))
        .route("/dashboard.css", web::get().to(dashboard::style))
        .route("/dashboard/team/{handle}", web::get().to(team_page::show))
        .route(
            "/dashboard/team/{handle}/users",
            web::post().to(team_page::save_user),
        )
        .route(
            "/dashboard/team/{handle}/users/remove",
            web::post().to(team_page::remove_user),
        )
        .route(
            "/dashboard/team/{handle}/users/link",
            web::post().to(team_page::password_link),
        )
        .route(
            "/dashboard/team/{handle}/tokens",
            web::post().to(team_page::create_token),
        )
        .route(
            "/dashboard/team/{handle}/tokens/{id}/revoke",
            web::post().to(team_page::revoke_token),
        )
        .route("/dashboard/{domain}", web::get().to(dashboard::site))
        .route(
            "/dashboard/{domain}/export.csv",
            web::get().to(dashboard::export),
        )
        .route(
            "/dashboard/{domain}/settings",
            web::get().to(dashboard::settings),
        )
        .route(
            "/dashboard/{domain}/traffic",
            web::get().to(dashboard::traffic),
        )
        .route(
            "/dashboard/{domain}/delete",
            web::get().to(dashboard::confirm_erase),
        )
        .route("/dashboard/team/{handle}/audit", web::get().to(audit::page))
        .route(
            "/dashboard/{domain}/delete",
            web::post().to(dashboard::erase),
        )
        .route(
            "/dashboard/{domain}/settings",
            web::post().to(dashboard::save_settings),
        )
        .route(
            "/dashboard/{domain}/shares",
            web::post().to(dashboard::create_share),
        )
        .route(
            "/dashboard/{domain}/shares/{id}/revoke",
            web::post().to(dashboard::revoke_share),
        )
        .route("/share/{secret}", web::get().to(share::view))
        .route("/share/{secret}", web::post().to(share::unlock))
        .route("/share/{secret}/export.csv", web::get().to(share::export))
        .route("/opt-out", web::get().to(optout::page))
        .route("/privacy-notice", web::get().to(notice::page))
        .route("/opt-out", web::post().to(optout::toggle))
        .route("/opt-out.js", web::get().to(optout::script))
        .route("/opt-out.css", web::get().to(optout::style))
        .route("/s.js", web::get().to(tracker));
    matomo_routes(cfg);
}

/// Matomo's URLs, at the root and under the `/piwik/` and `/matomo/` prefixes that old
/// installations used, so that snippets, clients and iframes only need the new host name.
fn matomo_routes(cfg: &mut web::ServiceConfig) {
    use actix_web::http::Method;
    for prefix in ["", "/piwik", "/matomo"] {
        let at = |path: &str| format!("{prefix}{path}");
        cfg.route(&at("/index.php"), web::get().to(matomo::index))
            .route(&at("/index.php"), web::post().to(matomo::index))
            .route(&at("/"), web::post().to(matomo::index))
            .route(&at("/matomo.js"), web::get().to(matomo::script))
            .route(&at("/piwik.js"), web::get().to(matomo::script));
        for path in [
            "/matomo.php",
            "/piwik.php",
            "/js/",
            "/js/index.php",
            "/js/tracker.php",
        ] {
            cfg.route(&at(path), web::get().to(matomo::track))
                .route(&at(path), web::post().to(matomo::track))
                .route(
                    &at(path),
                    web::method(Method::OPTIONS).to(matomo::preflight),
                );
        }
    }
}

/// Around every request: HSTS on answers to requests that came over HTTPS (directly or
/// through a trusted proxy), and the metrics of the answer (client errors by code, statistics
/// latency by kind).
pub async fn observe(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let https = client_ip::is_https(req.request());
    let started = std::time::Instant::now();
    let mut res = next.call(req).await?;
    if https {
        res.headers_mut().insert(
            actix_web::http::header::STRICT_TRANSPORT_SECURITY,
            actix_web::http::header::HeaderValue::from_static("max-age=31536000"),
        );
    }
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        let code = res
            .response()
            .extensions()
            .get::<error::ErrorCode>()
            .copied();
        let status = res.status();
        if status.is_client_error() {
            state
                .metrics
                .client_error(code.map_or("other", error::ErrorCode::as_str));
        }
        if code == Some(error::ErrorCode::StorageUnavailable) {
            state.metrics.store_error();
        }
        let kind = match res.request().match_pattern().as_deref() {
            Some("/api/v2/query") => Some("stats_api"),
            Some("/api/v1/stats/realtime/visitors") => Some("realtime"),
            Some("/dashboard/{domain}") => Some("dashboard"),
            Some("/dashboard/{domain}/export.csv") => Some("export"),
            Some("/share/{secret}") => Some("share"),
            Some("/share/{secret}/export.csv") => Some("export"),
            _ => None,
        };
        if let Some(kind) = kind {
            state.metrics.query(kind, started.elapsed().as_secs_f64());
        }
    }
    Ok(res)
}

/// `GET /metrics`: Prometheus text, for the admin token or the metrics token.
async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = auth::require_metrics_reader(&req, &state) {
        return actix_web::ResponseError::error_response(&e);
    }
    let (spool_batches, spool_bytes) = state.store.spool_usage().unwrap_or((0, 0));
    let now = crate::metrics::Snapshot {
        queue_depth: state.ingest.queue.depth() as i64,
        spool_batches: spool_batches as i64,
        spool_bytes: spool_bytes as i64,
        archive_pending_days: state.stats.archive.pending_days() as i64,
    };
    match state.metrics.render(now) {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// `GET /api/live`: the process answers (liveness; never looks at the store).
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "live"}))
}

/// `GET /api/ready`: 200 when the store answers within two seconds, 503 otherwise.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    match ping {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            actix_web::ResponseError::error_response(&error::ApiError::new(
                error::ErrorCode::StorageUnavailable,
                "the store does not answer",
            ))
        }
        Err(_) => actix_web::ResponseError::error_response(&error::ApiError::new(
            error::ErrorCode::StorageUnavailable,
            "the store did not answer within 2 s",
        )),
    }
}

/// Whether a state-changing request comes from spurlos's own pages: browsers send `Origin` on
/// POST requests, and a page of another site must not change anything here.
pub fn same_origin(req: &HttpRequest) -> bool {
    // Browsers send `Origin` with form posts; without it, a `Referer` of this origin will do.
    // Neither: refused (a form post from a page that hides both is not ours).
    let claimed = req
        .headers()
        .get("origin")
        .or_else(|| req.headers().get("referer"))
        .and_then(|o| o.to_str().ok());
    let Some(claimed) = claimed else {
        return false;
    };
    let (_, host) = client_ip::request_origin(req);
    url::Url::parse(claimed).ok().is_some_and(|u| {
        let claimed_host = match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return false,
        };
        claimed_host.to_ascii_lowercase() == host
    })
}

/// A request header as text (empty when missing or not UTF-8).
/// Where users reach spurlos: the configured public URL or the address of this request.
pub fn public_base(req: &HttpRequest, state: &AppState) -> String {
    match &state.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let (scheme, host) = client_ip::request_origin(req);
            format!("{scheme}://{host}")
        }
    }
}

/// Cookie that keeps the language a user chose on spurlos's own pages (set by `/lang/{code}`).
pub const LANG_COOKIE: &str = "spurlos_lang";

/// Whether spurlos's own pages speak German to this request: the chosen language (cookie),
/// otherwise the browser's first language.
pub fn german(req: &HttpRequest) -> bool {
    match req.cookie(LANG_COOKIE).as_ref().map(|c| c.value()) {
        Some("de") => true,
        Some("en") => false,
        _ => header(req, "accept-language")
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("de"),
    }
}

/// `GET /lang/{de|en}`: remembers the language (a cookie on spurlos's host, for a year) and
/// goes back to the page the link was on (same origin only), or to the dashboard.
pub async fn choose_language(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let code = if path.as_str() == "de" { "de" } else { "en" };
    let (scheme, host) = client_ip::request_origin(&req);
    let back = url::Url::parse(header(&req, "referer"))
        .ok()
        .filter(|u| {
            u.host_str().is_some_and(|h| {
                let with_port = match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                };
                with_port == host
            })
        })
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        })
        .filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/lang/"))
        .unwrap_or_else(|| "/dashboard".to_string());
    let secure = scheme == "https";
    let cookie = actix_web::cookie::Cookie::build(LANG_COOKIE, code)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    HttpResponse::SeeOther()
        .insert_header(("Location", back))
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookie)
        .finish()
}

pub fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The visitor's privacy signals: spurlos's opt-out cookie and Matomo's (`matomo_ignore`,
/// `piwik_ignore`, `mtm_consent_removed`), `DNT: 1` and `Sec-GPC: 1`.
pub fn privacy_signals(req: &HttpRequest) -> PrivacySignals {
    const OPT_OUT_COOKIES: [&str; 4] = [
        OPT_OUT_COOKIE,
        "matomo_ignore",
        "piwik_ignore",
        "mtm_consent_removed",
    ];
    PrivacySignals {
        opted_out: OPT_OUT_COOKIES.iter().any(|c| req.cookie(c).is_some()),
        dnt: header(req, "dnt") == "1",
        gpc: header(req, "sec-gpc") == "1",
    }
}

/// CORS headers for tracking answers: the page's origin (with credentials, so the opt-out
/// cookie travels) or `*` when the request names none.
pub fn cors(req: &HttpRequest, resp: &mut HttpResponseBuilder) {
    match req.headers().get("origin").and_then(|o| o.to_str().ok()) {
        Some(origin) => {
            resp.insert_header(("Access-Control-Allow-Origin", origin))
                .insert_header(("Access-Control-Allow-Credentials", "true"))
                .insert_header(("Vary", "Origin"));
        }
        None => {
            resp.insert_header(("Access-Control-Allow-Origin", "*"));
        }
    }
}

/// The answer to a CORS preflight for a tracking endpoint that takes `methods`.
pub fn preflight(req: &HttpRequest, methods: &'static str) -> HttpResponse {
    let mut resp = HttpResponse::NoContent();
    cors(req, &mut resp);
    resp.insert_header(("Access-Control-Allow-Methods", methods))
        .insert_header(("Access-Control-Allow-Headers", "Content-Type"))
        .insert_header(("Access-Control-Max-Age", "86400"))
        .finish()
}

/// Reads a request body, refusing (413, JSON) once it grows past `limit` bytes.
pub async fn read_body(
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, error::ApiError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| error::ApiError::invalid("body", format!("could not be read ({e})")))?;
        if body.len() + chunk.len() > limit {
            return Err(error::ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The OpenAPI description of the HTTP API (`assets/openapi.json`).
pub const OPENAPI: &str = include_str!("../../assets/openapi.json");

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(OPENAPI)
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn tracker() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(TRACKER_JS)
}
