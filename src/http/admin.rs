//! Admin API for hosting panels and the CLI (admin token): customers, sites, users and Stats
//! API tokens.

use super::auth::require_admin;
use super::error::ApiError;
use super::AppState;
use crate::tenancy::audit::Event;
use crate::tenancy::sites::{normalise_domain, Site, SiteSettings, SiteSpec};

use actix_web::{web, HttpRequest, HttpResponse};

/// Checks the admin token, then reads and parses the JSON body.
async fn admin_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<T, ApiError> {
    require_admin(req, state)?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))
}

/// Reloads the in-memory registry after a change.
pub async fn reload_sites(state: &AppState) -> Result<(), ApiError> {
    let sites = state.tenancy.sites().await?;
    state.sites.replace(sites);
    Ok(())
}

/// `GET /api/admin/sites`: every site, or those a manage token may manage.
pub async fn list_sites(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let sites: Vec<_> = state
        .sites
        .all()
        .iter()
        .filter(|s| manager.may_manage_site(s))
        .map(|s| (**s).clone())
        .collect();
    Ok(HttpResponse::Ok().json(sites))
}

/// `POST /api/admin/sites` with a [`SiteSpec`]: 201 with the site, 409 when a domain is taken.
pub async fn add_site(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let spec: SiteSpec = admin_body(&req, &state, payload).await?;
    let site = state.tenancy.add_site(spec).await?;
    reload_sites(&state).await?;
    let event = super::audit::site_event(&req, &state, "site_added", &site);
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Created().json(site))
}

/// `DELETE /api/admin/sites/{domain}`: removes the site and all its data.
pub async fn remove_site(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let domain = path.into_inner();
    let site = normalise_domain(&domain)
        .and_then(|d| state.sites.all().into_iter().find(|s| s.domain == d))
        .ok_or_else(|| {
            ApiError::new(
                crate::http::error::ErrorCode::NotFound,
                format!("no site {domain}"),
            )
        })?;
    state.tenancy.remove_site(site.id).await?;
    state.stats.archive.forget_site(site.id.0);
    reload_sites(&state).await?;
    let event = super::audit::site_event(&req, &state, "site_removed", &site);
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseParams {
    from: Option<String>,
    to: Option<String>,
}

/// `DELETE /api/admin/sites/{domain}/statistics[?from=DATE][&to=DATE]` (admin or a manage
/// token for the site): deletes the site's statistics of those local days (both included;
/// without both: all of them) for good; answers what was deleted.
pub async fn erase_statistics(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let p = web::Query::<EraseParams>::from_query(req.query_string())
        .map_err(|e| ApiError::invalid("query", e.to_string()))?
        .into_inner();
    let period = crate::stats::erase::Period::parse(p.from.as_deref(), p.to.as_deref())
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let site = managed_site(&state, &manager, &path)?;
    let deleted = state.eraser.erase(&site, period).await?;
    let event =
        super::audit::site_event(&req, &state, "statistics_deleted", &site).detail(format!(
            "{}: {} events, {} visits, {} archived days, {} imported days",
            period.describe(false),
            deleted.events,
            deleted.visits,
            deleted.archived_days,
            deleted.imported_days
        ));
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "site": site.domain,
        "from": period.from,
        "to": period.to,
        "deleted": deleted,
    })))
}

/// `POST /api/admin/retention`: deletes every site's statistics older than it keeps them now
/// (the server also does so once a day); answers what was deleted per site.
pub async fn retention(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let now = state.stats.clock.now().timestamp();
    let all = state.sites.all();
    let expired =
        crate::stats::retention::enforce(&state.eraser, &all, state.retention, now).await?;
    let sites: Vec<serde_json::Value> = expired
        .iter()
        .map(|e| {
            let domain = state
                .sites
                .by_id(crate::tenancy::SiteId(e.site_id))
                .map(|s| s.domain.clone());
            serde_json::json!({
                "site": domain,
                "events": e.events,
                "visits": e.visits,
                "archived_days": e.archived_days,
            })
        })
        .collect();
    let audit_entries = state.tenancy.expire_audit(now).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "sites": sites,
        "audit_entries_deleted": audit_entries,
    })))
}

/// `POST /api/admin/archive`: archives every finished day now (the server also does so every
/// few minutes); answers how many days it archived.
pub async fn archive(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let days = state.stats.archive.run_once().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"archived_days": days})))
}

fn not_found(what: impl Into<String>) -> ApiError {
    ApiError::new(crate::http::error::ErrorCode::NotFound, what)
}

/// `GET /api/admin/customers`
pub async fn list_customers(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    Ok(HttpResponse::Ok().json(state.tenancy.customers().await?))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct CustomerRequest {
    name: String,
}

/// `PUT /api/admin/customers/{handle}` with `{"name": ...}`: creates the customer (201) or
/// renames it (200); repeating it changes nothing.
pub async fn put_customer(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    let r: CustomerRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CustomerRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?
    };
    let (customer, created) = state.tenancy.put_customer(&path, &r.name).await?;
    let action = if created {
        "customer_added"
    } else {
        "customer_renamed"
    };
    let event = Event::new(super::audit::api_actor(&req, &state), action)
        .customers([customer.id])
        .detail(format!("{} ({})", customer.handle, customer.name));
    super::audit::record(&state, &req, event).await;
    Ok(if created {
        HttpResponse::Created().json(customer)
    } else {
        HttpResponse::Ok().json(customer)
    })
}

/// `DELETE /api/admin/customers/{handle}`: removes the customer with all its sites, their
/// statistics and its tokens; 204 also when there was no such customer.
pub async fn remove_customer(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let customer = match state.tenancy.customer_by_handle(&path).await {
        Ok(c) => c,
        Err(crate::tenancy::TenancyError::NotFound(_)) => {
            return Ok(HttpResponse::NoContent().finish())
        }
        Err(e) => return Err(e.into()),
    };
    let sites: Vec<u32> = state
        .sites
        .all()
        .iter()
        .filter(|s| s.customer_id == Some(customer.id))
        .map(|s| s.id.0)
        .collect();
    state.tenancy.remove_customer(customer.id).await?;
    for id in sites {
        state.stats.archive.forget_site(id);
    }
    reload_sites(&state).await?;
    let event = Event::new(super::audit::api_actor(&req, &state), "customer_removed")
        .customers([customer.id])
        .detail(customer.handle.as_str());
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteCustomerRequest {
    customer: Option<String>,
}

/// `PUT /api/admin/sites/{domain}/customer` with `{"customer": HANDLE}` (or `null`): moves
/// the site to that customer (or to none); answers the site.
pub async fn set_site_customer(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let r: SiteCustomerRequest = admin_body(&req, &state, payload).await?;
    let site = state
        .sites
        .by_domain(&path)
        .ok_or_else(|| not_found(format!("no site {}", path.as_str())))?;
    let customer = match r.customer {
        Some(handle) => Some(state.tenancy.customer_by_handle(&handle).await?.id),
        None => None,
    };
    state.tenancy.set_site_customer(site.id, customer).await?;
    reload_sites(&state).await?;
    let event =
        super::audit::site_event(&req, &state, "site_customer_changed", &site).customers(customer);
    super::audit::record(&state, &req, event).await;
    let site = state
        .sites
        .by_id(site.id)
        .ok_or_else(|| not_found("the site vanished"))?;
    Ok(HttpResponse::Ok().json(&*site))
}

/// Stores changed settings of a site and keeps the archives and the registry in step.
pub async fn change_site(
    state: &AppState,
    manager: &crate::tenancy::Manager,
    site: &Site,
    settings: SiteSettings,
) -> Result<Site, ApiError> {
    let changed = state
        .tenancy
        .change_site_settings(manager, site, settings)
        .await?;
    if changed.timezone != site.timezone {
        state.stats.archive.reset_site(site.id.0).await?;
    }
    reload_sites(state).await?;
    Ok(changed)
}

/// `PATCH /api/admin/sites/{domain}` with any of `aliases`, `timezone`, `ip_mask_bytes`,
/// `respect_dnt`, `excluded_ranges` (admin or a manage token for the site): answers the
/// changed site.
pub async fn update_site(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    let settings: SiteSettings =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let site = managed_site(&state, &manager, &path)?;
    let what = settings_changed(&settings);
    let changed = change_site(&state, &manager, &site, settings).await?;
    let event =
        super::audit::site_event(&req, &state, "site_settings_changed", &changed).detail(what);
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Ok().json(changed))
}

/// The names of the settings a change sets (for the audit log).
pub fn settings_changed(s: &SiteSettings) -> String {
    let mut names = Vec::new();
    for (name, set) in [
        ("aliases", s.aliases.is_some()),
        ("timezone", s.timezone.is_some()),
        ("ip_mask_bytes", s.ip_mask_bytes.is_some()),
        ("respect_dnt", s.respect_dnt.is_some()),
        ("excluded_ranges", s.excluded_ranges.is_some()),
        ("retention_days", s.retention_days.is_some()),
        ("archive_months", s.archive_months.is_some()),
        ("cnil", s.cnil.is_some()),
    ] {
        if set {
            names.push(name);
        }
    }
    names.join(", ")
}

/// The site of `domain` (or an alias) if `manager` may manage it; a 404 otherwise (a site of
/// another customer does not exist for the caller).
pub fn managed_site(
    state: &AppState,
    manager: &crate::tenancy::Manager,
    domain: &str,
) -> Result<std::sync::Arc<crate::tenancy::sites::Site>, ApiError> {
    state
        .sites
        .by_domain(domain)
        .filter(|s| manager.may_manage_site(s))
        .ok_or_else(|| not_found(format!("no site {domain}")))
}

/// `POST /api/admin/backup`: a consistent copy of the embedded store, made while spurlos runs,
/// streamed as one DuckDB file (salts are not in it: they are meant to vanish).
pub async fn backup(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let name = format!("backup-{}.tmp", &crate::tenancy::new_secret()[..16]);
    let path = state.data_dir.join(name);
    let made = state.store.backup_to(path.clone()).await;
    let file = made.and_then(|()| {
        std::fs::File::open(&path).map_err(|e| crate::store::StoreError::Task(e.to_string()))
    });
    // The open file keeps the copy until it is sent; the name goes now.
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("tmp.wal"));
    let file = file.map_err(|e| match e {
        crate::store::StoreError::Task(m) if m.contains("ClickHouse") => {
            ApiError::invalid("store", m)
        }
        other => other.into(),
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut file = file;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let item = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => Ok(web::Bytes::copy_from_slice(&buf[..n])),
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                break;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("Cache-Control", "no-store"))
        .no_chunking(len)
        .streaming(body))
}
