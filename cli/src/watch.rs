//! `dbshm watch NAME`: frame rate, publish-to-read latency and a summary of
//! the latest frame (min, max, mean), refreshed until interrupted, and what
//! became of the writer. Ends when the name no longer leads to the segment
//! watched.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dbshm::{DbShmError, Element, FrameInfo};
use num_traits::ToPrimitive;

use crate::fate::{self, fate, Fate};
use crate::stats::{self, Latencies};
use crate::time;

#[derive(clap::Args)]
pub struct WatchArgs {
    /// The segment's name.
    name: String,
    /// Stop after this many new frames (default: until interrupted).
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds (default: until interrupted).
    #[arg(long)]
    duration: Option<f64>,
}

/// How often the line is refreshed, and the segment's fate looked at.
const REFRESH: Duration = Duration::from_millis(500);

pub fn run(args: WatchArgs) -> Result<ExitCode, String> {
    let duration = match args.duration {
        Some(s) => Some(time::seconds(s, "watch: --duration")?),
        None => None,
    };
    let dtype = dbshm::inspect(&args.name).map_err(|e| e.to_string())?.dtype;
    dbshm::with_element_type!(dtype, watch(&args, duration))
}

/// Min, max and mean of a frame's elements, as f64.
#[derive(Debug, PartialEq)]
struct Summary {
    min: f64,
    max: f64,
    mean: f64,
}

impl Summary {
    fn of<T: ToPrimitive + Copy>(frame: &[T]) -> Summary {
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for x in frame.iter().filter_map(|x| x.to_f64()) {
            min = min.min(x);
            max = max.max(x);
            sum += x;
        }
        Summary {
            min,
            max,
            mean: sum / frame.len().max(1) as f64,
        }
    }
}

fn watch<T: Element + ToPrimitive>(
    args: &WatchArgs,
    duration: Option<Duration>,
) -> Result<ExitCode, String> {
    let name = &args.name;
    let (shm, watched) = fate::open_readonly::<T>(name)?;
    let terminal = std::io::stdout().is_terminal();
    println!(
        "watching {name}: {} {} ({}); Ctrl-C to stop",
        shm.dtype(),
        stats::shape(shm.shape()),
        stats::bytes(shm.len() * shm.dtype().size())
    );
    let show = |line: String| {
        if terminal {
            // Cut to 79 columns: a wrapped line would not be redrawn in place.
            let line: String = line.chars().take(79).collect();
            print!("\r\x1b[2K{line}");
            let _ = std::io::stdout().flush();
        } else {
            println!("{line}");
        }
    };
    let mut frame = vec![T::zero(); shm.len()];
    // The frame the segment holds already, so that the first line is about
    // it; only newer frames count towards --count and the rate.
    let mut last =
        Some(shm.read_into(&mut frame).map_err(|e| e.to_string())?).filter(|info| info.seq > 0);
    let mut seq = last.map_or(0, |info| info.seq);
    let started = Instant::now();
    let end = duration.map(|d| started + d);
    let mut frames = 0u64;
    let mut window = Window::new();
    let mut next_line = started; // the first line at once
    let ended = loop {
        let finishing = args.count.is_some_and(|c| frames >= c);
        if Instant::now() >= next_line || finishing {
            let writer = match fate(name, watched) {
                Fate::Named(writer) => writer,
                // Said on stderr, after the count.
                Fate::Removed => break Some(format!("watch: {name} was removed")),
                Fate::Replaced => break Some(format!("watch: {name} now names another segment")),
            };
            show(window.line(last, &frame, &writer));
            window = Window::new();
            next_line = window.started + REFRESH;
        }
        if end.is_some_and(|e| Instant::now() >= e) || finishing {
            break None;
        }
        match shm.wait_into(seq, Duration::from_millis(250), &mut frame) {
            Ok(info) => {
                window
                    .latencies
                    .push(dbshm::monotonic_ns().saturating_sub(info.timestamp_ns));
                seq = info.seq;
                frames += 1;
                window.frames += 1;
                last = Some(info);
            }
            Err(DbShmError::Timeout { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
    };
    if terminal {
        println!();
    }
    println!(
        "{frames} frames in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    match ended {
        Some(why) => Err(why),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The frames since the line was last shown.
struct Window {
    started: Instant,
    frames: u64,
    latencies: Latencies,
}

impl Window {
    fn new() -> Window {
        Window {
            started: Instant::now(),
            frames: 0,
            latencies: Latencies::default(),
        }
    }

    /// The line for this window: the rate and latency of its frames, or how
    /// long since the last one and what the writer is doing; then the
    /// summary of the latest frame.
    fn line<T: ToPrimitive + Copy>(
        &self,
        last: Option<FrameInfo>,
        frame: &[T],
        writer: &str,
    ) -> String {
        let Some(info) = last else {
            return format!("no frame yet; {writer}");
        };
        let Summary { min, max, mean } = Summary::of(frame);
        let what = if self.frames > 0 {
            format!(
                "{:>7.1} fps  latency p50 {:>8} p99 {:>8}",
                self.frames as f64 / self.started.elapsed().as_secs_f64(),
                stats::duration(self.latencies.quantile(0.50)),
                stats::duration(self.latencies.quantile(0.99)),
            )
        } else {
            let age = dbshm::monotonic_ns().saturating_sub(info.timestamp_ns);
            format!("no new frame for {}; {writer}", stats::duration(Some(age)))
        };
        format!(
            "frame {:>8}  {what}  min {min:.3} max {max:.3} mean {mean:.3}",
            info.seq
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_summarised_by_its_min_max_and_mean() {
        assert_eq!(
            Summary::of(&[3i16, -5, 8]),
            Summary {
                min: -5.0,
                max: 8.0,
                mean: 2.0
            }
        );
        let empty = Summary::of::<u8>(&[]);
        assert_eq!(empty.mean, 0.0);
    }
}
