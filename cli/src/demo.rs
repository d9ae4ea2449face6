//! `dbshm demo`: a writer process and several reader processes on one
//! segment, shown live, then a summary. Exits non-zero if any reader saw a
//! torn frame or a frame out of order.
//!
//! The processes are this program again (`demo-writer`, `demo-reader`), and
//! the C reader of examples-c when it is built. Every element of frame `seq`
//! is `value(seq, i)`, so a reader verifies each frame whole.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbshm::{DbShmError, DoubleBufferedSharedMemory, Options};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::stats::{self, Latencies};
use crate::table::print_table;
use crate::time;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Frame shape, dimensions in order (rows x columns x channels).
    #[arg(long, default_value = "1080x1920x3", value_parser = parse_shape)]
    shape: Shape,
    /// Frames the writer publishes per second.
    #[arg(long, default_value_t = 60.0)]
    fps: f64,
    /// Seconds the writer runs.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Rust reader processes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(..=MAX_READERS))]
    readers: u16,
    /// The segment's name (default: dbshm-demo-<pid>); it must not exist.
    #[arg(long)]
    name: Option<String>,
    /// The C reader to run too (default: target/examples-c/reader, if built).
    #[arg(long)]
    c_reader: Option<PathBuf>,
    /// Run no C reader, even if one is built.
    #[arg(long)]
    no_c_reader: bool,
}

/// More reader processes than this would only make the demo a fork bomb.
const MAX_READERS: i64 = 64;

/// A shape on the command line (one value, not a list, for clap).
#[derive(Clone, Debug, PartialEq)]
struct Shape(Vec<usize>);

fn parse_shape(text: &str) -> Result<Shape, String> {
    text.split('x')
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .map_err(|_| format!("{text:?} is not a shape like 1080x1920x3"))
        })
        .collect::<Result<_, _>>()
        .map(Shape)
}

/// Element `i` of frame `seq`: (131 seq + 7 i) mod 256, in u8 arithmetic so
/// that filling and checking a frame vectorise.
fn value(seq: u64, i: usize) -> u8 {
    (seq as u8)
        .wrapping_mul(131)
        .wrapping_add((i as u8).wrapping_mul(7))
}

/// Writes frame `seq`.
fn fill(seq: u64, frame: &mut [u8]) {
    for (i, x) in frame.iter_mut().enumerate() {
        *x = value(seq, i);
    }
}

/// Whether `frame` is exactly frame `seq` (frame 0 is the initial zeros).
/// Folds without an early exit so that the compiler vectorises it.
fn is_frame(seq: u64, frame: &[u8]) -> bool {
    let diff = if seq == 0 {
        frame.iter().fold(0u8, |acc, &x| acc | x)
    } else {
        frame
            .iter()
            .enumerate()
            .fold(0u8, |acc, (i, &x)| acc | (x ^ value(seq, i)))
    };
    diff == 0
}

/// What each process reports, and the summary reads.
#[derive(Clone, Default)]
struct Row {
    label: String,
    frames: u64,
    fps: f64,
    p50_ns: Option<u64>,
    p99_ns: Option<u64>,
    max_ns: Option<u64>,
    retries: u64,
    torn: u64,
    backwards: u64,
    skipped: u64,
    done: bool,
    failed: Option<String>,
}

impl Row {
    /// "key=value" words, as the children print them.
    fn words(&self) -> String {
        format!(
            "frames={} fps={:.1} p50_ns={} p99_ns={} max_ns={} retries={} torn={} backwards={} skipped={}",
            self.frames,
            self.fps,
            self.p50_ns.unwrap_or(0),
            self.p99_ns.unwrap_or(0),
            self.max_ns.unwrap_or(0),
            self.retries,
            self.torn,
            self.backwards,
            self.skipped
        )
    }

    fn update(&mut self, words: &str) {
        for (k, v) in words.split_whitespace().filter_map(|w| w.split_once('=')) {
            let n = v.parse::<u64>().ok();
            match k {
                "frames" => self.frames = n.unwrap_or(0),
                "fps" => self.fps = v.parse().unwrap_or(0.0),
                "p50_ns" => self.p50_ns = n.filter(|&n| n > 0),
                "p99_ns" => self.p99_ns = n.filter(|&n| n > 0),
                "max_ns" => self.max_ns = n.filter(|&n| n > 0),
                "retries" => self.retries = n.unwrap_or(0),
                "torn" => self.torn = n.unwrap_or(0),
                "backwards" => self.backwards = n.unwrap_or(0),
                "skipped" => self.skipped = n.unwrap_or(0),
                _ => {}
            }
        }
    }

    fn line(&self) -> String {
        let state = match (&self.failed, self.done) {
            (Some(why), _) => format!("  FAILED: {why}"),
            (None, true) => "  done".into(),
            (None, false) => String::new(),
        };
        format!(
            "{:<16} {:>6} frames {:>6.1} fps  p50 {:>8}  p99 {:>8}  retries {:>3}  torn {}  out of order {}{state}",
            self.label,
            self.frames,
            self.fps,
            stats::duration(self.p50_ns),
            stats::duration(self.p99_ns),
            self.retries,
            self.torn,
            self.backwards,
        )
    }
}

/// A reader's running counts.
struct ReaderStats {
    started: Instant,
    /// When the first and the latest frame arrived.
    span: Option<(Instant, Instant)>,
    row: Row,
    latencies: Latencies,
    last_seq: u64,
}

impl ReaderStats {
    fn new() -> Self {
        ReaderStats {
            started: Instant::now(),
            span: None,
            row: Row::default(),
            latencies: Latencies::default(),
            last_seq: 0,
        }
    }

    /// Counts a frame; `latency_ns` is `None` for one published before the
    /// reader began waiting.
    fn frame(&mut self, seq: u64, latency_ns: Option<u64>, whole: bool) {
        let now = Instant::now();
        self.span = Some((self.span.map_or(now, |(first, _)| first), now));
        let row = &mut self.row;
        row.frames += 1;
        row.torn += u64::from(!whole);
        row.backwards += u64::from(seq < self.last_seq);
        if self.last_seq > 0 && seq > self.last_seq + 1 {
            row.skipped += seq - self.last_seq - 1;
        }
        self.last_seq = self.last_seq.max(seq);
        if let Some(ns) = latency_ns {
            self.latencies.push(ns);
        }
    }

    fn snapshot(&mut self) -> &Row {
        let row = &mut self.row;
        // Frames per second between the first frame and the latest.
        row.fps = match self.span {
            Some((first, last)) if row.frames > 1 => {
                (row.frames - 1) as f64 / (last - first).as_secs_f64().max(1e-9)
            }
            _ => 0.0,
        };
        row.p50_ns = self.latencies.quantile(0.50);
        row.p99_ns = self.latencies.quantile(0.99);
        row.max_ns = self.latencies.max();
        &self.row
    }
}

// ------------------------------------------------------------ the parent

pub fn run(args: DemoArgs) -> Result<ExitCode, String> {
    // NaN fails both comparisons; an inf or a huge value runs as long as
    // an `Instant` can count (see time::FOREVER).
    if !(args.fps > 0.0 && args.duration > 0.0) {
        return Err("demo: --fps and --duration must be positive numbers".into());
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => {
            let name = format!("dbshm-demo-{}", std::process::id());
            // A demo killed outright (SIGKILL) leaves its segment; the next
            // one with the same pid clears it. A name given is never removed.
            let _ = dbshm::unlink(&name);
            name
        }
    };
    // The parent owns the segment; it goes when the demo ends.
    let shm: DoubleBufferedSharedMemory<u8> = Options::new()
        .unlink_on_drop(true)
        .create(&name, args.shape.0.as_slice())
        .map_err(|e| e.to_string())?;
    let exe =
        std::env::current_exe().map_err(|e| format!("demo: cannot find this program: {e}"))?;
    let c_reader = if args.no_c_reader {
        None
    } else {
        args.c_reader.clone().or_else(|| built_c_reader(&exe))
    };
    let checksum = c_checksum(shm.len());
    println!(
        "dbshm demo: segment {name}, {} u8 frames ({}), {} fps for {} s, {} Rust reader{}{}",
        stats::shape(shm.shape()),
        stats::bytes(shm.len()),
        args.fps,
        args.duration,
        args.readers,
        if args.readers == 1 { "" } else { "s" },
        match (&c_reader, checksum) {
            (Some(path), Some(_)) => format!(" and the C reader {}", path.display()),
            (Some(path), None) => format!(
                " and the C reader {} (its frames unchecked: their size is not a multiple of 256)",
                path.display()
            ),
            (None, _) => " (no C reader: build it with `make -C examples-c` to add one)".into(),
        }
    );

    let stop = stop_on_signals()?;
    let mut fleet = Fleet::default();
    let fps = args.fps.to_string();
    let duration = args.duration.to_string();
    fleet.spawn(
        "writer",
        Command::new(&exe).args(["demo-writer", &name, &fps, &duration]),
        None,
    )?;
    for i in 1..=args.readers {
        let label = format!("reader {i} (Rust)");
        fleet.spawn(
            &label,
            Command::new(&exe).args(["demo-reader", &name, &duration]),
            None,
        )?;
    }
    if let Some(path) = &c_reader {
        fleet.spawn("reader (C)", Command::new(path).arg(&name), Some(checksum))?;
    }

    // Show the rows until every Rust process is done.
    let terminal = std::io::stdout().is_terminal();
    if terminal {
        print!("\x1b[?7l"); // no line wrap while rows are redrawn in place
    }
    let started = Instant::now();
    let mut shown = 0;
    let mut last_plain = Instant::now();
    let interrupted = loop {
        let done = fleet.ours_exited();
        let snapshot = fleet.rows.lock().unwrap().clone();
        if terminal {
            let mut out = std::io::stdout().lock();
            if shown > 0 {
                let _ = write!(out, "\x1b[{shown}A");
            }
            for row in &snapshot {
                let _ = writeln!(out, "\x1b[2K{}", row.line());
            }
            let _ = out.flush();
            shown = snapshot.len();
        } else if last_plain.elapsed() >= Duration::from_secs(1) || done {
            last_plain = Instant::now();
            for row in &snapshot {
                println!(
                    "[{:>4.1} s] {}",
                    started.elapsed().as_secs_f64(),
                    row.line()
                );
            }
        }
        if stop.load(Ordering::Relaxed) {
            break true;
        }
        if done {
            break false;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    if terminal {
        print!("\x1b[?7h");
    }
    // The C reader has no end of its own; an interrupted demo stops them all.
    let final_rows = fleet.finish(stop.load(Ordering::Relaxed));
    if interrupted {
        println!("\ninterrupted");
        return Ok(ExitCode::from(130));
    }

    println!("\nsummary");
    let table: Vec<[String; 9]> = final_rows
        .iter()
        .map(|r| {
            [
                r.label.clone(),
                r.frames.to_string(),
                format!("{:.1}", r.fps),
                stats::duration(r.p50_ns),
                stats::duration(r.p99_ns),
                stats::duration(r.max_ns),
                r.retries.to_string(),
                r.torn.to_string(),
                r.backwards.to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "PROCESS",
            "FRAMES",
            "FPS",
            "P50 LATENCY",
            "P99 LATENCY",
            "MAX LATENCY",
            "RETRIES",
            "TORN",
            "OUT OF ORDER",
        ],
        &table,
    );
    let problems: Vec<String> = final_rows
        .iter()
        .filter_map(|r| {
            if let Some(why) = &r.failed {
                Some(format!("{} failed: {why}", r.label))
            } else if r.torn > 0 || r.backwards > 0 {
                Some(format!(
                    "{} saw {} torn and {} out-of-order frames",
                    r.label, r.torn, r.backwards
                ))
            } else if r.frames == 0 {
                Some(format!("{} got no frame", r.label))
            } else {
                None
            }
        })
        .collect();
    drop(shm);
    if problems.is_empty() {
        println!(
            "\nok: no torn frame and none out of order. A reader's latency runs from the \
             writer's publish to the reader holding its copy; the writer's is the time to \
             fill and publish a frame."
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            println!("FAIL: {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// A flag that SIGINT and SIGTERM set, instead of killing the demo: it
/// stops its processes and removes its segment instead of dying with them
/// in place.
fn stop_on_signals() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("demo: cannot handle signal {signal}: {e}"))?;
    }
    Ok(stop)
}

/// target/examples-c/reader beside this program's target directory, if built.
fn built_c_reader(exe: &std::path::Path) -> Option<PathBuf> {
    // target/<profile>/dbshm → target/examples-c/reader
    let path = exe.parent()?.parent()?.join("examples-c/reader");
    path.is_file().then_some(path)
}

/// The demo's processes, each with a row of the table and the threads that
/// fill it from its output. Dropping it kills and reaps every process still
/// running, on every path out of `run`.
#[derive(Default)]
struct Fleet {
    rows: Arc<Mutex<Vec<Row>>>,
    children: Vec<(usize, Child, bool)>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Fleet {
    /// Starts a process. `c_reader`: it is the C example reader, whose
    /// frames should sum to the given checksum (if known), not one of ours.
    fn spawn(
        &mut self,
        label: &str,
        command: &mut Command,
        c_reader: Option<Option<u64>>,
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
        let index = {
            let mut rows = self.rows.lock().unwrap();
            rows.push(Row {
                label: label.to_owned(),
                ..Row::default()
            });
            rows.len() - 1
        };
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        self.children.push((index, child, c_reader.is_some()));
        let rows = Arc::clone(&self.rows);
        self.readers.push(std::thread::spawn(move || {
            let mut c_stats = ReaderStats::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut rows = rows.lock().unwrap();
                let row = &mut rows[index];
                if let Some(expected) = c_reader {
                    // "frame 12: 85.3 us old, checksum 793152000"
                    if let Some((seq, us, sum)) = parse_c_line(&line) {
                        let whole = expected.is_none_or(|e| e == sum);
                        c_stats.frame(seq, Some((us * 1000.0) as u64), whole);
                        let label = row.label.clone();
                        *row = Row {
                            label,
                            ..c_stats.snapshot().clone()
                        };
                    }
                } else if let Some(words) = line.strip_prefix("status ") {
                    row.update(words);
                } else if let Some(words) = line.strip_prefix("final ") {
                    row.update(words);
                    row.done = true;
                }
            }
        }));
        let rows = Arc::clone(&self.rows);
        self.readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The C reader, stopped by a signal, may complain on the way out.
                if c_reader.is_none() {
                    rows.lock().unwrap()[index].failed = Some(line);
                }
            }
        }));
        Ok(())
    }

    /// Whether every process of ours (not the C reader) has exited.
    fn ours_exited(&mut self) -> bool {
        self.children
            .iter_mut()
            .filter(|(_, _, c)| !c)
            .all(|(_, child, _)| matches!(child.try_wait(), Ok(Some(_))))
    }

    /// Stops the C reader (and, if `interrupted`, every process), waits for
    /// every process and every output thread, and returns the rows, each of
    /// ours marked failed unless it exited cleanly after its final report.
    fn finish(mut self, interrupted: bool) -> Vec<Row> {
        let mut statuses = Vec::new();
        for (index, child, c_reader) in &mut self.children {
            if *c_reader || interrupted {
                let _ = child.kill();
            }
            statuses.push((*index, child.wait().ok(), *c_reader));
        }
        self.children.clear();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let mut rows = self.rows.lock().unwrap().clone();
        for (index, status, c_reader) in statuses {
            let row = &mut rows[index];
            if c_reader || row.failed.is_some() {
                continue;
            }
            match status {
                Some(s) if s.success() && row.done => {}
                Some(s) if s.success() => {
                    row.failed = Some("exited without its final report".into())
                }
                Some(s) => row.failed = Some(format!("exited with {s}")),
                None => row.failed = Some("could not be waited for".into()),
            }
        }
        rows
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
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

/// The checksum (byte sum) the C reader prints for every whole frame of
/// `len` bytes: for a whole number of 256-byte blocks, each block holds every
/// byte value once, whatever the frame (7 is odd), so the sum is the same for
/// all frames; a torn frame mixes two frames' blocks at some offset and its
/// sum differs unless the tear falls on a block boundary. `None` otherwise.
fn c_checksum(len: usize) -> Option<u64> {
    (len % 256 == 0).then(|| (len / 256) as u64 * (0..256u64).sum::<u64>())
}

fn parse_c_line(line: &str) -> Option<(u64, f64, u64)> {
    let rest = line.strip_prefix("frame ")?;
    let (seq, rest) = rest.split_once(": ")?;
    let (us, rest) = rest.split_once(" us old, checksum ")?;
    Some((
        seq.parse().ok()?,
        us.parse().ok()?,
        rest.trim().parse().ok()?,
    ))
}

// ------------------------------------------------------------ the children

#[derive(clap::Args)]
pub struct WriterArgs {
    name: String,
    fps: f64,
    duration: f64,
}

/// Publishes frames at `fps` for `duration` seconds, reporting as it goes.
pub fn writer(args: WriterArgs) -> Result<ExitCode, String> {
    let shm = DoubleBufferedSharedMemory::<u8>::open(&args.name).map_err(|e| e.to_string())?;
    let period = time::seconds(1.0 / args.fps, "demo-writer: 1/fps")?;
    let started = Instant::now();
    let end = started + time::seconds(args.duration, "demo-writer: duration")?;
    let mut row = Row::default();
    let mut write_times = Latencies::default();
    let mut next = started;
    let mut last_report = started;
    while Instant::now() < end {
        let seq = shm.latest_seq() + 1; // the writer role makes this the frame's number
        let t = Instant::now();
        shm.write_with(|mut back| {
            fill(seq, back.as_slice_mut().expect("standard layout"));
        })
        .map_err(|e| e.to_string())?;
        write_times.push(t.elapsed().as_nanos() as u64);
        row.frames += 1;
        if last_report.elapsed() >= Duration::from_millis(250) {
            last_report = Instant::now();
            report("status", &mut row, &write_times, started);
        }
        next += period;
        // Never past the end: at 0.2 fps for 1 s, the run lasts 1 s, not 5.
        match next.min(end).checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None => next = Instant::now(), // late: do not try to catch up in a burst
        }
    }
    report("final", &mut row, &write_times, started);
    Ok(ExitCode::SUCCESS)
}

fn report(kind: &str, row: &mut Row, times: &Latencies, started: Instant) {
    row.fps = row.frames as f64 / started.elapsed().as_secs_f64().max(1e-9);
    row.p50_ns = times.quantile(0.50);
    row.p99_ns = times.quantile(0.99);
    row.max_ns = times.max();
    println!("{kind} {}", row.words());
}

#[derive(clap::Args)]
pub struct ReaderArgs {
    name: String,
    duration: f64,
}

/// Waits for each new frame and verifies it, until the writer has stopped.
pub fn reader(args: ReaderArgs) -> Result<ExitCode, String> {
    let shm =
        DoubleBufferedSharedMemory::<u8>::open_readonly(&args.name).map_err(|e| e.to_string())?;
    let mut frame = vec![0u8; shm.len()];
    let mut stats = ReaderStats::new();
    let started_ns = dbshm::monotonic_ns();
    // From frame 0: the frame published before this reader started is the
    // first it checks, so that a run shorter than one frame interval (one
    // frame in all) gives every reader a frame too.
    let mut seq = 0;
    let mut last_report = Instant::now();
    loop {
        match shm.wait_into(seq, Duration::from_millis(500), &mut frame) {
            Ok(info) => {
                // Its latency would be this reader's start-up time, not the wait's.
                let latency = (info.timestamp_ns >= started_ns)
                    .then(|| dbshm::monotonic_ns().saturating_sub(info.timestamp_ns));
                stats.frame(info.seq, latency, is_frame(info.seq, &frame));
                seq = info.seq;
            }
            // No frame for half a second: once the writer's time is up, it is done.
            Err(DbShmError::Timeout { .. })
                if stats.started.elapsed().as_secs_f64() > args.duration =>
            {
                break
            }
            Err(DbShmError::Timeout { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        if last_report.elapsed() >= Duration::from_millis(250) {
            last_report = Instant::now();
            stats.row.retries = shm.retries();
            println!("status {}", stats.snapshot().words());
        }
    }
    stats.row.retries = shm.retries();
    println!("final {}", stats.snapshot().words());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_verify_and_a_torn_one_does_not() {
        let mut a: Vec<u8> = (0..4096).map(|i| value(7, i)).collect();
        assert!(is_frame(7, &a));
        assert!(!is_frame(8, &a));
        a[4000] = value(9, 4000);
        assert!(
            !is_frame(7, &a),
            "a frame with one element from another frame"
        );
        assert!(is_frame(0, &[0; 16]));
    }

    #[test]
    fn every_whole_frame_has_the_c_checksum_and_a_torn_one_does_not() {
        let len = 256 * 40;
        let sum = |f: &[u8]| f.iter().map(|&x| u64::from(x)).sum::<u64>();
        let a: Vec<u8> = (0..len).map(|i| value(3, i)).collect();
        let b: Vec<u8> = (0..len).map(|i| value(4, i)).collect();
        assert_eq!(Some(sum(&a)), c_checksum(len));
        assert_eq!(Some(sum(&b)), c_checksum(len));
        let mut torn = a.clone();
        torn[..1000].copy_from_slice(&b[..1000]);
        assert_ne!(Some(sum(&torn)), c_checksum(len));
        assert_eq!(c_checksum(100), None);
    }

    #[test]
    fn shapes_and_c_lines_parse() {
        assert_eq!(parse_shape("1080x1920x3"), Ok(Shape(vec![1080, 1920, 3])));
        assert!(parse_shape("10xx3").is_err());
        assert_eq!(
            parse_c_line("frame 12: 85.3 us old, checksum 793152000"),
            Some((12, 85.3, 793152000))
        );
        assert_eq!(parse_c_line("reader: demo, 3 dimensions"), None);
    }
}
