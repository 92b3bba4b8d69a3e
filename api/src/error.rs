//! One error shape for every route: JSON `{"error": …, "detail": …}` with the
//! status that says whose fault it was. Bad input is a 4xx naming what was
//! wrong; only our own failures are 5xx, and those never echo internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use logflow_core::QueryError;
use logflow_store::meta::MetaError;
use logflow_store::StoreError;
use serde::Serialize;
use serde_json::Value;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A short, stable description of what went wrong.
    pub error: String,
    /// Specifics: the parameter or field at fault (`{"parameter": …}`,
    /// `{"field": …}`), or a sentence saying why.
    #[schema(value_type = Value)]
    pub detail: Option<Value>,
}

/// An error a handler returns; becomes an [`ErrorBody`] response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub detail: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<Value>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 400: a query parameter is wrong; names it.
    pub fn bad_param(param: &str, reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, reason)
            .with_detail(serde_json::json!({ "parameter": param }))
    }

    /// 422: a body field is wrong; names it.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason)
            .with_detail(serde_json::json!({ "field": field }))
    }

    pub fn unauthorized(reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, reason)
    }

    pub fn forbidden(reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, reason)
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }

    /// 500 for our own failures: logged in full, answered in general terms.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            .with_detail(context.to_string())
    }

    /// 503: a dependency is down; the client may retry.
    pub fn unavailable(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %err, "{context}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "service unavailable")
            .with_detail(context.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.error,
                detail: self.detail,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        let param = match &err {
            QueryError::Time { param, .. } => param,
            QueryError::Cursor => "cursor",
            QueryError::Limit(_) => "limit",
            QueryError::Interval(_) => "interval",
            QueryError::Range { .. } => "from",
            QueryError::Text(_) => "query",
        };
        ApiError::bad_param(param, err.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidQuery { .. } => ApiError::bad_param("query", err.to_string()),
            other => ApiError::unavailable("the log store failed", other),
        }
    }
}

impl From<MetaError> for ApiError {
    fn from(err: MetaError) -> Self {
        match err {
            MetaError::Conflict { field } => {
                ApiError::new(StatusCode::CONFLICT, format!("{field} already taken"))
                    .with_detail(serde_json::json!({ "field": field }))
            }
            MetaError::NotFound => ApiError::not_found("not found"),
            other => ApiError::unavailable("the metadata database failed", other),
        }
    }
}
