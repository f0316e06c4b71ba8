//! The few Matomo Reporting API methods that Matomo's log importer (`import_logs.py`) and
//! similar provisioning scripts call (`index.php?module=API&method=...&format=json`, GET or
//! form POST, admin `token_auth`): site lookups and site creation. Answers use Matomo's JSON
//! shapes, errors `{"result": "error", "message": ...}`.

use super::admin::reload_sites;
use super::AppState;
use crate::ingest::matomo::Params;
use crate::tenancy::sites::{normalise_domain, Site, SiteSpec};
use actix_web::HttpResponse;
use serde_json::{json, Value};

fn error(message: impl Into<String>) -> HttpResponse {
    // Matomo answers API errors with 200 and this body; scripts look at `result`.
    HttpResponse::Ok().json(json!({"result": "error", "message": message.into()}))
}

fn site_json(s: &Site) -> Value {
    json!({
        "idsite": s.id.to_string(),
        "name": s.domain,
        "main_url": format!("http://{}", s.domain),
        "timezone": s.timezone,
        "ecommerce": "0",
        "sitesearch": "1",
        "currency": "EUR",
        "type": "website",
    })
}

/// Values of `key`, `key[]` and `key[0]`, `key[1]`, ... in order.
fn list(p: &Params, key: &str) -> Vec<String> {
    p.0.iter()
        .filter(|(k, v)| {
            !v.is_empty()
                && (k == key
                    || k.strip_prefix(key)
                        .and_then(|rest| rest.strip_prefix('['))
                        .is_some_and(|rest| rest.ends_with(']')))
        })
        .map(|(_, v)| v.clone())
        .collect()
}

/// Answers one API call; `params` holds the query string and any form body.
pub async fn call(state: &AppState, params: &Params) -> HttpResponse {
    let token = params.get("token_auth").unwrap_or_default();
    if !super::auth::is_admin(state, token) {
        return error("You can't access this resource as it requires a valid token_auth (the spurlos admin token).");
    }
    match params.get("format").map(str::to_ascii_lowercase).as_deref() {
        None | Some("json") | Some("json2") => {}
        Some(other) => {
            return error(format!(
                "format {other:?} is not supported; use format=json"
            ))
        }
    }
    let method = params.get("method").unwrap_or_default();
    match method {
        "API.getMatomoVersion" | "API.getPiwikVersion" => {
            HttpResponse::Ok().json(json!({"value": "5.0.0"}))
        }
        "SitesManager.getSiteFromId" => {
            let site = params
                .get("idSite")
                .and_then(|id| id.trim().parse::<u32>().ok())
                .and_then(|id| state.sites.by_id(crate::tenancy::SiteId(id)));
            match site {
                Some(s) => HttpResponse::Ok().json(site_json(&s)),
                None => error("The website id is not valid or does not exist."),
            }
        }
        "SitesManager.getAllSites" | "SitesManager.getSitesWithAtLeastViewAccess" => {
            let sites = state.sites.all();
            if method == "SitesManager.getAllSites" {
                let map: serde_json::Map<String, Value> = sites
                    .iter()
                    .map(|s| (s.id.to_string(), site_json(s)))
                    .collect();
                HttpResponse::Ok().json(map)
            } else {
                HttpResponse::Ok().json(sites.iter().map(|s| site_json(s)).collect::<Vec<_>>())
            }
        }
        "SitesManager.getSitesIdFromSiteUrl" => {
            let Some(domain) = params.get("url").and_then(normalise_domain) else {
                return error("Parameter url is missing or is not a URL.");
            };
            let found: Vec<Value> = state
                .sites
                .by_domain(&domain)
                .map(|s| json!({"idsite": s.id.to_string()}))
                .into_iter()
                .collect();
            HttpResponse::Ok().json(found)
        }
        "SitesManager.addSite" => {
            let urls = list(params, "urls");
            let name = params.get("siteName").unwrap_or_default();
            let Some(domain) = urls
                .first()
                .map(String::as_str)
                .or(Some(name))
                .and_then(normalise_domain)
            else {
                return error("Parameter urls (or siteName) must name the site's host.");
            };
            let aliases = urls
                .iter()
                .skip(1)
                .filter_map(|u| normalise_domain(u))
                .filter(|d| *d != domain)
                .collect();
            let spec = SiteSpec {
                domain,
                aliases,
                timezone: params.get("timezone").map(String::from),
                ..Default::default()
            };
            match state.tenancy.add_site(spec).await {
                Ok(site) => {
                    if let Err(e) = reload_sites(state).await {
                        return error(e.to_string());
                    }
                    HttpResponse::Ok().json(json!({"value": site.id}))
                }
                Err(e) => error(e.to_string()),
            }
        }
        "" => error("Parameter method is missing."),
        other => error(format!("The method {other:?} is not available in spurlos.")),
    }
}
