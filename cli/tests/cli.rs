//! The `dbshm` command, run as a program.

mod common;

use common::{dbshm, text, Name, Running, Scratch};

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dbshm::ndarray::Array;
use dbshm::DoubleBufferedSharedMemory;
use npyz::WriterBuilder;

#[test]
fn demo_runs_writer_and_readers_in_processes_and_reports_a_clean_summary() {
    let out = dbshm(&[
        "demo",
        "--duration",
        "1",
        "--readers",
        "2",
        "--shape",
        "480x640x3",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    let summary = stdout
        .split("\nsummary\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary:\n{stdout}"));
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    let readers: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0].starts_with("reader")).collect();
    assert!(readers.len() >= 2, "{summary}");
    assert!(rows.iter().any(|r| r[0] == "writer"), "{summary}");
    for r in readers {
        // PROCESS FRAMES FPS P50 P99 MAX RETRIES TORN OUT-OF-ORDER
        let frames: u64 = r[1].parse().unwrap();
        assert!(
            frames >= 20,
            "a reader got {frames} frames in 1 s at 60 fps: {summary}"
        );
        assert_eq!(
            (r[7], r[8]),
            ("0", "0"),
            "torn or out-of-order frames: {summary}"
        );
    }
    assert!(stdout.contains("ok: no torn frame"), "{stdout}");
    // The demo removes its segment.
    let demo = stdout
        .split_whitespace()
        .find(|w| w.starts_with("dbshm-demo-"))
        .unwrap()
        .trim_end_matches(',');
    assert!(
        !std::path::Path::new(&format!("/dev/shm/{demo}")).exists(),
        "{demo} left behind"
    );
}

#[test]
fn list_shows_dbshm_segments_and_hides_other_objects() {
    let seg = Name::new("list");
    let shm = DoubleBufferedSharedMemory::<f32>::create(&seg.0, (4, 5)).unwrap();
    shm.write(&Array::from_elem((4, 5), 1.5f32)).unwrap();
    let other = Name::new("not-dbshm");
    std::fs::write(format!("/dev/shm/{}", other.0), vec![7u8; 8192]).unwrap();

    let out = dbshm(&["list"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&seg.0))
        .unwrap_or_else(|| panic!("{} not listed:\n{stdout}", seg.0));
    for cell in ["f32", "4x5", "1", "alive"] {
        assert!(line.contains(cell), "{cell:?} missing from {line:?}");
    }
    assert!(
        !stdout.contains(&other.0),
        "a foreign object was listed:\n{stdout}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&dbshm(&["list", "--json"]).stdout).unwrap();
    let listed = json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == seg.0.as_str())
        .expect("in --json");
    assert_eq!(listed["latest_seq"], 1);
}

#[test]
fn dir_lists_shows_and_removes_segments_in_another_directory() {
    let seg = Name::new("dir");
    let place = std::env::temp_dir().join(format!("dbshm-test-cli-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&place);
    std::fs::create_dir(&place).unwrap();
    struct Gone(std::path::PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(place.clone());
    let dir = place.to_str().unwrap();
    let shm = dbshm::Options::new()
        .dir(&place)
        .create::<u8>(&seg.0, [16])
        .unwrap();
    shm.write_slice(&[1; 16]).unwrap();

    let out = dbshm(&["--dir", dir, "list"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with(&seg.0)), "{stdout}");
    assert!(
        stdout.contains(&format!("(in /dev/shm, {dir})")),
        "{stdout}"
    );
    // Without --dir (nor DBSHM_DIR), only /dev/shm.
    let out = dbshm(&["list"]);
    assert!(!text(&out).0.contains(&seg.0), "listed without --dir");

    let out = dbshm(&["--dir", dir, "info", &seg.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("object         {dir}/{}", seg.0)),
        "{stdout}"
    );
    drop(shm);
    let out = dbshm(&["--dir", dir, "rm", &seg.0]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        std::fs::read_dir(&place).unwrap().count(),
        0,
        "rm left files"
    );
}

#[test]
fn info_prints_the_header_and_json_that_parses() {
    let seg = Name::new("info");
    let shm = DoubleBufferedSharedMemory::<u16>::create(&seg.0, (3, 7, 2)).unwrap();
    shm.write(&Array::from_elem((3, 7, 2), 9u16)).unwrap();
    shm.write(&Array::from_elem((3, 7, 2), 9u16)).unwrap();

    let out = dbshm(&["info", &seg.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for needle in [
        "element type   u16",
        "[3, 7, 2]",
        "latest frame   2",
        "alive (pid",
        "frame 2, stamp 2 (whole), on ",
        "pages          every buffer on ",
    ] {
        assert!(stdout.contains(needle), "{needle:?} missing:\n{stdout}");
    }

    let out = dbshm(&["info", &seg.0, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json parses");
    assert_eq!(json["name"], seg.0.as_str());
    assert_eq!(json["dtype"], "u16");
    assert_eq!(json["shape"], serde_json::json!([3, 7, 2]));
    assert_eq!(json["latest_seq"], 2);
    assert_eq!(json["writer_alive"], true);
    assert_eq!(json["writer_pid"], std::process::id());
    assert_eq!(json["slots"][0]["frame"], 2);
    // Frame 2 went into buffer 0, its first: stamp 1 while written, 2 after.
    assert_eq!(json["slots"][0]["stamp"], 2);
    assert!(json["slots"][0].get("seq").is_none(), "{json}");
    // What backs the buffers, as the creator's kernel said: 84 bytes, 1 kB.
    assert!(json["backing"]["page_kb"].as_u64() >= Some(4), "{json}");
    assert_eq!(json["backing"]["frame_kb"], 1, "{json}");
    assert_eq!(json["backing"]["huge_kb"].as_array().map(Vec::len), Some(2));
}

#[test]
fn info_shows_who_pins_which_buffer() {
    let seg = Name::new("info-pins");
    let shm = dbshm::Options::new()
        .buffers(3)
        .create::<u8>(&seg.0, [16])
        .unwrap();
    shm.write(&Array::from_elem(16, 1u8)).unwrap();
    let out = dbshm(&["info", &seg.0, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json parses");
    assert_eq!(json["pins"], serde_json::json!([]), "{json}");
    let buffer = (0..3)
        .find(|&b| json["slots"][b]["frame"] == 1)
        .expect("a buffer holds frame 1");

    let pinned = shm.pin().unwrap();
    let out = dbshm(&["info", &seg.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for needle in [
        format!("pinners        1: record 0 holds [{buffer}]"),
        format!("buffer {buffer}       frame 1, stamp 2 (whole), pinned by 1"),
    ] {
        assert!(stdout.contains(&needle), "{needle:?} missing:\n{stdout}");
    }
    let out = dbshm(&["info", &seg.0, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json parses");
    assert_eq!(
        json["pins"],
        serde_json::json!([{ "record": 0, "buffers": [buffer], "owner_alive": true }])
    );
    assert_eq!(json["slots"][buffer]["pinned_by"], 1);
    drop(pinned);
    let json: serde_json::Value =
        serde_json::from_slice(&dbshm(&["info", &seg.0, "--json"]).stdout).unwrap();
    assert_eq!(json["slots"][buffer]["pinned_by"], 0, "{json}");
}

#[test]
fn rm_refuses_a_live_writer_and_removes_a_stale_segment() {
    let live = Name::new("live");
    let shm = DoubleBufferedSharedMemory::<u8>::create(&live.0, [8]).unwrap();
    shm.write(&Array::from_elem(8, 1u8)).unwrap(); // this process holds the writer role

    let out = dbshm(&["rm", &live.0]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "rm removed a segment with a live writer"
    );
    assert!(
        stderr.contains(&live.0) && stderr.contains("alive"),
        "{stderr}"
    );
    assert!(std::path::Path::new(&format!("/dev/shm/{}", live.0)).exists());
    // --stale leaves it too: its writer is alive.
    let out = dbshm(&["rm", "--stale", "--age", "0", &live.0]);
    assert!(out.status.success() && std::path::Path::new(&format!("/dev/shm/{}", live.0)).exists());

    let stale = Name::new("stale");
    drop(DoubleBufferedSharedMemory::<u8>::create(&stale.0, [8]).unwrap()); // no writer now
    let out = dbshm(&["rm", "--stale", "--age", "3600", &stale.0]);
    assert!(out.status.success());
    assert!(
        std::path::Path::new(&format!("/dev/shm/{}", stale.0)).exists(),
        "removed before its age"
    );
    let out = dbshm(&["rm", "--stale", "--age", "0", &stale.0]);
    let (stdout, _) = text(&out);
    assert!(
        out.status.success() && stdout.contains(&format!("removed {}", stale.0)),
        "{stdout}"
    );
    assert!(!std::path::Path::new(&format!("/dev/shm/{}", stale.0)).exists());

    let out = dbshm(&["rm", "--force", &live.0]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(!std::path::Path::new(&format!("/dev/shm/{}", live.0)).exists());
}

#[test]
fn watch_reports_rate_latency_and_a_summary_of_frames() {
    let seg = Name::new("watch");
    let shm = DoubleBufferedSharedMemory::<i16>::create(&seg.0, (10, 10)).unwrap();
    let name = seg.0.clone();
    let watcher =
        std::thread::spawn(move || dbshm(&["watch", &name, "--count", "20", "--duration", "20"]));
    std::thread::sleep(std::time::Duration::from_millis(300));
    for n in 0..200i16 {
        shm.write(&Array::from_shape_fn((10, 10), |(i, j)| {
            n + (i * 10 + j) as i16 - 50
        }))
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        if watcher.is_finished() {
            break;
        }
    }
    let out = watcher.join().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("i16 10x10"), "{stdout}");
    assert!(stdout.contains("20 frames in"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("frame"))
        .unwrap_or_else(|| panic!("{stdout}"));
    for needle in ["fps", "latency p50", "min", "max", "mean"] {
        assert!(line.contains(needle), "{needle:?} missing from {line:?}");
    }
}

#[test]
fn errors_are_one_line_and_a_failure_exit() {
    let missing = Name::new("missing");
    for args in [
        vec!["info", missing.0.as_str()],
        vec!["watch", missing.0.as_str()],
        vec!["rm", missing.0.as_str()],
    ] {
        let out = dbshm(&args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&missing.0) && stderr.contains("does not exist"),
            "{stderr}"
        );
    }
    let out = dbshm(&["info", "bad/name"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not contain '/'"));
}

#[test]
fn help_has_examples() {
    let out = dbshm(&["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let commands = [
        "demo", "list", "info", "rm", "watch", "snapshot", "record", "play",
    ];
    for cmd in commands.iter().chain(&["Examples:"]) {
        assert!(stdout.contains(cmd), "{cmd} missing from --help");
    }
    assert!(!stdout.contains("demo-writer"), "hidden commands are shown");
    for cmd in commands {
        let out = dbshm(&[cmd, "--help"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example"),
            "{cmd} --help has no example"
        );
    }
}

/// Runs `dbshm demo` (1080p, one Rust reader), does `to_demo` to it after
/// half a second, and returns its output.
fn demo_disturbed(to_demo: impl FnOnce(u32)) -> (Output, String) {
    let child = common::command()
        .args(["demo", "--duration", "3", "--readers", "1", "--no-c-reader"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(std::time::Duration::from_millis(700));
    to_demo(pid);
    let out = child.wait_with_output().unwrap();
    (out, format!("dbshm-demo-{pid}"))
}

#[test]
fn demo_fails_when_a_reader_dies() {
    let (out, segment) = demo_disturbed(|pid| {
        let reader = format!("demo-reader dbshm-demo-{pid}");
        let killed = Command::new("pkill")
            .args(["-9", "-f", &reader])
            .status()
            .unwrap();
        assert!(killed.success(), "no reader process to kill");
    });
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL: reader 1 (Rust) failed: exited with signal: 9"),
        "{stdout}"
    );
    assert!(!std::path::Path::new(&format!("/dev/shm/{segment}")).exists());
}

#[test]
fn demo_stopped_by_sigterm_stops_its_processes_and_removes_its_segment() {
    let (out, segment) = demo_disturbed(|pid| {
        // SAFETY: sends a signal to the demo this test started.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    });
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(
        !std::path::Path::new(&format!("/dev/shm/{segment}")).exists(),
        "{segment} left behind"
    );
    let left = Command::new("pgrep")
        .args(["-f", &format!("demo-(writer|reader) {segment}")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

// ------------------------------------------- processes watched as they run

// ------------------------------------------------------------ usage errors

#[test]
fn usage_errors_are_one_line_on_stderr_naming_the_help_and_exit_1() {
    for (args, help) in [
        (vec![], "dbshm --help"),
        (vec!["frob"], "dbshm --help"),
        (vec!["watch"], "dbshm watch --help"),
        (vec!["watch", "x", "--bogus"], "dbshm watch --help"),
        (vec!["demo", "--fps", "abc"], "dbshm demo --help"),
        (vec!["rm", "--age"], "dbshm rm --help"),
        (vec!["info", "a", "b"], "dbshm info --help"),
    ] {
        let out = dbshm(&args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}:\n{stderr}");
        assert!(
            stderr.starts_with("dbshm: ")
                && stderr.trim_end().ends_with(&format!("; try '{help}'")),
            "{args:?}: {stderr}"
        );
    }
    // A list of missing arguments stays on the one line.
    let (_, stderr) = text(&dbshm(&["info"]));
    assert!(stderr.contains("<NAME>"), "{stderr}");
}

#[test]
fn help_and_version_print_to_stdout_and_exit_0() {
    for args in [
        vec!["--help"],
        vec!["watch", "--help"],
        vec!["help", "watch"],
        vec!["--version"],
        vec!["-V"],
    ] {
        let out = dbshm(&args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
        assert!(!stdout.is_empty(), "{args:?}");
    }
    assert!(text(&dbshm(&["--version"])).0.starts_with("dbshm 0."));
}

// ------------------------------------------------- numbers on command lines

/// Runs dbshm with `args` and returns its exit code; with `stop`, a demo
/// that runs until stopped, stops it with SIGTERM after its first rows.
/// Fails on a panic anywhere (its own, or a demo child's shown in a row)
/// and on anything but a one-line error.
fn runs_without_panic(args: &[&str], stop: bool) -> Option<i32> {
    let mut run = Running::start(args);
    if stop {
        // The first rows come after a second; by then a writer that
        // panicked at its start is marked FAILED in them.
        if run
            .line(Duration::from_secs(20), |l| l.starts_with('['))
            .is_ok()
        {
            // SAFETY: sends a signal to the demo this test started.
            unsafe { libc::kill(run.pid() as i32, libc::SIGTERM) };
        }
    }
    let (status, stdout, stderr) = run.exit(Duration::from_secs(30)).unwrap();
    let all = format!("{args:?}: {status}\n{stdout}\n{stderr}");
    assert!(
        !all.contains("panicked") && !all.contains("FAILED"),
        "{all}"
    );
    assert_ne!(status.code(), Some(101), "{all}");
    assert!(stderr.lines().count() <= 1, "{all}");
    status.code()
}

#[test]
fn no_number_on_any_command_line_panics() {
    let seg = Name::new("numbers");
    let shm = DoubleBufferedSharedMemory::<u8>::create(&seg.0, [16]).unwrap();
    shm.write(&Array::from_elem(16, 1u8)).unwrap();
    let s = seg.0.as_str();
    let missing = Name::new("numbers-missing");
    let m = missing.0.as_str();
    let (ok, error) = (Some(0), Some(1));
    let mut cases: Vec<(Vec<&str>, Option<i32>)> = vec![
        // Spans longer than a clock can count are "no end".
        (vec!["watch", s, "--duration", "1e19", "--count", "0"], ok),
        (vec!["watch", s, "--duration", "1e300", "--count", "0"], ok),
        (vec!["watch", s, "--duration", "inf", "--count", "0"], ok),
        (vec!["watch", s, "--duration=-1"], error),
        (vec!["watch", s, "--duration=-inf"], error),
        (vec!["watch", s, "--duration", "NaN"], error),
        (
            vec![
                "watch",
                s,
                "--count",
                "18446744073709551615",
                "--duration",
                "0",
            ],
            ok,
        ),
        (vec!["watch", s, "--count", "18446744073709551616"], error),
        (vec!["watch", s, "--count=-1"], error),
        (vec!["watch", s, "--count", "inf"], error),
        // --stale limited to a name that does not exist: nothing is removed.
        (vec!["rm", "--stale", "--age", "1e19", m], ok),
        (vec!["rm", "--stale", "--age", "1e300", m], ok),
        (vec!["rm", "--stale", "--age", "inf", m], ok),
        (vec!["rm", "--stale", "--age=-1", m], error),
        (vec!["rm", "--stale", "--age", "NaN", m], error),
    ];
    // record: each run its own file (it must not exist).
    let files = Scratch::new("numbers");
    let file = |k: u32| files.file(&format!("{k}.npy"));
    let record = [
        (["--duration", "0"], ok),
        (["--duration", "NaN"], error),
        (["--duration", "-inf"], error),
        (["--frames", "0"], ok),
        (["--frames", "18446744073709551616"], error),
        (["--frames", "-1"], error),
    ];
    let recordings: Vec<String> = (0..record.len() as u32).map(file).collect();
    for ((more, expected), out) in record.iter().zip(&recordings) {
        let mut args = vec!["record", s, "-o", out];
        args.extend(more);
        cases.push((args, *expected));
    }
    // play: one frame, so that any period ends the run.
    let one = file(99);
    let mut writer = npyz::WriteOptions::<u8>::new()
        .default_dtype()
        .shape(&[1, 16])
        .writer(std::fs::File::create(&one).unwrap())
        .begin_nd()
        .unwrap();
    writer.extend([7u8; 16]).unwrap();
    writer.finish().unwrap();
    let played = Name::new("numbers-play");
    let p = played.0.as_str();
    for (more, expected) in [
        (&["--fps", "inf"][..], ok),
        (&["--fps", "1e300"], ok),
        (&["--fps", "1e-300"], ok),
        (&["--fps", "0"], error),
        (&["--fps", "NaN"], error),
        (&["--fps=-1"], error),
        (&["--fps", "1", "--buffers", "18446744073709551616"], error),
        (&["--fps", "1", "--mode", "7777"], error),
    ] {
        let mut args = vec!["play", one.as_str(), p];
        args.extend(more);
        cases.push((args, expected));
    }
    for (args, expected) in cases {
        assert_eq!(runs_without_panic(&args, false), expected, "{args:?}");
    }
}

/// The demo's numbers, apart: the demo starts its writer and readers as
/// processes, which the emulated aarch64 run cannot (RELIABILITY.md).
#[test]
fn no_number_on_a_demos_command_line_panics() {
    let demo = Name::new("numbers-demo");
    let d = demo.0.as_str();
    let (ok, error, stopped) = (Some(0), Some(1), Some(130));
    for (more, expected) in [
        // Runs until stopped.
        (&["--duration", "1e19"][..], stopped),
        (&["--duration", "inf"], stopped),
        // A period of 0 (as fast as it can), and one longer than the run.
        (&["--fps", "inf", "--duration", "0.5"], ok),
        (&["--fps", "1e300", "--duration", "0.5"], ok),
        (&["--fps", "1e-300", "--duration", "0.5"], ok),
        (&["--fps", "0"], error),
        (&["--fps=-1"], error),
        (&["--fps", "NaN"], error),
        (&["--duration", "0"], error),
        (&["--duration=-1"], error),
        (&["--duration", "NaN"], error),
        // More readers than the cap (64) would fork a process each: a
        // small excess, so that a demo without the cap stays harmless.
        (&["--readers", "65", "--duration", "0.1"], error),
        (&["--readers", "18446744073709551616"], error),
        (&["--readers=-1"], error),
        (&["--shape", "99999999999x99999999999x3"], error),
        (&["--shape", "18446744073709551616"], error),
    ] {
        let mut args = vec!["demo", "--name", d, "--shape", "16", "--no-c-reader"];
        args.extend(more);
        let stop = expected == stopped;
        assert_eq!(runs_without_panic(&args, stop), expected, "{args:?}");
    }
}

// ------------------------------------------------------------------ watch

/// A `dbshm watch` of `seg` (holding frames 1 to 3) that has shown its first line.
fn watching(seg: &Name) -> (Running, String) {
    let mut watch = Running::start(&["watch", &seg.0]);
    let first = watch
        .line(Duration::from_secs(20), |l| !l.starts_with("watching"))
        .unwrap();
    (watch, first)
}

fn segment_with_three_frames(seg: &Name) -> DoubleBufferedSharedMemory<i16> {
    let shm = DoubleBufferedSharedMemory::<i16>::create(&seg.0, (4, 4)).unwrap();
    for n in 1..=3 {
        shm.write(&Array::from_elem((4, 4), n)).unwrap();
    }
    shm
}

#[test]
fn watch_opens_with_the_latest_frame_of_a_segment_that_has_frames() {
    let seg = Name::new("watch-first");
    let _shm = segment_with_three_frames(&seg);
    let (_watch, first) = watching(&seg);
    let words: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(words[..2], ["frame", "3"], "{first}");
    assert!(first.contains("min 3.000 max 3.000 mean 3.000"), "{first}");
    let writer = format!("writer alive (pid {})", std::process::id());
    assert!(first.contains(&writer), "{first}");
}

#[test]
fn watch_says_when_the_writer_is_gone() {
    let seg = Name::new("watch-writer-gone");
    let shm = segment_with_three_frames(&seg);
    let (mut watch, _) = watching(&seg);
    drop(shm); // the writer role goes with the handle; the segment stays
    let gone = format!("writer (pid {}) gone", std::process::id());
    let line = watch.line(Duration::from_secs(20), |l| l.contains(&gone));
    let line = line.unwrap();
    assert!(
        line.starts_with("frame        3  no new frame for"),
        "{line}"
    );
}

#[test]
fn watch_ends_when_the_segment_is_removed() {
    let seg = Name::new("watch-removed");
    let _shm = segment_with_three_frames(&seg); // its writer alive throughout
    let (watch, _) = watching(&seg);
    dbshm::unlink(&seg.0).unwrap();
    let (status, stdout, stderr) = watch.exit(Duration::from_secs(20)).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(
        stderr.trim(),
        format!("dbshm: watch: {} was removed", seg.0),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("0 frames in"), "{stdout}");
}

#[test]
fn watch_ends_when_the_name_names_another_segment() {
    let seg = Name::new("watch-replaced");
    let _old = segment_with_three_frames(&seg); // its writer alive throughout
    let (watch, _) = watching(&seg);
    dbshm::unlink(&seg.0).unwrap();
    // Under the same name, a segment with a live writer and frames: only
    // the object itself tells it from the one watched.
    let _new = segment_with_three_frames(&seg);
    let (status, stdout, stderr) = watch.exit(Duration::from_secs(20)).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    // The watch may have looked in the microseconds between the two.
    assert!(
        stderr.contains("now names another segment") || stderr.contains("was removed"),
        "{stderr}"
    );
}

// ------------------------------------------------------------------- demo

#[test]
fn demo_keeps_its_duration_below_one_frame_per_second_and_every_reader_checks_a_frame() {
    let seg = Name::new("demo-slow");
    let _children = DemoChildren(&seg);
    // One frame every 100 s, for 1 s: one frame in all.
    let demo = Running::start(&[
        "demo",
        "--name",
        &seg.0,
        "--fps",
        "0.01",
        "--duration",
        "1",
        "--readers",
        "2",
        "--shape",
        "16",
        "--no-c-reader",
    ]);
    let (status, stdout, stderr) = demo
        .exit(Duration::from_secs(40))
        .expect("a 1 s demo ran for 40 s");
    assert!(status.success(), "{stdout}\n{stderr}");
    let summary = stdout.split("\nsummary\n").nth(1).unwrap();
    for row in ["writer", "reader 1 (Rust)", "reader 2 (Rust)"] {
        let frames = summary
            .lines()
            .find_map(|l| l.strip_prefix(row))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {row} row: {summary}"));
        assert_eq!(frames, "1", "{row}: {summary}");
    }
}

/// The processes whose command line holds `needle`, other than `except`.
fn processes_with(needle: &str, except: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != except)
        .filter(|pid| {
            // A zombie's command line is empty: it is gone.
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).any(|arg| arg == needle.as_bytes()))
        })
        .collect()
}

/// Kills, on drop, every process whose command line holds the demo's
/// segment name (unique to this test): a demo that fails must not leave its
/// children running.
struct DemoChildren<'a>(&'a Name);

impl Drop for DemoChildren<'_> {
    fn drop(&mut self) {
        for pid in processes_with(&self.0 .0, 0) {
            // SAFETY: a signal to a process of the demo this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

#[test]
fn demo_killed_with_sigkill_takes_its_processes_with_it() {
    let seg = Name::new("demo-sigkill");
    let _children = DemoChildren(&seg);
    // A writer asleep between frames (one every 20 s): a child that prints
    // to the dead demo's pipe dies of SIGPIPE anyway; one asleep does not.
    let mut demo = Running::start(&[
        "demo",
        "--name",
        &seg.0,
        "--fps",
        "0.05",
        "--duration",
        "60",
        "--readers",
        "2",
        "--shape",
        "16",
        "--no-c-reader",
    ]);
    let end = Instant::now() + Duration::from_secs(20);
    let children = loop {
        let found = processes_with(&seg.0, demo.pid());
        if found.len() >= 3 || Instant::now() >= end {
            break found;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        children.len(),
        3,
        "the writer and two readers: {children:?}"
    );
    demo.child.kill().unwrap(); // SIGKILL: no handler of the demo's runs
    demo.child.wait().unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let mut left = children.clone();
    while !left.is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        let alive = processes_with(&seg.0, 0);
        left.retain(|pid| alive.contains(pid));
    }
    assert!(
        left.is_empty(),
        "alive 10 s after the demo died: {left:?} of {children:?}"
    );
    // Nothing has the segment open any more: `rm --stale` takes it.
    let out = dbshm(&["rm", "--stale", "--age", "0", &seg.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("removed {}", seg.0)), "{stdout}");
}

/// The PNG at `path`: its colour type, bit depth and sample bytes.
fn decode_png(path: &str) -> (png::ColorType, png::BitDepth, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.color_type, info.bit_depth, buf)
}

#[test]
fn snapshots_decode_to_the_pixels_written_gray_rgb_rgba_and_16_bit() {
    let dir = Scratch::new("png");
    let cases: [(&[usize], png::ColorType); 4] = [
        (&[4, 5], png::ColorType::Grayscale),
        (&[4, 5, 1], png::ColorType::Grayscale),
        (&[4, 5, 3], png::ColorType::Rgb),
        (&[4, 5, 4], png::ColorType::Rgba),
    ];
    for (shape, color) in cases {
        let seg = Name::new("png8");
        let shm = DoubleBufferedSharedMemory::<u8>::create(&seg.0, shape).unwrap();
        let frame: Vec<u8> = (0..shm.len()).map(|i| (i * 7 + 1) as u8).collect();
        shm.write_slice(&frame).unwrap();
        let file = dir.file("f.png");
        let out = dbshm(&["snapshot", &seg.0, "-o", &file]);
        assert!(out.status.success(), "{shape:?}: {:?}", text(&out));
        assert_eq!(
            decode_png(&file),
            (color, png::BitDepth::Eight, frame.clone()),
            "{shape:?}"
        );
        if shape.len() == 3 && shape[2] >= 3 {
            let out = dbshm(&["snapshot", &seg.0, "--bgr", "-o", &file]);
            assert!(out.status.success(), "{:?}", text(&out));
            let mut swapped = frame.clone();
            for pixel in swapped.chunks_mut(shape[2]) {
                pixel.swap(0, 2);
            }
            assert_eq!(decode_png(&file).2, swapped, "--bgr {shape:?}");
        }
    }
    // 16-bit, gray and RGB: big-endian samples.
    for shape in [&[3usize, 2][..], &[3, 2, 3]] {
        let seg = Name::new("png16");
        let shm = DoubleBufferedSharedMemory::<u16>::create(&seg.0, shape).unwrap();
        let frame: Vec<u16> = (0..shm.len()).map(|i| (i as u16) * 3001 + 7).collect();
        shm.write_slice(&frame).unwrap();
        let file = dir.file("g.png");
        let out = dbshm(&["snapshot", &seg.0, "-o", &file]);
        assert!(out.status.success(), "{:?}", text(&out));
        let (_, depth, bytes) = decode_png(&file);
        let want: Vec<u8> = frame.iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!((depth, bytes), (png::BitDepth::Sixteen, want), "{shape:?}");
    }
}

#[test]
fn normalize_maps_any_frame_to_8_bit_gray_and_says_the_range() {
    let dir = Scratch::new("norm");
    let seg = Name::new("norm");
    let shm = DoubleBufferedSharedMemory::<f32>::create(&seg.0, (2, 3)).unwrap();
    shm.write_slice(&[-1.0, 0.0, 1.0, f32::NAN, 0.5, -0.5])
        .unwrap();
    let file = dir.file("heat.png");
    let out = dbshm(&["snapshot", &seg.0, "--normalize", "-o", &file]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("-1 to 1 mapped to 0 to 255"), "{stdout}");
    let (color, depth, bytes) = decode_png(&file);
    assert_eq!(
        (color, depth),
        (png::ColorType::Grayscale, png::BitDepth::Eight)
    );
    // NaN to 0; the rest linearly, rounded.
    assert_eq!(bytes, [0, 128, 255, 0, 191, 64]);
}

fn npy_round_trip<T: dbshm::Element + npyz::Deserialize + num_traits::NumCast + PartialEq>(
    dir: &Scratch,
) {
    let seg = Name::new("npy");
    let shm = DoubleBufferedSharedMemory::<T>::create(&seg.0, (2, 3, 4)).unwrap();
    let frame: Vec<T> = (0..24).map(|i| T::from(i * 5 % 101).unwrap()).collect();
    shm.write_slice(&frame).unwrap();
    let file = dir.file(&format!("{}.npy", T::DTYPE));
    let out = dbshm(&["snapshot", &seg.0, "-o", &file]);
    assert!(out.status.success(), "{:?}", text(&out));
    let npy = npyz::NpyFile::new(std::fs::File::open(&file).unwrap()).unwrap();
    assert_eq!(npy.shape(), &[2, 3, 4], "{}", T::DTYPE);
    let data: Vec<T> = npy.into_vec().unwrap();
    assert!(data == frame, "{}", T::DTYPE);
}

#[test]
fn npy_snapshots_read_back_exactly_for_every_element_type() {
    let dir = Scratch::new("npy");
    for dtype in dbshm::Dtype::ALL {
        dbshm::with_element_type!(dtype, npy_round_trip(&dir));
    }
}

#[test]
fn a_frame_no_png_can_hold_is_refused_naming_its_shape_and_type() {
    let dir = Scratch::new("nopng");
    let f32_rgb = Name::new("nopng-f32");
    DoubleBufferedSharedMemory::<f32>::create(&f32_rgb.0, (2, 3, 3)).unwrap();
    let five = Name::new("nopng-5");
    DoubleBufferedSharedMemory::<u8>::create(&five.0, (2, 3, 5)).unwrap();
    for (seg, what) in [
        (&f32_rgb, "2x3x3 frame of f32"),
        (&five, "2x3x5 frame of u8"),
    ] {
        let file = dir.file("x.png");
        let out = dbshm(&["snapshot", &seg.0, "-o", &file]);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{what}");
        assert!(
            stderr.contains(what) && stderr.contains(".npy") && stderr.contains(&seg.0),
            "{stderr}"
        );
        assert!(
            !std::path::Path::new(&file).exists(),
            "{what}: a file was left"
        );
    }
    let out = dbshm(&["snapshot", &f32_rgb.0, "-o", &dir.file("x.bmp")]);
    assert!(
        text(&out).1.contains("must end in .png or .npy"),
        "{:?}",
        text(&out)
    );
}
