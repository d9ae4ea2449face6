//! Hostile neighbours: objects dbshm did not make under a segment's name,
//! symlinks and FIFOs raced into place, users who may only read, forked
//! children, control characters in names, a loaded machine. Each test pins
//! down what another process or user can do to a name and must not get.
//!
//! Like `multiprocess.rs`, this binary re-runs itself as each child process
//! (with `DBSHM_TEST_CHILD` set, the first argument names the role) and the
//! children report JSON lines on stdout; each role is a function beside the
//! test that spawns it, listed in `main`. Any child that could hang is
//! watched: one whose progress stands still is killed and reported.

mod common;
#[path = "common/foreign.rs"]
mod foreign;

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{check, emit, json, root_or_skip, Failed, Report, TestSegment};
use dbshm::ndarray::Array;
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Options};
use foreign::Foreign;

type Shm<T> = DoubleBufferedSharedMemory<T>;

/// The user (and group) the tests that need a second one become.
const OTHER: u32 = 4242;

fn main() {
    let trials = common::trials![
        objects_dbshm_did_not_make_are_incompatible_and_left_untouched,
        open_never_follows_a_symlink_nor_hangs_on_a_fifo_raced_under_the_name,
        a_forked_child_does_not_keep_a_dead_writers_role,
        a_read_only_user_holding_shared_flocks_blocks_no_writer,
        a_read_only_user_holding_exclusive_flocks_blocks_no_writer,
        unlink_on_drop_removes_only_the_object_the_handle_opened,
        an_explicit_mode_refuses_an_existing_segment_more_open_than_asked,
        names_with_control_characters_are_invalid_everywhere,
        a_write_from_another_thread_during_write_with_is_writer_busy_at_once,
        a_mode_without_the_owners_read_and_write_is_refused_or_works,
        the_writer_role_does_not_need_proc,
        an_observer_never_costs_a_writer_its_first_write_on_busy_cores,
        a_stopped_observer_never_costs_a_writer_its_first_write,
        a_header_pointed_at_another_segments_lock_file_gains_nothing,
        a_lock_file_of_another_group_is_refused,
        leftovers_are_removed_and_nothing_live_is,
        a_cleaner_racing_creators_never_breaks_a_segment,
        a_squatter_on_the_names_a_creator_will_use_stops_no_creation,
    ];
    let roles = common::roles![
        racer,
        opener,
        race_observer,
        observe,
        spin,
        fork_then_sleep,
        write_once,
        write_and_hold,
        lock_all,
        create_as_user,
        thread_busy,
        mode_as_user,
        no_proc,
        patch_lock_id,
        squat,
        clean_loop,
    ];
    common::run_tests_or_child(&roles, trials);
}

// ------------------------------------------------------------- helpers

fn shm_file(name: &str) -> PathBuf {
    Path::new("/dev/shm").join(name)
}

/// A name no other test, run or process uses (for objects made by hand).
fn unique(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("dbshm-test-hostile-{tag}-{}-{n}", std::process::id())
}

/// Becomes `uid` with `gid` as its only group (a child's first step).
fn become_user(uid: u32, gid: u32) {
    // SAFETY: plain system calls in a single-threaded child; groups, gid,
    // then uid, so that root is dropped last.
    unsafe {
        assert_eq!(libc::setgroups(1, &gid), 0, "setgroups");
        assert_eq!(libc::setgid(gid), 0, "setgid");
        assert_eq!(libc::setuid(uid), 0, "setuid");
    }
}

/// What a file is: inode, size and bytes.
struct Snapshot {
    ino: u64,
    size: u64,
    bytes: Vec<u8>,
    mtime: std::time::SystemTime,
}

fn snapshot(path: &Path) -> std::io::Result<Snapshot> {
    let meta = std::fs::symlink_metadata(path)?;
    Ok(Snapshot {
        ino: meta.ino(),
        size: meta.size(),
        bytes: std::fs::read(path)?,
        mtime: meta.modified()?,
    })
}

/// How the file at `path` differs from `before`, if it does.
fn changed(before: &Snapshot, path: &Path) -> Option<String> {
    let now = match snapshot(path) {
        Ok(now) => now,
        Err(e) => return Some(format!("it is gone ({e})")),
    };
    if now.ino != before.ino {
        return Some(format!("its inode changed, {} -> {}", before.ino, now.ino));
    }
    if now.size != before.size {
        return Some(format!("its size changed, {} -> {}", before.size, now.size));
    }
    if let Some(i) = (0..now.bytes.len()).find(|&i| now.bytes[i] != before.bytes[i]) {
        return Some(format!("its bytes changed, first at offset {i}"));
    }
    if now.mtime != before.mtime {
        return Some(format!(
            "its mtime changed, {:?} -> {:?}",
            before.mtime, now.mtime
        ));
    }
    None
}

/// A child process of this binary. A thread collects its stdout lines with
/// the instant each arrived, so that every wait on it is bounded; killed and
/// reaped when dropped (also when a test fails).
struct Watched {
    role: String,
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<(Instant, String)>,
    seen: Vec<String>,
    last_progress: Option<String>,
}

impl Watched {
    fn spawn(args: &[&str]) -> Watched {
        let mut child = dbshm_testkit::child::command(args[0])
            .args(&args[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Watched {
            role: args.join(" "),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            last_progress: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn describe(&self) -> String {
        format!(
            "child `{}` (pid {}) printed {:?}, last progress {:?}",
            self.role,
            self.pid(),
            self.seen,
            self.last_progress
        )
    }

    /// Waits up to `timeout` for a report line with `key`; returns it.
    fn expect(&mut self, key: &str, timeout: Duration) -> Result<Report, Failed> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((_, line)) => {
                    if progress(&line).is_some() {
                        self.last_progress = Some(line);
                        continue;
                    }
                    self.seen.push(line.clone());
                    if let Some(report) = Report::line(&line).filter(|r| r.has(key)) {
                        return Ok(report);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no {key:?} report within {timeout:?} (hung?): {}",
                        self.describe()
                    )
                    .into())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(
                        format!("exited before reporting {key:?}: {}", self.describe()).into(),
                    )
                }
            }
        }
    }

    /// Tells a child that runs until its stdin closes to stop.
    fn stop(&mut self) {
        self.stdin.take();
    }

    /// Waits for a clean exit and returns its report lines, merged. Kills it
    /// and fails if the count of its `progress` lines stands still for
    /// `stall` (a call in its loop hangs), or it runs past `limit`.
    fn finish(mut self, stall: Duration, limit: Duration) -> Result<Report, Failed> {
        let start = Instant::now();
        let mut progressed: Option<(u64, Instant)> = None;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => self.take(line, &mut progressed),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            // Every line queued, before the stall is judged: lines queued
            // while the caller waited for another child (seconds, under
            // emulation) are old when they are read, yet show progress.
            while let Ok(line) = self.lines.try_recv() {
                self.take(line, &mut progressed);
            }
            if let Some((_, since)) = &progressed {
                if since.elapsed() > stall {
                    let why = format!(
                        "stalled: no progress for {stall:?}, so a call hangs: {}",
                        self.describe()
                    );
                    self.kill();
                    return Err(why.into());
                }
            }
            if start.elapsed() > limit {
                let why = format!("still running after {limit:?}: {}", self.describe());
                self.kill();
                return Err(why.into());
            }
        }
        // Its stdout closed: it is exiting.
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if start.elapsed() > limit {
                let why = format!("closed stdout but did not exit: {}", self.describe());
                self.kill();
                return Err(why.into());
            }
            thread::sleep(Duration::from_millis(10));
        };
        if !status.success() {
            return Err(format!("failed with {status}: {}", self.describe()).into());
        }
        Ok(Report::parse(&self.seen.join("\n")))
    }

    /// Takes one line it printed: a progress line moves `progressed` (the
    /// count, and when it last changed); any other is kept.
    fn take(&mut self, (at, line): (Instant, String), progressed: &mut Option<(u64, Instant)>) {
        if let Some(n) = progress(&line) {
            if progressed.is_none_or(|(seen, _)| seen != n) {
                *progressed = Some((n, at));
            }
            self.last_progress = Some(line);
        } else {
            self.seen.push(line);
        }
    }

    /// The lines it printed so far, without waiting.
    fn drain(&mut self) -> &[String] {
        while let Ok((_, line)) = self.lines.try_recv() {
            if progress(&line).is_none() {
                self.seen.push(line);
            }
        }
        &self.seen
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A process this test did not start directly (a forked grandchild):
/// SIGKILLed on drop.
struct KillOnDrop(libc::pid_t);

impl KillOnDrop {
    fn alive(&self) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(self.0, 0) == 0 }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: sends SIGKILL to the grandchild this test made.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

fn verdict<T>(r: &Result<T, DbShmError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(DbShmError::WriterBusy { .. }) => "busy",
        Err(DbShmError::PermissionDenied { .. }) => "denied",
        Err(DbShmError::Incompatible { .. }) => "incompatible",
        Err(DbShmError::NotFound { .. }) => "notfound",
        Err(DbShmError::AlreadyExists { .. }) => "exists",
        Err(_) => "error",
    }
}

/// The count of a `progress` line (see `start_ticker`).
fn progress(line: &str) -> Option<u64> {
    Report::line(line)
        .filter(|r| r.has("progress"))
        .map(|r| r.count("progress"))
}

/// What a child reported under `key`, as text (`"<missing>"` if nothing).
fn get(r: &Report, key: &str) -> String {
    match r.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "<missing>".into(),
    }
}

/// The count a child reported under `key`, 0 if none.
fn num(r: &Report, key: &str) -> u64 {
    r.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

// ------------------------------------------------ what the children share

/// Loop progress of a child, printed by `start_ticker` for the parent's
/// watchdog: iterations done and the operation in flight.
static DONE: AtomicU64 = AtomicU64::new(0);
static DOING: AtomicUsize = AtomicUsize::new(0);

fn start_ticker(ops: &'static [&'static str]) {
    thread::spawn(move || loop {
        thread::sleep(Duration::from_millis(100));
        emit(&json!({
            "progress": DONE.load(Ordering::Relaxed),
            "op": ops[DOING.load(Ordering::Relaxed)],
        }));
    });
}

/// Set when the parent closes this child's stdin (`Watched::stop`), or after
/// a minute at most.
fn stop_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        set.store(true, Ordering::Relaxed);
    });
    let set = Arc::clone(&flag);
    thread::spawn(move || {
        thread::sleep(Duration::from_secs(60));
        set.store(true, Ordering::Relaxed);
    });
    flag
}

/// Sleeps until the parent closes stdin (or dies), without threads: the
/// caller may fork.
fn hold_until_stdin_closes() {
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// The marker frame of the segment copied outside /dev/shm: whoever reads
/// it read through the link.
const MARKER: u8 = 0xA5;
const RACE_SHAPE: [usize; 1] = [4096];

// --------------------------------------------- tests, each beside its children

/// Every way in must call an object dbshm did not make `Incompatible`;
/// `create` and `inspect` may fail as they like, but must not succeed.
fn poke(name: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut incompatible = |what: &str, r: Result<(), DbShmError>| match r {
        Err(e @ DbShmError::Incompatible { .. }) if e.to_string().contains(name) => {}
        other => bad.push(format!("{what}: {other:?}")),
    };
    incompatible("open", Shm::<u8>::open(name).map(drop));
    incompatible("open_readonly", Shm::<u8>::open_readonly(name).map(drop));
    incompatible("new", Shm::<u8>::new(name, [4]).map(drop));
    incompatible(
        "Options::open_or_create",
        Options::new().open_or_create::<u8>(name, [4]).map(drop),
    );
    if Shm::<u8>::create(name, [4]).is_ok() {
        bad.push("create succeeded".into());
    }
    if dbshm::inspect(name).is_ok() {
        bad.push("inspect succeeded".into());
    }
    bad
}

fn objects_dbshm_did_not_make_are_incompatible_and_left_untouched() -> Result<(), Failed> {
    let magic = dbshm::layout::MAGIC.to_ne_bytes();
    let objects = [
        ("empty", Foreign::create(unique("empty"), 0, &[])),
        (
            "zero-filled",
            Foreign::create(unique("zeros"), 3 * 4096, &[]),
        ),
        // A multiprocessing.shared_memory block: zeros but for data past 8192.
        (
            "data past 8192",
            Foreign::create(
                unique("mp-block"),
                16384,
                &[(8200, b"a numpy array's bytes")],
            ),
        ),
        (
            "magic only",
            Foreign::create(unique("magic"), 3 * 4096, &[(0, &magic)]),
        ),
        (
            "text",
            Foreign::create(unique("text"), 100, &[(0, b"hello")]),
        ),
        (
            "garbage",
            Foreign::create(unique("garbage"), 8192, &[(0, &[0xAB; 4096])]),
        ),
    ];
    let before: Vec<Snapshot> = objects
        .iter()
        .map(|(_, o)| snapshot(&o.path).unwrap())
        .collect();
    let mut bad = Vec::new();
    for round in ["at once", "after 2.5 s"] {
        if round != "at once" {
            thread::sleep(Duration::from_millis(2500));
        }
        // In parallel: an opener that waits for a creator waits once per object.
        let found: Vec<Vec<String>> = thread::scope(|s| {
            let pokes: Vec<_> = objects
                .iter()
                .map(|(_, o)| s.spawn(|| poke(&o.name)))
                .collect();
            pokes.into_iter().map(|p| p.join().unwrap()).collect()
        });
        for (((what, object), problems), before) in objects.iter().zip(found).zip(&before) {
            for p in problems {
                bad.push(format!("{what} ({round}): {p}"));
            }
            if let Some(change) = changed(before, &object.path) {
                bad.push(format!(
                    "{what} ({round}): the object was touched: {change}"
                ));
            }
        }
    }
    check(bad.is_empty(), || {
        format!("{} violations:\n  {}", bad.len(), bad.join("\n  "))
    })
}

/// The name raced over, cleaned up on drop: what the race leaves under it
/// (a link, a FIFO, or a segment the opener made) and the racer's temporary
/// names.
struct RacedName(String);

impl Drop for RacedName {
    fn drop(&mut self) {
        for name in [
            format!("{}-racer-link", self.0),
            format!("{}-racer-fifo", self.0),
        ] {
            let _ = std::fs::remove_file(shm_file(&name));
        }
        match std::fs::symlink_metadata(shm_file(&self.0)) {
            Ok(m) if m.file_type().is_file() => {
                let _ = dbshm::unlink(&self.0);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(shm_file(&self.0));
            }
            Err(_) => {}
        }
    }
}

/// A private directory outside /dev/shm, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Child `racer NAME TARGET`: until stdin closes, puts a symlink to TARGET
/// under NAME, then nothing, then a FIFO, then nothing. Each goes in
/// with RENAME_NOREPLACE (never over a segment the opener made) and
/// is taken away only if the name still holds it.
fn racer(args: &[String]) {
    let (name, target) = (args[0].as_str(), args[1].as_str());
    let stop = stop_flag();
    let path = shm_file(name);
    let tmp = [
        shm_file(&format!("{name}-racer-link")),
        shm_file(&format!("{name}-racer-fifo")),
    ];
    let mut placed = [0u64; 2];
    let (mut blocked, mut cycles) = (0u64, 0u64);
    emit(&json!({ "racing": true }));
    while !stop.load(Ordering::Relaxed) {
        for (kind, tmp) in tmp.iter().enumerate() {
            let _ = std::fs::remove_file(tmp);
            if kind == 0 {
                std::os::unix::fs::symlink(target, tmp).unwrap();
            } else {
                let c = CString::new(tmp.to_str().unwrap()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            }
            let ino = std::fs::symlink_metadata(tmp).unwrap().ino();
            match rustix::fs::renameat_with(
                rustix::fs::CWD,
                tmp,
                rustix::fs::CWD,
                &path,
                rustix::fs::RenameFlags::NOREPLACE,
            ) {
                Ok(()) => {
                    placed[kind] += 1;
                    thread::sleep(Duration::from_micros(200));
                    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == ino) {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                Err(_) => {
                    blocked += 1;
                    let _ = std::fs::remove_file(tmp);
                }
            }
            thread::sleep(Duration::from_micros(100));
        }
        cycles += 1;
    }
    emit(&json!({
        "links": placed[0],
        "fifos": placed[1],
        "blocked": blocked,
        "cycles": cycles,
    }));
}

/// Child `opener NAME`: open, open_readonly, new and create in turn, at least
/// 4000 times and 2 s (at most 8 s). A success that reads frame 1 or
/// the marker came through the link; each writable success writes a
/// frame (through the link, that changes the outside file); a segment
/// it made itself it unlinks at once.
fn opener(args: &[String]) {
    const OPS: [&str; 4] = ["open", "open_readonly", "new", "create"];
    let name = args[0].as_str();
    start_ticker(&OPS);
    let frame = vec![0x5Au8; RACE_SHAPE[0]];
    let mut ok = [0u64; 4];
    let mut errors: HashMap<&str, u64> = HashMap::new();
    let mut through = 0u64;
    let start = Instant::now();
    let mut n = 0u64;
    // 4,000 attempts, over 2 s at least; a slow machine (qemu-user, with
    // the other core busy: 1,276 in 8 s) gets up to 30 s for them.
    while (n < 4000 || start.elapsed() < Duration::from_secs(2))
        && start.elapsed() < Duration::from_secs(30)
    {
        let op = (n % 4) as usize;
        DOING.store(op, Ordering::Relaxed);
        let result = match op {
            0 => Shm::<u8>::open(name),
            1 => Shm::<u8>::open_readonly(name),
            2 => Shm::<u8>::new(name, RACE_SHAPE),
            _ => Shm::<u8>::create(name, RACE_SHAPE),
        };
        match result {
            Ok(shm) => {
                ok[op] += 1;
                let seq = shm.latest_seq();
                let marked = shm.read().map_or(true, |f| f.iter().any(|&x| x == MARKER));
                if seq != 0 || marked {
                    through += 1;
                    if through <= 5 {
                        emit(&json!({ "through_link_via": OPS[op], "seq": seq }));
                    }
                }
                if op != 1 {
                    let _ = shm.write_slice(&frame);
                }
                if op >= 2 && seq == 0 && !marked {
                    let _ = dbshm::unlink(name);
                }
            }
            Err(e) => {
                let v = verdict(&Err::<(), _>(e));
                *errors.entry(v).or_default() += 1;
            }
        }
        n += 1;
        DONE.store(n, Ordering::Relaxed);
    }
    let e = |k: &str| errors.get(k).copied().unwrap_or(0);
    emit(&json!({
        "iters": n,
        "through_link": through,
        "ok_open": ok[0],
        "ok_readonly": ok[1],
        "ok_new": ok[2],
        "ok_create": ok[3],
        "incompatible": e("incompatible"),
        "notfound": e("notfound"),
        "exists": e("exists"),
        "other": e("error") + e("denied") + e("busy"),
    }));
}

/// Child `race_observer NAME`: list() and inspect(NAME) until stdin closes;
/// counts what it saw of the marker segment behind the link.
fn race_observer(args: &[String]) {
    let name = args[0].as_str();
    // The copy outside names the model's lock file; a segment the
    // opener makes under the name has a lock file of its own.
    let marker_lock = args[1].as_str();
    let stop = stop_flag();
    start_ticker(&["list", "inspect"]);
    let (mut lists, mut inspects, mut through) = (0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        DOING.store(0, Ordering::Relaxed);
        if let Ok(all) = dbshm::list() {
            through += all
                .iter()
                .filter(|s| s.name == name && s.lock_file == marker_lock)
                .count() as u64;
        }
        lists += 1;
        DOING.store(1, Ordering::Relaxed);
        if dbshm::inspect(name).is_ok_and(|s| s.lock_file == marker_lock) {
            through += 1;
        }
        inspects += 1;
        DONE.fetch_add(1, Ordering::Relaxed);
    }
    emit(&json!({ "lists": lists, "inspects": inspects, "through_link": through }));
}

fn open_never_follows_a_symlink_nor_hangs_on_a_fifo_raced_under_the_name() -> Result<(), Failed> {
    let tmp = TempDir(std::env::temp_dir().join(unique("race-dir")));
    std::fs::create_dir(&tmp.0)?;
    let outside = tmp.0.join("segment-copy");
    check(
        !std::fs::canonicalize(&tmp.0)?.starts_with("/dev/shm"),
        || format!("{:?} is inside /dev/shm", tmp.0),
    )?;
    // A real segment's bytes, frame 1 all MARKER, outside /dev/shm: it
    // parses as a segment, so following the link would succeed.
    let marker_lock = {
        let model = TestSegment::new("race-model");
        let shm = Shm::<u8>::create(model.name(), RACE_SHAPE)?;
        shm.write_with(|mut b| b.fill(MARKER))?;
        std::fs::copy(shm_file(model.name()), &outside)?;
        dbshm::inspect(model.name())?.lock_file
    };
    let before = snapshot(&outside)?;
    let name = RacedName(unique("race"));
    let mut racer = Watched::spawn(&["racer", &name.0, outside.to_str().unwrap()]);
    racer.expect("racing", Duration::from_secs(10))?;
    let mut observer = Watched::spawn(&["race_observer", &name.0, &marker_lock]);
    let opener = Watched::spawn(&["opener", &name.0]);
    let stall = Duration::from_secs(3);
    let mut bad = Vec::new();
    let mut outcome = |what: &str, r: Result<Report, Failed>| {
        r.unwrap_or_else(|e| {
            bad.push(format!("{what}: {}", e.message().unwrap_or_default()));
            Report::default()
        })
    };
    let o = outcome("opener", opener.finish(stall, Duration::from_secs(45)));
    observer.stop();
    racer.stop();
    let v = outcome(
        "list/inspect",
        observer.finish(stall, Duration::from_secs(10)),
    );
    let r = racer.finish(stall, Duration::from_secs(10))?;
    eprintln!("race: racer {r:?}\nrace: opener {o:?}\nrace: observer {v:?}");
    check(num(&r, "links") >= 100 && num(&r, "fifos") >= 100, || {
        format!("the link and the FIFO were under the name too seldom: {r:?}")
    })?;
    if o != Report::default() {
        if num(&o, "iters") < 2000 {
            bad.push(format!("the opener ran too few times: {o:?}"));
        }
        if num(&o, "through_link") > 0 {
            bad.push(format!(
                "opened the file outside /dev/shm through the link: {o:?}"
            ));
        }
    }
    if v != Report::default() {
        if num(&v, "lists") < 20 || num(&v, "inspects") < 20 {
            bad.push(format!("the observer ran too few times: {v:?}"));
        }
        if num(&v, "through_link") > 0 {
            bad.push(format!(
                "list/inspect showed the file outside /dev/shm through the link: {v:?}"
            ));
        }
    }
    if let Some(change) = changed(&before, &outside) {
        bad.push(format!("the file the link points to was written: {change}"));
    }
    check(bad.is_empty(), || bad.join("\n"))
}

/// Child `fork_then_sleep NAME TEST_PID`: writes once (takes the role), forks
/// a child that only sleeps (never execs) while TEST_PID lives, prints
/// the child's pid, and sleeps until killed.
fn fork_then_sleep(args: &[String]) {
    let shm = Shm::<u8>::open(args[0].as_str()).unwrap();
    shm.write_with(|mut b| b.fill(1)).unwrap();
    let test_pid: libc::pid_t = args[1].as_str().parse().unwrap();
    // The child says when it runs: dbshm's atfork handler has closed
    // its copies of the role by then (before that, for an instant
    // after any fork, the child shares them).
    let mut ready = [0 as libc::c_int; 2];
    // SAFETY: `ready` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(ready.as_mut_ptr()) }, 0);
    // SAFETY: this process is single-threaded, so the forked copy may
    // run Rust code; it leaves with _exit, running no destructors.
    match unsafe { libc::fork() } {
        0 => {
            // SAFETY: writes one byte to the pipe made above.
            unsafe { libc::write(ready[1], [1u8].as_ptr().cast(), 1) };
            // Let go of the parent's pipes, so that they close when
            // the writer dies; then sleep while the test lives.
            // SAFETY: plain system calls on this process's own descriptors.
            unsafe {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                libc::dup2(null, 0);
                libc::dup2(null, 1);
                libc::dup2(null, 2);
            }
            let start = Instant::now();
            // SAFETY: signal 0 only checks that the test still runs.
            while unsafe { libc::kill(test_pid, 0) } == 0
                && start.elapsed() < Duration::from_secs(60)
            {
                thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: ends the forked child without unwinding.
            unsafe { libc::_exit(0) };
        }
        -1 => panic!("fork failed"),
        pid => {
            let mut byte = [0u8];
            // SAFETY: reads one byte from the pipe made above.
            let got = unsafe { libc::read(ready[0], byte.as_mut_ptr().cast(), 1) };
            assert_eq!(got, 1);
            emit(&json!({ "forked": true, "child": pid }));
            hold_until_stdin_closes();
        }
    }
}

/// Child `write_once NAME`: a fresh process's first write.
fn write_once(args: &[String]) {
    let shm = Shm::<u8>::open(args[0].as_str()).unwrap();
    let r = shm.write_with(|mut b| b.fill(2));
    if let Err(e) = &r {
        eprintln!("write_once: {e}");
    }
    emit(&json!({ "write": verdict(&r) }));
}

fn a_forked_child_does_not_keep_a_dead_writers_role() -> Result<(), Failed> {
    let seg = TestSegment::new("fork-keeps");
    drop(Shm::<u8>::create(seg.name(), [16])?);
    let mut writer = Watched::spawn(&[
        "fork_then_sleep",
        seg.name(),
        &std::process::id().to_string(),
    ]);
    let line = writer.expect("forked", Duration::from_secs(10))?;
    let forked = KillOnDrop(line.count("child").try_into()?);
    writer.kill();
    check(forked.alive(), || {
        "the forked child died with the writer".into()
    })?;
    let mut bad = Vec::new();
    let info = dbshm::inspect(seg.name())?;
    if info.writer_alive {
        bad.push(format!(
            "the writer (pid {}) is dead, but inspect says a writer is alive",
            info.writer_pid
        ));
    }
    let r = Watched::spawn(&["write_once", seg.name()])
        .finish(Duration::from_secs(5), Duration::from_secs(10))?;
    if get(&r, "write") != "ok" {
        bad.push(format!("a new writer process's first write: {r:?}"));
    }
    let shm = Shm::<u8>::open(seg.name())?;
    let here = shm.write_with(|mut b| b.fill(3));
    if here.is_err() {
        bad.push(format!("a new handle's first write: {here:?}"));
    }
    check(forked.alive(), || {
        "the forked child died before the checks ended".into()
    })?;
    check(bad.is_empty(), || {
        format!(
            "the writer was SIGKILLed; its forked child (pid {}) lives on and must not keep \
             the role: {bad:#?}",
            forked.0
        )
    })
}

/// Child `write_and_hold NAME`: writes once, says how that went, and keeps the
/// handle until stdin closes.
fn write_and_hold(args: &[String]) {
    let shm = Shm::<u8>::open(args[0].as_str()).unwrap();
    let r = shm.write_with(|mut b| b.fill(3));
    if let Err(e) = &r {
        eprintln!("write_and_hold: {e}");
    }
    emit(&json!({ "write": verdict(&r) }));
    hold_until_stdin_closes();
}

/// Child `lock_all NAME sh|ex`: becomes uid/gid 4242 and, every 10 ms until
/// stdin closes, opens read-only each file of /dev/shm whose name
/// contains NAME or starts with ".dbshm" and takes on it a flock (sh
/// or ex), a classic fcntl read lock and an OFD read lock over the
/// whole file, retrying those it did not get. Prints `ready` after
/// the first pass, with what it holds on the segment's own file.
fn lock_all(args: &[String]) {
    let (name, exclusive) = (args[0].as_str(), args[1] == "ex");
    struct Held {
        _fds: Vec<OwnedFd>,
        fds: [i32; 3],
        got: [bool; 3],
    }
    fn read_lock(fd: i32, cmd: libc::c_int) -> bool {
        // SAFETY: an all-zero flock is valid; zero l_len means the whole
        // file, and OFD locks require l_pid 0.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_RDLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        // SAFETY: fd is open; the struct lives across the call.
        unsafe { libc::fcntl(fd, cmd, &lock) == 0 }
    }
    become_user(OTHER, OTHER);
    let stop = stop_flag();
    let flock = if exclusive {
        rustix::fs::FlockOperation::NonBlockingLockExclusive
    } else {
        rustix::fs::FlockOperation::NonBlockingLockShared
    };
    let mut held: HashMap<String, Held> = HashMap::new();
    let mut unopenable: Vec<String> = Vec::new();
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        for entry in std::fs::read_dir("/dev/shm").unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if !(file.contains(name) || file.starts_with(".dbshm")) || unopenable.contains(&file) {
                continue;
            }
            if !held.contains_key(&file) {
                let open = || {
                    rustix::fs::open(
                        entry.path().as_path(),
                        rustix::fs::OFlags::RDONLY
                            | rustix::fs::OFlags::NONBLOCK
                            | rustix::fs::OFlags::NOFOLLOW
                            | rustix::fs::OFlags::CLOEXEC,
                        rustix::fs::Mode::empty(),
                    )
                };
                match (open(), open(), open()) {
                    (Ok(a), Ok(b), Ok(c)) => {
                        let fds = [a.as_raw_fd(), b.as_raw_fd(), c.as_raw_fd()];
                        held.insert(
                            file.clone(),
                            Held {
                                _fds: vec![a, b, c],
                                fds,
                                got: [false; 3],
                            },
                        );
                    }
                    _ => {
                        unopenable.push(file.clone());
                        continue;
                    }
                }
            }
            let h = held.get_mut(&file).unwrap();
            let before = h.got;
            if !h.got[0] {
                // SAFETY: the descriptor is open for the life of `h`.
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(h.fds[0]) };
                h.got[0] = rustix::fs::flock(fd, flock).is_ok();
            }
            if !h.got[1] {
                h.got[1] = read_lock(h.fds[1], libc::F_SETLK);
            }
            if !h.got[2] {
                h.got[2] = read_lock(h.fds[2], libc::F_OFD_SETLK);
            }
            if h.got != before {
                emit(&json!({
                    "held": file,
                    "flock": u8::from(h.got[0]),
                    "posix": u8::from(h.got[1]),
                    "ofd": u8::from(h.got[2]),
                }));
            }
        }
        if first {
            first = false;
            let seg = held.get(name).map_or([false; 3], |h| h.got);
            emit(&json!({
                "ready": true,
                "files": held.len(),
                "unopenable": unopenable.len(),
                "seg_flock": u8::from(seg[0]),
                "seg_posix": u8::from(seg[1]),
                "seg_ofd": u8::from(seg[2]),
            }));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn read_only_user_blocks_no_writer(test: &str, mode: &str) -> Result<(), Failed> {
    if !root_or_skip(test) {
        return Ok(());
    }
    let seg = TestSegment::new(&format!("ro-lock-{mode}"));
    drop(Options::new().mode(0o640).create::<u8>(seg.name(), [64])?);
    // Shared with the attacker's group, the segment and its lock file alike
    // (as the README says to do): the lock file's mode alone must keep out
    // a member who may only read.
    std::os::unix::fs::chown(shm_file(seg.name()), None, Some(OTHER))?;
    let lock_file = dbshm::inspect(seg.name())?.lock_file;
    std::os::unix::fs::chown(shm_file(&lock_file), None, Some(OTHER))?;
    let mut attacker = Watched::spawn(&["lock_all", seg.name(), mode]);
    let ready = attacker.expect("ready", Duration::from_secs(10))?;
    eprintln!("{test}: attacker {ready:?}");
    check(
        get(&ready, "seg_flock") == "1"
            && get(&ready, "seg_posix") == "1"
            && get(&ready, "seg_ofd") == "1",
        || format!("the attacker did not get its locks on the segment: {ready:?}"),
    )?;
    let mut owner = Watched::spawn(&["write_and_hold", seg.name()]);
    let first = owner.expect("write", Duration::from_secs(10))?;
    check(get(&first, "write") == "ok", || {
        format!(
            "the owner's first write failed while a read-only user held {mode} flocks \
             and read locks: {first}; attacker: {:?}",
            attacker.drain()
        )
    })?;
    owner.kill();
    // Give the attacker a few passes at whatever the dead writer let go of.
    thread::sleep(Duration::from_millis(200));
    let shm = Shm::<u8>::open(seg.name())?;
    let successor = shm.write_with(|mut b| b.fill(4));
    check(successor.is_ok(), || {
        format!(
            "the successor's first write failed: {successor:?}; attacker: {:?}",
            attacker.drain()
        )
    })?;
    check(shm.read()?.iter().all(|&x| x == 4), || {
        "the successor's frame is not there".into()
    })
}

fn a_read_only_user_holding_shared_flocks_blocks_no_writer() -> Result<(), Failed> {
    read_only_user_blocks_no_writer(
        "a_read_only_user_holding_shared_flocks_blocks_no_writer",
        "sh",
    )
}

fn a_read_only_user_holding_exclusive_flocks_blocks_no_writer() -> Result<(), Failed> {
    read_only_user_blocks_no_writer(
        "a_read_only_user_holding_exclusive_flocks_blocks_no_writer",
        "ex",
    )
}

fn unlink_on_drop_removes_only_the_object_the_handle_opened() -> Result<(), Failed> {
    for how in ["created", "opened"] {
        let seg = TestSegment::new(&format!("drop-only-{how}"));
        let a = if how == "created" {
            Options::new()
                .unlink_on_drop(true)
                .open_or_create::<u8>(seg.name(), [16])?
        } else {
            drop(Shm::<u8>::create(seg.name(), [16])?);
            Options::new().unlink_on_drop(true).open::<u8>(seg.name())?
        };
        a.write_with(|mut f| f.fill(1))?;
        dbshm::unlink(seg.name())?;
        let b = Shm::<u8>::create(seg.name(), [32])?;
        b.write_with(|mut f| f.fill(2))?;
        drop(a);
        let again = Shm::<u8>::open(seg.name());
        check(
            again
                .as_ref()
                .is_ok_and(|s| s.shape() == [32] && s.latest_seq() == 1),
            || {
                format!(
                    "handle A ({how}, unlink_on_drop) was dropped after its segment was \
                     unlinked and B created under the name; B is now {again:?}"
                )
            },
        )?;
        drop(b);
    }
    Ok(())
}

/// Child `create_as_user NAME MODE`: as uid/gid 4242, creates NAME with MODE (octal).
fn create_as_user(args: &[String]) {
    become_user(OTHER, OTHER);
    let mode = u32::from_str_radix(args[1].as_str(), 8).unwrap();
    let r = Options::new()
        .mode(mode)
        .create::<u8>(args[0].as_str(), [16]);
    if let Err(e) = &r {
        eprintln!("create_as_user: {e}");
    }
    emit(&json!({ "created": verdict(&r) }));
}

fn an_explicit_mode_refuses_an_existing_segment_more_open_than_asked() -> Result<(), Failed> {
    let test = "an_explicit_mode_refuses_an_existing_segment_more_open_than_asked";
    if !root_or_skip(test) {
        return Ok(());
    }
    let seg = TestSegment::new("mode-open");
    let r = Watched::spawn(&["create_as_user", seg.name(), "666"])
        .finish(Duration::from_secs(5), Duration::from_secs(10))?;
    check(get(&r, "created") == "ok", || format!("{r:?}"))?;
    let meta = std::fs::metadata(shm_file(seg.name()))?;
    check(meta.mode() & 0o777 == 0o666 && meta.uid() == OTHER, || {
        format!("mode {:o}, uid {}", meta.mode(), meta.uid())
    })?;
    let mut bad = Vec::new();
    // The refusal must name the segment and what about it is wrong.
    let mut refused = |what: &str, r: Result<Shm<u8>, DbShmError>, needles: &[&str]| match r {
        Ok(_) => bad.push(format!("{what}: attached")),
        Err(e) => {
            let msg = e.to_string();
            if !needles.iter().all(|n| msg.contains(n)) {
                bad.push(format!(
                    "{what}: the refusal should name {needles:?}: {msg}"
                ));
            }
        }
    };
    refused(
        "mode(0o600).open_or_create on a 0666 segment of uid 4242",
        Options::new()
            .mode(0o600)
            .open_or_create::<u8>(seg.name(), [16]),
        &[seg.name(), "0666", "4242"],
    );
    let group = TestSegment::new("mode-group");
    drop(
        Options::new()
            .mode(0o660)
            .create::<u8>(group.name(), [16])?,
    );
    refused(
        "mode(0o640).open_or_create on a 0660 segment",
        Options::new()
            .mode(0o640)
            .open_or_create::<u8>(group.name(), [16]),
        &[group.name(), "0660"],
    );
    let plain = Shm::<u8>::new(seg.name(), [16]);
    if plain.is_err() {
        bad.push(format!(
            "plain new (no explicit mode) on the 0666 segment: {plain:?}"
        ));
    }
    let own = TestSegment::new("mode-own");
    drop(Options::new().mode(0o600).create::<u8>(own.name(), [16])?);
    let same = Options::new()
        .mode(0o600)
        .open_or_create::<u8>(own.name(), [16]);
    if same.is_err() {
        bad.push(format!("mode(0o600) on its own 0600 segment: {same:?}"));
    }
    check(bad.is_empty(), || format!("{bad:#?}"))
}

/// A name holding a control character, unlinked on drop in case a library
/// call created it.
struct ControlName(String);

impl Drop for ControlName {
    fn drop(&mut self) {
        let _ = dbshm::unlink(&self.0);
    }
}

fn names_with_control_characters_are_invalid_everywhere() -> Result<(), Failed> {
    let mut bad = Vec::new();
    for c in (1u8..0x20).chain([0x7f]) {
        let ch = c as char;
        let name = ControlName(format!("{}-a{ch}b", unique("control")));
        let name = name.0.as_str();
        let results: [(&str, Result<(), DbShmError>); 6] = [
            ("new", Shm::<u8>::new(name, [4]).map(drop)),
            ("create", Shm::<u8>::create(name, [4]).map(drop)),
            ("open", Shm::<u8>::open(name).map(drop)),
            ("open_readonly", Shm::<u8>::open_readonly(name).map(drop)),
            ("inspect", dbshm::inspect(name).map(drop)),
            ("unlink", dbshm::unlink(name)),
        ];
        for (what, r) in results {
            match r {
                Err(e @ DbShmError::InvalidName { .. }) => {
                    if e.to_string().contains(ch) {
                        bad.push(format!("{what} {c:#04x}: the message holds the raw byte"));
                    }
                }
                other => bad.push(format!(
                    "{what} {c:#04x}: {:?}",
                    other.map_err(|e| e.to_string())
                )),
            }
        }
    }
    check(bad.is_empty(), || {
        let shown: Vec<&String> = bad.iter().take(12).collect();
        format!("{} violations, the first: {shown:#?}", bad.len())
    })
}

/// Child `thread_busy NAME`: thread 1 is inside write_with until released;
/// meanwhile the main thread writes through the same handle.
fn thread_busy(args: &[String]) {
    let name = args[0].as_str();
    let shm = Arc::new(Shm::<u8>::open(name).unwrap());
    let len = shm.len();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let first = {
        let shm = Arc::clone(&shm);
        thread::spawn(move || {
            shm.write_with(|mut back| {
                back.fill(1);
                started_tx.send(()).unwrap();
                let _ = release_rx.recv();
            })
            .map(|info| info.seq)
        })
    };
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("thread 1 entered write_with");
    // A second write that waits for the first instead of refusing would wait
    // forever: release thread 1 after 4 s, so that such a wait ends and shows.
    let late_release = release_tx.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_secs(4));
        let _ = late_release.send(());
    });
    let t = Instant::now();
    let slice = shm.write_slice(&vec![2u8; len]);
    let slice_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let array = shm.write(&Array::from_elem(len, 2u8));
    let array_ms = t.elapsed().as_millis();
    let _ = release_tx.send(());
    let first = first.join().unwrap();
    let third = shm.write_slice(&vec![3u8; len]);
    let frame_is_third = shm.read().is_ok_and(|f| f.iter().all(|&x| x == 3));
    emit(&json!({
        "second_slice": verdict(&slice),
        "slice_ms": slice_ms as u64,
        "second_array": verdict(&array),
        "array_ms": array_ms as u64,
        "first": verdict(&first),
        "first_seq": first.as_ref().map_or(0, |s| *s),
        "third": verdict(&third),
        "third_seq": third.as_ref().map_or(0, |i| i.seq),
        "frame_is_third": u8::from(frame_is_third),
    }));
}

fn a_write_from_another_thread_during_write_with_is_writer_busy_at_once() -> Result<(), Failed> {
    let seg = TestSegment::new("thread-busy");
    drop(Shm::<u8>::create(seg.name(), [16])?);
    let r = Watched::spawn(&["thread_busy", seg.name()])
        .finish(Duration::from_secs(10), Duration::from_secs(15))?;
    eprintln!("thread_busy: {r:?}");
    check(
        get(&r, "second_slice") == "busy" && num(&r, "slice_ms") < 2000,
        || {
            format!(
                "write_slice from thread 2 during thread 1's write_with: {} after {} ms \
                 (want busy at once): {r:?}",
                get(&r, "second_slice"),
                get(&r, "slice_ms")
            )
        },
    )?;
    check(
        get(&r, "second_array") == "busy" && num(&r, "array_ms") < 2000,
        || format!("write from thread 2 during thread 1's write_with: {r:?}"),
    )?;
    check(
        get(&r, "first") == "ok" && num(&r, "first_seq") == 1,
        || format!("thread 1's write_with: {r:?}"),
    )?;
    check(
        get(&r, "third") == "ok" && num(&r, "third_seq") == 2 && get(&r, "frame_is_third") == "1",
        || format!("thread 2's next write, after thread 1 finished: {r:?}"),
    )
}

/// Child `mode_as_user NAME MODE`: as uid 4242 if root (so that permissions
/// apply), creates NAME with MODE, then writes and reads back.
fn mode_as_user(args: &[String]) {
    if rustix::process::geteuid().is_root() {
        become_user(OTHER, OTHER);
    }
    let (name, mode) = (
        args[0].as_str(),
        u32::from_str_radix(args[1].as_str(), 8).unwrap(),
    );
    match Options::new().mode(mode).create::<u8>(name, [16]) {
        Err(e) => {
            let msg = e.to_string();
            let named = msg.contains(name)
                && (msg.contains(&format!("{mode:04o}")) || msg.contains(&format!("{mode:#o}")));
            eprintln!("mode {mode:04o}: create refused: {msg}");
            emit(&json!({ "create": "refused", "message_ok": u8::from(named) }));
        }
        Ok(shm) => {
            let w = shm.write_with(|mut b| b.fill(7));
            if let Err(e) = &w {
                eprintln!("mode {mode:04o}: created, but the write failed: {e}");
            }
            let read = shm.read().is_ok_and(|f| f.iter().all(|&x| x == 7));
            emit(&json!({ "create": "ok", "write": verdict(&w), "read": u8::from(read) }));
        }
    }
}

fn a_mode_without_the_owners_read_and_write_is_refused_or_works() -> Result<(), Failed> {
    if !rustix::process::geteuid().is_root() {
        eprintln!("a_mode_without_the_owners_read_and_write_is_refused_or_works: not root, runs as this user");
    }
    let mut bad = Vec::new();
    for mode in ["000", "200", "400"] {
        let seg = TestSegment::new(&format!("mode-{mode}"));
        let r = Watched::spawn(&["mode_as_user", seg.name(), mode])
            .finish(Duration::from_secs(5), Duration::from_secs(10))?;
        let refused = get(&r, "create") == "refused" && get(&r, "message_ok") == "1";
        let works = get(&r, "create") == "ok" && get(&r, "write") == "ok" && get(&r, "read") == "1";
        if !(refused || works) {
            bad.push(format!("mode 0{mode}: {r:?}"));
        }
    }
    check(bad.is_empty(), || {
        format!(
            "a mode without the owner's read and write must be refused (naming the segment \
             and the mode) or work: {bad:?}"
        )
    })
}

/// Child `no_proc NAME`: in a mount namespace of its own without /proc,
/// creates NAME, writes, reads back, and tries a second handle.
fn no_proc(args: &[String]) {
    let name = args[0].as_str();
    // SAFETY: plain system calls in a single-threaded child, on its own
    // mount namespace (made just before), with valid NUL-terminated strings.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            let why = format!("unshare({})", std::io::Error::last_os_error().kind());
            emit(&json!({ "skip": why }));
            return;
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            let why = format!("mount_private({})", std::io::Error::last_os_error().kind());
            emit(&json!({ "skip": why }));
            return;
        }
        if libc::umount2(c"/proc".as_ptr(), libc::MNT_DETACH) != 0 {
            let why = format!("umount_proc({})", std::io::Error::last_os_error().kind());
            emit(&json!({ "skip": why }));
            return;
        }
    }
    emit(&json!({ "proc_gone": u8::from(!Path::new("/proc/self/fd").exists()) }));
    let shm = match Shm::<u8>::create(name, [16]) {
        Ok(shm) => shm,
        Err(e) => {
            eprintln!("no_proc: create: {e}");
            emit(&json!({ "create": "error" }));
            return;
        }
    };
    let w = shm.write_with(|mut b| b.fill(4));
    if let Err(e) = &w {
        eprintln!("no_proc: write: {e}");
    }
    let read = shm.read().is_ok_and(|f| f.iter().all(|&x| x == 4));
    let second = Shm::<u8>::open(name).and_then(|s| s.write_with(|mut b| b.fill(5)));
    if let Err(e) = &second {
        eprintln!("no_proc: second handle: {e}");
    }
    emit(&json!({
        "create": "ok",
        "write": verdict(&w),
        "read": u8::from(read),
        "second": verdict(&second),
    }));
}

fn the_writer_role_does_not_need_proc() -> Result<(), Failed> {
    let test = "the_writer_role_does_not_need_proc";
    if !root_or_skip(test) {
        return Ok(());
    }
    let seg = TestSegment::new("no-proc");
    let r = Watched::spawn(&["no_proc", seg.name()])
        .finish(Duration::from_secs(5), Duration::from_secs(10))?;
    if let Some(why) = r.get("skip") {
        eprintln!("{test}: skipped: cannot make a mount namespace without /proc: {why}");
        return Ok(());
    }
    check(get(&r, "proc_gone") == "1", || {
        format!("/proc is still there: {r:?}")
    })?;
    check(
        get(&r, "create") == "ok" && get(&r, "write") == "ok" && get(&r, "read") == "1",
        || format!("without /proc, create, write and read back: {r:?}"),
    )?;
    check(get(&r, "second") == "busy", || {
        format!("without /proc, a second handle's write must be WriterBusy: {r:?}")
    })
}

/// Child `observe NAME THREADS`: THREADS threads call inspect(NAME) (what
/// `dbshm info` does), one of them list() every 20th time (`dbshm
/// list`, slower), until stdin closes.
fn observe(args: &[String]) {
    let name = args[0].as_str().to_owned();
    let threads: usize = args[1].as_str().parse().unwrap();
    let stop = stop_flag();
    let total = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (name, stop, total) = (name.clone(), Arc::clone(&stop), Arc::clone(&total));
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let _ = dbshm::inspect(&name);
                    if t == 0 && n % 20 == 0 {
                        let _ = dbshm::list();
                    }
                    n += 1;
                    total.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while total.load(Ordering::Relaxed) == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    emit(&json!({ "observing": true }));
    for w in workers {
        w.join().unwrap();
    }
    emit(&json!({ "observations": total.load(Ordering::Relaxed) }));
}

/// Child `spin`: keeps a core busy until stdin closes.
fn spin(_: &[String]) {
    let stop = stop_flag();
    emit(&json!({ "spinning": true }));
    while !stop.load(Ordering::Relaxed) {
        std::hint::spin_loop();
    }
}

fn an_observer_never_costs_a_writer_its_first_write_on_busy_cores() -> Result<(), Failed> {
    let seg = TestSegment::new("observer-loaded");
    drop(Shm::<u8>::create(seg.name(), [64])?);
    let mut spinners = [Watched::spawn(&["spin"]), Watched::spawn(&["spin"])];
    for s in &mut spinners {
        s.expect("spinning", Duration::from_secs(10))?;
    }
    let mut observer = Watched::spawn(&["observe", seg.name(), "2"]);
    observer.expect("observing", Duration::from_secs(10))?;
    let frame = vec![1u8; 64];
    let (mut busy, mut writes) = (0u32, 0u32);
    let start = Instant::now();
    for _ in 0..2000 {
        let shm = Shm::<u8>::open(seg.name())?;
        match shm.write_slice(&frame) {
            Ok(_) => {}
            Err(DbShmError::WriterBusy { .. }) => busy += 1,
            Err(e) => return Err(e.into()),
        }
        writes += 1;
        // Spread over a second or two: the observer is descheduled now and
        // then, and a write must come while it is.
        thread::sleep(Duration::from_micros(500));
    }
    let took = start.elapsed();
    observer.stop();
    let o = observer.finish(Duration::from_secs(5), Duration::from_secs(10))?;
    eprintln!(
        "observer under load: {writes} first writes in {took:?}, {busy} busy, observer {o:?}"
    );
    check(num(&o, "observations") >= 100, || {
        format!("the observer looked too seldom: {o:?}")
    })?;
    check(busy == 0, || {
        format!(
            "{busy} of {writes} first writes were WriterBusy while an observer looked, \
             with both cores busy"
        )
    })
}

fn a_stopped_observer_never_costs_a_writer_its_first_write() -> Result<(), Failed> {
    // The loaded test above at its limit: an observer that is not running
    // (stopped, as by Ctrl-Z or a debugger, or descheduled for long on a
    // busy machine) at any point of its loop.
    let seg = TestSegment::new("observer-stopped");
    drop(Shm::<u8>::create(seg.name(), [64])?);
    let mut observer = Watched::spawn(&["observe", seg.name(), "1"]);
    observer.expect("observing", Duration::from_secs(10))?;
    let pid = observer.pid() as libc::pid_t;
    let frame = vec![1u8; 64];
    let (mut busy, mut stops) = (0u32, 0u32);
    for i in 0..1000u64 {
        // SAFETY: signals and waits for this test's own child.
        unsafe {
            assert_eq!(libc::kill(pid, libc::SIGSTOP), 0);
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, libc::WUNTRACED), pid);
            assert!(libc::WIFSTOPPED(status));
        }
        stops += 1;
        let shm = Shm::<u8>::open(seg.name())?;
        let r = shm.write_slice(&frame);
        drop(shm);
        // SAFETY: as above.
        unsafe { assert_eq!(libc::kill(pid, libc::SIGCONT), 0) };
        match r {
            Ok(_) => {}
            Err(DbShmError::WriterBusy { .. }) => busy += 1,
            Err(e) => return Err(e.into()),
        }
        // Let it run on a little, to stop it elsewhere in its loop next time.
        thread::sleep(Duration::from_micros(100 + (i * 37) % 200));
    }
    observer.stop();
    let o = observer.finish(Duration::from_secs(5), Duration::from_secs(10))?;
    eprintln!("stopped observer: {stops} stops, {busy} first writes busy, observer {o:?}");
    check(num(&o, "observations") >= 1000, || {
        format!("the observer looked too seldom: {o:?}")
    })?;
    check(busy == 0, || {
        format!("{busy} of {stops} first writes were WriterBusy while the observer was stopped")
    })
}

/// Child `patch_lock_id NAME LOCKFILE`: as uid/gid 4242, who may write NAME,
/// points NAME's header at LOCKFILE (another segment's).
fn patch_lock_id(args: &[String]) {
    become_user(OTHER, OTHER);
    let hex = args[1].as_str().strip_prefix(".dbshm-lock-").unwrap();
    let id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let file = OpenOptions::new()
        .write(true)
        .open(shm_file(args[0].as_str()))
        .unwrap();
    file.write_all_at(&id, dbshm::layout::offset::LOCK_ID as u64)
        .unwrap();
    emit(&json!({ "patched": 1 }));
}

fn a_header_pointed_at_another_segments_lock_file_gains_nothing() -> Result<(), Failed> {
    // A user who may write a public segment rewrites its header to name the
    // lock file of a private segment of the same owner (lock ids are no
    // secret: anyone can list /dev/shm). The lock file says which segment
    // it belongs to, so neither the public segment's writer nor its removal
    // may touch the private one's.
    if !root_or_skip("a_header_pointed_at_another_segments_lock_file_gains_nothing") {
        return Ok(());
    }
    let private = TestSegment::new("lock-id-private");
    let public = TestSegment::new("lock-id-public");
    drop(Shm::<u8>::create(private.name(), [16])?);
    drop(
        Options::new()
            .mode(0o666)
            .create::<u8>(public.name(), [16])?,
    );
    let private_lock = dbshm::inspect(private.name())?.lock_file;
    let public_lock = dbshm::inspect(public.name())?.lock_file;
    let r = Watched::spawn(&["patch_lock_id", public.name(), &private_lock])
        .finish(Duration::from_secs(5), Duration::from_secs(10))?;
    check(get(&r, "patched") == "1", || format!("{r:?}"))?;
    check(
        dbshm::inspect(public.name())?.lock_file == private_lock,
        || "the header was not patched".into(),
    )?;
    // The public segment's would-be writer is refused, naming the cause...
    let opened = Shm::<u8>::open(public.name());
    check(
        matches!(&opened, Err(e @ DbShmError::Incompatible { .. }) if e.to_string().contains("another segment")),
        || format!("open of the forged segment: {opened:?}"),
    )?;
    // ...and the private segment's writer is untouched.
    let shm = Shm::<u8>::open(private.name())?;
    let wrote = shm.write_with(|mut b| b.fill(1));
    check(wrote.is_ok(), || {
        format!("the private segment's write: {wrote:?}")
    })?;
    drop(shm);
    // Removing the forged segment removes neither lock file but its own...
    // which its header no longer names, so that one is left to `rm --stale`.
    dbshm::unlink(public.name())?;
    check(shm_file(&private_lock).exists(), || {
        "removing the forged segment removed the private segment's lock file".into()
    })?;
    let _ = std::fs::remove_file(shm_file(&public_lock));
    let shm = Shm::<u8>::open(private.name())?;
    let wrote = shm.write_with(|mut b| b.fill(2));
    check(wrote.is_ok(), || {
        format!("the private segment after: {wrote:?}")
    })
}

fn a_lock_file_of_another_group_is_refused() -> Result<(), Failed> {
    // A 0660 segment shared with a group, then given to another group while
    // its lock file stays with the first: members of the first group, who
    // may no longer write, could take the role. Writers refuse it instead.
    if !root_or_skip("a_lock_file_of_another_group_is_refused") {
        return Ok(());
    }
    let seg = TestSegment::new("lock-group");
    drop(Options::new().mode(0o660).create::<u8>(seg.name(), [16])?);
    let lock = dbshm::inspect(seg.name())?.lock_file;
    std::os::unix::fs::chown(shm_file(seg.name()), None, Some(OTHER + 1))?;
    std::os::unix::fs::chown(shm_file(&lock), None, Some(OTHER))?;
    let opened = Shm::<u8>::open(seg.name());
    check(
        matches!(&opened, Err(e @ DbShmError::Incompatible { .. })
            if e.to_string().contains(seg.name()) && e.to_string().contains("group")),
        || format!("{opened:?}"),
    )?;
    // Given the segment's group too, it works again.
    std::os::unix::fs::chown(shm_file(&lock), None, Some(OTHER + 1))?;
    let shm = Shm::<u8>::open(seg.name())?;
    let wrote = shm.write_with(|mut b| b.fill(1));
    check(wrote.is_ok(), || format!("{wrote:?}"))
}

/// Makes a file in /dev/shm as dbshm names its own, empty.
fn own_file(name: &str) -> Result<(), Failed> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(shm_file(name))?;
    Ok(())
}

fn leftovers_are_removed_and_nothing_live_is() -> Result<(), Failed> {
    // What a creator killed midway leaves (its lock file, with or without
    // the segment it was building), beside a live segment never written
    // (its lock file held by nobody) and one with a live writer.
    let id = |n: u8| format!("{:02x}{:030x}", n, std::process::id());
    let (dead_a, dead_b) = (id(0xa1), id(0xb2));
    own_file(&format!(".dbshm-lock-{dead_a}"))?;
    own_file(&format!(".dbshm-lock-{dead_b}"))?;
    // Killed while building: its header (magic, and lock id) written.
    let building = format!(".dbshm-new-{}", id(0xe3));
    own_file(&building)?;
    let mut header = vec![0u8; 256];
    header[..8].copy_from_slice(&dbshm::layout::MAGIC.to_ne_bytes());
    for i in 0..16 {
        header[dbshm::layout::offset::LOCK_ID + i] =
            u8::from_str_radix(&dead_b[2 * i..2 * i + 2], 16).unwrap();
    }
    OpenOptions::new()
        .write(true)
        .open(shm_file(&building))?
        .write_all_at(&header, 0)?;
    let idle = TestSegment::new("leftovers-idle");
    drop(Shm::<u8>::create(idle.name(), [16])?);
    let written = TestSegment::new("leftovers-written");
    let writer = Shm::<u8>::create(written.name(), [16])?;
    writer.write_with(|mut b| b.fill(1))?;
    // (The cleaner of a concurrent test may get there first: what counts
    // is that they are gone.)
    let removed = dbshm::remove_leftovers()?;
    for file in [
        format!(".dbshm-lock-{dead_a}"),
        format!(".dbshm-lock-{dead_b}"),
        building.clone(),
    ] {
        check(!shm_file(&file).exists(), || {
            format!("{file} is still there; this call removed {removed:?}")
        })?;
    }
    // The live segments keep their lock files, and their writers.
    for seg in [&idle, &written] {
        let lock = dbshm::inspect(seg.name())?.lock_file;
        check(shm_file(&lock).exists(), || {
            format!("{lock} of {} was removed", seg.name())
        })?;
    }
    writer.write_with(|mut b| b.fill(2))?;
    let first = Shm::<u8>::open(idle.name())?.write_with(|mut b| b.fill(3));
    check(first.is_ok(), || {
        format!("the idle segment's first write: {first:?}")
    })
}

/// Child `clean_loop`: dbshm::remove_leftovers() until stdin closes.
fn clean_loop(_: &[String]) {
    let stop = stop_flag();
    start_ticker(&["remove_leftovers"]);
    let mut passes = 0u64;
    while !stop.load(Ordering::Relaxed) {
        dbshm::remove_leftovers().unwrap();
        passes += 1;
        DONE.store(passes, Ordering::Relaxed);
    }
    emit(&json!({ "passes": passes }));
}

fn a_cleaner_racing_creators_never_breaks_a_segment() -> Result<(), Failed> {
    // `rm --stale` in a loop in another process while segments are created,
    // written and removed: every create gives a segment whose first write
    // works, and no segment is left that cannot be written.
    let mut cleaner = Watched::spawn(&["clean_loop"]);
    let seg = TestSegment::new("cleaner-race");
    let start = Instant::now();
    let mut created = 0u32;
    let mut bad = Vec::new();
    while start.elapsed() < Duration::from_secs(2) || created < 300 {
        match Shm::<u8>::create(seg.name(), [64]) {
            Ok(shm) => {
                created += 1;
                if let Err(e) = shm.write_with(|mut b| b.fill(1)) {
                    bad.push(format!("first write: {e}"));
                }
                drop(shm);
                dbshm::unlink(seg.name())?;
            }
            Err(e) => bad.push(format!("create: {e}")),
        }
        if bad.len() > 5 || start.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    cleaner.stop();
    let r = cleaner.finish(Duration::from_secs(3), Duration::from_secs(10))?;
    eprintln!("cleaner race: {created} segments created, cleaner {r:?}");
    check(num(&r, "passes") >= 20, || {
        format!("the cleaner ran too seldom: {r:?}")
    })?;
    check(bad.is_empty(), || bad.join("\n"))
}

/// Child `squat`: as uid/gid 4242, watches /dev/shm (inotify) and, for each
/// new `.dbshm-lock-<id>`, creates `.dbshm-new-<id>` and every other
/// name it could guess from it, until stdin closes.
fn squat(_: &[String]) {
    become_user(OTHER, OTHER);
    let stop = stop_flag();
    // SAFETY: inotify calls with valid arguments; the buffer is ours.
    let inotify = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    assert!(inotify >= 0);
    // SAFETY: as above; a NUL-terminated path.
    let watch = unsafe { libc::inotify_add_watch(inotify, c"/dev/shm".as_ptr(), libc::IN_CREATE) };
    assert!(watch >= 0);
    emit(&json!({ "watching": true }));
    let (mut seen, mut squatted) = (0u64, 0u64);
    let mut buf = [0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: reads into `buf`, which is large enough for events.
        let n = unsafe { libc::read(inotify, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            thread::sleep(Duration::from_micros(50));
            continue;
        }
        let mut at = 0usize;
        while at < n as usize {
            let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
            let raw = &buf[at + 16..at + 16 + len];
            let name = String::from_utf8_lossy(raw.split(|&b| b == 0).next().unwrap());
            if let Some(id) = name.strip_prefix(".dbshm-lock-") {
                seen += 1;
                for guess in [format!(".dbshm-new-{id}"), id.to_string()] {
                    if OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o644)
                        .open(shm_file(&guess))
                        .is_ok()
                    {
                        squatted += 1;
                        // Gone when the test ends: `squat_cleanup` below.
                        emit(&json!({ "squatted_file": guess }));
                    }
                }
            }
            at += 16 + len;
        }
    }
    emit(&json!({ "seen": seen, "squatted": squatted }));
}

fn a_squatter_on_the_names_a_creator_will_use_stops_no_creation() -> Result<(), Failed> {
    // Another user sees every lock file appear (inotify on /dev/shm) and at
    // once creates the names it could derive from it. A creator builds its
    // segment under a name no one can derive, so every creation succeeds.
    if !root_or_skip("a_squatter_on_the_names_a_creator_will_use_stops_no_creation") {
        return Ok(());
    }
    let mut squatter = Watched::spawn(&["squat"]);
    squatter.expect("watching", Duration::from_secs(10))?;
    let seg = TestSegment::new("squatted");
    let mut failed = Vec::new();
    for _ in 0..500 {
        match Shm::<u8>::new(seg.name(), [16]) {
            Ok(shm) => {
                if let Err(e) = shm.write_with(|mut b| b.fill(1)) {
                    failed.push(e.to_string());
                }
                drop(shm);
                dbshm::unlink(seg.name())?;
            }
            Err(e) => failed.push(e.to_string()),
        }
    }
    thread::sleep(Duration::from_millis(100));
    squatter.stop();
    let r = squatter.finish(Duration::from_secs(5), Duration::from_secs(10));
    let squatted: Vec<String> = squatter_files();
    for file in &squatted {
        let _ = std::fs::remove_file(shm_file(file));
    }
    let r = r?;
    eprintln!("squatter: {r:?}, {} of 500 creations failed", failed.len());
    check(num(&r, "seen") >= 250, || {
        format!("the squatter saw too few lock files: {r:?}")
    })?;
    check(failed.is_empty(), || {
        format!(
            "{} of 500 creations failed: {:?}",
            failed.len(),
            &failed[..failed.len().min(3)]
        )
    })
}

/// What the squatter made: its files are owned by uid 4242.
fn squatter_files() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.metadata().is_ok_and(|m| m.uid() == OTHER && m.len() == 0))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(".dbshm-new-") || n.len() == 32)
                .collect()
        })
        .unwrap_or_default()
}
