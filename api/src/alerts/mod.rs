//! `/api/v1/alerts`: alert rules (any user creates; the owner or an admin
//! changes and deletes) and the alerts they triggered (acknowledged and
//! resolved by the rule's owner or an admin). The engine that evaluates
//! the rules is `logflow alerting`.

mod input;
mod rules;
mod triggered;

use crate::error::ApiError;
use crate::state::AppState;
use logflow_store::meta::{AlertRule, Role, User};
use utoipa_axum::router::OpenApiRouter;

pub use input::RuleInput;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(rules::router())
        .merge(triggered::router())
}

/// The rule, if `user` may change it (its owner or an admin); 403 else.
fn may_manage(user: &User, rule: &AlertRule) -> Result<(), ApiError> {
    if user.role == Role::Admin || rule.owner_id == Some(user.id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the rule's owner or an admin may do this",
        ))
    }
}
