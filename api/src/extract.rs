//! Extractors that turn axum's plain-text rejections into our JSON errors,
//! so a malformed parameter or body is a 400/422 naming the problem.

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

/// Query parameters; repeated keys (`service=a&service=b`) fill a `Vec`.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum_extra::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid query parameters")
                    .with_detail(e.to_string())
            })
    }
}

/// A path parameter. Only a segment that does not decode (invalid UTF-8,
/// say) fails: a 400.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid path parameter")
                    .with_detail(e.body_text())
            })
    }
}

/// A JSON body. Syntax errors are 400, a wrong shape or type 422, a missing
/// `Content-Type: application/json` 415.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| Json(j.0))
            .map_err(json_rejection)
    }
}

fn json_rejection(e: JsonRejection) -> ApiError {
    let error = match &e {
        JsonRejection::JsonSyntaxError(_) => "malformed JSON body",
        JsonRejection::JsonDataError(_) => "invalid request body",
        JsonRejection::MissingJsonContentType(_) => "expected Content-Type: application/json",
        _ => "unreadable request body",
    };
    ApiError::new(e.status(), error).with_detail(e.body_text())
}

/// A body sent either as JSON or as an HTML/OAuth2 form
/// (`application/x-www-form-urlencoded`), chosen by `Content-Type`.
pub struct JsonOrForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            axum::Form::<T>::from_request(req, state)
                .await
                .map(|f| JsonOrForm(f.0))
                .map_err(|e| {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid form body")
                        .with_detail(e.body_text())
                })
        } else {
            Json::<T>::from_request(req, state)
                .await
                .map(|j| JsonOrForm(j.0))
        }
    }
}
