//! `dbshm play FILE.npy NAME`: a recording's frames written into a segment,
//! in order, at the pace they were recorded or at --fps, once or --loop.
//! The segment is created with the recording's shape and type if it does
//! not exist; one of another shape or type is an error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use dbshm::{Element, Options};
use indicatif::{ProgressBar, ProgressStyle};

use crate::recording::{bytes_of_mut, frame_buffer, Player};
use crate::{signals, stats, time};

#[derive(Args)]
pub struct PlayArgs {
    /// The recording (from `dbshm record`), or any .npy array whose first
    /// axis counts frames.
    file: PathBuf,
    /// The segment to write.
    name: String,
    /// Frames per second, instead of the recording's own pace.
    #[arg(long, value_name = "F", conflicts_with = "as_recorded")]
    fps: Option<f64>,
    /// At the pace the frames were recorded (the default for a recording).
    #[arg(long)]
    as_recorded: bool,
    /// Start again after the last frame, until interrupted.
    #[arg(long = "loop")]
    repeat: bool,
    /// Permission bits of a segment this creates, in octal (default 0600);
    /// also the most an existing segment may allow.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    mode: Option<u32>,
    /// Buffers of a segment this creates, 2 to 16 (default 2).
    #[arg(long, value_name = "N")]
    buffers: Option<usize>,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|&m| m <= 0o777)
        .ok_or(format!("{s} is not a mode in octal, such as 0640"))
}

/// When each frame is due.
#[derive(Clone, Copy)]
enum Pace {
    /// Its timestamp's distance from the first frame's.
    AsRecorded,
    /// One every this long.
    Every(Duration),
}

pub fn run(args: PlayArgs) -> Result<ExitCode, String> {
    let player = Player::open(&args.file)?;
    dbshm::with_element_type!(player.layout.dtype, play(&args, player))
}

fn play<T: Element>(args: &PlayArgs, mut player: Player) -> Result<ExitCode, String> {
    let file = args.file.display();
    let layout = player.layout.clone();
    let what = format!("{} {}", stats::shape(&layout.shape), layout.dtype);
    let pace = match args.fps {
        Some(fps) if fps > 0.0 => Pace::Every(time::seconds(1.0 / fps, "play: 1 / --fps")?),
        Some(fps) => {
            return Err(format!(
                "--fps {fps}: not a positive number of frames per second"
            ))
        }
        None if layout.numbered => Pace::AsRecorded,
        None => {
            return Err(format!(
                "{file}: an array of frames has no timestamps; give --fps"
            ))
        }
    };
    if player.count == 0 {
        return Err(format!("{file}: holds no frames"));
    }
    // The pace between frames: with --fps its period; as recorded, the mean
    // interval, which also parts one pass of --loop from the next.
    let interval = match pace {
        Pace::Every(every) => every,
        Pace::AsRecorded => {
            let ts = |index| {
                let ts = player
                    .timestamp(index)
                    .map_err(|e| format!("{file}: {e}"))?;
                Ok::<_, String>(ts.unwrap_or_default())
            };
            let span = Duration::from_nanos(ts(player.count - 1)?.saturating_sub(ts(0)?));
            let mean = span / u32::try_from(player.count - 1).unwrap_or(u32::MAX).max(1);
            if mean.is_zero() && args.repeat {
                return Err(format!(
                    "{file}: its frames have no interval to loop at; give --fps"
                ));
            }
            mean
        }
    };
    // Before the segment is made: memory for a frame.
    let mut frame = frame_buffer::<T>(layout.shape.iter().product())?;
    let stop = signals::stop_on_signals()?;
    let mut options = Options::new();
    if let Some(mode) = args.mode {
        options = options.mode(mode);
    }
    if let Some(buffers) = args.buffers {
        options = options.buffers(buffers);
    }
    let shm = options
        .open_or_create::<T>(&args.name, &layout.shape[..])
        .map_err(|e| format!("{file} holds {what} frames: {e}"))?;
    let progress = ProgressBar::new(player.count);
    progress
        .set_style(ProgressStyle::with_template("{pos}/{len} frames").expect("a valid template"));

    let mut written = 0u64;
    let mut first_write = None;
    // When each frame of the pass is due: the pass's start, plus its
    // distance from the pass's first frame (its timestamp's, or with --fps
    // its index's). A frame found late by more than an interval moves the
    // start, so that after a stall the frames go on at their pace instead
    // of in a burst that catches up.
    let mut pass = Instant::now();
    'play: loop {
        let mut first_ts = None;
        // The last frame's distance from the first, for the next pass.
        let mut since = Duration::ZERO;
        for index in 0..player.count {
            let timestamp_ns = player
                .read(index, bytes_of_mut(&mut frame))
                .map_err(|e| format!("{file}: frame {index}: {e}"))?;
            since = match pace {
                Pace::Every(every) => {
                    every.saturating_mul(u32::try_from(index).unwrap_or(u32::MAX))
                }
                Pace::AsRecorded => {
                    // A recording's records all have one.
                    let ts = timestamp_ns.unwrap_or_default();
                    let first = *first_ts.get_or_insert(ts);
                    Duration::from_nanos(ts.saturating_sub(first))
                }
            };
            let due = pass.checked_add(since).unwrap_or(pass);
            let late = Instant::now().saturating_duration_since(due);
            if late > interval {
                pass += late;
            } else if sleep_until(due, &stop) {
                break 'play;
            }
            if stop.load(Ordering::Relaxed) {
                break 'play;
            }
            shm.write_slice(&frame).map_err(|e| e.to_string())?;
            written += 1;
            if first_write.is_none() {
                // Only now is the writer role ours.
                first_write = Some(Instant::now());
                println!(
                    "playing {file} ({} frames of {what}) into segment {:?}; Ctrl-C to stop",
                    player.count, args.name
                );
            }
            progress.set_position(index + 1);
        }
        if !args.repeat {
            break;
        }
        // The next pass starts an interval after this one's last frame.
        pass = pass
            .checked_add(since.saturating_add(interval))
            .unwrap_or(pass);
    }
    progress.finish_and_clear();
    // Frames per second between the first write and the last.
    let span = first_write.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let rate = if written > 1 {
        format!(" ({:.1} fps)", (written - 1) as f64 / span.max(1e-9))
    } else {
        String::new()
    };
    println!(
        "{written} frames of {file} into segment {:?} in {span:.1} s{rate}",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Sleeps until `due`; true if a signal asked to stop first.
fn sleep_until(due: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let left = due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}
