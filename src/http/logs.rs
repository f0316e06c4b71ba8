//! Admin API of log imports (`spurlos logs import` through a running server): start a run,
//! send batches of entries whose addresses the CLI truncated already, finish the run; and the
//! traffic sums of imported logs, for billing; and statistics imported from other tools.

use super::auth::require_admin;
use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::logs::import::{Entry, LogBatch, LogError, OtherLines};
use crate::logs::traffic::{report, TrafficError, TrafficQuery};
use crate::stats::imported::ImportRequest;
use crate::tenancy::sites::Site;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;

/// Largest batch body: [`crate::logs::import::MAX_BATCH_ENTRIES`] entries of at most a few KiB each.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::UnknownRun(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            LogError::TooMany => ApiError::invalid("entries", e.to_string()),
            LogError::Source => ApiError::invalid("source", e.to_string()),
            LogError::OutOfOrder(_) => ApiError::invalid("seq", e.to_string()),
            LogError::Store(s) => s.into(),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    source: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    /// The batch's number in its run (0, 1, ...): batches sent at once are stored in order.
    #[serde(default)]
    seq: Option<u64>,
    entries: Vec<Entry>,
    /// Lines that count only as traffic, by site.
    #[serde(default)]
    others: Vec<OtherLines>,
}

/// `POST /api/admin/logs/runs` with `{"source": NAME}`: 201 with `{"run": ID}`.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = super::read_body(payload, state.max_body_bytes).await?;
    let r: StartRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let run = state.logs.start(&r.source)?;
    let event = crate::tenancy::audit::Event::new(
        super::audit::api_actor(&req, &state),
        "logs_import_started",
    )
    .detail(format!("source {}", r.source));
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Created().json(serde_json::json!({ "run": run })))
}

/// `POST /api/admin/logs/runs/{run}` with `{"entries": [...], "others": [...]}` (at most
/// [`crate::logs::import::MAX_BATCH_ENTRIES`] and [`crate::logs::import::MAX_BATCH_OTHERS`]): stores them all or nothing; answers what
/// became of them per site.
pub async fn batch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = super::read_body(payload, MAX_BATCH_BYTES).await?;
    let r: BatchRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let batch = LogBatch {
        entries: r.entries,
        others: r.others,
    };
    let result = state.logs.batch(&path, r.seq, batch).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// `DELETE /api/admin/logs/runs/{run}`: ends the run (204; 404 when there is none).
pub async fn finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    if state.logs.finish(&path) {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(LogError::UnknownRun(path.into_inner()).into())
    }
}

impl From<TrafficError> for ApiError {
    fn from(e: TrafficError) -> Self {
        match e {
            TrafficError::Order(..) => ApiError::invalid("from", e.to_string()),
            TrafficError::TooLong => ApiError::invalid("to", e.to_string()),
            TrafficError::NoSite(_) | TrafficError::NoCustomer(_) => {
                ApiError::new(ErrorCode::NotFound, e.to_string())
            }
            TrafficError::Store(s) => s.into(),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficParams {
    from: Option<String>,
    to: Option<String>,
    site: Option<String>,
    customer: Option<String>,
}

fn date_param(name: &str, value: Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| ApiError::invalid(name, format!("{name}: a date like 2024-03-01")))
        })
        .transpose()
}

/// `GET /api/admin/traffic?from=DATE&to=DATE[&site=DOMAIN][&customer=HANDLE]`: requests and
/// bytes per site and day from imported logs, for billing (default: this month so far), of the
/// sites the token may manage.
pub async fn traffic(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let p = web::Query::<TrafficParams>::from_query(req.query_string())
        .map_err(|e| ApiError::invalid("query", e.to_string()))?
        .into_inner();
    let q = TrafficQuery {
        from: date_param("from", p.from)?,
        to: date_param("to", p.to)?,
        site: p.site,
        customer: p.customer,
    };
    let customers = match q.customer {
        Some(_) => state.tenancy.customers().await?,
        None => Vec::new(),
    };
    let all = state.sites.all();
    let visible: Vec<&Site> = all
        .iter()
        .map(|s| &**s)
        .filter(|s| manager.may_manage_site(s))
        .collect();
    let sites = q.pick(visible, &customers)?;
    let (from, to) = q.range(chrono::Utc::now().date_naive());
    let report = report(state.store.as_ref(), &sites, from, to).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `POST /api/admin/sites/{domain}/imported` with an [`ImportRequest`]: statistics imported
/// from another tool (AWStats's history, `spurlos logs import-awstats`), replacing what the
/// same source imported for those days.
pub async fn import_statistics(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let site = super::admin::managed_site(&state, &manager, &path)?;
    let body = super::read_body(payload, MAX_BATCH_BYTES).await?;
    let r: ImportRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let (source, days, rows) = r
        .checked()
        .map_err(|e| ApiError::invalid(e.field.clone(), e.to_string()))?;
    let (n_days, n_rows) = (days.len(), rows.len());
    state
        .stats
        .archive
        .put_imported(site.id.0, source.clone(), days, rows)
        .await?;
    let event = super::audit::site_event(&req, &state, "statistics_imported", &site)
        .detail(format!("{source}: {n_days} days, {n_rows} rows"));
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "site": site.domain, "source": source, "days": n_days, "rows": n_rows,
    })))
}
