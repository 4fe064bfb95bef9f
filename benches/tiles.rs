//! Tile production on the Karamay data (filled in below).
fn main() {}
