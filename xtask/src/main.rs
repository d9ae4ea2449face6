//! Maintenance commands of the dbshm workspace; none runs during a build.
//!
//!     cargo run -p xtask -- gen-capi    # writes src/capi/types.rs and include/dbshm.h
//!
//! dbshm's `tests/capi_drift.rs` (run by `cargo test`) fails while the
//! committed files differ from what `gen-capi` would write.

mod capi;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is in the repository root");
    match std::env::args().nth(1).as_deref() {
        Some("gen-capi") => {
            let version = capi::crate_version(root);
            // types.rs first: cbindgen reads it from the tree.
            write(root, capi::types_rs(root, &version));
            write(root, capi::header(root, &version));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: {}", capi::REGENERATE);
            ExitCode::FAILURE
        }
    }
}

/// Writes a generated file, unless it already holds that text (so that
/// cargo's change detection sees no change), and says which it did.
fn write(root: &Path, file: capi::Generated) {
    let path = root.join(file.path);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(file.text.as_str()) {
        println!("{}: unchanged", file.path);
    } else {
        std::fs::write(&path, &file.text)
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("{}: written", file.path);
    }
}
