//! Segments in a directory other than /dev/shm (`Options::dir`,
//! `DBSHM_DIR`): shared between processes through the environment
//! variable, frames whole under a writer flat out and after a writer is
//! killed, listed, inspected and removed there; and every directory that
//! /dev/shm's rules would refuse refused, naming the segment and the
//! directory. This binary re-runs itself as each child it needs (see
//! tests/multiprocess.rs).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::frames::{read_frames, write_frames};
use common::{check, check_tally, emit, json, root_or_skip, Failed, Proc};
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Options};

type Shm = DoubleBufferedSharedMemory<u8>;

fn main() {
    let trials = common::trials![
        a_segment_in_a_chosen_directory_is_shared_through_dbshm_dir,
        frames_stay_whole_in_a_chosen_directory_and_survive_a_killed_writer,
        a_directory_others_may_write_is_refused_unless_sticky,
        a_link_a_file_or_nothing_is_refused_as_a_directory,
        a_directory_of_another_user_is_refused,
        big_frames_are_on_huge_pages_in_a_huge_page_tmpfs,
    ];
    let roles = common::roles![read_one, write_pattern, read_pattern];
    common::run_tests_or_child(&roles, trials);
}

/// A directory of this test alone (mode 0700), removed with what is in it
/// when dropped, also when the test fails.
struct TestDir(PathBuf);

impl TestDir {
    fn new(tag: &str) -> TestDir {
        let path =
            std::env::temp_dir().join(format!("dbshm-test-dir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create the test directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        TestDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn name(tag: &str) -> String {
    format!("dbshm-test-dirs-{tag}-{}", std::process::id())
}

/// Child `read_one NAME`: opens NAME read-only where `DBSHM_DIR` says and
/// reports its latest frame's number and first element.
fn read_one(args: &[String]) {
    let r = Shm::open_readonly(&args[0]).unwrap();
    let (frame, info) = r.read_with_info().unwrap();
    emit(&json!({ "seq": info.seq, "first": frame.as_slice().unwrap()[0] }));
}

/// Child `write_pattern NAME MS`: verifiable frames for MS milliseconds.
fn write_pattern(args: &[String]) {
    write_frames::<u8>(&args[0], args[1].parse().unwrap());
}

/// Child `read_pattern NAME MS`: copies and verifies frames for MS milliseconds.
fn read_pattern(args: &[String]) {
    read_frames::<u8>(&args[0], args[1].parse().unwrap());
}

fn a_segment_in_a_chosen_directory_is_shared_through_dbshm_dir() -> Result<(), Failed> {
    let dir = TestDir::new("shared");
    let name = name("shared");
    let w = Options::new().dir(dir.path()).create::<u8>(&name, [64])?;
    w.write_slice(&[42; 64])?;
    let report = Proc::spawn_in(dir.path(), &["read_one", &name]).report()?;
    check(
        report.count("seq") == 1 && report.count("first") == 42,
        || format!("a reader through DBSHM_DIR: {report}"),
    )?;
    // Not in /dev/shm, and the lock file is beside the segment.
    check(
        matches!(
            dbshm::inspect_in(Path::new("/dev/shm"), &name),
            Err(DbShmError::NotFound { .. })
        ),
        || "the segment is also in /dev/shm".to_string(),
    )?;
    let info = dbshm::inspect_in(dir.path(), &name)?;
    let listed = dbshm::list_in(dir.path())?;
    check(
        info.dir == dir.path() && listed.len() == 1 && listed[0].name == name,
        || {
            format!(
                "inspect_in says {:?}, list_in found {}",
                info.dir,
                listed.len()
            )
        },
    )?;
    check(
        dir.entries() == [info.lock_file.clone(), name.clone()],
        || format!("the directory holds {:?}", dir.entries()),
    )?;
    Options::new().dir(dir.path()).unlink(&name)?;
    check(dir.entries().is_empty(), || {
        format!("unlink left {:?}", dir.entries())
    })
}

fn frames_stay_whole_in_a_chosen_directory_and_survive_a_killed_writer() -> Result<(), Failed> {
    let dir = TestDir::new("frames");
    frames_stay_whole_and_survive_a_killed_writer(dir.path(), &name("frames"))
}

/// A 1080p writer process flat out in `dir`, two verifying readers, the
/// writer killed with SIGKILL and a successor: 0 torn, nothing backwards.
fn frames_stay_whole_and_survive_a_killed_writer(dir: &Path, name: &str) -> Result<(), Failed> {
    let owner = Options::new()
        .dir(dir)
        .create::<u8>(name, [1080, 1920, 3])?;
    drop(owner);
    let mut writer = Proc::spawn_in(dir, &["write_pattern", name, "0"]);
    writer.expect("started")?;
    let readers: Vec<Proc> = (0..2)
        .map(|_| Proc::spawn_in(dir, &["read_pattern", name, "1500"]))
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    writer.kill(); // SIGKILL, at whatever point of a frame it is
    let mut successor = Proc::spawn_in(dir, &["write_pattern", name, "600"]);
    successor.expect("started")?;
    for reader in readers {
        let report = reader.report()?;
        check_tally(&report, 2, &format!("a reader in {dir:?}"))?;
    }
    let written = successor.report()?;
    check(written.count("written") > 0, || {
        format!("the successor wrote nothing: {written}")
    })?;
    Options::new().dir(dir).unlink(name)?;
    Ok(())
}

/// The `BadDirectory` error, if `result` is one, with its message.
fn refusal<T>(result: dbshm::Result<T>) -> Option<String> {
    match result {
        Err(e @ DbShmError::BadDirectory { .. }) => Some(e.to_string()),
        _ => None,
    }
}

fn a_directory_others_may_write_is_refused_unless_sticky() -> Result<(), Failed> {
    let dir = TestDir::new("open");
    let name = name("open");
    for mode in [0o777, 0o770, 0o702] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode))?;
        let message = refusal(Options::new().dir(dir.path()).create::<u8>(&name, [8]));
        let message = message.ok_or_else(|| format!("mode {mode:04o}: created"))?;
        check(
            message.contains(&name)
                && message.contains(&dir.path().display().to_string())
                && message.contains("not sticky"),
            || format!("mode {mode:04o}: {message}"),
        )?;
        check(dir.entries().is_empty(), || {
            format!("a refused create left {:?}", dir.entries())
        })?;
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))?;
    let shm = Options::new().dir(dir.path()).create::<u8>(&name, [8])?;
    // Refused for every use, not only create, once the mode changes.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
    check(
        refusal(Options::new().dir(dir.path()).open::<u8>(&name)).is_some(),
        || "an open in a world-writable directory was not refused".to_string(),
    )?;
    check(refusal(dbshm::list_in(dir.path())).is_some(), || {
        "list_in a world-writable directory was not refused".to_string()
    })?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    drop(shm);
    Options::new().dir(dir.path()).unlink(&name)?;
    Ok(())
}

fn a_link_a_file_or_nothing_is_refused_as_a_directory() -> Result<(), Failed> {
    let dir = TestDir::new("links");
    let name = name("links");
    let real = dir.path().join("real");
    std::fs::create_dir(&real)?;
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link)?;
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a directory")?;
    for (path, says) in [
        (link, "symbolic link"),
        (file, "not a directory"),
        (dir.path().join("missing"), "does not exist"),
    ] {
        let message = refusal(Options::new().dir(&path).create::<u8>(&name, [8]));
        let message = message.ok_or_else(|| format!("{path:?}: created"))?;
        check(message.contains(says), || format!("{path:?}: {message}"))?;
    }
    check(std::fs::read_dir(&real)?.next().is_none(), || {
        "a segment was made through the link".to_string()
    })
}

fn a_directory_of_another_user_is_refused() -> Result<(), Failed> {
    if !root_or_skip("a_directory_of_another_user_is_refused") {
        return Ok(());
    }
    let dir = TestDir::new("owner");
    let name = name("owner");
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs)?;
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534))?;
    let message = refusal(Options::new().dir(&theirs).create::<u8>(&name, [8]));
    let message = message.ok_or("root created a segment in nobody's directory")?;
    check(message.contains("uid 65534"), || message.clone())
}

/// A tmpfs mounted with `huge=always` on a test directory, unmounted (and
/// the directory removed) when dropped.
struct HugeMount(TestDir);

impl HugeMount {
    /// `None`, saying why, where this process may not mount one.
    fn new(tag: &str) -> Option<HugeMount> {
        let dir = TestDir::new(tag);
        let mounted = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "huge=always,size=256m,mode=0700",
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(HugeMount(dir)),
            Ok(out) => {
                let why = String::from_utf8_lossy(&out.stderr);
                println!(
                    "skipped: mount -t tmpfs -o huge=always failed: {}",
                    why.trim()
                );
                None
            }
            Err(e) => {
                println!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for HugeMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// Kilobytes of `field` (`ShmemPmdMapped`, `Rss`) in this process's
/// mapping of `path`, from /proc/self/smaps.
fn smaps_kb(path: &Path, field: &str) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let (mut ours, mut kb) = (false, 0);
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        // A mapping's first line: "start-end perms offset dev inode path".
        if first.contains('-') && first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            ours = line.ends_with(&*path.to_string_lossy());
        } else if ours && first == format!("{field}:") {
            let n = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok());
            kb += n.unwrap_or(0);
        }
    }
    kb
}

fn big_frames_are_on_huge_pages_in_a_huge_page_tmpfs() -> Result<(), Failed> {
    if !root_or_skip("big_frames_are_on_huge_pages_in_a_huge_page_tmpfs") {
        return Ok(());
    }
    let Some(mount) = HugeMount::new("huge") else {
        return Ok(());
    };
    let dir = mount.0.path();
    let sysfs = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";
    let huge: usize = std::fs::read_to_string(sysfs)?.trim().parse()?;
    // A 1080p frame: buffers on huge-page boundaries, backed by huge pages.
    let big = name("huge-big");
    let shm = Options::new()
        .dir(dir)
        .create::<u8>(&big, [1080, 1920, 3])?;
    let offsets = dbshm::inspect_in(dir, &big)?.buffer_offsets;
    check(offsets.iter().all(|o| o % huge == 0), || {
        format!("buffer offsets {offsets:?} are not multiples of {huge}")
    })?;
    for i in 0..3u8 {
        shm.write_slice(&vec![i; shm.len()])?;
    }
    let (on_huge, rss) = (
        smaps_kb(&dir.join(&big), "ShmemPmdMapped"),
        smaps_kb(&dir.join(&big), "Rss"),
    );
    println!("1080p segment on huge=always: {on_huge} kB of {rss} kB mapped on huge pages");
    // Two buffers written, three whole huge pages each at least.
    check(on_huge >= 2 * 3 * (huge as u64 / 1024), || {
        format!("only {on_huge} kB of {rss} kB on huge pages")
    })?;
    // A 30 KB frame keeps the small layout (the mount may still give the
    // file huge pages: on `huge=always` every file takes them).
    let small = name("huge-small");
    let little = Options::new()
        .dir(dir)
        .create::<u8>(&small, [100, 100, 3])?;
    let offsets = dbshm::inspect_in(dir, &small)?.buffer_offsets;
    check(offsets[0] == dbshm::layout::HEADER_SIZE, || {
        format!("a 30 KB frame's buffers at {offsets:?}")
    })?;
    drop((shm, little));
    for n in [&big, &small] {
        Options::new().dir(dir).unlink(n)?;
    }
    // Across processes there, and a killed writer.
    frames_stay_whole_and_survive_a_killed_writer(dir, &name("huge-frames"))
}
