//! Log severity levels and the many spellings services use for them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The six levels LogFlow stores. Ordered from least to most severe.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

/// A level name that is none of the known spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level {0:?}: expected one of TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL")]
pub struct UnknownLevel(pub String);

impl Level {
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Critical,
    ];

    /// The canonical upper-case name, as stored and returned by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// Maps a syslog severity (0 = emergency … 7 = debug) to a level.
    pub fn from_syslog_severity(severity: u8) -> Level {
        match severity {
            0..=2 => Level::Critical,
            3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            _ => Level::Debug,
        }
    }

    /// True for the levels that count as errors in error rates and alerts.
    pub fn is_error(self) -> bool {
        matches!(self, Level::Error | Level::Critical)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Accepts the canonical names in any case plus the common aliases
    /// (`warning`, `err`, `fatal`, `crit`, `emerg`, `panic`, `notice`, …) and
    /// numeric syslog severities `0`–`7`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u8>() {
            if n <= 7 {
                return Ok(Level::from_syslog_severity(n));
            }
        }
        let level = match t.to_ascii_lowercase().as_str() {
            "trace" | "trc" | "verbose" | "finest" => Level::Trace,
            "debug" | "dbg" | "fine" | "finer" => Level::Debug,
            "info" | "inf" | "information" | "informational" | "notice" | "log" => Level::Info,
            "warn" | "warning" | "wrn" => Level::Warn,
            "error" | "err" | "eror" | "severe" => Level::Error,
            "critical" | "crit" | "fatal" | "ftl" | "emerg" | "emergency" | "alert" | "panic" => {
                Level::Critical
            }
            _ => return Err(UnknownLevel(s.to_string())),
        };
        Ok(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_map_to_canonical_levels() {
        assert_eq!("warning".parse::<Level>().unwrap(), Level::Warn);
        assert_eq!("ERR".parse::<Level>().unwrap(), Level::Error);
        assert_eq!("fatal".parse::<Level>().unwrap(), Level::Critical);
        assert_eq!("3".parse::<Level>().unwrap(), Level::Error);
        assert_eq!("7".parse::<Level>().unwrap(), Level::Debug);
        assert!("loud".parse::<Level>().is_err());
        assert!("8".parse::<Level>().is_err());
    }
}
