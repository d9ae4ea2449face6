//! The C ABI from C and C++, against Rust, in real processes (feature
//! `capi`). This binary runs the tests and re-runs itself as the Rust side
//! of each exchange (`DBSHM_TEST_CHILD` set, the role in its arguments).
//!
//! It needs the C libraries built first, as scripts/test.sh does:
//!
//!     cargo rustc --release -p dbshm --features capi --lib --crate-type cdylib --crate-type staticlib
//!
//! and `cc`, `c++` and `valgrind` on the PATH.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use common::frames::{pin_frames, read_frames, wait_read_frames, with_type, write_frames};
use common::mounts::{Mount, TestDir};
use common::Failed;
use common::{check, check_tally, is_frame, json, root_or_skip, Proc, Report, TestSegment};
use dbshm::{DoubleBufferedSharedMemory, Element};

macro_rules! type_names {
    ({} $(($t:ident, $v:ident, $code:literal, $c:literal))*) => {
        [$(stringify!($t)),*]
    };
}

/// The name of every element type, in code order.
const TYPES: [&str; dbshm::Dtype::ALL.len()] = dbshm::for_each_element!(type_names {});

fn main() {
    let trials = common::trials![
        header_compiles_as_c11_and_cpp17_with_warnings_as_errors,
        library_has_its_soname_and_exports_only_the_c_api,
        c_writer_and_rust_reader_share_every_element_type,
        rust_writer_and_c_reader_share_every_element_type,
        c_and_rust_meet_in_a_directory_named_by_dbshm_dir,
        c_and_rust_meet_on_huge_pages,
        c_pins_frames_from_a_rust_writer_and_rust_pins_frames_from_c,
        an_epoll_loop_follows_three_segments_through_their_event_descriptors,
        cpp_wrapper_and_rust_share_frames_both_ways,
        every_status_is_produced_from_c_with_a_message,
        c_examples_run_clean_under_valgrind,
        c_writer_at_one_frame_per_second_spaces_its_frames,
        examples_makefile_builds_into_cargo_target_dir,
        stress_rust_and_c_readers_verify_every_read,
        stress_1080p_frames,
        killed_writers_never_tear_or_block_readers,
        killed_readers_leave_the_writer_and_other_readers_unaffected,
    ];
    let roles = common::roles![rust_write, rust_read, rust_wait_read, rust_pin];
    common::run_tests_or_child(&roles, trials);
}

// ---------------------------------------------------------------- children

// The Rust side of each exchange, as `ROLE TYPE NAME MILLIS`, the arguments
// of tests/c/frames.c; the frames are the test kit's, as frames.c's are.

/// Child `rust_write TYPE NAME MILLIS`: see `write_frames`.
fn rust_write(args: &[String]) {
    let ms = args[2].parse().unwrap();
    with_type!(args[0].as_str(), write_frames(&args[1], ms))
}

/// Child `rust_read TYPE NAME MILLIS`: see `read_frames`.
fn rust_read(args: &[String]) {
    let ms = args[2].parse().unwrap();
    with_type!(args[0].as_str(), read_frames(&args[1], ms))
}

/// Child `rust_pin TYPE NAME MILLIS`: see `pin_frames`.
fn rust_pin(args: &[String]) {
    let ms = args[2].parse().unwrap();
    with_type!(args[0].as_str(), pin_frames(&args[1], ms))
}

/// Child `rust_wait_read TYPE NAME MILLIS TIMEOUT_MS`: see `wait_read_frames`.
fn rust_wait_read(args: &[String]) {
    let (ms, timeout) = (args[2].parse().unwrap(), args[3].parse().unwrap());
    with_type!(args[0].as_str(), wait_read_frames(&args[1], ms, timeout))
}

// ----------------------------------------------------- C build and staging

struct Tools {
    root: PathBuf,
    lib: PathBuf,
    bin: PathBuf,
}

/// The C library staged as an install would lay it out (the SONAME link
/// included), and the test programs built against it; once per run.
fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // target/<profile>/deps/capi-<hash> → target/
        let target = std::env::current_exe()
            .unwrap()
            .ancestors()
            .nth(3)
            .unwrap()
            .to_path_buf();
        let built = target.join("release/libdbshm.so");
        // The header too: build.rs takes the SONAME from it.
        let newest_source = ["src", "build.rs", "include/dbshm.h"]
            .map(|p| newest(&root.join(p)))
            .into_iter()
            .max()
            .unwrap();
        match std::fs::metadata(&built).and_then(|m| m.modified()) {
            Ok(t) if t >= newest_source => {}
            Ok(_) => panic!(
                "{} is older than the sources: rebuild it (see the top of tests/capi.rs)",
                built.display()
            ),
            Err(_) => panic!(
                "{} is missing: build it first (see the top of tests/capi.rs)",
                built.display()
            ),
        }
        let stage = target.join("capi-test");
        let _ = std::fs::remove_dir_all(&stage);
        let (lib, bin) = (stage.join("lib"), stage.join("bin"));
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let soname = env!("DBSHM_SONAME");
        std::fs::copy(&built, lib.join(soname)).unwrap();
        std::os::unix::fs::symlink(soname, lib.join("libdbshm.so")).unwrap();
        let tools = Tools { root, lib, bin };
        for (src, out) in [
            ("tests/c/frames.c", "frames"),
            ("tests/c/events.c", "events"),
            ("tests/c/frames.cpp", "frames_cpp"),
            ("tests/c/statuses.c", "statuses"),
            ("examples-c/writer.c", "writer"),
            ("examples-c/reader.c", "reader"),
            ("examples-c/reader.cpp", "reader_cpp"),
        ] {
            tools.compile(src, out).unwrap_or_else(|e| panic!("{e}"));
        }
        tools
    })
}

fn newest(path: &Path) -> SystemTime {
    let meta = std::fs::metadata(path).unwrap();
    let mut t = meta.modified().unwrap();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            t = t.max(newest(&entry.unwrap().path()));
        }
    }
    t
}

impl Tools {
    fn compile(&self, src: &str, out: &str) -> Result<(), String> {
        let cpp = src.ends_with(".cpp");
        let (compiler, std) = if cpp {
            (tool("CXX", "c++"), "-std=c++17")
        } else {
            (tool("CC", "cc"), "-std=c11")
        };
        let output = Command::new(&compiler)
            .args([std, "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
            .arg("-I")
            .arg(self.root.join("include"))
            .arg(self.root.join(src))
            .arg("-L")
            .arg(&self.lib)
            .arg("-ldbshm")
            .arg(format!("-Wl,-rpath,{}", self.lib.display()))
            .arg("-o")
            .arg(self.bin.join(out))
            .output()
            .map_err(|e| format!("{compiler}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{compiler} {src} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn program(&self, name: &str) -> String {
        self.bin.join(name).to_str().unwrap().to_owned()
    }
}

/// Creates the segment, of `buffers` buffers; it outlives the handle, until
/// the TestSegment goes.
fn create<T: Element>(name: &str, buffers: usize) {
    dbshm::Options::new()
        .buffers(buffers)
        .create::<T>(name, (64, 33))
        .unwrap();
}

/// A writer and a reader on one segment at the same time, each on its side
/// of the language boundary; the reader verifies every element.
fn exchange(ty: &str, writer: &[&str], reader: &[&str]) -> Result<(), Failed> {
    exchange_in(2, ty, writer, reader).map(drop)
}

/// [`exchange`] on a segment of `buffers` buffers; the reader's report.
fn exchange_in(
    buffers: usize,
    ty: &str,
    writer: &[&str],
    reader: &[&str],
) -> Result<Report, Failed> {
    let seg = TestSegment::new(&format!("x-{ty}"));
    with_type!(ty, create(seg.name(), buffers));
    let ms = "300";
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain([ty.into(), seg.name().into(), ms.into()])
            .collect()
    };
    let r = Proc::spawn_program(&with(reader));
    let w = Proc::spawn_program(&with(writer));
    let written = w.report()?.count("written");
    let got = r.report()?;
    let what = format!("{ty}: {writer:?} -> {reader:?}: written={written} {got:?}");
    check(written > 0, || format!("nothing written: {what}"))?;
    check_tally(&got, 2, &what)?;
    Ok(got)
}

fn own_exe() -> String {
    std::env::current_exe()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The build tool `$var` names (`CC`, `CXX`, `NM`: the target's, for a
/// cross build), else `default`.
fn tool(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

// ------------------------------------------------------------------ tests

fn header_compiles_as_c11_and_cpp17_with_warnings_as_errors() -> Result<(), Failed> {
    let t = tools();
    let dir = t.bin.join("header");
    std::fs::create_dir_all(&dir).unwrap();
    let (cc, cxx) = (tool("CC", "cc"), tool("CXX", "c++"));
    for (file, text, compiler, std) in [
        ("h.c", "#include \"dbshm.h\"\n", &cc, "-std=c11"),
        (
            "h.cpp",
            "#include \"dbshm.h\"\n#include \"dbshm.hpp\"\n",
            &cxx,
            "-std=c++17",
        ),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
        let out = Command::new(compiler)
            .args([
                std,
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-fsyntax-only",
                "-I",
            ])
            .arg(t.root.join("include"))
            .arg(dir.join(file))
            .output()?;
        check(out.status.success(), || {
            format!("{compiler} {std}: {}", String::from_utf8_lossy(&out.stderr))
        })?;
    }
    // And the static_assert on an unsupported element type fires.
    std::fs::write(dir.join("bad.cpp"), "#include \"dbshm.hpp\"\nint main() { dbshm::Buffer<char> *b = nullptr; (void)sizeof(*b); }\n")?;
    let out = Command::new(&cxx)
        .args(["-std=c++17", "-fsyntax-only", "-I"])
        .arg(t.root.join("include"))
        .arg(dir.join("bad.cpp"))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    check(
        !out.status.success() && stderr.contains("T must be one of"),
        || format!("Buffer<char> compiled: {stderr}"),
    )
}

fn library_has_its_soname_and_exports_only_the_c_api() -> Result<(), Failed> {
    let so = tools().lib.join("libdbshm.so");
    let dynamic = Command::new("readelf").arg("-d").arg(&so).output()?;
    let soname = concat!("Library soname: [", env!("DBSHM_SONAME"), "]");
    check(
        String::from_utf8_lossy(&dynamic.stdout).contains(soname),
        || format!("no {soname} in readelf -d"),
    )?;
    let nm = Command::new(tool("NM", "nm"))
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()?;
    let symbols: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(String::from)
        .collect();
    let foreign: Vec<&String> = symbols
        .iter()
        .filter(|s| !s.starts_with("dbshm_"))
        .collect();
    check(foreign.is_empty(), || {
        format!("exports beyond the C API: {foreign:?}")
    })?;
    // Exactly the functions the header declares (a declaration starts a
    // line; comments do not).
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/dbshm.h"))?;
    let declared: std::collections::BTreeSet<&str> = header
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()) && l.contains('('))
        .filter_map(|l| l.split('(').next()?.rsplit([' ', '*']).next())
        .filter(|f| f.starts_with("dbshm_"))
        .collect();
    let exported: std::collections::BTreeSet<&str> = symbols.iter().map(String::as_str).collect();
    check(
        declared == exported && declared.len() > 10 * dbshm::Dtype::ALL.len(),
        || {
            format!(
                "declared but not exported: {:?}; exported but not declared: {:?}",
                declared.difference(&exported).collect::<Vec<_>>(),
                exported.difference(&declared).collect::<Vec<_>>()
            )
        },
    )
}

fn c_writer_and_rust_reader_share_every_element_type() -> Result<(), Failed> {
    let (c, me) = (tools().program("frames"), own_exe());
    for ty in TYPES {
        exchange(ty, &[&c, "write"], &[&me, "rust_read"])?;
    }
    Ok(())
}

fn rust_writer_and_c_reader_share_every_element_type() -> Result<(), Failed> {
    let (c, me) = (tools().program("frames"), own_exe());
    for ty in TYPES {
        exchange(ty, &[&me, "rust_write"], &[&c, "read"])?;
    }
    Ok(())
}

fn c_and_rust_meet_in_a_directory_named_by_dbshm_dir() -> Result<(), Failed> {
    let dir = TestDir::new("capi");
    c_and_rust_meet_in(dir.path(), &[64, 33], false)
}

/// The same on huge pages, as root: in a tmpfs mounted `huge=always` and
/// on hugetlbfs, with 1080p frames (buffers on huge-page boundaries).
fn c_and_rust_meet_on_huge_pages() -> Result<(), Failed> {
    if !root_or_skip("c_and_rust_meet_on_huge_pages") {
        return Ok(());
    }
    for mount in [
        Mount::huge_tmpfs("capi-thp", "always"),
        Mount::hugetlbfs("capi-hugetlb", 12, ""),
    ] {
        match mount {
            Ok(mount) => c_and_rust_meet_in(mount.path(), &[1080, 1920, 3], true)?,
            Err(why) => println!("skipped: {why}"),
        }
    }
    Ok(())
}

/// A C writer and a Rust reader, then a Rust writer and a C reader, of a
/// segment of `shape` in `place`, which both find through `DBSHM_DIR`:
/// every frame whole; the buffers on huge-page boundaries if `huge`.
fn c_and_rust_meet_in(place: &std::path::Path, shape: &[usize], huge: bool) -> Result<(), Failed> {
    let (c, me) = (tools().program("frames"), own_exe());
    let name = format!("dbshm-test-capi-dir-{}", std::process::id());
    dbshm::Options::new()
        .dir(place)
        .create::<u8>(&name, shape)?;
    let first = dbshm::inspect_in(place, &name)?.buffer_offsets[0];
    check((first > dbshm::layout::HEADER_SIZE) == huge, || {
        format!("the first buffer is at {first} in {place:?}")
    })?;
    let (c, me) = (c.as_str(), me.as_str());
    for (writer, reader) in [
        ([c, "write"], [me, "rust_read"]),
        ([me, "rust_write"], [c, "read"]),
    ] {
        let r = Proc::spawn_program_in(place, &[reader[0], reader[1], "u8", &name, "300"]);
        let w = Proc::spawn_program_in(place, &[writer[0], writer[1], "u8", &name, "300"]);
        let written = w.report()?.count("written");
        let got = r.report()?;
        let what = format!("{writer:?} -> {reader:?} in {place:?}: written={written} {got:?}");
        check(written > 0, || format!("nothing written: {what}"))?;
        check_tally(&got, 2, &what)?;
    }
    check(dbshm::inspect(&name).is_err(), || {
        "the segment appeared in /dev/shm".to_string()
    })?;
    dbshm::Options::new().dir(place).unlink(&name)?;
    Ok(())
}

fn c_pins_frames_from_a_rust_writer_and_rust_pins_frames_from_c() -> Result<(), Failed> {
    let (c, me) = (tools().program("frames"), own_exe());
    for ty in TYPES {
        for (writer, pinner) in [
            ([&me, "rust_write"], [&c, "pin"]),
            ([&c, "write"], [&me, "rust_pin"]),
        ] {
            let got = exchange_in(3, ty, &writer, &pinner)?;
            check(got.count("changed") == 0, || {
                format!("{ty}: pinned views changed: {got:?}")
            })?;
        }
    }
    Ok(())
}

fn an_epoll_loop_follows_three_segments_through_their_event_descriptors() -> Result<(), Failed> {
    let (events, me) = (tools().program("events"), own_exe());
    let segs: Vec<TestSegment> = (0..3)
        .map(|i| TestSegment::new(&format!("epoll-{i}")))
        .collect();
    for seg in &segs {
        with_type!("u8", create(seg.name(), 2));
    }
    let names: Vec<&str> = segs.iter().map(|s| s.name()).collect();
    // The loop outlives the writers by a second: it must see each last frame.
    let mut follower =
        Proc::spawn_program(&[&[events.as_str(), "2500"], names.as_slice()].concat());
    follower.expect("ready")?;
    let writers: Vec<Proc> = names
        .iter()
        .map(|name| Proc::spawn_program(&[me.as_str(), "rust_write", "u8", name, "1500"]))
        .collect();
    let written: Vec<u64> = writers
        .into_iter()
        .map(|w| w.report().map(|r| r.count("written")))
        .collect::<Result<_, _>>()?;
    let report = follower.report()?;
    let segments = report
        .get("segments")
        .and_then(|s| s.as_array())
        .ok_or_else(|| format!("no segments in {report}"))?;
    for (i, (got, written)) in segments.iter().zip(&written).enumerate() {
        let n = |key: &str| got[key].as_u64().unwrap_or(u64::MAX);
        check(
            n("torn") == 0 && n("wakes") > 0 && n("newest") == *written,
            || format!("segment {i}: {written} written, the epoll loop saw {got}"),
        )?;
    }
    eprintln!("epoll over three segments: written {written:?}, seen {segments:?}");
    Ok(())
}

fn cpp_wrapper_and_rust_share_frames_both_ways() -> Result<(), Failed> {
    let (cpp, me) = (tools().program("frames_cpp"), own_exe());
    for ty in ["u8", "i16", "u64", "f32", "f64"] {
        exchange(ty, &[&cpp, "write"], &[&me, "rust_read"])?;
        // The C++ reader also asks for the event descriptor, and acknowledges.
        let got = exchange_in(2, ty, &[&me, "rust_write"], &[&cpp, "read"])?;
        check(
            got.count("announced") > 0 && got.get("same_fd") == Some(&json!(true)),
            || format!("{ty}: the C++ reader's events: {got:?}"),
        )?;
        // Pinned through the RAII guard.
        let got = exchange_in(3, ty, &[&me, "rust_write"], &[&cpp, "pin"])?;
        check(got.count("changed") == 0, || {
            format!("{ty}: pinned views changed: {got:?}")
        })?;
    }
    Ok(())
}

fn every_status_is_produced_from_c_with_a_message() -> Result<(), Failed> {
    let prefix = format!("dbshm-test-statuses-{}", std::process::id());
    let out: Output = dbshm_testkit::child::program(tools().program("statuses"))
        .arg(&prefix)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    let report = Report::parse(&text);
    check(out.status.success(), || {
        format!(
            "statuses failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    check(
        report.count("failed") == 0 && report.count("checked") >= 50,
        || format!("{report:?}"),
    )?;
    // Every status but OK and INTERNAL appears in the run.
    for status in [
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "TYPE_MISMATCH",
        "SHAPE_MISMATCH",
        "INCOMPATIBLE",
        "WRITER_BUSY",
        "READ_ONLY",
        "TIMEOUT",
        "OS",
    ] {
        check(text.contains(&format!("DBSHM_ERR_{status} ")), || {
            format!("{status} was not produced")
        })?;
    }
    // PERMISSION_DENIED and the forked writer are checked in child processes.
    for line in [
        "ok   a user without access gets PERMISSION_DENIED",
        "ok   a forked child of the writer gets WRITER_BUSY",
    ] {
        check(text.contains(line), || format!("missing: {line}"))?;
    }
    Ok(())
}

fn c_examples_run_clean_under_valgrind() -> Result<(), Failed> {
    let t = tools();
    let seg = TestSegment::new("valgrind");
    let valgrind = |program: &str, args: &[&str]| {
        let mut all = vec![
            "--error-exitcode=99".to_owned(),
            "--leak-check=full".into(),
            "--errors-for-leak-kinds=definite,indirect".into(),
            "--quiet".into(),
            t.program(program),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        Proc::spawn_command("valgrind", &all)
    };
    // 150 frames at 30 fps: 5 s, time for the readers to start under valgrind.
    let writer = valgrind("writer", &[seg.name(), "150", "30"]);
    let path = format!("/dev/shm/{}", seg.name());
    for _ in 0..500 {
        if Path::new(&path).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let reader = valgrind("reader", &[seg.name(), "5"]);
    let reader_cpp = valgrind("reader_cpp", &[seg.name(), "5"]);
    for (name, p) in [
        ("reader", reader),
        ("reader_cpp", reader_cpp),
        ("writer", writer),
    ] {
        let out = p.finish()?;
        check(out.status.success(), || {
            format!("{name} under valgrind: {} {}", out.status, out.text)
        })?;
        check(out.text.contains("frame ") || name == "writer", || {
            format!("{name} printed no frame: {}", out.text)
        })?;
    }
    Ok(())
}

fn c_writer_at_one_frame_per_second_spaces_its_frames() -> Result<(), Failed> {
    let seg = TestSegment::new("c-writer-rate");
    // Made here (the writer's shape), so that the reader waits before frame 1.
    DoubleBufferedSharedMemory::<u8>::create(seg.name(), (480, 640, 3))?;
    let reader = DoubleBufferedSharedMemory::<u8>::open_readonly(seg.name())?;
    let frames = 4;
    let writer = Proc::spawn_target_command(
        &tools().program("writer"),
        &[seg.name().into(), frames.to_string(), "1".into()],
    );
    // Frame number -> the writer's clock at its publish, as the reader sees it.
    let mut published = BTreeMap::new();
    let mut frame = vec![0u8; reader.len()];
    let watchdog = Instant::now() + Duration::from_secs(60);
    let mut seq = 0;
    while seq < frames && Instant::now() < watchdog {
        match reader.wait_into(seq, Duration::from_millis(200), &mut frame) {
            Ok(info) => {
                published.insert(info.seq, info.timestamp_ns);
                seq = info.seq;
            }
            Err(dbshm::DbShmError::Timeout { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Dropped (killed) on this early return: a writer that hangs fails the test.
    check(seq == frames, || {
        format!("frame {frames} not published in 60 s: {published:?}")
    })?;
    let out = writer.finish()?;
    check(out.status.success(), || {
        format!("writer: {} {}", out.status, out.text)
    })?;
    // Frames the reader skipped (a loaded machine) leave no gap in the
    // check: the two buffers hold the last two frames and their times.
    for slot in dbshm::inspect(seg.name())?.slots {
        if slot.frame > 0 {
            published.insert(slot.frame, slot.timestamp_ns);
        }
    }
    // At 1 fps, frames a and b are at least b - a seconds apart; 0.8 s per
    // frame allows for clocks, and a loaded machine only makes gaps longer.
    let times: Vec<(u64, u64)> = published.into_iter().collect();
    for pair in times.windows(2) {
        let ((a, ta), (b, tb)) = (pair[0], pair[1]);
        check(tb.saturating_sub(ta) >= (b - a) * 800_000_000, || {
            format!(
                "frames {a} and {b} published {} ms apart: {times:?}",
                (tb - ta) / 1_000_000
            )
        })?;
    }
    Ok(())
}

fn examples_makefile_builds_into_cargo_target_dir() -> Result<(), Failed> {
    let t = tools();
    // A target directory of its own, holding the library as cargo leaves it.
    let target = t.bin.parent().unwrap().join("make-target");
    let _ = std::fs::remove_dir_all(&target);
    std::fs::create_dir_all(target.join("release"))?;
    std::fs::copy(
        t.lib.join(env!("DBSHM_SONAME")),
        target.join("release/libdbshm.so"),
    )?;
    let out = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(t.root.join("examples-c"))
        .env("CARGO_TARGET_DIR", &target)
        .output()?;
    check(out.status.success(), || {
        format!("make: {}", String::from_utf8_lossy(&out.stderr))
    })?;
    for program in ["writer", "reader", "reader_cpp"] {
        let built = target.join("examples-c").join(program);
        check(built.is_file(), || format!("{} not built", built.display()))?;
    }
    // Linked against that directory's library, through its rpath.
    let ldd = Command::new("ldd")
        .arg(target.join("examples-c/reader"))
        .env_remove("LD_LIBRARY_PATH")
        .output()?;
    let deps = String::from_utf8_lossy(&ldd.stdout);
    let expected = target
        .join("examples-c")
        .join(env!("DBSHM_SONAME"))
        .display()
        .to_string();
    check(deps.contains(&expected), || format!("ldd: {deps}"))
}

// ------------------------------------------------- reliability (RELIABILITY.md)

/// CI size, or the soak's with DBSHM_SOAK=1.
fn soak() -> bool {
    std::env::var("DBSHM_SOAK").is_ok_and(|v| v == "1")
}

/// A writer at full speed and readers in other processes, two Rust and one
/// C, each verifying every element of every frame it accepts.
fn stress(tag: &str, shape: (usize, usize, usize), ms: u64, min_reads: u64) -> Result<(), Failed> {
    let seg = TestSegment::new(tag);
    DoubleBufferedSharedMemory::<u8>::create(seg.name(), shape)?;
    let (c, me, ms) = (tools().program("frames"), own_exe(), ms.to_string());
    let reader = |program: &str, role: &str| {
        Proc::spawn_program(&[
            program.into(),
            role.into(),
            "u8".into(),
            seg.name().into(),
            ms.clone(),
        ])
    };
    let readers = [
        reader(&me, "rust_read"),
        reader(&me, "rust_read"),
        reader(&c, "read"),
    ];
    let writer = reader(&me, "rust_write");
    let written = writer.report()?.count("written");
    let (mut reads, mut torn, mut backwards) = (0, 0, 0);
    for r in readers {
        let r = r.report()?;
        reads += r.count("reads");
        torn += r.count("torn");
        backwards += r.count("backwards");
    }
    eprintln!("{tag}: {shape:?} for {ms} ms: written={written} reads={reads} torn={torn} backwards={backwards}");
    check(torn == 0 && backwards == 0, || {
        format!("torn={torn} backwards={backwards}")
    })?;
    check(reads >= min_reads, || {
        format!("only {reads} verified reads, wanted {min_reads}")
    })
}

fn stress_rust_and_c_readers_verify_every_read() -> Result<(), Failed> {
    if soak() {
        stress("stress-soak", (100, 100, 3), 240_000, 10_000_000)
    } else {
        stress("stress", (100, 100, 3), 8_000, 100_000)
    }
}

fn stress_1080p_frames() -> Result<(), Failed> {
    if soak() {
        stress("stress-1080p-soak", (1080, 1920, 3), 540_000, 100_000)
    } else {
        // 60 reads: three readers made 4,774 here on a quiet machine and 174
        // with four builds running at once; 60 is still 60 whole 6.2 MB
        // frames verified under a writer flat out.
        stress("stress-1080p", (1080, 1920, 3), 3_000, 60)
    }
}

/// xorshift, seeded from the clock and printed, for random instants.
fn rng() -> impl FnMut() -> u64 {
    let mut x = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("random instants: seed {x}");
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn killed_writers_never_tear_or_block_readers() -> Result<(), Failed> {
    let kills = if soak() { 1000 } else { 200 };
    let seg = TestSegment::new("kill-writers");
    DoubleBufferedSharedMemory::<u8>::create(seg.name(), (480, 640, 3))?;
    let me = own_exe();
    // Readers attached before the first writer, for about the whole run
    // (40 ms a kill is more than one takes natively; twice what a first
    // writer takes to start and report here, where that is more, as under
    // emulation); 200 ms timeouts, so a wait blocked by a dead writer
    // would show.
    let started = std::time::Instant::now();
    let mut first = Proc::spawn_program(&[&me, "rust_write", "u8", seg.name(), "0"]);
    first.expect("started")?;
    first.kill();
    let per_kill = (started.elapsed().as_millis() as u64 * 2).max(40);
    let ms = (kills * per_kill + 2000).to_string();
    let readers: Vec<Proc> = (0..2)
        .map(|_| Proc::spawn_program(&[&me, "rust_wait_read", "u8", seg.name(), &ms, "200"]))
        .collect();
    let mut next = rng();
    let start = std::time::Instant::now();
    let mut last_first = 0;
    for _ in 0..kills {
        let mut writer = Proc::spawn_program(&[&me, "rust_write", "u8", seg.name(), "0"]);
        // Taking over is the proof that the dead one did not block it.
        last_first = writer.expect("started")?.count("first");
        std::thread::sleep(Duration::from_micros(next() % 15_000));
        writer.kill(); // SIGKILL, mid-fill or mid-copy more often than not
    }
    let loop_time = start.elapsed();
    let mut reads = 0;
    for reader in readers {
        let r = reader.report()?;
        eprintln!("killed_writers: reader {r:?}");
        for key in ["torn", "backwards", "overslept"] {
            check(r.count(key) == 0, || format!("{key}: {r:?}"))?;
        }
        check(r.count("max_seq") >= last_first, || {
            format!("reader missed the last writer: {r:?}")
        })?;
        reads += r.count("reads");
    }
    // What the last dead writer left is a whole frame.
    let shm = DoubleBufferedSharedMemory::<u8>::open(seg.name())?;
    let (frame, info) = shm.read_with_info()?;
    check(is_frame(info.seq, frame.as_slice().unwrap()), || {
        "final frame torn".into()
    })?;
    eprintln!(
        "killed_writers: {kills} writers killed in {loop_time:?}; {reads} verified reads; last writer started at frame {last_first}"
    );
    Ok(())
}

fn killed_readers_leave_the_writer_and_other_readers_unaffected() -> Result<(), Failed> {
    let kills = if soak() { 1000 } else { 50 };
    let seg = TestSegment::new("kill-readers");
    DoubleBufferedSharedMemory::<u8>::create(seg.name(), (1080, 1920, 3))?;
    let me = own_exe();
    let ms = (kills * 40 + 2000).to_string();
    let writer = Proc::spawn_program(&[&me, "rust_write", "u8", seg.name(), &ms]);
    let steady = Proc::spawn_program(&[&me, "rust_wait_read", "u8", seg.name(), &ms, "200"]);
    let mut next = rng();
    for i in 0..kills {
        // Half wait (timeouts short, so some die inside the futex), half copy.
        let role = if i % 2 == 0 {
            "rust_wait_read"
        } else {
            "rust_read"
        };
        let mut victim = Proc::spawn_program(&[&me, role, "u8", seg.name(), "60000", "50"]);
        std::thread::sleep(Duration::from_micros(5_000 + next() % 25_000));
        victim.kill();
    }
    let written = writer.report()?.count("written");
    let r = steady.report()?;
    eprintln!(
        "killed_readers: {kills} readers killed; writer wrote {written}; steady reader {r:?}"
    );
    for key in ["torn", "backwards", "overslept"] {
        check(r.count(key) == 0, || format!("{key}: {r:?}"))?;
    }
    // The writer never waited for the dead: it kept its pace (a 1080p frame
    // takes a few ms to fill and write here).
    check(written >= 100, || {
        format!("the writer wrote only {written} frames")
    })?;
    check(r.count("reads") >= 50, || {
        format!("the steady reader read only {r:?}")
    })
}
