//! What became of the segment a handle opened: whether its name still leads
//! to it, and what its writer is doing. `watch` and `record` end when the
//! name no longer leads to the segment they follow.

use std::os::unix::fs::MetadataExt;

use dbshm::{DoubleBufferedSharedMemory, Element};

/// A file system object, by device and inode: what a name leads to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectId {
    dev: u64,
    ino: u64,
}

/// The object a name leads to now, by device and inode; `None` if none.
///
/// Once a name leads away from an object it never leads back to it: an
/// unlinked object cannot be linked again, and tmpfs numbers inodes from a
/// counter. So a name that leads to the same object before and after a
/// look at it led there during the look.
fn object_of(name: &str) -> Option<ObjectId> {
    // Where the library keeps segments (--dir, $DBSHM_DIR or /dev/shm).
    let meta = std::fs::symlink_metadata(dbshm::default_dir().join(name)).ok()?;
    Some(ObjectId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Opens the segment `name` read-only, and the object its name led to as
/// it was opened, to ask [`fate`] about later.
pub fn open_readonly<T: Element>(
    name: &str,
) -> Result<(DoubleBufferedSharedMemory<T>, ObjectId), String> {
    let before = object_of(name);
    let shm = DoubleBufferedSharedMemory::<T>::open_readonly(name).map_err(|e| e.to_string())?;
    match (before, object_of(name)) {
        (Some(a), Some(b)) if a == b => Ok((shm, a)),
        _ => Err(format!("{name} was replaced as it was opened")),
    }
}

/// What became of the segment a handle opened.
pub enum Fate {
    /// Its name still leads to it; what its writer is doing, in words.
    Named(String),
    /// Its name was removed.
    Removed,
    /// Its name leads to another object now.
    Replaced,
}

pub fn fate(name: &str, watched: ObjectId) -> Fate {
    let info = dbshm::inspect(name);
    // Looked at after `inspect`: a name that still leads to the watched
    // object now did when `inspect` read it, so its writer is ours.
    match object_of(name) {
        None => Fate::Removed,
        Some(id) if id != watched => Fate::Replaced,
        Some(_) => Fate::Named(match info {
            Ok(s) if s.writer_alive => format!("writer alive (pid {})", s.writer_pid),
            Ok(s) if s.writer_pid == 0 => "no writer yet".into(),
            Ok(s) => format!("writer (pid {}) gone", s.writer_pid),
            Err(e) => format!("writer unknown: {e}"),
        }),
    }
}
