//! Who is alive: locks on open file descriptions (`F_OFD_SETLK`), which the
//! kernel drops when the last descriptor of the description closes, so
//! also when the process holding them dies, however it dies.
//!
//! Five kinds of mark, each a lock on one byte:
//!
//! | mark | object | kind | taken by | asked or taken by |
//! |---|---|---|---|---|
//! | [`ROLE`] | the lock file | exclusive | the writer; this one decides | writers |
//! | [`CREATING`] | the lock file | exclusive | the creator, until the segment has its name | `remove_leftovers` |
//! | [`PRESENCE`] | the segment | shared | every handle, for its life | `rm`, `rm --stale` |
//! | [`WRITER_PRESENT`] | the segment | shared | the writer, while it holds the role | `list`, `info` |
//! | [`pin_owner`] | the segment (byte 2 + r) | exclusive | the owner of pin record r | the writer, reclaiming |
//!
//! A pin record's mark is exclusive, so only a user who may write the
//! segment can hold one: a reader cannot make a dead pinner's record look
//! owned. (It can take a shared lock on a free record's byte and so keep
//! that record from being claimed: it denies pinning, never writing.) The
//! writer asks whether anyone holds it exclusively ([`held_exclusive`]),
//! which a reader's shared lock does not answer.
//!
//! Anyone who can open a file read-only can take shared locks on any range
//! of it, and a shared lock blocks an exclusive one. So the role cannot be
//! a lock on the segment, which readers open: it is a lock on the lock file,
//! whose mode admits only the classes of users the segment lets write. The
//! two marks on the segment decide nothing: a reader who forges one only
//! makes a segment look used, as keeping a handle open would anyway.
//!
//! Observers ask with `F_OFD_GETLK`, which takes nothing, so looking never
//! gets in a writer's way. A forked child shares its parent's open file
//! descriptions, and with them their locks; `writer` closes the role's
//! descriptors in every child, so that the role and its mark die with the
//! process that took them. The presence lock is shared with a child on
//! purpose: the child has the segment mapped too.

use std::os::fd::{AsFd, AsRawFd};

use rustix::io::{Errno, Result};

/// A byte range to lock: `start`, and `len` bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    start: i64,
    len: i64,
}

/// A handle has the segment open.
pub(crate) const PRESENCE: Mark = Mark { start: 0, len: 1 };
/// A writer holds the role (information for observers).
pub(crate) const WRITER_PRESENT: Mark = Mark { start: 1, len: 1 };
/// The writer role, on the lock file.
pub(crate) const ROLE: Mark = Mark { start: 0, len: 1 };
/// A creator at work, on the lock file: apart from the role, so that a
/// cleaner checking for dead creators never blocks a writer.
pub(crate) const CREATING: Mark = Mark { start: 1, len: 1 };

/// Pin record `r` has an owner, on the segment.
pub(crate) fn pin_owner(r: usize) -> Mark {
    Mark {
        start: 2 + r as i64,
        len: 1,
    }
}

fn flock(kind: libc::c_short, mark: Mark) -> libc::flock {
    // SAFETY: `flock` is plain integers, for which zero is valid; the
    // kernel requires `l_pid` to be 0 for the OFD commands.
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = kind;
    l.l_whence = libc::SEEK_SET as libc::c_short;
    l.l_start = mark.start;
    l.l_len = mark.len;
    l
}

/// Takes `mark` on `fd` without waiting, shared or exclusive: `Ok(false)`
/// if another open file description holds a conflicting lock. An exclusive
/// lock needs a descriptor open for writing (EBADF otherwise).
pub(crate) fn try_take(fd: impl AsFd, mark: Mark, exclusive: bool) -> Result<bool> {
    let kind = if exclusive {
        libc::F_WRLCK
    } else {
        libc::F_RDLCK
    };
    let l = flock(kind as libc::c_short, mark);
    // SAFETY: `fd` is a live descriptor and `l` a valid `flock` for the call.
    let r = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_SETLK, &l) };
    if r == 0 {
        return Ok(true);
    }
    match Errno::from_io_error(&std::io::Error::last_os_error()) {
        Some(Errno::AGAIN | Errno::ACCESS) => Ok(false),
        e => Err(e.unwrap_or(Errno::IO)),
    }
}

/// Lets go of `mark` on `fd`'s open file description at once, even while a
/// child that is about to `exec` still has a copy of the descriptor.
pub(crate) fn release(fd: impl AsFd, mark: Mark) -> Result<()> {
    let l = flock(libc::F_UNLCK as libc::c_short, mark);
    // SAFETY: as in `try_take`.
    let r = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_SETLK, &l) };
    if r != 0 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
    }
    Ok(())
}

/// Whether an open file description other than `fd`'s holds a lock on any
/// byte of `mark`. Takes nothing.
pub(crate) fn held(fd: impl AsFd, mark: Mark) -> Result<bool> {
    // Asking for an exclusive lock finds every lock in its way.
    in_the_way(fd, mark, libc::F_WRLCK)
}

/// Whether an open file description other than `fd`'s holds an exclusive
/// lock on any byte of `mark` (shared ones do not count). Takes nothing.
pub(crate) fn held_exclusive(fd: impl AsFd, mark: Mark) -> Result<bool> {
    // Asking for a shared lock finds only the exclusive locks in its way.
    in_the_way(fd, mark, libc::F_RDLCK)
}

/// Whether another open file description holds a lock on `mark` that a lock
/// of `kind` would conflict with (`F_OFD_GETLK`, which takes nothing).
fn in_the_way(fd: impl AsFd, mark: Mark, kind: libc::c_int) -> Result<bool> {
    let mut l = flock(kind as libc::c_short, mark);
    // SAFETY: as in `try_take`; the kernel writes the answer into `l`.
    let r = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_GETLK, &mut l) };
    if r != 0 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
    }
    Ok(l.l_type != libc::F_UNLCK as libc::c_short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_seen_from_other_descriptions_and_die_with_their_descriptor() {
        let path = std::env::temp_dir().join(format!("dbshm-liveness-{}", std::process::id()));
        let a = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let (b, c) = (
            std::fs::File::open(&path).unwrap(),
            std::fs::File::open(&path).unwrap(),
        );
        std::fs::remove_file(&path).unwrap();
        assert!(!held(&c, PRESENCE).unwrap());
        assert!(try_take(&a, PRESENCE, false).unwrap());
        assert!(held(&c, PRESENCE).unwrap());
        assert!(!held(&c, WRITER_PRESENT).unwrap());
        // A read-only descriptor takes no exclusive lock, but its shared
        // lock blocks everyone else's: why the role is not on the segment.
        assert!(try_take(&b, WRITER_PRESENT, true).is_err());
        assert!(try_take(&b, WRITER_PRESENT, false).unwrap());
        assert!(!try_take(&a, WRITER_PRESENT, true).unwrap());
        // Only an exclusive lock answers `held_exclusive`.
        assert!(!held_exclusive(&c, WRITER_PRESENT).unwrap());
        assert!(try_take(&a, pin_owner(3), true).unwrap());
        assert!(held_exclusive(&c, pin_owner(3)).unwrap());
        assert!(!held_exclusive(&c, pin_owner(4)).unwrap());
        drop(a);
        drop(b);
        assert!(!held(&c, ROLE).unwrap());
    }
}
