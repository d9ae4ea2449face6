//! Looking at segments without using them: what `dbshm list` and `dbshm info`
//! show. Opens read-only, never waits for a creator, never removes anything.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::layout::{LAYOUT_VERSION, NBUFFERS};
use crate::segment::{self, Segment};
use crate::{DbShmError, Dtype, Result};

/// One buffer's publication state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SlotInfo {
    /// Sequence counter: odd while the writer is in the buffer.
    pub seq: u64,
    /// Number of the frame the buffer holds.
    pub frame: u64,
    /// Publish time of that frame (CLOCK_MONOTONIC, ns).
    pub timestamp_ns: u64,
}

/// What a segment's header says, and whether a writer holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SegmentInfo {
    /// The segment's name.
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Shape of a frame.
    pub shape: Vec<usize>,
    /// Bytes of one frame.
    pub frame_bytes: usize,
    /// Bytes of the whole object.
    pub total_size: usize,
    /// Byte offset of each buffer.
    pub buffer_offsets: [usize; NBUFFERS],
    /// Layout version of the header.
    pub layout_version: u32,
    /// Header flags (bit 0: the writer wakes at every publish).
    pub flags: u32,
    /// Number of the latest published frame; 0 before the first write.
    pub latest_seq: u64,
    /// Publish time of the latest frame (CLOCK_MONOTONIC, ns); 0 before the first write.
    pub latest_timestamp_ns: u64,
    /// Nanoseconds since the latest frame was published, when there is one.
    pub latest_age_ns: Option<u64>,
    /// Pid of the last process that took the writer role; 0 if none has.
    pub writer_pid: u32,
    /// Whether a process holds the writer role now (the kernel's lock says so).
    pub writer_alive: bool,
    /// Waiters that counted themselves (see the wait protocol).
    pub waiters: u32,
    /// Each buffer's publication state.
    pub slots: [SlotInfo; NBUFFERS],
    /// Permission bits of the object.
    pub mode: u32,
    /// Owner of the object.
    pub uid: u32,
    /// Last change of the object's size or mode, as seconds since the Unix epoch.
    pub modified_unix_s: i64,
}

impl SegmentInfo {
    /// Time since the segment last showed life: its latest frame, or, before
    /// any frame, its creation.
    pub fn idle(&self) -> Duration {
        match self.latest_age_ns {
            Some(ns) => Duration::from_nanos(ns),
            None => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                now.saturating_sub(Duration::from_secs(self.modified_unix_s.max(0) as u64))
            }
        }
    }
}

/// Reads a segment's header, read-only. [`DbShmError::Incompatible`] for an
/// object that is not a (finished) dbshm segment.
pub fn inspect(name: &str) -> Result<SegmentInfo> {
    let (seg, geometry) = Segment::open_as_is(name)?;
    let h = seg.header();
    let stat = seg.stat(name)?;
    // Relaxed throughout: a snapshot for people to read, not a frame to
    // trust; each value is whole, their mutual consistency is not needed.
    let slots = [0, 1].map(|i| SlotInfo {
        seq: h.slots[i].seq.load(Ordering::Relaxed),
        frame: h.slots[i].frame.load(Ordering::Relaxed),
        timestamp_ns: h.slots[i].timestamp_ns.load(Ordering::Relaxed),
    });
    let latest_seq = h.latest.load(Ordering::Relaxed);
    let latest = slots[(latest_seq % NBUFFERS as u64) as usize];
    let latest_timestamp_ns = if latest.frame == latest_seq {
        latest.timestamp_ns
    } else {
        0
    };
    Ok(SegmentInfo {
        name: name.to_owned(),
        dtype: geometry.dtype,
        shape: geometry.shape.clone(),
        frame_bytes: geometry.frame_bytes,
        total_size: geometry.total_size,
        buffer_offsets: geometry.buffer_offset,
        layout_version: LAYOUT_VERSION,
        flags: geometry.flags,
        latest_seq,
        latest_timestamp_ns,
        latest_age_ns: (latest_seq > 0 && latest_timestamp_ns > 0)
            .then(|| crate::monotonic_ns().saturating_sub(latest_timestamp_ns)),
        writer_pid: h.writer_pid.load(Ordering::Relaxed),
        writer_alive: seg.writer_alive(),
        waiters: h.waiters.load(Ordering::Relaxed),
        slots,
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        modified_unix_s: stat.st_mtime,
    })
}

/// Every dbshm segment on the machine that this user may read, found by its
/// header (not its name), sorted by name. Other shared-memory objects are
/// skipped.
pub fn list() -> Result<Vec<SegmentInfo>> {
    let dir = std::fs::read_dir(segment::SHM_DIR).map_err(|source| DbShmError::Os {
        name: segment::SHM_DIR.to_owned(),
        operation: "list the shared-memory objects",
        source,
    })?;
    let mut found: Vec<SegmentInfo> = dir
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter_map(|name| inspect(&name).ok())
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}
