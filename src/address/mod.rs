//! Chinese standard addresses (一标三实): parsing and the gazetteer.
//!
//! Built from buildings and entrances with every snapshot.

use crate::model::Dataset;

/// The address index of one snapshot.
#[derive(Debug, Default)]
pub struct Gazetteer {}

impl Gazetteer {
    /// Builds the gazetteer from a dataset (EPSG:4326 coordinates).
    pub fn build(_data: &Dataset) -> Gazetteer {
        Gazetteer {}
    }
}
