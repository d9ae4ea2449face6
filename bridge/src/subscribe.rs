//! `subscribe`: writes the frames that arrive on a Zenoh key into a local
//! segment. The subscriber keeps only the newest frame that has arrived
//! and not been written yet (a ring of one), so a slow local side drops
//! old frames instead of queueing them. The local segment is created with
//! the first frame's shape and element type, or opened if it exists with
//! them; its frame numbers and timestamps are this machine's own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dbshm::{DbShmError, DoubleBufferedSharedMemory, Dtype, Element, Options};
use zenoh::handlers::RingChannel;
use zenoh::sample::Sample;
use zenoh::{Session, Wait};

use crate::stats::Status;
use crate::wire::Meta;

/// How the local segment is made.
pub struct Local {
    pub name: String,
    pub dir: Option<PathBuf>,
    pub mode: u32,
    pub buffers: usize,
    /// Remove and create it again when the remote shape or type changes,
    /// instead of stopping with an error.
    pub recreate: bool,
    /// Frames larger than this are refused, however they describe
    /// themselves: a remote peer cannot make this process allocate more.
    pub max_frame_bytes: usize,
}

/// A local segment of any element type, written with a frame's bytes.
trait Sink {
    fn dtype(&self) -> Dtype;
    fn shape(&self) -> &[usize];
    /// Writes the frame made of `slices`, whose lengths add up to its size;
    /// its local number.
    fn write(&self, slices: &mut dyn Iterator<Item = &[u8]>) -> Result<u64, String>;
}

impl<T: Element + bytemuck::Pod> Sink for DoubleBufferedSharedMemory<T> {
    fn dtype(&self) -> Dtype {
        DoubleBufferedSharedMemory::dtype(self)
    }

    fn shape(&self) -> &[usize] {
        DoubleBufferedSharedMemory::shape(self)
    }

    fn write(&self, slices: &mut dyn Iterator<Item = &[u8]>) -> Result<u64, String> {
        self.write_with(|mut back| {
            let back: &mut [u8] =
                bytemuck::cast_slice_mut(back.as_slice_mut().expect("contiguous"));
            let mut at = 0;
            for slice in slices {
                back[at..at + slice.len()].copy_from_slice(slice);
                at += slice.len();
            }
        })
        .map(|info| info.seq)
        .map_err(|e| e.to_string())
    }
}

/// Receives until `stop` is set or the session closes.
pub fn run(
    session: &Session,
    key: &str,
    local: &Local,
    status: &Status,
    stop: &AtomicBool,
) -> Result<(), String> {
    // One stream per segment: a key expression with wildcards would mix
    // several into it.
    if key.contains('*') || key.contains('$') {
        return Err(format!(
            "{key:?} is a key expression with wildcards; subscribe to one key"
        ));
    }
    let subscriber = session
        .declare_subscriber(key)
        .with(RingChannel::new(1))
        .wait()
        .map_err(|e| format!("declare a subscriber on {key:?}: {e}"))?;
    let stats = status.add(&local.name, key);
    let mut sink: Option<Box<dyn Sink>> = None;
    let mut last_sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let sample = match subscriber.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(sample)) => sample,
            Ok(None) => continue,
            Err(_) => break, // the session closed
        };
        let meta = match check(&sample, local.max_frame_bytes) {
            Ok(meta) => meta,
            Err(why) => {
                stats.bad(&format!("a frame on {key:?} refused: {why}"));
                continue;
            }
        };
        if let Some(current) = &sink {
            if current.dtype() != meta.dtype || current.shape() != meta.shape {
                let change = format!(
                    "the frames on {key:?} changed from {:?} {} to {:?} {}",
                    current.shape(),
                    current.dtype(),
                    meta.shape,
                    meta.dtype
                );
                if !local.recreate {
                    return Err(format!(
                        "{change}; segment {:?} keeps the old shape (--recreate makes it anew)",
                        local.name
                    ));
                }
                eprintln!(
                    "dbshm-bridge: {change}: making segment {:?} anew",
                    local.name
                );
                sink = None;
                remove(local)?;
            }
        }
        if sink.is_none() {
            sink = Some(open(local, &meta)?);
        }
        let sink = sink.as_ref().expect("made above");
        let seq = sink.write(&mut sample.payload().slices())?;
        stats.wrote(seq);
        // Frames Zenoh dropped on the way: gaps in the publisher's count
        // (which starts again at 1 when it restarts).
        let lost = if meta.sent > last_sent {
            meta.sent - last_sent - 1
        } else {
            0
        };
        last_sent = meta.sent;
        stats.received(&meta, lost, sample.payload().len());
    }
    Ok(())
}

/// The frame's description, checked against its payload and `max` bytes.
fn check(sample: &Sample, max: usize) -> Result<Meta, String> {
    let attachment = sample
        .attachment()
        .ok_or("it has no description (not from dbshm-bridge?)")?;
    let meta = Meta::parse(&attachment.to_bytes())?;
    let want = meta.frame_bytes()?;
    if want > max {
        return Err(format!(
            "a frame of {:?} {} is {want} bytes, more than --max-frame-bytes {max}",
            meta.shape, meta.dtype
        ));
    }
    let got = sample.payload().len();
    if got != want {
        return Err(format!(
            "{got} bytes, but a frame of {:?} {} has {want}",
            meta.shape, meta.dtype
        ));
    }
    Ok(meta)
}

fn options(local: &Local) -> Options {
    let options = Options::new().mode(local.mode).buffers(local.buffers);
    match &local.dir {
        Some(dir) => options.dir(dir),
        None => options,
    }
}

/// Removes the local segment, if there is one.
fn remove(local: &Local) -> Result<(), String> {
    match options(local).unlink(&local.name) {
        Ok(()) | Err(DbShmError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The local segment for frames like `meta`'s: opened if it exists with
/// their shape and type, else created; one of another shape or type made
/// anew if `local.recreate` says so.
fn open(local: &Local, meta: &Meta) -> Result<Box<dyn Sink>, String> {
    dbshm::with_element_type!(meta.dtype, open_typed(local, &meta.shape))
}

fn open_typed<T: Element + bytemuck::Pod>(
    local: &Local,
    shape: &[usize],
) -> Result<Box<dyn Sink>, String> {
    let mismatch = |e: &DbShmError| {
        matches!(
            e,
            DbShmError::TypeMismatch { .. } | DbShmError::ShapeMismatch { .. }
        )
    };
    let shm = match options(local).open_or_create::<T>(&local.name, shape) {
        Err(e) if mismatch(&e) && local.recreate => {
            eprintln!(
                "dbshm-bridge: {e}: making segment {:?} anew for the remote {shape:?} {}",
                local.name,
                T::DTYPE
            );
            remove(local)?;
            options(local).open_or_create::<T>(&local.name, shape)
        }
        other => other,
    };
    let shm = shm.map_err(|e| {
        if mismatch(&e) {
            format!(
                "{e}: the remote frames are {shape:?} {}; remove the segment or use --recreate",
                T::DTYPE
            )
        } else {
            e.to_string()
        }
    })?;
    Ok(Box::new(shm))
}
