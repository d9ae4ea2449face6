//! `dbshm demo-reader NAME DURATION`: one of the demo's Rust reader
//! processes. Waits for each new frame, checks it against the pattern and
//! reports what it counted.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use dbshm::{DbShmError, DoubleBufferedSharedMemory};

use super::reader_stats::ReaderStats;
use super::wire::{Kind, Message};
use dbshm_testkit::frame::is_frame;

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
    let started = Instant::now();
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
            Err(DbShmError::Timeout { .. }) if started.elapsed().as_secs_f64() > args.duration => {
                break
            }
            Err(DbShmError::Timeout { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        if last_report.elapsed() >= Duration::from_millis(250) {
            last_report = Instant::now();
            report(Kind::Status, &mut stats, &shm);
        }
    }
    report(Kind::Final, &mut stats, &shm);
    Ok(ExitCode::SUCCESS)
}

/// Prints the reader's report, with the handle's count of retries.
fn report(kind: Kind, stats: &mut ReaderStats, shm: &DoubleBufferedSharedMemory<u8>) {
    stats.set_retries(shm.retries());
    let report = stats.report().clone();
    Message { kind, report }.emit();
}
