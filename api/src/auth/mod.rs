//! Authentication and authorisation: bearer tokens on every protected
//! route, roles user and admin, and the `/api/v1/auth` routes.

pub mod bootstrap;
pub mod password;
pub mod routes;
pub mod token;

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::headers::authorization::Bearer;
use axum_extra::headers::Authorization;
use axum_extra::TypedHeader;
use logflow_store::meta::{Role, User};

/// The caller, proven by a valid bearer token and still an active user.
/// The user is re-read on every request so a changed role or a deactivated
/// account takes effect at once, not when the token expires.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

/// The caller, who must be an admin (403 otherwise).
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let TypedHeader(Authorization(bearer)) =
            TypedHeader::<Authorization<Bearer>>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::unauthorized("missing bearer token"))?;
        let claims = state.tokens.verify(bearer.token()).map_err(|e| {
            tracing::debug!(error = %e, "token rejected");
            ApiError::unauthorized("invalid or expired token")
        })?;
        let id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ApiError::unauthorized("invalid or expired token"))?;
        let user = state
            .users
            .by_id(id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?
            .user;
        if !user.is_active {
            return Err(ApiError::unauthorized("account is disabled"));
        }
        tracing::Span::current().record("user", user.username.as_str());
        Ok(AuthUser(user))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::forbidden("admin role required"));
        }
        Ok(AdminUser(user))
    }
}
