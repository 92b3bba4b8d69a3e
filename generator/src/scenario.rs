//! Load shapes over time: a steady rate, a traffic spike, an error burst.
//! Pure functions of the time since start, so they are easy to test and the
//! same run can be reproduced.

use std::time::Duration;

/// When and how the load departs from steady.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scenario {
    /// Records per second in steady state (0 = as fast as possible).
    pub rate: f64,
    /// Chance that a record is an error in steady state.
    pub error_ratio: f64,
    /// A spike: from this offset, for `spike_duration`, the rate is multiplied.
    pub spike_at: Option<Duration>,
    pub spike_factor: f64,
    pub spike_duration: Duration,
    /// An error burst: from this offset, for `burst_duration`, the error
    /// ratio is `burst_ratio`.
    pub burst_at: Option<Duration>,
    pub burst_duration: Duration,
    pub burst_ratio: f64,
}

fn within(t: Duration, start: Option<Duration>, length: Duration) -> bool {
    start.is_some_and(|s| t >= s && t < s + length)
}

impl Scenario {
    /// Records per second at `t` after the start.
    pub fn rate_at(&self, t: Duration) -> f64 {
        if within(t, self.spike_at, self.spike_duration) {
            self.rate * self.spike_factor
        } else {
            self.rate
        }
    }

    /// Chance of an error record at `t` after the start.
    pub fn error_ratio_at(&self, t: Duration) -> f64 {
        if within(t, self.burst_at, self.burst_duration) {
            self.burst_ratio
        } else {
            self.error_ratio
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_and_burst_apply_only_inside_their_windows() {
        let s = Scenario {
            rate: 100.0,
            error_ratio: 0.02,
            spike_at: Some(Duration::from_secs(10)),
            spike_factor: 5.0,
            spike_duration: Duration::from_secs(5),
            burst_at: Some(Duration::from_secs(20)),
            burst_duration: Duration::from_secs(3),
            burst_ratio: 0.8,
        };
        assert_eq!(s.rate_at(Duration::from_secs(9)), 100.0);
        assert_eq!(s.rate_at(Duration::from_secs(10)), 500.0);
        assert_eq!(s.rate_at(Duration::from_millis(14_999)), 500.0);
        assert_eq!(s.rate_at(Duration::from_secs(15)), 100.0);
        assert_eq!(s.error_ratio_at(Duration::from_secs(19)), 0.02);
        assert_eq!(s.error_ratio_at(Duration::from_secs(21)), 0.8);
        assert_eq!(s.error_ratio_at(Duration::from_secs(23)), 0.02);
    }
}
