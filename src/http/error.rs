//! The HTTP boundary's one error type: a stable code, a message naming the problem, the
//! status, and a JSON body `{"error": {"code", "message", "field"?}}`.

use crate::ingest::IngestError;
use crate::stats::StatsError;
use crate::store::StoreError;
use crate::tenancy::TenancyError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// The stable codes of error answers (`error.code`), listed in the OpenAPI description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    SiteNotFound,
    DuplicateDomain,
    BodyTooLarge,
    QueueFull,
    ShuttingDown,
    StorageUnavailable,
    Busy,
    QueryTimeout,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::SiteNotFound,
        ErrorCode::DuplicateDomain,
        ErrorCode::BodyTooLarge,
        ErrorCode::QueueFull,
        ErrorCode::ShuttingDown,
        ErrorCode::StorageUnavailable,
        ErrorCode::Busy,
        ErrorCode::QueryTimeout,
    ];

    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::SiteNotFound => "site_not_found",
            ErrorCode::DuplicateDomain => "duplicate_domain",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::QueryTimeout => "query_timeout",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound | ErrorCode::SiteNotFound => StatusCode::NOT_FOUND,
            ErrorCode::DuplicateDomain => StatusCode::CONFLICT,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::QueueFull
            | ErrorCode::ShuttingDown
            | ErrorCode::StorageUnavailable
            | ErrorCode::Busy
            | ErrorCode::QueryTimeout => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    /// A 400 naming the field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: ErrorCode::InvalidRequest,
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    /// An error with its code's status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 413: a body larger than `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::BodyTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 404: nothing of that name (within the caller's reach).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 401 for a missing or unknown token.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "a valid bearer token is required")
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"error": {"code": self.code.as_str(), "message": self.message}});
        if let Some(f) = &self.field {
            body["error"]["field"] = json!(f);
        }
        let mut resp = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header(("Retry-After", "1"));
        }
        let mut resp = resp.json(body);
        // For the metrics: answers are counted by code.
        resp.extensions_mut().insert(self.code);
        resp
    }
}

impl From<TenancyError> for ApiError {
    fn from(e: TenancyError) -> Self {
        match e {
            TenancyError::NotFound(what) => Self::new(ErrorCode::NotFound, what),
            TenancyError::Invalid { field, message } => Self::invalid(field, message),
            TenancyError::Forbidden(why) => Self::forbidden(why),
            TenancyError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DuplicateDomain(d) => Self::new(
                ErrorCode::DuplicateDomain,
                format!("a site with domain {d} exists already"),
            ),
            StoreError::Invalid(spec) => Self::invalid(spec.field, spec.message),
            StoreError::InvalidCustomer(e) => Self::invalid("customer", e.to_string()),
            StoreError::InvalidEmail(e) => Self::invalid("email", e.to_string()),
            StoreError::NotFound(what) => Self::new(ErrorCode::NotFound, what),
            StoreError::Expired(message) => Self::invalid("date_range", message),
            other => {
                tracing::error!(error = %other, "storage error");
                Self::new(
                    ErrorCode::StorageUnavailable,
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
                ErrorCode::QueueFull,
                "too many events at once; the event was not accepted, retry shortly",
            ),
            IngestError::ShuttingDown => Self::new(
                ErrorCode::ShuttingDown,
                "spurlos is restarting; the event was not accepted, retry shortly",
            ),
            IngestError::Journal(e) => {
                tracing::error!(error = %e, "hits could not be made durable");
                Self::new(
                    ErrorCode::StorageUnavailable,
                    "the event could not be stored safely (is the disk full?); it was not accepted, retry shortly",
                )
            }
            IngestError::Store(s) => s.into(),
        }
    }
}

impl From<StatsError> for ApiError {
    fn from(e: StatsError) -> Self {
        match e {
            StatsError::Invalid { field, message } => Self::invalid(field, message),
            StatsError::NoAccess(site) => Self::new(
                ErrorCode::SiteNotFound,
                format!("site {site:?} does not exist or is not readable with this token"),
            ),
            StatsError::Busy => Self::new(
                ErrorCode::Busy,
                "too many statistics queries at once; try again shortly",
            ),
            StatsError::Timeout(limit) => Self::new(
                ErrorCode::QueryTimeout,
                format!(
                    "the query took longer than {} ms and was stopped; choose a shorter period or fewer dimensions",
                    limit.as_millis()
                ),
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
    fn every_error_code_is_listed_in_the_openapi_description() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../assets/openapi.json")).unwrap();
        let listed = &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
            ["code"]["enum"];
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(*listed, json!(codes));
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
