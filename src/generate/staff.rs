//! Grid staff: one grid leader per grid and about one person per 80 households, drawn from the
//! nine forces. Names and phone numbers are synthetic (see [`super::names`]).

use rand::seq::IndexedRandom;
use rand::Rng;

use super::hash::stream;
use super::names::{person_name, phone};
use crate::model::{Code, Force, Staff, StaffRole};

/// Households one staff member looks after, as the staffing rule of thumb has it.
pub(crate) const HOUSEHOLDS_PER_STAFF: f64 = 80.0;

const FORCES: [(Force, f64); 9] = [
    (Force::CommunityWorker, 0.25),
    (Force::CommunityPolice, 0.08),
    (Force::ResidentWorkTeam, 0.12),
    (Force::PartyVolunteer, 0.15),
    (Force::PropertySecurity, 0.10),
    (Force::BuildingHead, 0.12),
    (Force::GovernanceCadre, 0.05),
    (Force::UrbanManagement, 0.05),
    (Force::SafetyVolunteer, 0.08),
];

/// Staff for `grids` (code, households), where `neighbours[g]` lists the grids next to grid
/// `g` in the same community (indices into `grids`). A person's `grids` start with their home
/// grid; any others border it.
pub(crate) fn staff(grids: &[(&Code, u32)], neighbours: &[Vec<usize>], seed: u64) -> Vec<Staff> {
    let mut rng = stream(seed, "staff");
    let mut out: Vec<Staff> = Vec::new();
    for (g, &(code, households)) in grids.iter().enumerate() {
        let people = ((households as f64 / HOUSEHOLDS_PER_STAFF).round() as usize).max(1);
        for n in 0..people {
            let id = out.len() as u32 + 1;
            let (role, force) = if n == 0 {
                (
                    StaffRole::GridLeader,
                    if rng.random_bool(0.7) { Force::CommunityWorker } else { Force::GovernanceCadre },
                )
            } else {
                let force = FORCES.choose_weighted(&mut rng, |f| f.1).map_or(Force::CommunityWorker, |f| f.0);
                (StaffRole::GridStaff, force)
            };
            let mut codes = vec![code.clone()];
            // Some serve two or three neighbouring grids; community police most often.
            let share = if force == Force::CommunityPolice { 0.6 } else { 0.1 };
            if role == StaffRole::GridStaff && !neighbours[g].is_empty() && rng.random_bool(share) {
                let extra = rng.random_range(1..=2usize).min(neighbours[g].len());
                for &other in neighbours[g].choose_multiple(&mut rng, extra) {
                    codes.push(grids[other].0.clone());
                }
                // The home grid first, then its neighbours in code order.
                codes[1..].sort();
            }
            out.push(Staff { id, name: person_name(&mut rng), role, force, phone: phone(id), grids: codes });
        }
    }
    out
}
