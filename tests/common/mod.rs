//! Helpers shared by the integration tests: unique segment names that are
//! removed even when a test fails, child processes, and what the test kit
//! (testkit/) defines for the tests, the demo and the benchmarks alike:
//! self-verifying frames, child roles and their JSON reports.

#![allow(dead_code)] // each test crate uses its own subset

pub mod frames;
pub mod mounts;

use std::sync::atomic::{AtomicU32, Ordering};

/// A segment name no other test, run or process uses; unlinked on drop, so
/// also when the test panics.
pub struct TestSegment(pub String);

impl TestSegment {
    pub fn new(tag: &str) -> TestSegment {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        TestSegment(format!("dbshm-test-{tag}-{}-{n}", std::process::id()))
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for TestSegment {
    fn drop(&mut self) {
        remove_test_object(&self.0);
    }
}

/// Removes a test's object: a segment with `dbshm::unlink`, and what that
/// refuses (a foreign object the test made, a segment it corrupted) by hand,
/// with the lock file a corrupted segment's header still names.
pub fn remove_test_object(name: &str) {
    if !matches!(
        dbshm::unlink(name),
        Err(dbshm::DbShmError::Incompatible { .. })
    ) {
        return;
    }
    let path = format!("/dev/shm/{name}");
    // Not a FIFO a test made: reading one would block.
    let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
    if let Some(bytes) = regular.then(|| std::fs::read(&path).ok()).flatten() {
        use dbshm::layout::{offset, LOCK_ID_SIZE, MAGIC};
        let id_at = offset::LOCK_ID..offset::LOCK_ID + LOCK_ID_SIZE;
        if bytes.len() >= id_at.end && bytes[..8] == MAGIC.to_ne_bytes() {
            let id: String = bytes[id_at].iter().map(|b| format!("{b:02x}")).collect();
            let _ = std::fs::remove_file(format!("/dev/shm/.dbshm-lock-{id}"));
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[allow(unused_imports)] // each test crate uses its own subset
pub use dbshm_testkit::frame::{fill, is_frame, Tally};
#[allow(unused_imports)] // as above
pub use dbshm_testkit::report::{emit, json, Report};

// ------------------------------------------------ child processes

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

#[allow(unused_imports)] // as above
pub use dbshm_testkit::child::{Role, CHILD_ENV};
#[allow(unused_imports)] // as above
pub use dbshm_testkit::roles;

/// A test's failure, as libtest-mimic reports it.
pub type Failed = libtest_mimic::Failed;

/// The `main` of a test binary that re-runs itself as its child processes:
/// with `CHILD_ENV` set it plays the role among `roles` that its first
/// argument names, otherwise it runs `trials`.
pub fn run_tests_or_child(roles: &[Role], trials: Vec<libtest_mimic::Trial>) {
    if !dbshm_testkit::child::play_if_child(roles) {
        libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit();
    }
}

/// Trials named by their functions: `trials![a, b]`.
#[allow(unused_macros)] // as above
macro_rules! trials {
    ($($test:ident),* $(,)?) => {
        vec![$(libtest_mimic::Trial::test(stringify!($test), $test)),*]
    };
}
#[allow(unused_imports)] // each test crate uses its own subset
pub(crate) use trials;

/// A child process, killed and reaped when dropped (also when a test fails).
pub struct Proc {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
}

/// What a finished child printed, stdout then stderr.
pub struct Finished {
    pub status: ExitStatus,
    pub text: String,
}

impl Proc {
    /// This test binary again, as the child `args[0]` names.
    pub fn spawn(args: &[&str]) -> Proc {
        Proc::start(
            dbshm_testkit::child::command(args[0]).args(&args[1..]),
            false,
        )
    }

    /// [`spawn`](Self::spawn) with `DBSHM_DIR` set to `dir`: the child's
    /// segments live there, as any program's would.
    pub fn spawn_in(dir: &std::path::Path, args: &[&str]) -> Proc {
        let mut command = dbshm_testkit::child::command(args[0]);
        Proc::start(command.args(&args[1..]).env(dbshm::DIR_ENV, dir), false)
    }

    /// [`spawn_program`](Self::spawn_program) with `DBSHM_DIR` set to `dir`.
    pub fn spawn_program_in<S: AsRef<std::ffi::OsStr>>(dir: &std::path::Path, args: &[S]) -> Proc {
        let mut command = dbshm_testkit::child::program(&args[0]);
        Proc::start(command.args(&args[1..]).env(dbshm::DIR_ENV, dir), false)
    }

    /// `args[0]`, a program built for the target (through its runner, if
    /// any), with the rest as its arguments (this binary's children too).
    pub fn spawn_program<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Proc {
        Proc::start(
            dbshm_testkit::child::program(&args[0]).args(&args[1..]),
            false,
        )
    }

    /// `program`, built for the target (through its runner, if any), with
    /// its stderr captured as well, for `finish`.
    pub fn spawn_target_command(program: &str, args: &[String]) -> Proc {
        Proc::start(dbshm_testkit::child::program(program).args(args), true)
    }

    /// `program`, a program of this machine, with its stderr captured as
    /// well, for `finish`.
    pub fn spawn_command(program: &str, args: &[String]) -> Proc {
        Proc::start(Command::new(program).args(args), true)
    }

    fn start(command: &mut Command, capture_stderr: bool) -> Proc {
        let mut child = command
            .env(CHILD_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("spawn child");
        let stdout = if capture_stderr {
            None
        } else {
            child.stdout.take().map(BufReader::new)
        };
        Proc { child, stdout }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Blocks until the child reports a line with `key`; returns that line.
    pub fn expect(&mut self, key: &str) -> Result<Report, Failed> {
        let out = self.stdout.as_mut().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                return Err(format!("child exited before reporting {key:?}").into());
            }
            if let Some(report) = Report::line(&line).filter(|r| r.has(key)) {
                return Ok(report);
            }
        }
    }

    /// Waits for a clean exit; returns the report lines it printed, merged.
    pub fn report(mut self) -> Result<Report, Failed> {
        let mut text = String::new();
        self.stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let status = self.child.wait().unwrap();
        if !status.success() {
            return Err(format!("child failed with {status}; it printed {text:?}").into());
        }
        Ok(Report::parse(&text))
    }

    /// Waits for the exit of a child made by `spawn_command`.
    pub fn finish(mut self) -> Result<Finished, Failed> {
        let (mut out, mut err) = (String::new(), String::new());
        // Read stderr on a thread so that neither pipe can fill and stall the child.
        let mut stderr = self.child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let _ = stderr.read_to_string(&mut err);
            err
        });
        self.child.stdout.take().unwrap().read_to_string(&mut out)?;
        let err = reader.join().unwrap();
        let status = self.child.wait()?;
        Ok(Finished {
            status,
            text: out + &err,
        })
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Tests that act as another user run as root, or report why they skip.
pub fn root_or_skip(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!(
            "{test}: skipped: acting as another user needs root, and this runs as uid {}",
            rustix::process::geteuid().as_raw()
        );
    }
    root
}

/// `Err(what())` unless `ok`.
pub fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}

/// A verifying reader's report (its [`Tally`]) shows no torn frame, none
/// out of order, and at least `distinct` new frames; `what` tells of the
/// run in a failure.
pub fn check_tally(report: &Report, distinct: u64, what: &str) -> Result<(), Failed> {
    check(report.count("torn") == 0, || format!("torn frames: {what}"))?;
    check(report.count("backwards") == 0, || {
        format!("frames went backwards: {what}")
    })?;
    check(report.count("distinct") >= distinct, || {
        format!("the reader saw fewer than {distinct} new frames: {what}")
    })
}

/// Copies the latest frame out of `shm` as fast as it can until `end`,
/// verifying every copy: a verifying reader's loop.
pub fn copy_and_verify<T>(
    shm: &dbshm::DoubleBufferedSharedMemory<T>,
    end: std::time::Instant,
) -> Tally
where
    T: dbshm::Element + num_traits::NumCast + PartialEq,
{
    let mut frame = vec![T::zero(); shm.len()];
    let mut tally = Tally::default();
    while std::time::Instant::now() < end {
        let info = shm.read_into(&mut frame).unwrap();
        tally.saw(info.seq, is_frame(info.seq, &frame));
    }
    tally
}

/// Forks one child, runs `child` in it and ends it with `_exit` of what
/// `child` returns; waits for it, and returns its exit status, or a signal
/// as 128 + its number. For a child role's process: `child` must leave the
/// parent's state alone (it runs no destructors of what it copied).
pub fn fork_and_run(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs `child`, which does its work and leaves with
    // _exit, never returning into this process's code; glibc keeps malloc
    // usable in the child of a multi-threaded parent.
    match unsafe { libc::fork() } {
        0 => {
            let code = child();
            // SAFETY: ends the forked child without unwinding.
            unsafe { libc::_exit(code) }
        }
        -1 => panic!("fork failed"),
        pid => {
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                libc::WEXITSTATUS(status)
            }
        }
    }
}
