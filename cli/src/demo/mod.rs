//! `dbshm demo`: a writer process and several reader processes on one
//! segment, shown live, then a summary. Exits non-zero if any reader saw a
//! torn frame or a frame out of order.
//!
//! The processes are this program again (`demo-writer`, `demo-reader`), and
//! the C reader of examples-c when it is built. This file is the parent,
//! from the command line to the verdict. A frame's path: the writer fills
//! it with the test kit's pattern (`dbshm_testkit::frame`) and publishes it
//! (`writer`); each reader waits for it, copies it out and checks it
//! against the pattern, counting what it sees (`reader`, `reader_stats`)
//! and reporting in JSON lines (`wire`); the parent reads the reports into rows (`fleet`) and
//! shows them (`screen`).

mod c_reader;
mod fleet;
mod reader;
mod reader_stats;
mod screen;
mod wire;
mod writer;

pub use reader::{reader, ReaderArgs};
pub use writer::{writer, WriterArgs};

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::time::Duration;

use dbshm::{DoubleBufferedSharedMemory, Options};

use crate::stats;
use fleet::{Fleet, Program};
use screen::Screen;

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
        args.c_reader.clone().or_else(|| c_reader::built(&exe))
    };
    let checksum = c_reader::checksum(shm.len());
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

    let stop = crate::signals::stop_on_signals()?;
    let mut fleet = Fleet::default();
    let fps = args.fps.to_string();
    let duration = args.duration.to_string();
    fleet.spawn(
        "writer",
        Command::new(&exe).args(["demo-writer", &name, &fps, &duration]),
        Program::Ours,
    )?;
    for i in 1..=args.readers {
        let label = format!("reader {i} (Rust)");
        fleet.spawn(
            &label,
            Command::new(&exe).args(["demo-reader", &name, &duration]),
            Program::Ours,
        )?;
    }
    if let Some(path) = &c_reader {
        fleet.spawn(
            "reader (C)",
            Command::new(path).arg(&name),
            Program::CReader { checksum },
        )?;
    }

    // Show the rows until every Rust process is done.
    let mut screen = Screen::open();
    let interrupted = loop {
        let done = fleet.ours_exited();
        screen.show(&fleet.rows(), done);
        if stop.load(Ordering::Relaxed) {
            break true;
        }
        if done {
            break false;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    drop(screen);
    // The C reader has no end of its own; an interrupted demo stops them all.
    let final_rows = fleet.finish(stop.load(Ordering::Relaxed));
    if interrupted {
        println!("\ninterrupted");
        return Ok(ExitCode::from(130));
    }

    screen::print_summary(&final_rows);
    let problems = screen::problems(&final_rows);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse() {
        assert_eq!(parse_shape("1080x1920x3"), Ok(Shape(vec![1080, 1920, 3])));
        assert_eq!(parse_shape("16"), Ok(Shape(vec![16])));
        assert!(parse_shape("10xx3").is_err());
    }
}
