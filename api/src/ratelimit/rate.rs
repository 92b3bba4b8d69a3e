//! Rate limits as written in configuration: `100/minute`, `20/hour`,
//! `5/30s`.

use logflow_store::ratelimit::Limit;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(pub Limit);

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let invalid = |why: &str| {
            format!("invalid rate {s:?}: {why}; expected COUNT/PERIOD such as 100/minute, 20/hour or 5/30s")
        };
        let (count, period) = s.split_once('/').ok_or_else(|| invalid("no '/'"))?;
        let max: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid("the count must be a whole number of at least 1"))?;
        let period = period.trim();
        // `minute` means one minute; `30s` has its own number.
        let spelled = if period.starts_with(|c: char| c.is_ascii_digit()) {
            period.to_string()
        } else {
            format!("1{period}")
        };
        let window = humantime::parse_duration(&spelled)
            .ok()
            .filter(|w| *w >= Duration::from_secs(1) && *w <= Duration::from_secs(7 * 24 * 3600))
            .ok_or_else(|| invalid("the period must be between 1 second and 7 days"))?;
        Ok(Rate(Limit { max, window }))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.0.max,
            humantime::format_duration(self.0.window)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(s: &str) -> (u32, u64) {
        let Rate(limit) = s.parse().unwrap();
        (limit.max, limit.window.as_secs())
    }

    #[test]
    fn periods_by_name_or_length() {
        assert_eq!(rate("100/minute"), (100, 60));
        assert_eq!(rate("100/min"), (100, 60));
        assert_eq!(rate("20/hour"), (20, 3600));
        assert_eq!(rate("10/h"), (10, 3600));
        assert_eq!(rate("5/30s"), (5, 30));
        assert_eq!(rate(" 7 / 1day "), (7, 86_400));
    }

    #[test]
    fn nonsense_is_refused_with_the_expected_form() {
        for bad in [
            "",
            "100",
            "0/minute",
            "-1/minute",
            "x/minute",
            "10/fortnight",
            "10/0s",
            "10/30d",
        ] {
            let err = bad.parse::<Rate>().unwrap_err();
            assert!(err.contains("COUNT/PERIOD"), "{bad}: {err}");
        }
    }
}
