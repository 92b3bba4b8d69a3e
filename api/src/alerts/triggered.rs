//! `/api/v1/alerts/triggered`: what fired, and handling it.

use super::may_manage;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::params::time;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use logflow_store::meta::{AlertFilter, AlertStatus, TriggeredAlert};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TriggeredParams {
    /// `open`, `acknowledged` or `resolved`.
    pub status: Option<String>,
    pub rule_id: Option<i64>,
    /// Triggered at or after (RFC 3339 or relative: `24h`).
    pub from: Option<String>,
    /// Triggered before.
    pub to: Option<String>,
    /// Most alerts to return (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Triggered alerts, newest first, each with its delivery attempts.
#[utoipa::path(get, path = "/triggered", tag = "alerts", security(("bearer" = [])),
    params(TriggeredParams),
    responses(
        (status = 200, description = "The alerts", body = [TriggeredAlert]),
        (status = 400, description = "Invalid parameter; `detail.parameter` names it", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    Query(params): Query<TriggeredParams>,
) -> Result<Json<Vec<TriggeredAlert>>, ApiError> {
    let now = Utc::now();
    let status = params
        .status
        .as_deref()
        .map(|s| {
            s.parse::<AlertStatus>().map_err(|_| {
                ApiError::bad_param(
                    "status",
                    format!("unknown status {s:?}: expected open, acknowledged or resolved"),
                )
            })
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_param("limit", "limit must be 1 to 1000"));
    }
    let filter = AlertFilter {
        status,
        rule_id: params.rule_id,
        from: time("from", &params.from, now)?,
        to: time("to", &params.to, now)?,
        limit,
    };
    Ok(Json(state.db.alerts().alerts(&filter).await?))
}

/// The alert and its rule, if `user` may handle it.
async fn handled_by(
    state: &AppState,
    id: i64,
    user: &AuthUser,
) -> Result<TriggeredAlert, ApiError> {
    let alerts = state.db.alerts();
    let alert = alerts
        .alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no triggered alert {id}")))?;
    let rule = alerts
        .rule(alert.rule_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no triggered alert {id}")))?;
    may_manage(&user.0, &rule)?;
    Ok(alert)
}

fn conflict(alert: &TriggeredAlert, action: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "alert {} is {}: it cannot be {action}",
            alert.id, alert.status
        ),
    )
}

/// Acknowledge an open alert (the rule's owner or an admin): someone is on
/// it. The rule still does not fire again until the alert is resolved.
#[utoipa::path(post, path = "/triggered/{id}/acknowledge", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The triggered alert")),
    responses(
        (status = 200, description = "Acknowledged", body = TriggeredAlert),
        (status = 400, description = "Not an alert id", body = ErrorBody),
        (status = 403, description = "Neither the rule's owner nor an admin", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "Not open", body = ErrorBody),
    ))]
async fn acknowledge(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<i64>,
) -> Result<Json<TriggeredAlert>, ApiError> {
    let alert = handled_by(&state, id, &user).await?;
    let done = state
        .db
        .alerts()
        .acknowledge(id, user.0.id, Utc::now())
        .await?;
    let done = done.ok_or_else(|| conflict(&alert, "acknowledged"))?;
    tracing::info!(alert = id, by = %user.0.username, "alert acknowledged");
    Ok(Json(done))
}

/// Resolve an alert (the rule's owner or an admin); the rule may fire
/// again once its cooldown has passed.
#[utoipa::path(post, path = "/triggered/{id}/resolve", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The triggered alert")),
    responses(
        (status = 200, description = "Resolved", body = TriggeredAlert),
        (status = 400, description = "Not an alert id", body = ErrorBody),
        (status = 403, description = "Neither the rule's owner nor an admin", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
    ))]
async fn resolve(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<i64>,
) -> Result<Json<TriggeredAlert>, ApiError> {
    let alert = handled_by(&state, id, &user).await?;
    let done = state.db.alerts().resolve(id, user.0.id, Utc::now()).await?;
    let done = done.ok_or_else(|| conflict(&alert, "resolved"))?;
    tracing::info!(alert = id, by = %user.0.username, "alert resolved");
    Ok(Json(done))
}
