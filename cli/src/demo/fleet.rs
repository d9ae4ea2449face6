//! The demo's child processes: started so that they die with the demo,
//! their output read into their rows by a thread each, and at the end
//! stopped, reaped and judged by how they exited.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::c_reader::FrameLine;
use super::reader_stats::ReaderStats;
use super::screen::{Row, State};
use super::wire::{Kind, Message};

/// Which program a process runs, which says how its output reads and how
/// it ends.
#[derive(Clone, Copy)]
pub enum Program {
    /// This program (`demo-writer`, `demo-reader`): it reports in the
    /// demo's words and ends by itself.
    Ours,
    /// The C example reader: a line per frame, until it is stopped.
    /// `checksum`: what every whole frame sums to, if the frame's size lets
    /// that be known.
    CReader { checksum: Option<u64> },
}

/// One process of the fleet.
struct Member {
    /// Its row in [`Fleet::rows`].
    row: usize,
    child: Child,
    program: Program,
}

/// The demo's processes, each with a row of the table and the threads that
/// fill it from its output. Dropping it kills and reaps every process still
/// running, on every path out of the demo.
#[derive(Default)]
pub struct Fleet {
    rows: Arc<Mutex<Vec<Row>>>,
    members: Vec<Member>,
    /// The threads that read the processes' stdout and stderr.
    listeners: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// Starts `command`, shown as `label`, running `program`.
    pub fn spawn(
        &mut self,
        label: &str,
        command: &mut Command,
        program: Program,
    ) -> Result<(), String> {
        let demo = std::process::id();
        // SAFETY: `die_with_the_demo` makes only async-signal-safe system
        // calls and allocates nothing, as the child of a fork must.
        unsafe { command.pre_exec(move || die_with_the_demo(demo)) };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("demo: cannot start {label}: {e}"))?;
        let row = {
            let mut rows = self.rows.lock().unwrap();
            rows.push(Row::new(label));
            rows.len() - 1
        };
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        self.members.push(Member {
            row,
            child,
            program,
        });
        let rows = Arc::clone(&self.rows);
        self.listeners.push(std::thread::spawn(move || {
            read_stdout(stdout, &rows, row, program)
        }));
        let rows = Arc::clone(&self.rows);
        self.listeners.push(std::thread::spawn(move || {
            read_stderr(stderr, &rows, row, program)
        }));
        Ok(())
    }

    /// The rows as they stand.
    pub fn rows(&self) -> Vec<Row> {
        self.rows.lock().unwrap().clone()
    }

    /// Whether every process of ours (not the C reader) has exited.
    pub fn ours_exited(&mut self) -> bool {
        self.members
            .iter_mut()
            .filter(|m| matches!(m.program, Program::Ours))
            .all(|m| matches!(m.child.try_wait(), Ok(Some(_))))
    }

    /// Stops the C reader (and, if `interrupted`, every process), waits for
    /// every process and every output thread, and returns the rows, each of
    /// ours marked failed unless it exited cleanly after its final report.
    pub fn finish(mut self, interrupted: bool) -> Vec<Row> {
        for member in &mut self.members {
            if interrupted || matches!(member.program, Program::CReader { .. }) {
                let _ = member.child.kill();
            }
        }
        // Their output ends as they do: every line read, a final report is
        // in its row before the row is judged.
        for listener in self.listeners.drain(..) {
            let _ = listener.join();
        }
        let mut rows = self.rows();
        for mut member in std::mem::take(&mut self.members) {
            let status = member.child.wait().ok();
            if let Program::Ours = member.program {
                judge(&mut rows[member.row], status);
            }
        }
        rows
    }
}

/// Marks the row of a process of ours failed unless it exited cleanly
/// after its final report (`status` is `None` if it could not be waited for).
fn judge(row: &mut Row, status: Option<ExitStatus>) {
    let why = match (&row.state, status) {
        (State::Failed(_), _) => return,
        (State::Done, Some(s)) if s.success() => return,
        (State::Running, Some(s)) if s.success() => "exited without its final report".to_owned(),
        (_, Some(s)) => format!("exited with {s}"),
        (_, None) => "could not be waited for".to_owned(),
    };
    row.state = State::Failed(why);
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for member in &mut self.members {
            let _ = member.child.kill();
            let _ = member.child.wait();
        }
    }
}

/// Fills row `row` from a process's stdout until it closes.
fn read_stdout(stdout: ChildStdout, rows: &Mutex<Vec<Row>>, row: usize, program: Program) {
    let lines = BufReader::new(stdout).lines().map_while(Result::ok);
    match program {
        Program::Ours => {
            for message in lines.filter_map(|line| Message::parse(&line)) {
                let row = &mut rows.lock().unwrap()[row];
                row.report = message.report;
                if message.kind == Kind::Final {
                    row.finished();
                }
            }
        }
        // The parent counts the C reader's frames for it.
        Program::CReader { checksum } => {
            let mut stats = ReaderStats::new();
            for frame in lines.filter_map(|line| FrameLine::parse(&line)) {
                let whole = checksum.is_none_or(|sum| sum == frame.checksum);
                stats.frame(frame.seq, Some(frame.latency_ns()), whole);
                rows.lock().unwrap()[row].report = stats.report().clone();
            }
        }
    }
}

/// Marks row `row` failed with each line one of ours writes on stderr.
fn read_stderr(stderr: ChildStderr, rows: &Mutex<Vec<Row>>, row: usize, program: Program) {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        // The C reader, stopped by a signal, may complain on the way out.
        if let Program::Ours = program {
            rows.lock().unwrap()[row].state = State::Failed(line);
        }
    }
}

/// Run in each child between fork and exec: the kernel kills the child when
/// the demo dies, also by SIGKILL, which no handler of the demo sees (the
/// signal survives the exec of a program that is not set-user-ID). Its
/// trigger is the death of the thread that forked: the demo's main thread.
fn die_with_the_demo(demo: u32) -> std::io::Result<()> {
    // SAFETY: sets an attribute of this process; no memory is involved.
    let set = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // A demo that died before the prctl sent no signal; the child has been
    // handed to another parent by then, so it ends here.
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } as u32 != demo {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}
