//! The committed C header and per-type C functions are what build.rs
//! generates now (feature `capi`): a change to the Rust API, the template or
//! cbindgen.toml that was not regenerated fails here.
//!
//! Regenerate with `DBSHM_BLESS=1 cargo build --features capi`.

fn same(committed: &str, fresh: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let committed_text = std::fs::read_to_string(format!("{root}/{committed}")).unwrap();
    let fresh_text = std::fs::read_to_string(format!("{}/{fresh}", env!("OUT_DIR"))).unwrap();
    if committed_text != fresh_text {
        let line = committed_text
            .lines()
            .zip(fresh_text.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_owned(), |n| format!("line {}", n + 1));
        panic!(
            "{committed} differs from a fresh generation (first at {line}); \
             regenerate with DBSHM_BLESS=1 cargo build --features capi"
        );
    }
}

#[test]
fn committed_header_matches_a_fresh_generation() {
    same("include/dbshm.h", "dbshm.h");
}

#[test]
fn committed_per_type_functions_match_their_template() {
    same("src/capi/types.rs", "types.rs");
}

#[test]
fn every_function_is_declared_once() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/dbshm.h")).unwrap();
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
    // 13 functions for each of the 10 element types, and 4 shared ones.
    assert_eq!(
        (total, names.len()),
        (134, 134),
        "declarations: {total}, distinct: {}",
        names.len()
    );
}
