//! The HTTP boundary's one error type: a stable code, a message naming the problem, the
//! status, and a JSON body `{"error": {"code", "message", "field"?}}`.

use crate::ingest::IngestError;
use crate::stats::StatsError;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    /// A 400 naming the field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    /// Any other status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 401 for a missing or unknown token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(f) = &self.field {
            body["error"]["field"] = json!(f);
        }
        let mut resp = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header(("Retry-After", "1"));
        }
        resp.json(body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DuplicateDomain(d) => Self::new(
                StatusCode::CONFLICT,
                "duplicate_domain",
                format!("a site with domain {d} exists already"),
            ),
            StoreError::Invalid(spec) => Self::invalid(spec.field, spec.message),
            StoreError::InvalidCustomer(e) => Self::invalid("customer", e.to_string()),
            StoreError::InvalidEmail(e) => Self::invalid("email", e.to_string()),
            other => {
                tracing::error!(error = %other, "storage error");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the store could not answer; try again",
                )
            }
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid { field, message } => Self::invalid(field, message),
            IngestError::QueueFull => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                "too many events at once; the event was not accepted, retry shortly",
            ),
            IngestError::ShuttingDown => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "spurlos is restarting; the event was not accepted, retry shortly",
            ),
            IngestError::Store(s) => s.into(),
        }
    }
}

impl From<StatsError> for ApiError {
    fn from(e: StatsError) -> Self {
        match e {
            StatsError::Invalid { field, message } => Self::invalid(field, message),
            StatsError::NoAccess(site) => Self::new(
                StatusCode::NOT_FOUND,
                "site_not_found",
                format!("site {site:?} does not exist or is not readable with this token"),
            ),
            StatsError::Store(s) => s.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_a_503_with_retry_after_and_a_json_body() {
        let resp = ApiError::from(IngestError::QueueFull).error_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("1")
        );
        assert_eq!(
            resp.headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap()),
            Some("application/json")
        );
        let resp = ApiError::from(IngestError::ShuttingDown).error_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn client_mistakes_name_the_field() {
        let e = ApiError::from(IngestError::Invalid {
            field: "url",
            message: "not an absolute URL".into(),
        });
        assert_eq!(
            (e.status, e.field.as_deref()),
            (StatusCode::BAD_REQUEST, Some("url"))
        );
        assert!(e.message.starts_with("url: "));
    }
}
