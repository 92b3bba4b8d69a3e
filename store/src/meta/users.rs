//! User accounts: the `users` table.

use super::rows::{self, query_error, Fields};
use super::MetaError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::AnyPool;
use std::fmt;
use std::str::FromStr;

/// What a user may do: an admin also manages users and system settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    /// The stored and serialized spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role string that is neither `user` nor `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected \"user\" or \"admin\"")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Exactly the stored spelling; anything else is an error rather than a
    /// guess, since a role grants rights.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// A user account as shown to clients: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub role: Role,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// A user with the password hash, for authentication only. Not
/// `Serialize`, so the hash cannot end up in a response by accident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWithHash {
    pub user: User,
    pub password_hash: String,
}

/// A user to create; new users are active.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// Stored as given: the caller lowercases it, so uniqueness is exact.
    pub email: String,
    pub full_name: Option<String>,
    pub password_hash: String,
    pub role: Role,
}

/// Changes to a user; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    /// `Some(None)` clears the full name.
    pub full_name: Option<Option<String>>,
    pub password_hash: Option<String>,
}

/// User accounts. Usernames are unique case-sensitively, emails exactly as
/// stored.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates an active user. A taken username or email is
    /// `MetaError::Conflict` naming that field.
    async fn create(&self, new: NewUser) -> Result<User, MetaError>;

    async fn by_username(&self, username: &str) -> Result<Option<UserWithHash>, MetaError>;

    async fn by_id(&self, id: i64) -> Result<Option<UserWithHash>, MetaError>;

    /// Applies the changes and bumps `updated_at`. `MetaError::NotFound` for
    /// an unknown id, `MetaError::Conflict { field: "email" }` for a taken
    /// email.
    async fn update(&self, id: i64, update: UserUpdate) -> Result<User, MetaError>;

    /// One page of users, ordered by id.
    async fn list(&self, limit: u32, offset: u32) -> Result<Vec<User>, MetaError>;

    async fn count(&self) -> Result<u64, MetaError>;

    /// Users with the admin role, active or not.
    async fn count_admins(&self) -> Result<u64, MetaError>;

    /// Stamps `last_login_at`; not a profile change, so `updated_at` stays.
    /// `MetaError::NotFound` for an unknown id.
    async fn record_login(&self, id: i64, at: DateTime<Utc>) -> Result<(), MetaError>;
}

/// The columns every query reads back, in `user_from_row`'s terms.
macro_rules! user_columns {
    () => {
        "id, username, email, full_name, role, is_active, \
         created_at, updated_at, last_login_at, password_hash"
    };
}

const UNIQUE_COLUMNS: &[&str] = &["username", "email"];

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// [`UserRepository`] over either backend.
#[derive(Debug)]
pub(super) struct SqlUserRepository {
    pool: AnyPool,
}

impl SqlUserRepository {
    pub(super) fn new(pool: AnyPool) -> Self {
        SqlUserRepository { pool }
    }

    async fn fetch_one_user(
        &self,
        operation: &'static str,
        query: AnyQuery<'_>,
    ) -> Result<Option<UserWithHash>, MetaError> {
        query
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error(operation))?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn count_where(
        &self,
        operation: &'static str,
        query: AnyQuery<'_>,
    ) -> Result<u64, MetaError> {
        let row = query
            .fetch_one(&self.pool)
            .await
            .map_err(query_error(operation))?;
        let fields = Fields::new("users", &row);
        let count: i64 = fields.get("n")?;
        u64::try_from(count).map_err(|error| fields.corrupt("n", error))
    }
}

/// A failed write: a collision with a unique column is a conflict on it.
fn write_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> MetaError {
    move |source| match rows::unique_violation(&source, "users", UNIQUE_COLUMNS) {
        Some(field) => MetaError::Conflict { field },
        None => MetaError::Query { operation, source },
    }
}

fn user_from_row(row: &AnyRow) -> Result<UserWithHash, MetaError> {
    let fields = Fields::new("users", row);
    let role: String = fields.get("role")?;
    Ok(UserWithHash {
        user: User {
            id: fields.get("id")?,
            username: fields.get("username")?,
            email: fields.get("email")?,
            full_name: fields.get("full_name")?,
            role: role
                .parse()
                .map_err(|error| fields.corrupt("role", error))?,
            is_active: fields.flag("is_active")?,
            created_at: fields.timestamp("created_at")?,
            updated_at: fields.timestamp("updated_at")?,
            last_login_at: fields.optional_timestamp("last_login_at")?,
        },
        password_hash: fields.get("password_hash")?,
    })
}

#[async_trait]
impl UserRepository for SqlUserRepository {
    async fn create(&self, new: NewUser) -> Result<User, MetaError> {
        let now = rows::now();
        let row = sqlx::query(
            "INSERT INTO users \
             (username, email, full_name, password_hash, role, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&new.username)
        .bind(&new.email)
        .bind(&new.full_name)
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(true)
        .bind(now.timestamp_micros())
        .bind(now.timestamp_micros())
        .fetch_one(&self.pool)
        .await
        .map_err(write_error("create user"))?;
        Ok(User {
            id: Fields::new("users", &row).get("id")?,
            username: new.username,
            email: new.email,
            full_name: new.full_name,
            role: new.role,
            is_active: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        })
    }

    async fn by_username(&self, username: &str) -> Result<Option<UserWithHash>, MetaError> {
        let query = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username.to_string());
        self.fetch_one_user("user by username", query).await
    }

    async fn by_id(&self, id: i64) -> Result<Option<UserWithHash>, MetaError> {
        let query = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id);
        self.fetch_one_user("user by id", query).await
    }

    async fn update(&self, id: i64, update: UserUpdate) -> Result<User, MetaError> {
        // One statement whatever is set, so there is no SQL to assemble: a
        // NULL parameter keeps the column, and $2 says whether $3 (possibly
        // NULL) replaces the full name.
        let sql = concat!(
            "UPDATE users SET \
             email = COALESCE($1, email), \
             full_name = CASE WHEN $2 THEN $3 ELSE full_name END, \
             password_hash = COALESCE($4, password_hash), \
             updated_at = $5 \
             WHERE id = $6 RETURNING ",
            user_columns!()
        );
        let row = sqlx::query(sql)
            .bind(update.email)
            .bind(update.full_name.is_some())
            .bind(update.full_name.flatten())
            .bind(update.password_hash)
            .bind(rows::now().timestamp_micros())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(write_error("update user"))?
            .ok_or(MetaError::NotFound)?;
        user_from_row(&row).map(|found| found.user)
    }

    async fn list(&self, limit: u32, offset: u32) -> Result<Vec<User>, MetaError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY id LIMIT $1 OFFSET $2"
        ))
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("list users"))?
        .iter()
        .map(|row| user_from_row(row).map(|found| found.user))
        .collect()
    }

    async fn count(&self) -> Result<u64, MetaError> {
        let query = sqlx::query("SELECT COUNT(*) AS n FROM users");
        self.count_where("count users", query).await
    }

    async fn count_admins(&self) -> Result<u64, MetaError> {
        let query = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = $1")
            .bind(Role::Admin.as_str());
        self.count_where("count admins", query).await
    }

    async fn record_login(&self, id: i64, at: DateTime<Utc>) -> Result<(), MetaError> {
        let done = sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(at.timestamp_micros())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(query_error("record login"))?;
        match done.rows_affected() {
            0 => Err(MetaError::NotFound),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_spellings_agree() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
            let json = serde_json::to_string(&role).expect("serialize role");
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).expect("role"), role);
        }
        assert_eq!(
            "Admin".parse::<Role>(),
            Err(UnknownRole("Admin".to_string()))
        );
        assert!(serde_json::from_str::<Role>("\"root\"").is_err());
    }
}
