//! Build script: rebuild when a migration is added or changed.
//!
//! `sqlx::migrate!("./migrations")` embeds the SQL files at compile time, but cargo does not know
//! the macro reads that directory, so without this line a new migration would not be picked up
//! until some Rust file changed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
