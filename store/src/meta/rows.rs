//! Reading rows and database errors the same way on both backends, where
//! the `Any` driver hands back what each database natively has.

use super::MetaError;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Any, Decode, Row, Type, ValueRef};
use std::fmt::Display;

/// Wraps a failed query with the repository operation that ran it.
///
/// Every query passes through here exactly once (`.map_err(query_error(..))`
/// builds the mapper whatever the outcome), so this is also where queries
/// are counted: `database_queries_total{operation}`.
pub(super) fn query_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> MetaError {
    metrics::counter!("database_queries_total", "operation" => operation).increment(1);
    move |source| MetaError::Query { operation, source }
}

/// The current time at the precision that is stored (microseconds), so a
/// value handed back from a write equals the one a later read returns.
pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Which of `columns` of `table` a failed write collided with, if it failed
/// on a unique constraint. PostgreSQL reports the constraint's name (the
/// migrations name them `{table}_{column}_key`); SQLite reports no name but
/// says "UNIQUE constraint failed: {table}.{column}".
pub(super) fn unique_violation(
    error: &sqlx::Error,
    table: &str,
    columns: &[&'static str],
) -> Option<&'static str> {
    let error = error.as_database_error()?;
    if !error.is_unique_violation() {
        return None;
    }
    columns
        .iter()
        .copied()
        .find(|column| match error.constraint() {
            Some(constraint) => constraint == format!("{table}_{column}_key"),
            None => error
                .message()
                .split([' ', ','])
                .any(|word| word == format!("{table}.{column}")),
        })
}

/// The columns of one row of `table`, decoded with errors that name the
/// table and column.
pub(super) struct Fields<'r> {
    table: &'static str,
    row: &'r AnyRow,
}

impl<'r> Fields<'r> {
    pub(super) fn new(table: &'static str, row: &'r AnyRow) -> Self {
        Fields { table, row }
    }

    pub(super) fn get<T>(&self, column: &str) -> Result<T, MetaError>
    where
        T: Decode<'r, Any> + Type<Any>,
    {
        self.row
            .try_get(column)
            .map_err(|error| self.corrupt(column, error))
    }

    /// A boolean column. SQLite has no boolean type: its `Any` driver hands
    /// back the stored 0/1 as an integer, where PostgreSQL's hands back a
    /// boolean.
    pub(super) fn flag(&self, column: &str) -> Result<bool, MetaError> {
        let raw = self
            .row
            .try_get_raw(column)
            .map_err(|error| self.corrupt(column, error))?;
        if raw.type_info().kind() == AnyTypeInfoKind::Bool {
            return self.get(column);
        }
        match self.get::<i64>(column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.corrupt(column, format!("{other} is not a boolean"))),
        }
    }

    /// A timestamp stored as unix microseconds.
    pub(super) fn timestamp(&self, column: &str) -> Result<DateTime<Utc>, MetaError> {
        let micros = self.get(column)?;
        self.micros_to_time(column, micros)
    }

    pub(super) fn optional_timestamp(
        &self,
        column: &str,
    ) -> Result<Option<DateTime<Utc>>, MetaError> {
        self.get::<Option<i64>>(column)?
            .map(|micros| self.micros_to_time(column, micros))
            .transpose()
    }

    fn micros_to_time(&self, column: &str, micros: i64) -> Result<DateTime<Utc>, MetaError> {
        DateTime::from_timestamp_micros(micros).ok_or_else(|| {
            self.corrupt(
                column,
                format!("{micros} µs since the epoch is out of range"),
            )
        })
    }

    pub(super) fn corrupt(&self, column: &str, reason: impl Display) -> MetaError {
        MetaError::Corrupt {
            what: format!("{}.{column}: {reason}", self.table),
        }
    }
}
