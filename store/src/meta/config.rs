//! System settings changed at run time: the `system_config` table, one JSON
//! value per key.

use super::rows::{self, query_error, Fields};
use super::MetaError;
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::AnyPool;

/// Key → JSON value settings, e.g. defaults that admins edit in the API.
#[async_trait]
pub trait ConfigRepository: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, MetaError>;

    /// Inserts or replaces the value and stamps `updated_at`.
    async fn set(&self, key: &str, value: &serde_json::Value) -> Result<(), MetaError>;

    /// Every setting, ordered by key.
    async fn all(&self) -> Result<Vec<(String, serde_json::Value)>, MetaError>;
}

/// [`ConfigRepository`] over either backend; values are stored as JSON text.
#[derive(Debug)]
pub(super) struct SqlConfigRepository {
    pool: AnyPool,
}

impl SqlConfigRepository {
    pub(super) fn new(pool: AnyPool) -> Self {
        SqlConfigRepository { pool }
    }
}

fn setting_from_row(row: &AnyRow) -> Result<(String, serde_json::Value), MetaError> {
    let fields = Fields::new("system_config", row);
    let key: String = fields.get("key")?;
    let text: String = fields.get("value")?;
    let value = serde_json::from_str(&text)
        .map_err(|error| fields.corrupt("value", format!("key {key:?}: {error}")))?;
    Ok((key, value))
}

#[async_trait]
impl ConfigRepository for SqlConfigRepository {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, MetaError> {
        sqlx::query("SELECT key, value FROM system_config WHERE key = $1")
            .bind(key.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("get config"))?
            .as_ref()
            .map(|row| setting_from_row(row).map(|(_, value)| value))
            .transpose()
    }

    async fn set(&self, key: &str, value: &serde_json::Value) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO system_config (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE \
             SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key.to_string())
        .bind(value.to_string())
        .bind(rows::now().timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(query_error("set config"))?;
        Ok(())
    }

    async fn all(&self) -> Result<Vec<(String, serde_json::Value)>, MetaError> {
        sqlx::query("SELECT key, value FROM system_config ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("list config"))?
            .iter()
            .map(setting_from_row)
            .collect()
    }
}
