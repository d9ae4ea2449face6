//! What the demo shows: a row per process, redrawn in place in a terminal
//! (printed once a second in a pipe) while the processes run, then the
//! summary table and what went wrong.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use super::wire::Report;
use crate::stats;
use crate::table::print_table;

/// One process as the parent sees it.
#[derive(Clone)]
pub struct Row {
    pub label: String,
    /// Its latest report.
    pub report: Report,
    pub state: State,
}

/// Where a process is, as far as its output and exit have told.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    Running,
    /// It sent its final report.
    Done,
    /// Why it failed: a line it wrote on stderr, or how it exited.
    Failed(String),
}

impl Row {
    pub fn new(label: &str) -> Row {
        Row {
            label: label.to_owned(),
            report: Report::default(),
            state: State::Running,
        }
    }

    /// Its final report was read; a failure already seen stays.
    pub fn finished(&mut self) {
        if self.state == State::Running {
            self.state = State::Done;
        }
    }

    fn line(&self) -> String {
        let state = match &self.state {
            State::Failed(why) => format!("  FAILED: {why}"),
            State::Done => "  done".into(),
            State::Running => String::new(),
        };
        let r = &self.report;
        format!(
            "{:<16} {:>6} frames {:>6.1} fps  p50 {:>8}  p99 {:>8}  retries {:>3}  torn {}  out of order {}{state}",
            self.label,
            r.frames,
            r.fps,
            stats::duration(r.p50_ns),
            stats::duration(r.p99_ns),
            r.retries,
            r.torn,
            r.backwards,
        )
    }
}

/// The live rows on stdout. Dropping it gives the terminal back its line
/// wrapping.
pub struct Screen {
    terminal: bool,
    started: Instant,
    /// Rows drawn last time, to move the cursor back over (in a terminal).
    shown: usize,
    /// When the rows were last printed (in a pipe).
    last_plain: Instant,
}

impl Screen {
    pub fn open() -> Screen {
        let terminal = std::io::stdout().is_terminal();
        if terminal {
            print!("\x1b[?7l"); // no line wrap while rows are redrawn in place
        }
        Screen {
            terminal,
            started: Instant::now(),
            shown: 0,
            last_plain: Instant::now(),
        }
    }

    /// Shows `rows`: in a terminal, over the rows shown before; in a pipe,
    /// as new lines once a second, and when `last`.
    pub fn show(&mut self, rows: &[Row], last: bool) {
        if self.terminal {
            let mut out = std::io::stdout().lock();
            if self.shown > 0 {
                let _ = write!(out, "\x1b[{}A", self.shown);
            }
            for row in rows {
                let _ = writeln!(out, "\x1b[2K{}", row.line());
            }
            let _ = out.flush();
            self.shown = rows.len();
        } else if self.last_plain.elapsed() >= Duration::from_secs(1) || last {
            self.last_plain = Instant::now();
            for row in rows {
                println!(
                    "[{:>4.1} s] {}",
                    self.started.elapsed().as_secs_f64(),
                    row.line()
                );
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.terminal {
            print!("\x1b[?7h");
        }
    }
}

/// The table of every process's final counts.
pub fn print_summary(rows: &[Row]) {
    println!("\nsummary");
    let table: Vec<[String; 9]> = rows
        .iter()
        .map(|row| {
            let r = &row.report;
            [
                row.label.clone(),
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
}

/// What went wrong, a sentence for each process that failed, saw a torn or
/// out-of-order frame, or got none.
pub fn problems(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter_map(|row| {
            let r = &row.report;
            if let State::Failed(why) = &row.state {
                Some(format!("{} failed: {why}", row.label))
            } else if r.torn > 0 || r.backwards > 0 {
                Some(format!(
                    "{} saw {} torn and {} out-of-order frames",
                    row.label, r.torn, r.backwards
                ))
            } else if r.frames == 0 {
                Some(format!("{} got no frame", row.label))
            } else {
                None
            }
        })
        .collect()
}
