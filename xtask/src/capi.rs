//! The generated C sources: `src/capi/types.rs`, rendered from its template
//! `src/capi/types.rs.in` once per element type, and `include/dbshm.h`,
//! written by cbindgen from `src/capi`. Both are committed and are what
//! builds use; nothing here runs during a build.
//!
//! Shared by `cargo run -p xtask -- gen-capi`, which writes them, and by
//! dbshm's `tests/capi_drift.rs` (through `#[path]`), which fails while the
//! committed copies differ from fresh ones.

use std::path::Path;

/// The command that writes fresh copies into the tree.
pub const REGENERATE: &str = "cargo run -p xtask -- gen-capi";

/// One generated file: its path from the repository root and its text.
pub struct Generated {
    pub path: &'static str,
    pub text: String,
}

macro_rules! c_types {
    ({} $(($t:ident, $v:ident, $code:literal, $c:literal))*) => {
        &[$((stringify!($t), $c)),*]
    };
}

/// (Rust type, C type) of every element type, in dtype-code order.
const TYPES: &[(&str, &str)] = dbshm::for_each_element!(c_types {});

/// The crate's version: the `version` of the `[package]` table of
/// `Cargo.toml` (as CMake reads it too).
pub fn crate_version(root: &Path) -> String {
    let manifest = read(&root.join("Cargo.toml"));
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if let Some(value) = line.strip_prefix("version = ").filter(|_| in_package) {
            return value.trim_matches('"').to_owned();
        }
    }
    panic!("no version in the [package] table of Cargo.toml");
}

/// The C library's SONAME. Before 1.0 a minor release may break the ABI, so
/// it is part of the SONAME (as cargo-c does): libdbshm.so.0.1; from 1.0 on,
/// libdbshm.so.1. The header records it as `DBSHM_SONAME`, from which
/// build.rs and CMake take it.
pub fn soname(version: &str) -> String {
    let mut parts = version.split('.');
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    if major == "0" {
        format!("libdbshm.so.0.{minor}")
    } else {
        format!("libdbshm.so.{major}")
    }
}

/// `src/capi/types.rs`: the template's text before its `@EACH_TYPE@` line
/// once, the text after it once per element type.
pub fn types_rs(root: &Path, version: &str) -> Generated {
    let template = read(&root.join("src/capi/types.rs.in"));
    let (once, each) = template
        .split_once("//# @EACH_TYPE@\n")
        .expect("the template has an //# @EACH_TYPE@ line");
    // Lines starting with //# are the template's own comments.
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("//#"))
            .flat_map(|l| [l, "\n"])
            .collect()
    };
    let mut parts = version.split('.');
    let mut text = strip(once)
        .replace("@MAJOR@", parts.next().unwrap())
        .replace("@MINOR@", parts.next().unwrap())
        .replace("@PATCH@", parts.next().unwrap())
        .replace("@VERSION@", version);
    let each = strip(each);
    for (rust, c) in TYPES {
        text.push_str(&each.replace("@T@", rust).replace("@C@", c));
    }
    Generated {
        path: "src/capi/types.rs",
        text,
    }
}

/// `include/dbshm.h`: cbindgen over `src/capi` as committed (so write a fresh
/// `types.rs` first), with `cbindgen.toml`'s settings, and after the includes
/// the SONAME and the X-macro of the element types.
pub fn header(root: &Path, version: &str) -> Generated {
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let mut after_includes = format!(
        "\n/**\n * The SONAME of the shared library this header declares, e.g. for dlopen().\n */\n\
         #define DBSHM_SONAME \"{}\"\n\n\
         /**\n * Expands X(<type>, <C type>) once for every element type, in dtype-code\n \
         * order: X(u8, uint8_t) X(i8, int8_t) ... X(f64, double).\n */\n\
         #define DBSHM_FOR_EACH_TYPE(X)",
        soname(version)
    );
    for (rust, c) in TYPES {
        after_includes.push_str(&format!(" \\\n  X({rust}, {c})"));
    }
    config.after_includes = Some(after_includes);
    // Every C item lives in src/capi: parse that module only (its `mod`
    // items are followed; with_crate would run `cargo metadata`).
    let bindings = cbindgen::Builder::new()
        .with_src(root.join("src/capi/mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut bytes = Vec::new();
    bindings.write(&mut bytes);
    Generated {
        path: "include/dbshm.h",
        text: String::from_utf8(bytes).expect("the header is UTF-8"),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
