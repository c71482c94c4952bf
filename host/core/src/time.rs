//! [`Time`]: the core's only notion of time, a point the driver reads from
//! its clock and passes in with every event. The core never reads a clock,
//! so a simulation can run hours of timeouts in microseconds and replay
//! them exactly.

use std::fmt;
use std::time::Duration;

/// A point in time: microseconds since an epoch the driver chooses (its
/// start, say). Only differences mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

impl Time {
    /// The driver's epoch.
    pub const ZERO: Time = Time(0);

    /// `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Time {
        Time(micros)
    }

    /// `since` after the epoch (saturating at the end of time).
    pub fn from_duration(since: Duration) -> Time {
        Time(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// `delay` later (saturating: a huge timeout never fires rather than
    /// wrapping into the past).
    pub fn after(self, delay: Duration) -> Time {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        Time(self.0.saturating_add(micros))
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{:?}", self.since_epoch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let late = Time::from_micros(u64::MAX - 1);
        assert_eq!(
            late.after(Duration::from_secs(1)),
            Time::from_micros(u64::MAX)
        );
        assert_eq!(Time::ZERO.since(late), Duration::ZERO);
        assert_eq!(
            Time::from_micros(3_000_000).since(Time::from_micros(1_000_000)),
            Duration::from_secs(2)
        );
        assert_eq!(
            Time::from_duration(Duration::MAX),
            Time::from_micros(u64::MAX)
        );
    }
}
