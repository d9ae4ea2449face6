//! Helpers shared by the command's integration tests: running `dbshm`,
//! segment names and scratch directories removed also when a test fails.

#![allow(dead_code)] // each test crate uses its own subset

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A command running the `dbshm` program built for this test's target,
/// through the test runner where one is set (under qemu-user).
pub fn command() -> Command {
    dbshm_testkit::child::program(env!("CARGO_BIN_EXE_dbshm"))
}

/// Runs the `dbshm` program with `args` and waits for it.
pub fn dbshm(args: &[&str]) -> Output {
    command().args(args).output().expect("run dbshm")
}

/// Its stdout and stderr, as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A segment name of this test run, unlinked on drop (also when a test fails).
pub struct Name(pub String);

impl Name {
    pub fn new(tag: &str) -> Name {
        static N: AtomicU32 = AtomicU32::new(0);
        Name(format!(
            "dbshm-test-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        // `dbshm::unlink` refuses objects that are not segments: those the
        // test made by hand go by hand.
        if let Err(dbshm::DbShmError::Incompatible { .. }) = dbshm::unlink(&self.0) {
            let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
        }
    }
}

/// A `dbshm` process whose stdout is read line by line as it comes, and
/// which is killed on drop: a test that fails, or a dbshm that hangs, leaves
/// no process behind, and every wait on it is bounded.
pub struct Running {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        use std::io::{BufRead, Read};
        let mut child = command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run dbshm");
        let (send, lines) = std::sync::mpsc::channel();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first line from now on that `wanted` accepts, within `limit`.
    pub fn line(
        &mut self,
        limit: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return Ok(line);
                    }
                }
                Err(e) => {
                    return Err(format!(
                        "no such line within {limit:?} ({e}); it printed:\n{}",
                        self.seen.join("\n")
                    ))
                }
            }
        }
    }

    /// Its exit status, stdout (all of it) and stderr, if it exits within `limit`.
    pub fn exit(
        mut self,
        limit: Duration,
    ) -> Result<(std::process::ExitStatus, String, String), String> {
        let end = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= end {
                self.seen.extend(self.lines.try_iter());
                return Err(format!(
                    "still running after {limit:?}; it printed:\n{}",
                    self.seen.join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipe closes with the process (its children die with it).
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Ok((status, self.seen.join("\n"), stderr))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory of this test alone, removed with what is in it when dropped.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("dbshm-test-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        Scratch(path)
    }

    pub fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
