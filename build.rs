//! Gives the C library its SONAME. The rule that makes it from the version
//! lives in the generator (xtask/src/capi.rs), which records the result in
//! the committed header as `DBSHM_SONAME`; this reads it from there, as
//! CMake does, and passes it on to the tests as `env!("DBSHM_SONAME")`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=include/dbshm.h");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let path = format!("{root}/include/dbshm.h");
    let header = std::fs::read_to_string(&path).unwrap_or_default();
    let soname = header
        .lines()
        .find_map(|l| l.strip_prefix("#define DBSHM_SONAME \"")?.strip_suffix('"'));
    // Only the C library needs it: without `capi` (the generator depends on
    // this crate so) a missing one is no error, or a lost header could not
    // be written again.
    let capi = std::env::var_os("CARGO_FEATURE_CAPI").is_some();
    match soname {
        Some(soname) => {
            if capi {
                println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
            }
            println!("cargo:rustc-env=DBSHM_SONAME={soname}");
        }
        None if capi => panic!("no DBSHM_SONAME in {path}: run cargo run -p xtask -- gen-capi"),
        None => {}
    }
}
