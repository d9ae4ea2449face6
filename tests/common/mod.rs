//! Helpers shared by the integration tests: unique segment names that are
//! removed even when a test fails, and self-verifying frames.

#![allow(dead_code)] // each test crate uses its own subset

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

/// Element `i` of frame `seq`: every element depends on the frame number, so
/// a copy mixing two frames cannot match either.
pub fn pattern(seq: u64, i: usize) -> u8 {
    (seq.wrapping_mul(131) as usize).wrapping_add(i.wrapping_mul(7)) as u8
}

/// Writes frame `seq`, last element first. A reader copies first element
/// first, so a writer that enters the buffer after a reader began copying it
/// changes bytes the copy has yet to reach: without the seqlock's check, such
/// a copy is torn (`validation_is_what_stops_torn_frames` proves it).
pub fn fill(seq: u64, frame: &mut [u8]) {
    for (i, x) in frame.iter_mut().enumerate().rev() {
        *x = pattern(seq, i);
    }
}

/// Whether `frame` is exactly frame `seq` (frame 0 is the initial zeros).
pub fn is_frame(seq: u64, frame: &[u8]) -> bool {
    if seq == 0 {
        return frame.iter().all(|&x| x == 0);
    }
    frame.iter().enumerate().all(|(i, &x)| x == pattern(seq, i))
}

// ------------------------------------------------ child processes

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

/// Set in a test binary's environment when it runs as a child of itself.
pub const CHILD_ENV: &str = "DBSHM_TEST_CHILD";

/// A test's failure, as libtest-mimic reports it.
pub type Failed = libtest_mimic::Failed;

/// The `main` of a test binary that re-runs itself as its child processes:
/// with `CHILD_ENV` set it is the child its first argument names (`child`
/// gets the arguments), otherwise it runs `trials`.
pub fn run_tests_or_child(child: impl FnOnce(&[String]), trials: Vec<libtest_mimic::Trial>) {
    if std::env::var_os(CHILD_ENV).is_some() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        child(&args);
        return;
    }
    libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit();
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
        let me = std::env::current_exe().unwrap();
        Proc::start(Command::new(me).args(args), false)
    }

    /// `args[0]` with the rest as its arguments (this binary's children too).
    pub fn spawn_program<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Proc {
        Proc::start(Command::new(&args[0]).args(&args[1..]), false)
    }

    /// `program` with its stderr captured as well, for `finish`.
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

    /// Blocks until the child prints a line starting with `prefix`; returns it.
    pub fn expect_line(&mut self, prefix: &str) -> Result<String, Failed> {
        let out = self.stdout.as_mut().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                return Err(format!("child exited before printing {prefix:?}").into());
            }
            if line.starts_with(prefix) {
                return Ok(line.trim().to_owned());
            }
        }
    }

    /// Waits for a clean exit; returns the `key=value` words it printed.
    pub fn report(mut self) -> Result<HashMap<String, String>, Failed> {
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
        Ok(words(&text))
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

/// The `key=value` words of a child's output.
pub fn words(text: &str) -> HashMap<String, String> {
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The number a child reported under `key`.
pub fn count(report: &HashMap<String, String>, key: &str) -> u64 {
    report
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {key} in {report:?}"))
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
