//! The writer role of a handle: the lock that lets one handle at a time
//! write a segment, what happens to it across `fork()`, and the rule that a
//! handle runs one write at a time.
//!
//! The role is an exclusive lock on an open file description of the
//! segment's lock file (see `segment::liveness`), which only users who may
//! write can open. The kernel drops it when the description's last
//! descriptor closes: when the handle is dropped, or its process dies.
//!
//! A forked child shares its parent's open file descriptions. If it kept
//! them, the role would outlive a dead writer for as long as the child
//! lives, and a child that wrote through the shared description would write
//! beside its parent. So every descriptor of the role is a [`ForkSafeFd`]:
//! a `pthread_atfork` child handler closes them all in the child, which then
//! reopens the lock file (and competes for the role like anyone else) if it
//! writes. Until the child runs its handler, it shares them: a writer that
//! dies in that instant keeps the role until then.
//!
//! Not covered: raw `clone` without the atfork handlers, and a child forked
//! while another thread was inside a write through a handle: in the child
//! that handle stays busy (the thread holding its turn does not exist
//! there); a new handle works.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::fork::ForkSafeFd;

use crate::segment::liveness;
use crate::segment::Segment;
use crate::{DbShmError, Result};

/// The writer side of a handle that may write.
pub(crate) struct WriterRole {
    /// Held for the whole of each write: a second write through the handle,
    /// from any thread or from inside `write_with`, finds it taken.
    state: Mutex<State>,
}

struct State {
    /// The lock file, open read-write since the handle was made.
    lock_file: ForkSafeFd,
    /// Whether `lock_file` holds the role.
    held: bool,
    /// A description of the segment holding the writer-present mark.
    present: Option<ForkSafeFd>,
}

impl Drop for State {
    fn drop(&mut self) {
        // Closing the descriptors would release the role only once every copy
        // is closed, and a child another thread is spawning holds copies until
        // its `exec`: the next writer would find the role taken for that long.
        // (In a forked child `get` is `None`: the parent's role is not its own.)
        if self.held {
            if let Some(fd) = self.lock_file.get() {
                let _ = liveness::release(fd, liveness::ROLE);
            }
            if let Some(fd) = self.present.as_ref().and_then(ForkSafeFd::get) {
                let _ = liveness::release(fd, liveness::WRITER_PRESENT);
            }
        }
    }
}

/// One write in progress, with the role held; the handle's next write can
/// start when it drops.
pub(crate) struct Turn<'a> {
    _state: MutexGuard<'a, State>,
}

impl WriterRole {
    /// Opens the segment's lock file, without taking the role.
    pub(crate) fn new(segment: &Segment, name: &str) -> Result<WriterRole> {
        let lock_file = ForkSafeFd::open(|| segment.open_lock_file(name))?;
        Ok(WriterRole {
            state: Mutex::new(State {
                lock_file,
                held: false,
                present: None,
            }),
        })
    }

    /// Step 1 of a write: this handle's turn, with the writer role. Takes
    /// the role at the handle's first write (or first in a forked child),
    /// without waiting: [`DbShmError::WriterBusy`] if another handle holds
    /// it, or another write of this handle is in progress.
    pub(crate) fn take(&self, segment: &Segment, name: &str) -> Result<Turn<'_>> {
        let busy = |pid: u32| DbShmError::WriterBusy {
            name: name.to_owned(),
            pid,
        };
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            // A panic in an earlier `fill` poisons the lock; the protocol
            // state it leaves (an odd counter) is one `begin_write` recovers from.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(busy(std::process::id())),
        };
        if state.lock_file.get().is_none() {
            // A forked child: the atfork handler closed what the parent held.
            state.held = false;
            state.present = None;
            state.lock_file = ForkSafeFd::open(|| segment.open_lock_file(name))?;
        }
        if !state.held {
            let lock_file = state.lock_file.get().expect("opened above");
            let taken = liveness::try_take(lock_file, liveness::ROLE, true)
                .map_err(|e| DbShmError::os(name, "lock the segment for writing", e))?;
            let header = segment.header();
            if !taken {
                // Relaxed: shown to people, never used to decide anything.
                return Err(busy(header.writer_pid.load(Ordering::Relaxed)));
            }
            state.held = true;
            state.present = ForkSafeFd::open(|| segment.reopen(name)).ok();
            if let Some(fd) = state.present.as_ref().and_then(ForkSafeFd::get) {
                // Information only: without it `list` shows no live writer.
                let _ = liveness::try_take(fd, liveness::WRITER_PRESENT, false);
            }
            // Relaxed: shown to people, never used to decide anything.
            header
                .writer_pid
                .store(std::process::id(), Ordering::Relaxed);
        }
        Ok(Turn { _state: state })
    }
}
