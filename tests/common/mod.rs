//! Helpers shared by the integration tests.
//!
//! * [`pg`]: throw-away PostGIS databases, one per test.

pub mod pg;
