//! The travel model's parameters: speeds and start-up delays per mode, the allowed time limits,
//! and who may pass which gate.
//!
//! Distances are metres, speeds metres per second, times seconds. A trip takes
//! `startup_s + distance_m / speed_mps`; the distance a responder can cover within a limit is its
//! *budget*, `speed_mps * (limit_s - startup_s)`.

use crate::model::{AccessPoint, GateKind, Passer, ResponderKind, TravelMode};

/// How fast one travel mode moves and how long it takes to get going.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeParams {
    /// Average speed over town ground, metres per second.
    pub speed_mps: f64,
    /// Time between the call and the first step (gear on, bike unlocked, engine started), seconds.
    pub startup_s: f64,
}

/// Parameters of the travel model and of the coverage raster.
#[derive(Debug, Clone, PartialEq)]
pub struct ReachConfig {
    /// On foot, walking (default 1.4 m/s after 5 s).
    pub walk: ModeParams,
    /// On foot, running (default 3.5 m/s after 10 s).
    pub run: ModeParams,
    /// E-bike (default 6 m/s after 20 s).
    pub ebike: ModeParams,
    /// Car, in town (default 8 m/s after 30 s).
    pub car: ModeParams,
    /// The time limits callers may ask for, in whole minutes (the 1-, 3- and 5-minute rings).
    pub allowed_minutes: Vec<u32>,
    /// Side of a coverage raster cell, metres. Area shares and blind spots are exact at cell
    /// centres; their outlines are this coarse.
    pub coverage_cell_m: f64,
    /// Side of a cell of the spatial hash that holds obstacles and graph nodes, metres.
    pub index_cell_m: f64,
    /// Spacing of candidate staging points on roads for `suggest`, metres (widened when a region
    /// would have more than [`ReachConfig::max_candidates`]).
    pub suggest_spacing_m: f64,
    /// Most candidate staging points `suggest` evaluates.
    pub max_candidates: usize,
}

impl Default for ReachConfig {
    fn default() -> Self {
        ReachConfig {
            walk: ModeParams { speed_mps: 1.4, startup_s: 5.0 },
            run: ModeParams { speed_mps: 3.5, startup_s: 10.0 },
            ebike: ModeParams { speed_mps: 6.0, startup_s: 20.0 },
            car: ModeParams { speed_mps: 8.0, startup_s: 30.0 },
            allowed_minutes: vec![1, 3, 5],
            coverage_cell_m: 10.0,
            index_cell_m: 40.0,
            suggest_spacing_m: 40.0,
            max_candidates: 1500,
        }
    }
}

impl ReachConfig {
    /// The parameters of `mode`.
    pub fn mode(&self, mode: TravelMode) -> ModeParams {
        match mode {
            TravelMode::Walk => self.walk,
            TravelMode::Run => self.run,
            TravelMode::Ebike => self.ebike,
            TravelMode::Car => self.car,
        }
    }

    /// Metres `mode` covers within `limit_s` seconds of the call (negative when the start-up
    /// alone takes longer).
    pub fn budget_m(&self, mode: TravelMode, limit_s: f64) -> f64 {
        let m = self.mode(mode);
        m.speed_mps * (limit_s - m.startup_s)
    }

    /// Seconds from the call to arrival over `distance_m`.
    pub fn travel_s(&self, mode: TravelMode, distance_m: f64) -> f64 {
        let m = self.mode(mode);
        m.startup_s + distance_m / m.speed_mps
    }

    /// The longest budget of any mode within `limit_s`, metres.
    pub fn max_budget_m(&self, limit_s: f64) -> f64 {
        [TravelMode::Walk, TravelMode::Run, TravelMode::Ebike, TravelMode::Car]
            .into_iter()
            .map(|m| self.budget_m(m, limit_s))
            .fold(0.0, f64::max)
    }

    /// The longest budget under the longest allowed limit: no leg of any trip is longer, so the
    /// visibility graph needs no longer edges.
    pub fn horizon_m(&self) -> f64 {
        let minutes = self.allowed_minutes.iter().copied().max().unwrap_or(5);
        self.max_budget_m(minutes as f64 * 60.0)
    }

    /// A stable digest of every parameter, part of the coverage cache key.
    pub(crate) fn digest(&self) -> u64 {
        let mut h = super::hash::Hasher64::new(0x5eed);
        for m in [self.walk, self.run, self.ebike, self.car] {
            h.f64(m.speed_mps);
            h.f64(m.startup_s);
        }
        for &m in &self.allowed_minutes {
            h.u64(m as u64);
        }
        h.f64(self.coverage_cell_m);
        h.f64(self.index_cell_m);
        h.finish()
    }
}

/// What matters about a responder at a gate: whether it comes on foot or on wheels, and whether
/// it counts as police or as staff. Responders of one class share the same passable gates, so
/// one search serves them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class {
    /// On wheels (e-bike, car): needs a `vehicle` or `both` gate. On foot (walk, run): needs a
    /// `pedestrian` or `both` gate.
    pub vehicle: bool,
    /// Passes as police rather than as staff.
    pub police: bool,
}

impl Class {
    /// The four classes, in [`Class::index`] order.
    pub const ALL: [Class; 4] = [
        Class { vehicle: false, police: false },
        Class { vehicle: false, police: true },
        Class { vehicle: true, police: false },
        Class { vehicle: true, police: true },
    ];

    /// The class of a responder of `kind` travelling by `mode`.
    pub fn of(kind: ResponderKind, mode: TravelMode) -> Class {
        Class { vehicle: matches!(mode, TravelMode::Ebike | TravelMode::Car), police: kind.passer() == Passer::Police }
    }

    /// Position in [`Class::ALL`].
    pub fn index(self) -> usize {
        usize::from(self.vehicle) * 2 + usize::from(self.police)
    }

    /// Who this class counts as at a gate.
    pub fn passer(self) -> Passer {
        if self.police {
            Passer::Police
        } else {
            Passer::Staff
        }
    }

    /// Whether the gate's kind and admission list let this class through (ignoring the hour).
    pub fn may_pass(self, kind: GateKind, gate: &AccessPoint) -> bool {
        let kind_ok = match kind {
            GateKind::Both => true,
            GateKind::Pedestrian => !self.vehicle,
            GateKind::Vehicle => self.vehicle,
        };
        kind_ok && gate.admits(self.passer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_follow_speed_and_startup() {
        let c = ReachConfig::default();
        // 1.4 m/s for 60 - 5 s.
        assert!((c.budget_m(TravelMode::Walk, 60.0) - 77.0).abs() < 1e-9);
        assert!((c.travel_s(TravelMode::Walk, 77.0) - 60.0).abs() < 1e-9);
        // A car needs 30 s to start: 8 m/s for 270 s at five minutes.
        assert!((c.horizon_m() - 2160.0).abs() < 1e-9);
    }

    #[test]
    fn classes_index_their_table() {
        for (i, c) in Class::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        assert_eq!(Class::of(ResponderKind::Patrol, TravelMode::Car), Class { vehicle: true, police: true });
        assert_eq!(Class::of(ResponderKind::JointDefence, TravelMode::Run), Class { vehicle: false, police: false });
    }
}
