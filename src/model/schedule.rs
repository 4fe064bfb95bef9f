//! Daily schedules: gate opening hours and responders' duty hours.
//!
//! Written as text the way a person writes them on a sign: `24h` (always), `closed` (never), or
//! comma-separated `HH:MM-HH:MM` intervals in local time. An interval whose end is not after its
//! start runs past midnight (`22:00-06:00`). `24:00` is allowed as an end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A time of day in minutes since local midnight, `0..1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);

    /// From hours and minutes; `None` when out of range.
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        (hour < 24 && minute < 60).then(|| TimeOfDay((hour * 60 + minute) as u16))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn hour(self) -> u32 {
        self.0 as u32 / 60
    }

    /// Parses `HH:MM` (or `H:MM`).
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        parse_hm(s, false).map(TimeOfDay)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0:?} is not a time of day; write HH:MM, e.g. 07:30")]
    BadTime(String),
    #[error("{0:?} is not a schedule; write 24h, closed, or intervals like 06:00-23:00,23:30-24:00")]
    BadSchedule(String),
}

fn parse_hm(s: &str, allow_24: bool) -> Result<u16, ScheduleError> {
    let bad = || ScheduleError::BadTime(s.to_string());
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && (m != 0 || !allow_24)) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A daily schedule as a set of intervals `[start, end)` in minutes since midnight.
/// Stored normalised: intervals that wrap midnight are split in two.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// Normalised, sorted, non-wrapping intervals, end exclusive, `end <= 1440`.
    intervals: Vec<(u16, u16)>,
    /// The text as written (kept so that export gives back what was imported).
    text: String,
}

impl Schedule {
    /// Open (on duty) all day.
    pub fn always() -> Self {
        Schedule { intervals: vec![(0, 1440)], text: "24h".into() }
    }

    /// Never open.
    pub fn never() -> Self {
        Schedule { intervals: vec![], text: "closed".into() }
    }

    /// Parses the text form described in the module doc.
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "24h" | "00:00-24:00" => return Ok(Schedule { intervals: vec![(0, 1440)], text: t.into() }),
            "closed" | "" => return Ok(Schedule { intervals: vec![], text: "closed".into() }),
            _ => {}
        }
        let bad = || ScheduleError::BadSchedule(s.to_string());
        let mut intervals = Vec::new();
        for part in t.split(',') {
            let (a, b) = part.split_once('-').ok_or_else(bad)?;
            let a = parse_hm(a, false).map_err(|_| bad())?;
            let b = parse_hm(b, true).map_err(|_| bad())?;
            if b > a {
                intervals.push((a, b));
            } else {
                // Runs past midnight (or a full day when a == b).
                intervals.push((a, 1440));
                if b > 0 {
                    intervals.push((0, b));
                }
            }
        }
        intervals.sort_unstable();
        Ok(Schedule { intervals, text: t.to_string() })
    }

    /// Whether the schedule is open (on duty) at `t`.
    pub fn is_open(&self, t: TimeOfDay) -> bool {
        let m = t.minutes();
        self.intervals.iter().any(|&(a, b)| a <= m && m < b)
    }

    /// Open every minute of the day.
    pub fn is_always(&self) -> bool {
        let mut covered = 0u16;
        for &(a, b) in &self.intervals {
            if a > covered {
                return false;
            }
            covered = covered.max(b);
        }
        covered >= 1440
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

impl Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Schedule::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).unwrap()
    }

    #[test]
    fn overnight_interval_wraps_midnight() {
        let s = Schedule::parse("22:00-06:00").unwrap();
        assert!(s.is_open(t("23:59")) && s.is_open(t("00:00")) && s.is_open(t("05:59")));
        assert!(!s.is_open(t("06:00")) && !s.is_open(t("21:59")));
    }

    #[test]
    fn day_gate_closes_at_night() {
        let s = Schedule::parse("06:00-23:00").unwrap();
        assert!(s.is_open(t("06:00")) && s.is_open(t("22:59")));
        assert!(!s.is_open(t("23:00")) && !s.is_open(t("03:00")));
        assert!(!s.is_always());
    }

    #[test]
    fn always_never_and_errors() {
        assert!(Schedule::parse("24h").unwrap().is_always());
        assert!(Schedule::parse("00:00-12:00,12:00-24:00").unwrap().is_always());
        assert!(!Schedule::parse("closed").unwrap().is_open(t("12:00")));
        assert!(Schedule::parse("7-8").is_err());
        assert!(Schedule::parse("06:00-25:00").is_err());
        assert!(TimeOfDay::parse("24:00").is_err());
        assert_eq!(Schedule::parse("06:00-23:00").unwrap().to_string(), "06:00-23:00");
    }
}
