//! A site's export as a zip over HTTP, streamed while it is written (`stats::export` on a
//! blocking thread, its bytes through a bounded channel): the admin API's
//! `GET /api/admin/sites/{domain}/export` and the owners' download on the settings page.

use super::error::ApiError;
use super::AppState;
use crate::stats::erase::Period;
use crate::tenancy::sites::Site;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::Arc;

/// Bytes written into a bounded channel (blocking when the client reads slowly).
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<web::Bytes, std::io::Error>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(web::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The period of a request's `from` and `to`.
pub fn period_of(req: &HttpRequest) -> Result<Period, ApiError> {
    let (mut from, mut to) = (None, None);
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "from" => from = Some(v.into_owned()),
            "to" => to = Some(v.into_owned()),
            other => {
                return Err(ApiError::invalid(
                    "query",
                    format!("unknown parameter {other:?} (from, to)"),
                ))
            }
        }
    }
    Period::parse(from.as_deref(), to.as_deref()).map_err(|e| ApiError::invalid(e.field, e.message))
}

/// The zip of `site` for `period`, streamed.
pub fn stream(state: &AppState, site: Site, period: Period) -> HttpResponse {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(16);
    let store = state.store.clone();
    let rt = tokio::runtime::Handle::current();
    let name = format!(
        "spurlos-{}-{}.zip",
        site.domain,
        chrono::Utc::now().format("%Y%m%d")
    );
    tokio::task::spawn_blocking(move || {
        let out = ChannelWriter(tx.clone());
        let written =
            crate::stats::export::write_export(&rt, &store, &site, period, out, &|_, _| {});
        if let Err(e) = written {
            tracing::error!(error = %e, site = %site.domain, "an export stopped");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body)
}

/// Largest export zip the admin API takes.
pub const MAX_IMPORT_BYTES: usize = 256 << 20;

/// `POST /api/admin/sites/{domain}/import` with a zip written by spurlos's export (admin or a
/// manage token for the site): its visits and events become the site's, replacing the site's
/// statistics of the export's days; answers how many.
pub async fn api_import(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let site: Arc<Site> = super::admin::managed_site(&state, &manager, &path)?;
    let body = super::read_body(payload, MAX_IMPORT_BYTES).await?;
    let site_id = site.id.0;
    let parsed = tokio::task::spawn_blocking(move || {
        crate::stats::restore::from_zip("the zip", std::io::Cursor::new(body), site_id)
    })
    .await
    .map_err(|e| crate::store::StoreError::Task(e.to_string()))?
    .map_err(|e| ApiError::invalid("body", e.to_string()))?
    .ok_or_else(|| {
        ApiError::invalid(
            "body",
            "the zip holds no visits.csv and events.csv of a spurlos export (Plausible's day sums go through /imported)",
        )
    })?;
    let restored =
        crate::stats::restore::restore(&state.eraser, &state.store, &site, parsed).await?;
    let event =
        super::audit::site_event(&req, &state, "statistics_imported", &site).detail(format!(
            "spurlos export: {} events, {} visits",
            restored.events, restored.visits
        ));
    super::audit::record(&state, &req, event).await;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "site": site.domain,
        "events": restored.events,
        "visits": restored.visits,
    })))
}

/// `GET /api/admin/sites/{domain}/export[?from=DATE][&to=DATE]` (admin or a manage token for
/// the site): the site's export as a zip (see `stats::export`).
pub async fn api_export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let manager = super::auth::manager(&req, &state).await?;
    let period = period_of(&req)?;
    let site: Arc<Site> = super::admin::managed_site(&state, &manager, &path)?;
    let event = super::audit::site_event(&req, &state, "statistics_exported", &site)
        .detail(format!("zip, {}", period.describe(false)));
    super::audit::record(&state, &req, event).await;
    Ok(stream(&state, (*site).clone(), period))
}
