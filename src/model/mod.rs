//! The domain: codes, coordinate systems, schedules and the layers of the grid map.
//!
//! Pure data and rules. Nothing here knows of HTTP, SQL or indexes.

pub mod code;
pub mod crs;
pub mod geojson;
pub mod layers;
pub mod schedule;
pub mod validate;

pub use code::{Code, CodeError, CodeScheme, Level};
pub use crs::{InputCrs, LocalProjection};
pub use layers::*;
pub use schedule::{Schedule, TimeOfDay};
pub use validate::{validate, validate_except, Problem, Unread};
