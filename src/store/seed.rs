//! The default Karamay dataset, compiled into the binary so that `gridmap serve` works on a
//! fresh machine with nothing else installed. Regenerate the files with `gridmap generate`.

use crate::model::{Dataset, LayerKind};

use super::{files, StoreError};

const DISTRICT: &str = include_str!("../../data/karamay/district.json");
const STAFF: &str = include_str!("../../data/karamay/staff.json");
const LAYERS: [(LayerKind, &str); 8] = [
    (LayerKind::Subdistricts, include_str!("../../data/karamay/subdistricts.geojson")),
    (LayerKind::Communities, include_str!("../../data/karamay/communities.geojson")),
    (LayerKind::Grids, include_str!("../../data/karamay/grids.geojson")),
    (LayerKind::Compounds, include_str!("../../data/karamay/compounds.geojson")),
    (LayerKind::AccessPoints, include_str!("../../data/karamay/access_points.geojson")),
    (LayerKind::Buildings, include_str!("../../data/karamay/buildings.geojson")),
    (LayerKind::Entrances, include_str!("../../data/karamay/entrances.geojson")),
    (LayerKind::Responders, include_str!("../../data/karamay/responders.geojson")),
];

/// The embedded Karamay dataset (synthetic; see data/README.md).
pub fn karamay() -> Result<Dataset, StoreError> {
    files::from_texts(DISTRICT, &LAYERS, STAFF)
}
