//! The `dbshm` command among hostile neighbours: an object shrinking under
//! `list`, `info` and `rm --stale`; `rm` against segments live processes
//! hold open; names with control characters in `list`.
//!
//! Processes that hold a segment open are this test binary again, running
//! only `holder_process` (which does nothing in an ordinary run).

mod common;
#[path = "../../tests/common/foreign.rs"]
mod foreign;

use common::{dbshm, text};
use foreign::Foreign;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use dbshm::DoubleBufferedSharedMemory;

/// Set in the environment of `holder_process` when it is a holder: "ROLE NAME".
const HOLDER: &str = "DBSHM_CLI_HOSTILE_HOLDER";

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "dbshm-test-cli-hostile-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A segment name of this test run, unlinked on drop (also when a test fails).
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        Name(unique(tag))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = dbshm::unlink(&self.0);
    }
}

fn shm_file(name: &str) -> PathBuf {
    Path::new("/dev/shm").join(name)
}

fn exists(name: &str) -> bool {
    std::fs::symlink_metadata(shm_file(name)).is_ok()
}

/// The bytes of a real segment (written once), which is then removed.
fn segment_bytes(tag: &str, len: usize) -> Vec<u8> {
    let model = Name::new(tag);
    let shm = DoubleBufferedSharedMemory::<u8>::create(&model.0, [len]).unwrap();
    shm.write_slice(&vec![9u8; len]).unwrap();
    std::fs::read(shm_file(&model.0)).unwrap()
}

// ------------------------------------------------------------ holders

/// A process that holds a segment open until dropped: created by it
/// ("create") or only opened read-only ("open_readonly"), never written.
struct Holder(Child);

impl Holder {
    fn start(role: &str, name: &str) -> Holder {
        let mut child = dbshm_testkit::child::program(std::env::current_exe().unwrap())
            .args([
                "holder_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLDER, format!("{role} {name}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn holder");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let holder = Holder(child);
        // libtest may print the test's name on the same line.
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.contains("holding") => return holder,
                Ok(_) => {}
                Err(e) => panic!("holder {role} {name} did not start: {e:?}"),
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn holder_process() {
    // Only a holder started by `Holder::start` does anything.
    let Ok(job) = std::env::var(HOLDER) else {
        return;
    };
    let (role, name) = job.split_once(' ').unwrap();
    let _shm = match role {
        "create" => DoubleBufferedSharedMemory::<u8>::create(name, [64]),
        "open_readonly" => DoubleBufferedSharedMemory::<u8>::open_readonly(name),
        _ => panic!("unknown holder role {role}"),
    }
    .unwrap();
    println!("holding");
    // Until the parent closes stdin or dies.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

// -------------------------------------------------------------- tests

/// Sets the flag when dropped, also when a test panics.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn observers_survive_an_object_shrinking_under_them() {
    // A valid header over a body that comes and goes: another process
    // truncating a copy of a segment to 0, 4096 and its full size in turn.
    let bytes = segment_bytes("shrink-model", 256 * 1024);
    let victim = Foreign::create(unique("shrinking"), bytes.len() as u64, &[(0, &bytes)]);
    let (stop, cycles) = (AtomicBool::new(false), AtomicU64::new(0));
    let runs: Vec<(Vec<&str>, Output)> = std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&victim.path)
                .unwrap();
            let full = bytes.len() as u64;
            while !stop.load(Ordering::Relaxed) {
                file.set_len(0).unwrap();
                file.set_len(full).unwrap();
                file.write_all_at(&bytes[..4096], 0).unwrap();
                file.set_len(4096).unwrap();
                file.set_len(full).unwrap();
                cycles.fetch_add(1, Ordering::Relaxed);
            }
        });
        let _stop = SetOnDrop(&stop);
        (0..300)
            .map(|i| {
                let args = match i % 3 {
                    0 => vec!["list"],
                    1 => vec!["info", victim.name.as_str()],
                    // Only this object is considered, and --age keeps it.
                    _ => vec!["rm", "--stale", "--age", "3600", victim.name.as_str()],
                };
                let out = dbshm(&args);
                (args, out)
            })
            .collect()
    });
    let mut bad = Vec::new();
    for (args, out) in &runs {
        let (_, stderr) = text(out);
        let how = match (out.status.signal(), out.status.code()) {
            (Some(signal), _) => Some(format!("died of signal {signal}")),
            (_, Some(0)) => None,
            // `info` on what is at that instant not a segment: a one-line
            // error naming it is fine.
            (_, Some(1))
                if args[0] == "info"
                    && stderr.contains(&victim.name)
                    && stderr.trim().lines().count() == 1 =>
            {
                None
            }
            (_, code) => Some(format!("exited with {code:?}: {stderr}")),
        };
        if let Some(how) = how {
            bad.push(format!("dbshm {}: {how}", args.join(" ")));
        }
    }
    let cycles = cycles.load(Ordering::Relaxed);
    eprintln!("shrinking: {} runs, {cycles} shrink cycles", runs.len());
    assert!(cycles >= 300, "the object shrank only {cycles} times");
    assert!(
        bad.is_empty(),
        "{} of {} runs failed while an object shrank under them; the first: {:#?}",
        bad.len(),
        runs.len(),
        &bad[..bad.len().min(6)]
    );
    assert_eq!(
        std::fs::symlink_metadata(&victim.path)
            .map(|m| m.ino())
            .ok(),
        Some(victim.ino),
        "the object was removed or replaced"
    );
}

/// `dbshm rm NAME` refused: exit 1, a message naming it, the segment kept.
fn assert_rm_refused(name: &str, held_by: &str) {
    let out = dbshm(&["rm", name]);
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.code() == Some(1) && exists(name),
        "rm removed a segment {held_by} holds open (exit {:?}): {stdout}{stderr}",
        out.status.code()
    );
    assert!(stderr.contains(name), "the refusal names it: {stderr}");
}

#[test]
fn rm_refuses_a_never_written_segment_its_creator_holds_open() {
    let seg = Name::new("rm-creator");
    let _holder = Holder::start("create", &seg.0);
    assert_rm_refused(&seg.0, "its live creator (never written)");
}

#[test]
fn rm_refuses_a_segment_a_reader_holds_open() {
    let seg = Name::new("rm-reader");
    drop(DoubleBufferedSharedMemory::<u8>::create(&seg.0, [64]).unwrap());
    let _holder = Holder::start("open_readonly", &seg.0);
    assert_rm_refused(&seg.0, "a live read-only reader");
}

#[test]
fn rm_force_removes_a_segment_a_live_process_holds() {
    let seg = Name::new("rm-force");
    let _holder = Holder::start("create", &seg.0);
    let out = dbshm(&["rm", "--force", &seg.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(!exists(&seg.0), "rm --force left it: {stdout}");
}

#[test]
fn rm_stale_spares_segments_live_processes_hold_and_removes_them_once_they_die() {
    let created = Name::new("stale-creator");
    let read = Name::new("stale-reader");
    let mut creator = Holder::start("create", &created.0);
    drop(DoubleBufferedSharedMemory::<u8>::create(&read.0, [64]).unwrap());
    let mut reader = Holder::start("open_readonly", &read.0);
    // Names given: nothing else on this machine is considered.
    let out = dbshm(&["rm", "--stale", "--age", "0", &created.0, &read.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        exists(&created.0),
        "rm --stale removed a segment its live creator holds: {stdout}"
    );
    assert!(
        exists(&read.0),
        "rm --stale removed a segment a live reader holds: {stdout}"
    );
    creator.kill();
    reader.kill();
    let out = dbshm(&["rm", "--stale", "--age", "0", &created.0, &read.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    for name in [&created.0, &read.0] {
        assert!(
            stdout.contains(&format!("removed {name}")) && !exists(name),
            "{name} is stale now its holders died: {stdout}"
        );
    }
}

#[test]
fn rm_stale_does_not_claim_a_last_frame_for_a_never_written_segment() {
    let seg = Name::new("stale-unwritten");
    drop(DoubleBufferedSharedMemory::<u8>::create(&seg.0, [64]).unwrap());
    let out = dbshm(&["rm", "--stale", "--age", "0", &seg.0]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains(&format!("removed {}", seg.0)))
        .unwrap_or_else(|| panic!("not removed: {stdout}"));
    assert!(
        !line.contains("last frame"),
        "a segment never written has no last frame: {line:?}"
    );
}

/// Where `bytes` holds a control byte other than a line end, or DEL.
fn raw_control(bytes: &[u8]) -> Option<String> {
    let i = bytes
        .iter()
        .position(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)?;
    let context = &bytes[i.saturating_sub(40)..(i + 20).min(bytes.len())];
    Some(format!(
        "raw byte {:#04x} at {i}, in {:?}",
        bytes[i],
        String::from_utf8_lossy(context)
    ))
}

#[test]
fn list_escapes_control_characters_in_names() {
    // The library cannot make such a name, but a hostile user can: a copy of
    // a real segment under a name that moves the cursor, colours the
    // terminal and breaks the line.
    let bytes = segment_bytes("control-model", 16);
    let prefix = format!("{}-", unique("control"));
    let weird = Foreign::create(
        format!("{prefix}\x1b[31mred\nline\tend\x7f"),
        bytes.len() as u64,
        &[(0, &bytes)],
    );
    for args in [&["list"][..], &["list", "--json"][..]] {
        let out = dbshm(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "dbshm {args:?}: {stderr}");
        for (stream, raw) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if let Some(problem) = raw_control(raw) {
                panic!("dbshm {args:?} printed a control character on {stream}: {problem}");
            }
        }
        if args.len() == 1 {
            let row = stdout
                .lines()
                .find(|l| l.contains(&prefix))
                .unwrap_or_else(|| panic!("{:?} not listed:\n{stdout}", weird.name));
            assert!(
                (row.contains("\\x1b") || row.contains("\\u{1b}"))
                    && row.contains("red")
                    && row.contains("line")
                    && row.contains("end"),
                "the row should show the whole name, escaped, on one line: {row:?}"
            );
        } else {
            let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
            assert!(
                json.as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["name"].as_str().is_some_and(|n| n.starts_with(&prefix))),
                "{:?} not in --json:\n{stdout}",
                weird.name
            );
        }
    }
}

#[test]
fn rm_stale_removes_what_a_dead_creator_left() {
    // A creator killed after making its lock file, and one killed while
    // building its segment: their files have private names, no segment
    // names them and no creator holds them.
    let id = |n: u8| format!("{n:02x}{:030x}", std::process::id());
    let files = [
        format!(".dbshm-lock-{}", id(0xc1)),
        format!(".dbshm-lock-{}", id(0xd2)),
        format!(".dbshm-new-{}", id(0xe3)),
    ];
    for file in &files {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(Path::new("/dev/shm").join(file))
            .unwrap();
    }
    // The one being built has its header: magic, and its lock id.
    let mut header = vec![0u8; 256];
    header[..8].copy_from_slice(&dbshm::layout::MAGIC.to_ne_bytes());
    for i in 0..16 {
        header[dbshm::layout::offset::LOCK_ID + i] =
            u8::from_str_radix(&id(0xd2)[2 * i..2 * i + 2], 16).unwrap();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(Path::new("/dev/shm").join(&files[2]))
        .unwrap()
        .write_all_at(&header, 0)
        .unwrap();
    // The age spares every segment: only dbshm's own files go.
    let out = dbshm(&["rm", "--stale", "--age", "1e9"]);
    let (stdout, stderr) = text(&out);
    for file in &files {
        let gone = !Path::new("/dev/shm").join(file).exists();
        if !gone {
            let _ = std::fs::remove_file(Path::new("/dev/shm").join(file));
        }
        assert!(gone, "{file} is still there: {stdout}{stderr}");
        assert!(stdout.contains(&format!("removed {file}")), "{stdout}");
    }
    assert!(out.status.success(), "{stderr}");
}
