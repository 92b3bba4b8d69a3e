//! The query parameters log and metrics routes share, and how they become a
//! [`LogFilter`]. Every parse error is a 400 naming the parameter.

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use logflow_core::{Cursor, Level, LogFilter, TimeSpec};
use serde::Deserialize;
use utoipa::IntoParams;

/// Which records: text, services, levels, host, correlation id, time range.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Full-text query over the message: words, "phrases", AND/OR/NOT,
    /// `field:value`. Empty matches everything.
    #[param(example = "timeout AND payment")]
    pub query: Option<String>,
    /// Only these services: repeat the parameter or comma-separate.
    #[serde(default)]
    #[param(example = json!(["payment-service"]))]
    pub service: Vec<String>,
    /// Only these levels (TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL; aliases
    /// such as `warning` accepted): repeat or comma-separate.
    #[serde(default)]
    #[param(example = json!(["ERROR", "CRITICAL"]))]
    pub level: Vec<String>,
    /// Only this host.
    pub host: Option<String>,
    /// Only this request flow.
    pub correlation_id: Option<String>,
    /// From this time (inclusive): RFC 3339 or relative to now (`15m`, `1h`, `7d`).
    #[param(example = "1h")]
    pub from: Option<String>,
    /// Until this time (exclusive): RFC 3339 or relative to now.
    pub to: Option<String>,
}

/// One page: how many records and where to continue.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Most records to return (1–1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn cursor(&self) -> Result<Option<Cursor>, ApiError> {
        Ok(self.cursor.as_deref().map(Cursor::decode).transpose()?)
    }
}

impl FilterParams {
    /// The filter these parameters describe, relative times resolved
    /// against `now`.
    pub fn to_filter(&self, now: DateTime<Utc>) -> Result<LogFilter, ApiError> {
        let filter = LogFilter {
            text: self
                .query
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_string),
            services: split_list(&self.service),
            levels: parse_levels(&self.level)?,
            host: non_empty(&self.host),
            correlation_id: non_empty(&self.correlation_id),
            from: time("from", &self.from, now)?,
            to: time("to", &self.to, now)?,
        };
        filter.validate()?;
        Ok(filter)
    }
}

/// Parses a time parameter (RFC 3339 or relative) against `now`.
pub fn time(
    param: &'static str,
    value: &Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => Ok(Some(TimeSpec::parse(param, v)?.resolve(now))),
    }
}

/// Repeated and comma-separated values, flattened, blanks dropped.
pub fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_levels(values: &[String]) -> Result<Vec<Level>, ApiError> {
    split_list(values)
        .iter()
        .map(|v| {
            v.parse::<Level>()
                .map_err(|e| ApiError::bad_param("level", e.to_string()))
        })
        .collect()
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_and_repeats() {
        let p = FilterParams {
            service: vec!["a,b".into(), " c ".into(), "".into()],
            level: vec!["warning,err".into()],
            ..Default::default()
        };
        let f = p.to_filter(Utc::now()).unwrap();
        assert_eq!(f.services, ["a", "b", "c"]);
        assert_eq!(f.levels, [Level::Warn, Level::Error]);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let p = FilterParams {
            level: vec!["loud".into()],
            ..Default::default()
        };
        let e = p.to_filter(Utc::now()).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.detail.unwrap()["parameter"], "level");
        let p = FilterParams {
            from: Some("1h".into()),
            to: Some("2h".into()),
            ..Default::default()
        };
        let e = p.to_filter(Utc::now()).unwrap_err();
        assert_eq!(e.detail.unwrap()["parameter"], "from");
        let p = FilterParams {
            to: Some("last tuesday".into()),
            ..Default::default()
        };
        let e = p.to_filter(Utc::now()).unwrap_err();
        assert_eq!(e.detail.unwrap()["parameter"], "to");
    }
}
