//! `dbshm watch NAME`: frame rate, publish-to-read latency and a summary of
//! the latest frame (min, max, mean), refreshed until interrupted.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dbshm::{DbShmError, DoubleBufferedSharedMemory, Dtype, Element};
use num_traits::ToPrimitive;

use crate::stats::{self, Latencies};
use crate::time;

#[derive(clap::Args)]
pub struct WatchArgs {
    /// The segment's name.
    name: String,
    /// Stop after this many frames (default: until interrupted).
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds (default: until interrupted).
    #[arg(long)]
    duration: Option<f64>,
}

pub fn run(args: WatchArgs) -> Result<ExitCode, String> {
    let dtype = dbshm::inspect(&args.name).map_err(|e| e.to_string())?.dtype;
    match dtype {
        Dtype::U8 => watch::<u8>(&args),
        Dtype::I8 => watch::<i8>(&args),
        Dtype::U16 => watch::<u16>(&args),
        Dtype::I16 => watch::<i16>(&args),
        Dtype::U32 => watch::<u32>(&args),
        Dtype::I32 => watch::<i32>(&args),
        Dtype::U64 => watch::<u64>(&args),
        Dtype::I64 => watch::<i64>(&args),
        Dtype::F32 => watch::<f32>(&args),
        Dtype::F64 => watch::<f64>(&args),
    }
}

/// Min, max and mean of a frame, as f64.
fn summary<T: ToPrimitive + Copy>(frame: &[T]) -> (f64, f64, f64) {
    let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for x in frame.iter().filter_map(|x| x.to_f64()) {
        min = min.min(x);
        max = max.max(x);
        sum += x;
    }
    (min, max, sum / frame.len().max(1) as f64)
}

fn watch<T: Element + ToPrimitive>(args: &WatchArgs) -> Result<ExitCode, String> {
    let shm =
        DoubleBufferedSharedMemory::<T>::open_readonly(&args.name).map_err(|e| e.to_string())?;
    let terminal = std::io::stdout().is_terminal();
    println!(
        "watching {}: {} {} ({}); Ctrl-C to stop",
        args.name,
        shm.dtype(),
        stats::shape(shm.shape()),
        stats::bytes(shm.len() * shm.dtype().size())
    );
    let mut frame = vec![T::zero(); shm.len()];
    let mut seq = shm.latest_seq();
    let started = Instant::now();
    let end = match args.duration {
        Some(s) => Some(started + time::seconds(s, "watch: --duration")?),
        None => None,
    };
    let (mut frames, mut window_frames) = (0u64, 0u64);
    let mut window = Latencies::default();
    let mut window_start = Instant::now();
    let mut last: Option<dbshm::FrameInfo> = None;
    loop {
        if end.is_some_and(|e| Instant::now() >= e) || args.count.is_some_and(|c| frames >= c) {
            break;
        }
        match shm.wait_into(seq, Duration::from_millis(250), &mut frame) {
            Ok(info) => {
                window.push(dbshm::monotonic_ns().saturating_sub(info.timestamp_ns));
                seq = info.seq;
                frames += 1;
                window_frames += 1;
                last = Some(info);
            }
            Err(DbShmError::Timeout { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        let elapsed = window_start.elapsed();
        let finishing = args.count.is_some_and(|c| frames >= c);
        if elapsed >= Duration::from_millis(500) || finishing {
            let line = match last {
                Some(info) => {
                    let (min, max, mean) = summary(&frame);
                    format!(
                        "frame {:>8}  {:>7.1} fps  latency p50 {:>8} p99 {:>8}  min {min:.3} max {max:.3} mean {mean:.3}",
                        info.seq,
                        window_frames as f64 / elapsed.as_secs_f64(),
                        stats::duration(window.percentile(50.0)),
                        stats::duration(window.percentile(99.0)),
                    )
                }
                None => format!("no frame yet (latest {})", shm.latest_seq()),
            };
            if terminal {
                // Cut to 79 columns: a wrapped line would not be redrawn in place.
                let line: String = line.chars().take(79).collect();
                print!("\r\x1b[2K{line}");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
            window = Latencies::default();
            window_frames = 0;
            window_start = Instant::now();
        }
    }
    if terminal {
        println!();
    }
    println!(
        "{frames} frames in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
