//! Build script: does nothing at build time. It exists so that `[build-dependencies] syn` pins
//! the features of the `syn` used by every proc-macro and build script (see ARCHITECTURE.md,
//! "Build notes"): adding a dependency later then cannot change libduckdb-sys's build hash.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
