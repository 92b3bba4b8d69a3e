//! `/api/v1/alerts/rules`.

use super::{may_manage, RuleInput};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json as JsonBody, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use logflow_store::meta::{AlertRule, Role, RuleSpec, User};
use logflow_store::StoreError;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
}

/// Checks the rule's query with the store's own parser, so a rule that
/// could never be evaluated is refused now rather than failing every
/// minute in the engine.
async fn validated(state: &AppState, input: RuleInput) -> Result<RuleSpec, ApiError> {
    let spec = input.validate()?;
    if spec.query.is_some() {
        match state.store.count(&spec.filter(Utc::now())).await {
            Err(StoreError::InvalidQuery { reason, .. }) => {
                return Err(ApiError::invalid_field("query", reason))
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
    }
    Ok(spec)
}

/// A rule as `user` may see it: a webhook secret only for its owner and
/// admins.
fn shown(mut rule: AlertRule, user: &User) -> AlertRule {
    let may_see = user.role == Role::Admin || rule.owner_id == Some(user.id);
    if !may_see {
        if let Some(secret) = rule.spec.channel_config.get_mut("secret") {
            *secret = Value::String("***".into());
        }
    }
    rule
}

/// Create a rule (you become its owner).
#[utoipa::path(post, path = "/rules", tag = "alerts", security(("bearer" = [])),
    request_body = RuleInput,
    responses(
        (status = 201, description = "Rule created", body = AlertRule),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid rule; `detail.field` names the field", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(input): JsonBody<RuleInput>,
) -> Result<(StatusCode, Json<AlertRule>), ApiError> {
    let spec = validated(&state, input).await?;
    let rule = state.db.alerts().create_rule(spec, user.id).await?;
    tracing::info!(rule = rule.id, name = %rule.spec.name, owner = %user.username, "alert rule created");
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Every rule, with its statistics.
#[utoipa::path(get, path = "/rules", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, description = "The rules, by id", body = [AlertRule])))]
async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<Vec<AlertRule>>, ApiError> {
    let rules = state.db.alerts().rules(false).await?;
    Ok(Json(rules.into_iter().map(|r| shown(r, &user)).collect()))
}

async fn find(state: &AppState, id: i64) -> Result<AlertRule, ApiError> {
    state
        .db
        .alerts()
        .rule(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no alert rule {id}")))
}

/// One rule.
#[utoipa::path(get, path = "/rules/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The rule")),
    responses(
        (status = 200, description = "The rule", body = AlertRule),
        (status = 400, description = "Not a rule id", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ))]
async fn get_one(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> Result<Json<AlertRule>, ApiError> {
    Ok(Json(shown(find(&state, id).await?, &user)))
}

/// Replace a rule (its owner or an admin). Statistics are kept.
#[utoipa::path(put, path = "/rules/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The rule")),
    request_body = RuleInput,
    responses(
        (status = 200, description = "The rule as stored", body = AlertRule),
        (status = 400, description = "Malformed JSON or not a rule id", body = ErrorBody),
        (status = 403, description = "Neither the owner nor an admin", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid rule; `detail.field` names the field", body = ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<RuleInput>,
) -> Result<Json<AlertRule>, ApiError> {
    may_manage(&user, &find(&state, id).await?)?;
    let spec = validated(&state, input).await?;
    let rule = state.db.alerts().update_rule(id, spec).await?;
    tracing::info!(rule = id, by = %user.username, "alert rule changed");
    Ok(Json(rule))
}

/// Delete a rule and its alerts (its owner or an admin).
#[utoipa::path(delete, path = "/rules/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The rule")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a rule id", body = ErrorBody),
        (status = 403, description = "Neither the owner nor an admin", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ))]
async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    may_manage(&user, &find(&state, id).await?)?;
    state.db.alerts().delete_rule(id).await?;
    tracing::info!(rule = id, by = %user.username, "alert rule deleted");
    Ok(StatusCode::NO_CONTENT)
}
