//! Installing dbshm with CMake and using it from outside the tree: C and C++
//! projects with find_package, a static one, a Makefile with pkg-config, and
//! a Rust crate depending on dbshm by path (feature `capi`; needs cmake,
//! pkg-config, cc and c++, which scripts/test.sh installs).
//!
//! The library is configured, built and installed into a fresh prefix once;
//! its build tree is then deleted, so every consumer sees only the prefix.
//!
//! Cross-built (scripts/test-aarch64.sh), the library and the consumers are
//! configured with the toolchain file named by `DBSHM_CMAKE_TOOLCHAIN`, the
//! consumers run through the test runner, and their libraries are listed by
//! the command in `DBSHM_TEST_LDD` (the runner, with the target's loader told
//! to list them: `-E LD_TRACE_LOADED_OBJECTS=1`, as `ldd` does natively)
//! instead of `ldd`; the pkg-config project is built with the target's
//! compiler from `CC`. The Rust crate is built and run for the host there.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::TestSegment;
use dbshm::DoubleBufferedSharedMemory;

/// The library's version and SONAME, from their one source each
/// (Cargo.toml, and the header's DBSHM_SONAME, which build.rs passes on).
const VERSION: &str = env!("CARGO_PKG_VERSION");
const SONAME: &str = env!("DBSHM_SONAME");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/install-test, beside this test binary's target directory.
fn work() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("install-test")
}

/// `cmake` configuring `source` into `build`, with the toolchain file of
/// the target where one is named.
fn configure(source: &Path, build: &Path) -> Command {
    let mut command = Command::new("cmake");
    command.arg("-S").arg(source).arg("-B").arg(build);
    if let Some(toolchain) = std::env::var_os("DBSHM_CMAKE_TOOLCHAIN") {
        command.arg(format!(
            "-DCMAKE_TOOLCHAIN_FILE={}",
            Path::new(&toolchain).display()
        ));
    }
    command
}

fn run(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The install prefix, made once per run.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let work = work();
        let _ = std::fs::remove_dir_all(&work);
        let (build, prefix) = (work.join("build"), work.join("prefix"));
        run(configure(&root(), &build).arg("-DCMAKE_BUILD_TYPE=Release"));
        run(Command::new("cmake").arg("--build").arg(&build));
        run(Command::new("cmake")
            .arg("--install")
            .arg(&build)
            .arg("--prefix")
            .arg(&prefix));
        std::fs::remove_dir_all(&build).unwrap();
        prefix
    })
}

/// Configures a consumer project against the prefix and builds its target
/// `binary`; the binary.
fn cmake_consumer(project: &str, binary: &str) -> PathBuf {
    let build = work().join(format!("consumer-{binary}"));
    run(
        configure(&root().join("tests/consumers").join(project), &build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix().display())),
    );
    run(Command::new("cmake")
        .arg("--build")
        .arg(&build)
        .args(["--target", binary]));
    build.join(binary)
}

/// A Rust process (this one) and a consumer share one segment: this one
/// publishes frame 1, the consumer checks it and publishes frame 2, this one
/// checks that.
fn exchange(consumer: &Path, env: &[(&str, &Path)]) {
    let seg = TestSegment::new("consumer");
    let frame1: Vec<u32> = (0..64 * 3).map(|i| 1000 + i).collect();
    {
        let shm = DoubleBufferedSharedMemory::<u32>::create(seg.name(), (64, 3)).unwrap();
        shm.write_slice(&frame1).unwrap();
    } // the writer role goes with the handle
    let mut command = dbshm_testkit::child::program(consumer);
    command.arg(seg.name()).env_remove("LD_LIBRARY_PATH");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = run(&mut command);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!("ok {VERSION}")),
        "{out:?}"
    );
    let shm = DoubleBufferedSharedMemory::<u32>::open(seg.name()).unwrap();
    let (frame, info) = shm.read_with_info().unwrap();
    assert_eq!(info.seq, 2);
    assert!(
        frame.iter().enumerate().all(|(i, &x)| x == 2000 + i as u32),
        "frame 2 is not the consumer's"
    );
}

/// The shared libraries `binary` loads, and from where, as `ldd` lists them.
fn ldd(binary: &Path) -> String {
    let ldd = std::env::var("DBSHM_TEST_LDD").unwrap_or_else(|_| "ldd".into());
    let mut words = ldd.split_whitespace();
    let mut command = Command::new(words.next().expect("a command in DBSHM_TEST_LDD"));
    // As the consumers run: finding the library through their own RUNPATH.
    command
        .args(words)
        .arg(binary)
        .env_remove("LD_LIBRARY_PATH");
    String::from_utf8_lossy(&run(&mut command).stdout).into_owned()
}

#[test]
fn install_lays_out_a_versioned_library_headers_and_package_files() {
    let p = prefix();
    let real = format!("libdbshm.so.{VERSION}");
    for file in [
        &format!("lib/{real}"),
        "lib/libdbshm.a",
        "include/dbshm.h",
        "include/dbshm.hpp",
        "lib/cmake/dbshm/dbshmConfig.cmake",
        "lib/cmake/dbshm/dbshmConfigVersion.cmake",
        "lib/pkgconfig/dbshm.pc",
    ] {
        assert!(p.join(file).is_file(), "{file} not installed");
    }
    for (link, target) in [
        (format!("lib/{SONAME}").as_str(), real.as_str()),
        ("lib/libdbshm.so", SONAME),
    ] {
        assert_eq!(
            std::fs::read_link(p.join(link)).unwrap(),
            Path::new(target),
            "{link}"
        );
    }
    // Built for this test's machine (e_machine, bytes 18 and 19 of an ELF
    // file): cross-built too, where this test is.
    let machine = |path: &Path| std::fs::read(path).unwrap()[18..20].to_vec();
    assert_eq!(
        machine(&p.join("lib").join(&real)),
        machine(&std::env::current_exe().unwrap()),
        "the library is for another machine than this test"
    );
    let dynamic = run(Command::new("readelf")
        .arg("-d")
        .arg(p.join("lib").join(&real)));
    assert!(
        String::from_utf8_lossy(&dynamic.stdout).contains(&format!("Library soname: [{SONAME}]"))
    );
    // The version has one source: Cargo.toml.
    let pc = std::fs::read_to_string(p.join("lib/pkgconfig/dbshm.pc")).unwrap();
    assert!(
        pc.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{pc}"
    );
    assert!(
        pc.contains("Libs.private: -l"),
        "no native libraries for static linking: {pc}"
    );
}

#[test]
fn c_project_with_find_package_uses_the_shared_library() {
    let consumer = cmake_consumer("c", "consumer");
    let deps = ldd(&consumer);
    let line = deps
        .lines()
        .find(|l| l.contains("libdbshm"))
        .unwrap_or_else(|| panic!("not linked: {deps}"));
    assert!(
        line.trim_start().starts_with(&format!("{SONAME} =>"))
            && line.contains(&prefix().display().to_string()),
        "{line}"
    );
    exchange(&consumer, &[]);
}

#[test]
fn find_package_refuses_versions_this_one_does_not_satisfy() {
    prefix();
    // 0.x: the same minor version only (SameMinorVersion); the requests
    // are those around version 0.1.
    for (request, ok) in [
        ("0.1", true),
        ("0.1.0", true),
        ("0.2", false),
        ("1.0", false),
        ("0.0", false),
    ] {
        let build = work().join(format!("version-{request}"));
        let status = configure(&root().join("tests/consumers/c"), &build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix().display()))
            .arg(format!("-DDBSHM_VERSION_REQUEST={request}"))
            .output()
            .unwrap()
            .status;
        assert_eq!(status.success(), ok, "find_package(dbshm {request})");
    }
}

#[test]
fn cpp_project_with_find_package_uses_the_wrapper() {
    let consumer = cmake_consumer("cpp", "consumer_cpp");
    assert!(ldd(&consumer).contains(&format!("{SONAME} =>")));
    exchange(&consumer, &[]);
}

#[test]
fn static_project_needs_no_libdbshm_so() {
    let consumer = cmake_consumer("c", "consumer_static");
    let deps = ldd(&consumer);
    assert!(
        !deps.contains("libdbshm"),
        "the static consumer still loads libdbshm: {deps}"
    );
    // Nor could it find one: none is installed on the system.
    let cache = run(Command::new("ldconfig").arg("-p"));
    assert!(!String::from_utf8_lossy(&cache.stdout).contains("libdbshm"));
    exchange(&consumer, &[]);
}

#[test]
fn makefile_project_with_pkg_config() {
    let out_dir = work().join("consumer-pkgconfig");
    std::fs::create_dir_all(&out_dir).unwrap();
    let pkgconfig = prefix().join("lib/pkgconfig");
    run(Command::new("make")
        .arg("-C")
        .arg(root().join("tests/consumers/pkgconfig"))
        .arg(format!("OUT={}", out_dir.display()))
        .env("PKG_CONFIG_PATH", &pkgconfig));
    let libs = run(Command::new("pkg-config")
        .args(["--libs", "--static", "dbshm"])
        .env("PKG_CONFIG_PATH", &pkgconfig));
    assert!(String::from_utf8_lossy(&libs.stdout).contains("-lpthread"));
    // pkg-config adds no rpath: the loader is told where the prefix is.
    exchange(
        &out_dir.join("consumer"),
        &[("LD_LIBRARY_PATH", &prefix().join("lib"))],
    );
}

#[test]
fn rust_crate_depending_by_path_builds_no_c_products() {
    let target = work().join("rust-consumer");
    let manifest = root().join("tests/consumers/rust/Cargo.toml");
    let tree = run(Command::new(env!("CARGO"))
        .args(["tree", "--edges", "normal,build", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target));
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.contains("dbshm v") && !tree.contains("cbindgen"),
        "{tree}"
    );
    run(Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target));
    let built: Vec<String> = std::fs::read_dir(target.join("debug"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("libdbshm"))
        .collect();
    assert!(
        built
            .iter()
            .all(|n| n.ends_with(".rlib") || n.ends_with(".d")),
        "C products built: {built:?}"
    );
}
