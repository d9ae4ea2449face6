//! The committed C header and per-type C functions are what the generator
//! (xtask/src/capi.rs, included here) writes now: a change to the Rust API,
//! the element types, the template, cbindgen.toml or the crate version that
//! was not regenerated fails here.
//!
//! Regenerate with `cargo run -p xtask -- gen-capi`.

#[path = "../xtask/src/capi.rs"]
mod capi;

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn committed_matches(fresh: capi::Generated) {
    let path = root().join(fresh.path);
    let committed = std::fs::read_to_string(&path).unwrap();
    if committed != fresh.text {
        let line = committed
            .lines()
            .zip(fresh.text.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_owned(), |n| format!("line {}", n + 1));
        panic!(
            "{} differs from a fresh generation (first at {line}); regenerate with {}",
            fresh.path,
            capi::REGENERATE
        );
    }
}

#[test]
fn generator_reads_the_crate_version() {
    assert_eq!(capi::crate_version(root()), env!("CARGO_PKG_VERSION"));
}

#[test]
fn committed_header_matches_a_fresh_generation() {
    committed_matches(capi::header(root(), &capi::crate_version(root())));
}

#[test]
fn committed_per_type_functions_match_their_template() {
    committed_matches(capi::types_rs(root(), &capi::crate_version(root())));
}

#[test]
fn soname_carries_the_minor_before_1_0_and_the_major_after() {
    assert_eq!(capi::soname("0.1.0"), "libdbshm.so.0.1");
    assert_eq!(capi::soname("0.12.3"), "libdbshm.so.0.12");
    assert_eq!(capi::soname("1.4.2"), "libdbshm.so.1");
    assert_eq!(capi::soname("2.0.0"), "libdbshm.so.2");
}

#[test]
fn every_function_is_declared_once() {
    let header = std::fs::read_to_string(root().join("include/dbshm.h")).unwrap();
    let mut names: Vec<&str> = header
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('*') && !l.starts_with('#'))
        .filter_map(|l| {
            l.split_whitespace()
                .map(|w| w.trim_start_matches('*'))
                .find(|w| w.starts_with("dbshm_") && w.contains('('))
        })
        .map(|w| &w[..w.find('(').unwrap()])
        .collect();
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(total, names.len(), "a function is declared twice");
    // And every element type has the same functions.
    let of = |ty: dbshm::Dtype| -> std::collections::BTreeSet<&str> {
        let prefix = format!("dbshm_{}_", ty.name());
        names
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix))
            .collect()
    };
    let u8s = of(dbshm::Dtype::U8);
    assert!(u8s.contains("pin") && u8s.contains("free"), "{u8s:?}");
    for ty in dbshm::Dtype::ALL {
        assert_eq!(of(ty), u8s, "{ty}'s functions differ from u8's");
    }
}
