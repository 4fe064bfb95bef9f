//! Travel, barriers, response and coverage.

use crate::model::{Dataset, LocalProjection};

/// The travel network of one snapshot.
#[derive(Debug, Default)]
pub struct ReachIndex {}

impl ReachIndex {
    /// Builds the travel network from a dataset; `projection` gives local metres.
    pub fn build(_data: &Dataset, _projection: &LocalProjection) -> ReachIndex {
        ReachIndex {}
    }
}
