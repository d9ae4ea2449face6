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

use std::cell::UnsafeCell;
use std::os::fd::{BorrowedFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, Once, TryLockError};

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

/// A descriptor that a forked child does not inherit: the `pthread_atfork`
/// child handler closes it there, and [`get`](Self::get) then says `None`.
pub(crate) struct ForkSafeFd(Box<AtomicI32>);

impl ForkSafeFd {
    /// Registers the descriptor `open` makes. `open` runs with the registry
    /// locked, so no fork can copy the descriptor before it is registered.
    fn open(open: impl FnOnce() -> Result<OwnedFd>) -> Result<ForkSafeFd> {
        REGISTRY.with(|fds| {
            let fd = ForkSafeFd(Box::new(AtomicI32::new(open()?.into_raw_fd())));
            fds.push(&*fd.0);
            Ok(fd)
        })
    }

    /// The descriptor, or `None` in a forked child.
    fn get(&self) -> Option<BorrowedFd<'_>> {
        // Relaxed: the value changes only in a forked child's handler, which
        // runs before any other code of the child.
        let fd = self.0.load(Ordering::Relaxed);
        // SAFETY: a non-negative value is a descriptor this value owns,
        // open until `drop` (or the child handler) closes it and stores -1.
        (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
    }
}

impl Drop for ForkSafeFd {
    fn drop(&mut self) {
        REGISTRY.with(|fds| {
            fds.retain(|&p| !std::ptr::eq(p, &*self.0));
            // Relaxed: as in `get`; the registry's lock orders this with the handlers.
            let fd = self.0.swap(-1, Ordering::Relaxed);
            if fd >= 0 {
                // SAFETY: the descriptor is this value's, closed exactly once.
                unsafe { libc::close(fd) };
            }
        })
    }
}

/// Every `ForkSafeFd` of the process, behind a spin lock that the atfork
/// handlers can take and release across `fork()` (a `Mutex` guard cannot
/// be held from one handler to the next).
struct Registry {
    locked: AtomicBool,
    fds: UnsafeCell<Vec<*const AtomicI32>>,
}

// SAFETY: `fds` is only touched with `locked` held (see `with` and the handlers).
unsafe impl Sync for Registry {}

static REGISTRY: Registry = Registry {
    locked: AtomicBool::new(false),
    fds: UnsafeCell::new(Vec::new()),
};

impl Registry {
    fn lock(&self) {
        // Acquire: pairs with `unlock`'s Release, so the holder sees the
        // list as the last holder left it.
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
    }

    fn unlock(&self) {
        // Release: pairs with `lock`'s Acquire.
        self.locked.store(false, Ordering::Release);
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<*const AtomicI32>) -> R) -> R {
        static HANDLERS: Once = Once::new();
        // SAFETY: the handlers are `extern "C"` functions that live forever.
        HANDLERS.call_once(|| unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_parent),
                Some(after_fork_child),
            );
        });
        // Signals are blocked while the lock is held: a handler that forks
        // would otherwise spin in `before_fork` on a lock its own thread holds.
        struct Unlock<'a>(&'a Registry, libc::sigset_t);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.unlock();
                // SAFETY: restores the mask saved below; a valid sigset_t.
                unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.1, std::ptr::null_mut()) };
            }
        }
        // SAFETY: sigset_t is plain data that sigfillset and pthread_sigmask
        // initialise before it is read.
        let saved = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut saved: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut saved);
            saved
        };
        self.lock();
        let _unlock = Unlock(self, saved);
        // SAFETY: the lock is held until `_unlock` drops.
        f(unsafe { &mut *self.fds.get() })
    }
}

extern "C" fn before_fork() {
    REGISTRY.lock();
}

extern "C" fn after_fork_parent() {
    REGISTRY.unlock();
}

extern "C" fn after_fork_child() {
    // SAFETY: the lock taken in `before_fork` is held, and the child runs
    // only this thread; every pointer in the list is a live ForkSafeFd's,
    // removed before it is freed. close() is async-signal-safe.
    unsafe {
        for &fd in &*REGISTRY.fds.get() {
            let raw = (*fd).swap(-1, Ordering::Relaxed);
            if raw >= 0 {
                libc::close(raw);
            }
        }
    }
    REGISTRY.unlock();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_blocked_while_the_registry_is_locked() {
        // A signal handler that forks on a thread holding the lock would
        // spin in `before_fork` for ever: no handler may run meanwhile.
        let blocked = |signal| {
            // SAFETY: queries this thread's mask into a sigset_t it owns.
            unsafe {
                let mut now: libc::sigset_t = std::mem::zeroed();
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
                libc::sigismember(&now, signal) == 1
            }
        };
        assert!(!blocked(libc::SIGALRM));
        assert!(REGISTRY.with(|_| blocked(libc::SIGALRM) && blocked(libc::SIGUSR1)));
        assert!(!blocked(libc::SIGALRM), "the mask was not restored");
    }
}
