//! Looking at segments without using them: what `dbshm list`, `dbshm info`
//! and `dbshm rm` see. Observers read the header with `pread`, never through
//! a mapping, so that no object of anyone's can crash them with a SIGBUS;
//! they take no lock, so they never get in a writer's way; and they never
//! remove anything unless asked.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::layout::{latest_parts, offset, Backing, LAYOUT_VERSION, MAX_PINNERS};
use crate::segment::name::{self, FileId, Kind};
use crate::segment::open::{self, Birth, Identity, Object};
use crate::segment::{liveness, unlink_object};
use crate::{protocol, DbShmError, Dtype, Result};

/// One buffer's publication state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SlotInfo {
    /// The seqlock's stamp: odd while the writer is in the buffer.
    pub stamp: u64,
    /// Number of the frame the buffer holds.
    pub frame: u64,
    /// Publish time of that frame (CLOCK_MONOTONIC, ns).
    pub timestamp_ns: u64,
    /// Pin records that hold the buffer: while any does, the writer
    /// leaves it alone.
    pub pinned_by: u32,
}

/// A pin record in use: a handle that has pinned, and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PinInfo {
    /// The record's index (0 to 30).
    pub record: usize,
    /// The buffers it holds.
    pub buffers: Vec<usize>,
    /// Whether its owner is alive (its mark, which the kernel drops when
    /// the owner dies, says so). A dead owner's buffers are reclaimed when
    /// the writer finds no free one.
    pub owner_alive: bool,
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
    pub buffer_offsets: Vec<usize>,
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
    /// Whether a process holds the writer role now (its mark on the segment,
    /// which the kernel drops when it dies, says so).
    pub writer_alive: bool,
    /// Whether any process has the segment open: a handle of any kind, or
    /// its creator. A segment in use is not stale.
    pub in_use: bool,
    /// Waiters that counted themselves (see the wait protocol).
    pub waiters: u32,
    /// Each buffer's publication state.
    pub slots: Vec<SlotInfo>,
    /// The pin records in use.
    pub pins: Vec<PinInfo>,
    /// Permission bits of the object.
    pub mode: u32,
    /// Owner of the object.
    pub uid: u32,
    /// Group of the object.
    pub gid: u32,
    /// Last change of the object's size or mode, as seconds since the Unix epoch.
    pub modified_unix_s: i64,
    /// When the segment was created (CLOCK_REALTIME, ns since the Unix epoch).
    pub created_unix_ns: u64,
    /// The segment's lock file, beside it in its directory.
    pub lock_file: String,
    /// The directory the segment is in.
    pub dir: PathBuf,
    /// What backs each buffer (small or huge pages), as the creator's
    /// kernel reported it; `None` if the creator could not tell.
    pub backing: Option<Backing>,
    /// The object this was read from, so that `unlink` removes no other.
    #[cfg_attr(feature = "serde", serde(skip))]
    identity: Identity,
    #[cfg_attr(feature = "serde", serde(skip))]
    lock_id: FileId,
    #[cfg_attr(feature = "serde", serde(skip))]
    birth: Option<Birth>,
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
                now.saturating_sub(Duration::from_nanos(self.created_unix_ns))
            }
        }
    }

    /// Removes this segment: the object this information was read from,
    /// and its lock file. [`DbShmError::NotFound`] if the name no longer
    /// names that object (it was removed, or replaced by a new segment).
    pub fn unlink(&self) -> Result<()> {
        unlink_object(
            &open::dir(&self.dir, &self.name)?,
            &self.name,
            self.identity,
            self.uid,
            self.lock_id,
            self.birth,
        )
    }
}

/// The directory segments live in unless a handle chooses another:
/// `$DBSHM_DIR` if set, else /dev/shm.
pub fn default_dir() -> PathBuf {
    open::place(None)
}

/// Reads a segment's header. [`DbShmError::Incompatible`] for an object that
/// is not a dbshm segment of this version. In the default directory
/// ([`default_dir`]); [`inspect_in`] for another.
pub fn inspect(name: &str) -> Result<SegmentInfo> {
    inspect_in(&default_dir(), name)
}

/// [`inspect`] in the directory `dir`.
pub fn inspect_in(dir: &Path, name: &str) -> Result<SegmentInfo> {
    name::check(name)?;
    peek(&open::dir(dir, name)?, dir, name)
}

/// [`inspect`] of a name found in the directory `place` (open as `dir`),
/// which may be any bytes.
fn peek(dir: &OwnedFd, place: &Path, name: &str) -> Result<SegmentInfo> {
    let object = Object::open(dir, name, name, false)?;
    let (geometry, page) = object.header(name)?;
    // A snapshot for people to read, never trusted: `pread` copies the page
    // as the kernel likes, so a value stored meanwhile may even be torn.
    let u64_at = |off: usize| u64::from_ne_bytes(page[off..off + 8].try_into().unwrap());
    let u32_at = |off: usize| u32::from_ne_bytes(page[off..off + 4].try_into().unwrap());
    let in_use = u32_at(offset::PINS_IN_USE);
    let pins: Vec<PinInfo> = (0..MAX_PINNERS)
        .filter(|r| in_use & 1 << r != 0)
        .map(|record| {
            let held = protocol::held_buffers(u64_at(offset::PINS + record * offset::PIN_SIZE));
            PinInfo {
                record,
                buffers: (0..geometry.nbuffers)
                    .filter(|b| held & 1 << b != 0)
                    .collect(),
                // Unanswered: shown alive (information only).
                owner_alive: liveness::held_exclusive(&object.fd, liveness::pin_owner(record))
                    .unwrap_or(true),
            }
        })
        .collect();
    let slots: Vec<SlotInfo> = (0..geometry.nbuffers)
        .map(|i| {
            let at = offset::SLOTS + i * offset::SLOT_SIZE;
            SlotInfo {
                stamp: u64_at(at + offset::SLOT_STAMP),
                frame: u64_at(at + offset::SLOT_FRAME),
                timestamp_ns: u64_at(at + offset::SLOT_TIMESTAMP_NS),
                pinned_by: pins.iter().filter(|p| p.buffers.contains(&i)).count() as u32,
            }
        })
        .collect();
    let (latest_seq, latest_buffer) = latest_parts(u64_at(offset::LATEST));
    let latest_timestamp_ns = match slots.get(latest_buffer) {
        Some(slot) if slot.frame == latest_seq => slot.timestamp_ns,
        _ => 0,
    };
    let stat = &object.stat;
    // Unanswered, a segment counts as in use (so `rm` leaves it) and its
    // writer as not shown alive (information only).
    let asks = |mark| liveness::held(&object.fd, mark);
    let lock_id = FileId(geometry.lock_id);
    Ok(SegmentInfo {
        name: name.to_owned(),
        dtype: geometry.dtype,
        shape: geometry.shape.clone(),
        frame_bytes: geometry.frame_bytes,
        total_size: geometry.total_size,
        buffer_offsets: (0..geometry.nbuffers)
            .map(|i| geometry.buffer_offset(i))
            .collect(),
        layout_version: LAYOUT_VERSION,
        flags: geometry.flags,
        latest_seq,
        latest_timestamp_ns,
        latest_age_ns: (latest_seq > 0 && latest_timestamp_ns > 0)
            .then(|| crate::monotonic_ns().saturating_sub(latest_timestamp_ns)),
        writer_pid: u32_at(offset::WRITER_PID),
        writer_alive: asks(liveness::WRITER_PRESENT).unwrap_or(false),
        in_use: asks(liveness::PRESENCE).unwrap_or(true),
        waiters: u32_at(offset::WAITERS),
        slots,
        pins,
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
        modified_unix_s: stat.st_mtime,
        created_unix_ns: geometry.created_unix_ns,
        lock_file: lock_id.lock_name(),
        dir: place.to_owned(),
        backing: Backing::read(&page[..], &geometry),
        identity: object.identity(),
        lock_id,
        birth: Birth::of(&object.fd),
    })
}

/// The names in the directory, as strings (names that are not UTF-8 are
/// no segment's: dbshm takes names as `&str`).
fn names(place: &Path, dir: &OwnedFd) -> Result<Vec<String>> {
    let what = place.display().to_string();
    let fail = |e| DbShmError::os(&what, "list the segments' directory", e);
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir).map_err(fail)? {
        if let Ok(name) = entry.map_err(fail)?.file_name().to_str() {
            if name != "." && name != ".." {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

/// Every dbshm segment on the machine that this user may read, found by its
/// header (not its name), sorted by name. Other objects are skipped, and so
/// are dbshm's own files. A name on disk may hold any character, including
/// ones dbshm would refuse: escape it before printing it. In the default
/// directory ([`default_dir`]); [`list_in`] for another.
pub fn list() -> Result<Vec<SegmentInfo>> {
    list_in(&default_dir())
}

/// [`list`] of the directory `place`.
pub fn list_in(place: &Path) -> Result<Vec<SegmentInfo>> {
    let dir = open::dir(place, &place.display().to_string())?;
    let mut found: Vec<SegmentInfo> = names(place, &dir)?
        .into_iter()
        .filter(|name| name::kind(name) == Kind::Segment)
        .filter_map(|name| peek(&dir, place, &name).ok())
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Removes dbshm's own files that nothing uses: lock files
/// (`.dbshm-lock-*`) that no segment names and no creator holds, and the
/// segments creators died building (`.dbshm-new-*`). (A writer of a
/// segment whose name is gone keeps its role: it holds the lock file open.)
/// Only this user's files can be removed (root: anyone's). Returns the
/// names removed. Any doubt (a directory or a header it cannot read for a
/// reason other than permission) removes nothing. In the default
/// directory ([`default_dir`]); [`remove_leftovers_in`] for another.
pub fn remove_leftovers() -> Result<Vec<String>> {
    remove_leftovers_in(&default_dir())
}

/// [`remove_leftovers`] in the directory `place`.
pub fn remove_leftovers_in(place: &Path) -> Result<Vec<String>> {
    let dir = open::dir(place, &place.display().to_string())?;
    // The lock files that segments name, read from any file with dbshm's
    // magic (of any layout version); `None` for names it may not read.
    let named = || -> Result<Vec<String>> {
        let mut named = Vec::new();
        for name in names(place, &dir)? {
            if name::kind(&name) != Kind::Segment {
                continue;
            }
            match Object::open(&dir, &name, &name, false) {
                Ok(object) => named.extend(object.lock_id().map(|id| FileId(id).lock_name())),
                Err(
                    DbShmError::NotFound { .. }
                    | DbShmError::PermissionDenied { .. }
                    | DbShmError::Incompatible { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(named)
    };
    // Mark `CREATING` every lock file no segment names. A creator holds
    // that mark from its lock file's creation (and makes sure the file
    // still has its name once it holds it) until its segment has its name;
    // so while this holds it, no creator is midway with that lock file. The
    // writer role is another byte: taking this blocks no writer.
    let before = named()?;
    let mut held = Vec::new();
    for file in names(place, &dir)? {
        if name::kind(&file) != Kind::Lock || before.contains(&file) {
            continue;
        }
        // Read-write, for an exclusive lock: only the owner or root.
        let Ok(lock) = Object::open(&dir, &file, &file, true) else {
            continue;
        };
        if liveness::try_take(&lock.fd, liveness::CREATING, true) == Ok(true) {
            held.push((file, lock));
        }
    }
    // Read again after taking them: a segment named meanwhile is seen.
    let named = named()?;
    held.retain(|(file, _)| !named.contains(file));
    let orphan = |lock: &str| held.iter().any(|(file, _)| file == lock);
    let unlink = |file: &str, identity| {
        open::still_names(&dir, file, identity)
            && rustix::fs::unlinkat(&dir, file, rustix::fs::AtFlags::empty()).is_ok()
    };
    let mut removed = Vec::new();
    // A segment being built names its lock file in its header once written:
    // it goes with that lock file, held above. Without a header yet, its
    // creator died or is at its first steps; it holds the presence mark
    // from right after creating it, so a file without it that is older
    // than a creator's first steps could ever take is a dead creator's.
    for file in names(place, &dir)? {
        if name::kind(&file) != Kind::New {
            continue;
        }
        let Ok(new) = Object::open(&dir, &file, &file, false) else {
            continue;
        };
        let dead = match new.lock_id() {
            Some(id) => orphan(&FileId(id).lock_name()),
            None => {
                let age = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .saturating_sub(Duration::from_secs(new.stat.st_mtime.max(0) as u64));
                age > HEADERLESS_AGE && liveness::held(&new.fd, liveness::PRESENCE) == Ok(false)
            }
        };
        if dead && unlink(&file, new.identity()) {
            removed.push(file);
        }
    }
    for (file, lock) in &held {
        if unlink(file, lock.identity()) {
            removed.push(file.clone());
        }
    }
    Ok(removed)
}

/// How old a segment under construction without a header must be before
/// it counts as a dead creator's: far beyond the few system calls between
/// its creation and its header.
const HEADERLESS_AGE: Duration = Duration::from_secs(60);
