//! `dbshm demo-writer NAME FPS DURATION`: the demo's writer process.
//! Publishes frame after frame of the pattern at the rate asked, and
//! reports how long filling and publishing one takes.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use dbshm::DoubleBufferedSharedMemory;

use super::wire::{Kind, Message, Report};
use crate::stats::Latencies;
use crate::time;
use dbshm_testkit::frame::fill;

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
    let mut frames = 0;
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
        frames += 1;
        if last_report.elapsed() >= Duration::from_millis(250) {
            last_report = Instant::now();
            report(Kind::Status, frames, &write_times, started);
        }
        next += period;
        // Never past the end: at 0.2 fps for 1 s, the run lasts 1 s, not 5.
        match next.min(end).checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None => next = Instant::now(), // late: do not try to catch up in a burst
        }
    }
    report(Kind::Final, frames, &write_times, started);
    Ok(ExitCode::SUCCESS)
}

/// Prints the writer's report: `frames` since `started`, and their times.
fn report(kind: Kind, frames: u64, times: &Latencies, started: Instant) {
    let report = Report {
        frames,
        fps: frames as f64 / started.elapsed().as_secs_f64().max(1e-9),
        p50_ns: times.quantile(0.50),
        p99_ns: times.quantile(0.99),
        max_ns: times.max(),
        ..Report::default()
    };
    Message { kind, report }.emit();
}
