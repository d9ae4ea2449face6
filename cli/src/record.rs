//! `dbshm record NAME -o FILE.npy`: every new frame of a segment, in order,
//! into a recording (see recording.rs), until --frames, --duration, Ctrl-C,
//! a full disk or the segment's end. A frame the recorder was too slow to
//! read before the next one replaced it is counted as skipped; a frame in
//! the file is always whole and labelled with its own `seq`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use dbshm::{DbShmError, Element};
use indicatif::{ProgressBar, ProgressStyle};

use crate::fate::{self, fate, Fate};
use crate::recording::{bytes_of, frame_buffer, Layout, Recorder};
use crate::{signals, stats, time};

#[derive(Args)]
pub struct RecordArgs {
    /// The segment.
    name: String,
    /// The recording to write, FILE.npy; it must not exist.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Stop after this many frames.
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    frames: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
}

/// Frames read and not yet written take at most this memory (or two
/// frames, if more): 1.4 s of 1080p at 60 fps, 0.3 s of 4K, to ride out a
/// file system's stall. They are what a SIGKILL can cost.
const QUEUE_BYTES: usize = 512 << 20;
/// And at most this many frames, when frames are small.
const QUEUE_FRAMES: usize = 1024;
/// How often the progress line is redrawn and the segment's fate looked at.
const REFRESH: Duration = Duration::from_millis(500);
/// The longest wait for a frame before looking at Ctrl-C and the clock.
const POLL: Duration = Duration::from_millis(100);

pub fn run(args: RecordArgs) -> Result<ExitCode, String> {
    let duration = match args.duration {
        Some(s) => Some(time::seconds(s, "record: --duration")?),
        None => None,
    };
    if !args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        return Err(format!(
            "{}: a recording ends in .npy",
            args.output.display()
        ));
    }
    let info = dbshm::inspect(&args.name).map_err(|e| e.to_string())?;
    // The recording is as private as the segment: a 0600 segment's frames
    // do not land in a file every user may read.
    let mode = info.mode & 0o666;
    dbshm::with_element_type!(info.dtype, record(&args, duration, mode))
}

fn record<T: Element>(
    args: &RecordArgs,
    duration: Option<Duration>,
    mode: u32,
) -> Result<ExitCode, String> {
    let stop = signals::stop_on_signals()?;
    let name = &args.name;
    let (shm, followed) = fate::open_readonly::<T>(name)?;
    let layout = Layout {
        dtype: shm.dtype(),
        shape: shm.shape().to_vec(),
        numbered: true,
    };
    let what = format!(
        "segment {name:?} ({} {})",
        stats::shape(&layout.shape),
        layout.dtype
    );
    let file = args.output.display();
    let buffers = (QUEUE_BYTES / layout.frame_bytes().max(1)).clamp(2, QUEUE_FRAMES);
    let recorder =
        Recorder::create(&args.output, layout, mode).map_err(|e| format!("{file}: {e}"))?;
    println!("recording {what} into {file}; Ctrl-C to stop");
    let progress = ProgressBar::new_spinner();
    progress.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));

    // Frames go to the file writer through a queue, and their buffers come
    // back: the reader takes the next frame while the file system is busy
    // with the last (a stall of the page cache, a disk's writeback), and
    // skips frames only when every buffer waits to be written.
    let (to_file, queued) = mpsc::channel::<Queued<T>>();
    let (to_reader, spare) = mpsc::channel::<Vec<T>>();
    let written = Arc::new(Written::default());
    let file_writer = std::thread::spawn({
        let written = Arc::clone(&written);
        move || write_queued(recorder, &queued, &to_reader, &written)
    });
    let mut allocated = 0;
    let mut buffer = None;
    // Frames from now on: the one the segment holds is not new.
    let mut last = shm.latest_seq();
    let (mut read, mut skipped) = (0u64, 0u64);
    let started = Instant::now();
    let end = duration.map(|d| started + d);
    let mut window = (started, 0u64); // since the line was last drawn
    let ended = loop {
        if stop.load(Ordering::Relaxed) || args.frames.is_some_and(|n| read >= n) {
            break None;
        }
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            break None;
        }
        let count = written.frames.load(Ordering::Relaxed);
        if now >= window.0 + REFRESH {
            match fate(name, followed) {
                Fate::Named(_) => {}
                Fate::Removed => break Some(format!("{name} was removed")),
                Fate::Replaced => break Some(format!("{name} now names another segment")),
            }
            let fps = (count - window.1) as f64 / (now - window.0).as_secs_f64();
            let bytes = written.bytes.load(Ordering::Relaxed);
            progress.set_message(progress_line(count, fps, bytes, skipped));
            window = (now, count);
        }
        let wait = end.map_or(POLL, |e| POLL.min(e.saturating_duration_since(now)));
        // A buffer written out, a new one, or (all queued) wait for one.
        let mut frame = match buffer.take().map_or_else(|| spare.try_recv(), Ok) {
            Ok(frame) => frame,
            Err(_) if allocated < buffers => match frame_buffer(shm.len()) {
                Ok(frame) => {
                    allocated += 1;
                    frame
                }
                // With none to spare, the first frame cannot be read.
                Err(e) if allocated == 0 => break Some(e),
                // The queue is as long as memory allows.
                Err(_) => {
                    allocated = buffers;
                    continue;
                }
            },
            Err(_) => match spare.recv_timeout(wait) {
                Ok(frame) => frame,
                Err(RecvTimeoutError::Timeout) => continue,
                // The file writer stopped at an error, said below.
                Err(RecvTimeoutError::Disconnected) => break None,
            },
        };
        match shm.wait_into(last, wait, &mut frame) {
            Ok(info) => {
                // Every frame between the last one and this one was
                // published and replaced while the recorder was busy.
                skipped += info.seq.saturating_sub(last).saturating_sub(1);
                last = info.seq;
                read += 1;
                let queued = Queued {
                    seq: info.seq,
                    timestamp_ns: info.timestamp_ns,
                    frame,
                };
                if to_file.send(queued).is_err() {
                    break None; // the file writer stopped at an error
                }
            }
            Err(DbShmError::Timeout { .. }) => buffer = Some(frame),
            Err(e) => break Some(e.to_string()),
        }
    };
    // The file writer writes what is queued and ends.
    drop(to_file);
    let (recorder, failed) = file_writer
        .join()
        .map_err(|_| format!("{file}: the file writer failed"))?;
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let (count, bytes) = (recorder.count(), recorder.bytes());
    let synced = recorder.finish().map_err(|e| format!("{file}: {e}"));
    println!(
        "{file}: {count} frames of {what}, {skipped} skipped, {} in {elapsed:.1} s ({:.1} fps)",
        stats::bytes(bytes as usize),
        count as f64 / elapsed.max(1e-9),
    );
    if let Some(e) = failed {
        return Err(format!(
            "{file}: {e}; it holds the {count} frames written before and loads as it is \
             ({} frames read after them are not in it)",
            read - count
        ));
    }
    synced?;
    match ended {
        Some(why) => Err(why),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// A frame read, on its way to the file.
struct Queued<T> {
    seq: u64,
    timestamp_ns: u64,
    frame: Vec<T>,
}

/// What the file writer has written, for the progress line. Relaxed
/// loads and stores are enough: the numbers are only shown, and nothing
/// else is read by their light.
#[derive(Default)]
struct Written {
    frames: AtomicU64,
    bytes: AtomicU64,
}

/// Appends each queued frame to the recording and gives its buffer back,
/// until the queue is closed and empty or a write fails; the recording,
/// and the error.
fn write_queued<T: Element>(
    mut recorder: Recorder,
    queued: &mpsc::Receiver<Queued<T>>,
    to_reader: &mpsc::Sender<Vec<T>>,
    written: &Written,
) -> (Recorder, Option<std::io::Error>) {
    for q in queued {
        if let Err(e) = recorder.append(q.seq, q.timestamp_ns, bytes_of(&q.frame)) {
            return (recorder, Some(e));
        }
        written.frames.store(recorder.count(), Ordering::Relaxed);
        written.bytes.store(recorder.bytes(), Ordering::Relaxed);
        // The reader may have ended: then the buffer is not needed.
        let _ = to_reader.send(q.frame);
    }
    (recorder, None)
}

/// "120 frames  59.9 fps  746.5 MB written  0 skipped".
fn progress_line(frames: u64, fps: f64, bytes: u64, skipped: u64) -> String {
    format!(
        "{frames} frames  {fps:.1} fps  {} written  {skipped} skipped",
        stats::bytes(bytes as usize)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_says_frames_rate_bytes_and_skipped() {
        assert_eq!(
            progress_line(120, 59.94, 746_520_000, 3),
            "120 frames  59.9 fps  746.5 MB written  3 skipped"
        );
    }
}
