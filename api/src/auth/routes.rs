//! `/api/v1/auth`: register, log in, read and change one's own account, and
//! (admins) list accounts.

use super::password::check_strength;
use super::{AdminUser, AuthUser};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json as JsonBody, JsonOrForm, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use logflow_store::meta::{NewUser, Role, User, UserUpdate};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(me, update_me))
        .routes(routes!(list_users))
}

/// A new account. Accounts created here have the `user` role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–64 characters: letters, digits, `.`, `_`, `-`.
    #[schema(example = "ada", pattern = "^[A-Za-z0-9._-]{3,64}$")]
    pub username: String,
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// At least 8 characters, at most 72 bytes, and hard to guess.
    #[schema(example = "violet-kettle-93-orbit", min_length = 8, max_length = 72)]
    pub password: String,
    #[schema(example = "Ada Lovelace")]
    pub full_name: Option<String>,
}

/// Credentials, as JSON or as an OAuth2 password-grant form.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "ada")]
    pub username: String,
    #[schema(example = "violet-kettle-93-orbit")]
    pub password: String,
}

/// A bearer token: send it as `Authorization: Bearer <access_token>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub user: User,
}

/// Changes to one's own account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    pub email: Option<String>,
    /// An empty string clears the name.
    pub full_name: Option<String>,
    /// The new password; needs `current_password`.
    pub password: Option<String>,
    pub current_password: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersParams {
    /// Most users to return (1–1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Users to skip (0–1,000,000).
    #[param(minimum = 0, maximum = 1000000)]
    pub offset: Option<u32>,
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    pub users: Vec<User>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

/// Create an account (role `user`).
#[utoipa::path(post, path = "/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = User),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "Username or email already taken", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field or weak password; `detail.field` names it", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let username = valid_username(&req.username)?;
    let email = valid_email(&req.email)?;
    let full_name = valid_full_name(req.full_name)?;
    check_strength(&req.password, &[&username, &email])
        .map_err(|why| ApiError::invalid_field("password", why))?;
    let password_hash = state.passwords.hash(req.password).await?;
    let user = state
        .users
        .create(NewUser {
            username,
            email,
            full_name,
            password_hash,
            role: Role::User,
        })
        .await?;
    tracing::info!(user = %user.username, id = user.id, "user registered");
    crate::prometheus::user_registered();
    Ok((StatusCode::CREATED, Json(user)))
}

/// Exchange a username and password for a bearer token.
#[utoipa::path(post, path = "/login", tag = "auth",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong username or password, or account disabled", body = ErrorBody),
        (status = 415, description = "Neither JSON nor a form", body = ErrorBody),
        (status = 422, description = "Missing field", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    JsonOrForm(req): JsonOrForm<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    // A name no account can have (too long, control characters such as
    // NUL, which PostgreSQL refuses) is an unknown user, not a query.
    let plausible = req.username.len() <= 64 && !req.username.chars().any(char::is_control);
    let found = if plausible {
        state.users.by_username(&req.username).await?
    } else {
        None
    };
    // Check a password even for an unknown user, so response time does not
    // tell which usernames exist.
    let hash = match &found {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash(&state).await?,
    };
    let matches = state.passwords.verify(req.password, hash).await?;
    let user = match found {
        Some(u) if matches && u.user.is_active => u.user,
        _ => {
            let user = if plausible {
                req.username.as_str()
            } else {
                "<invalid>"
            };
            tracing::info!(%user, result = "failure", "login");
            crate::prometheus::auth_attempt("failure");
            return Err(ApiError::unauthorized("wrong username or password"));
        }
    };
    state
        .users
        .record_login(user.id, chrono::Utc::now())
        .await?;
    let issued = state
        .tokens
        .issue(&user)
        .map_err(|e| ApiError::internal("signing a token failed", e))?;
    tracing::info!(user = %user.username, result = "success", "login");
    crate::prometheus::auth_attempt("success");
    Ok(Json(TokenResponse {
        access_token: issued.token,
        token_type: "bearer".into(),
        expires_in: issued.expires_in,
        user,
    }))
}

async fn dummy_hash(state: &AppState) -> Result<String, ApiError> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| state.passwords.hash("not-a-real-password".into()))
        .await
        .cloned()
}

/// The account the token belongs to.
#[utoipa::path(get, path = "/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = User),
    ))]
async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user)
}

/// Change one's own email, name or password.
#[utoipa::path(put, path = "/me", tag = "auth", security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated account", body = User),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "Email already taken", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field, weak password or wrong current password", body = ErrorBody),
    ))]
async fn update_me(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(req): JsonBody<UpdateMeRequest>,
) -> Result<Json<User>, ApiError> {
    let email = req.email.as_deref().map(valid_email).transpose()?;
    let full_name = req
        .full_name
        .map(|n| valid_full_name(Some(n)))
        .transpose()?;
    let password_hash = match req.password {
        None => None,
        Some(new) => {
            let current = req.current_password.ok_or_else(|| {
                ApiError::invalid_field(
                    "current_password",
                    "current_password is required to change the password",
                )
            })?;
            let stored = state
                .users
                .by_id(user.id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
            if !state
                .passwords
                .verify(current, stored.password_hash)
                .await?
            {
                return Err(ApiError::invalid_field(
                    "current_password",
                    "current_password is wrong",
                ));
            }
            let email_now = email.as_deref().unwrap_or(&user.email);
            check_strength(&new, &[&user.username, email_now])
                .map_err(|why| ApiError::invalid_field("password", why))?;
            Some(state.passwords.hash(new).await?)
        }
    };
    let updated = state
        .users
        .update(
            user.id,
            UserUpdate {
                email,
                full_name,
                password_hash,
            },
        )
        .await?;
    Ok(Json(updated))
}

/// Every account, by id (admins only).
#[utoipa::path(get, path = "/users", tag = "auth", security(("bearer" = [])),
    params(UsersParams),
    responses(
        (status = 200, description = "A page of accounts", body = UsersPage),
        (status = 400, description = "Invalid parameter", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(params): Query<UsersParams>,
) -> Result<Json<UsersPage>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_param(
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let offset = params.offset.unwrap_or(0);
    if offset > 1_000_000 {
        return Err(ApiError::bad_param(
            "offset",
            "offset must be between 0 and 1000000",
        ));
    }
    let users = state.users.list(limit, offset).await?;
    let total = state.users.count().await?;
    Ok(Json(UsersPage {
        users,
        total,
        limit,
        offset,
    }))
}

fn valid_username(name: &str) -> Result<String, ApiError> {
    let ok = (3..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(ApiError::invalid_field(
            "username",
            "username must be 3–64 characters: letters, digits, '.', '_' or '-'",
        ))
    }
}

/// A syntactically valid address, lower-cased so uniqueness ignores case.
fn valid_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_control)
        && email_address::EmailAddress::is_valid(email);
    if valid {
        Ok(email.to_lowercase())
    } else {
        Err(ApiError::invalid_field(
            "email",
            "email is not a valid address",
        ))
    }
}

/// Up to 200 characters, no control characters; empty means none.
fn valid_full_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    match name.map(|n| n.trim().to_string()) {
        Some(n) if n.chars().count() > 200 || n.chars().any(char::is_control) => {
            Err(ApiError::invalid_field(
                "full_name",
                "full_name must be at most 200 characters, without control characters",
            ))
        }
        Some(n) if n.is_empty() => Ok(None),
        other => Ok(other),
    }
}
