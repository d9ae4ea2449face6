//! What a forked child must not inherit, through `pthread_atfork`
//! handlers: descriptors (a [`ForkSafeFd`] is closed in the child; the
//! writer role and the pin records are locks on open file descriptions,
//! which a child would otherwise share, keeping them alive after the
//! process that took them), a lock another thread held at the fork (a
//! [`ForkLock`] is free again in the child), and the right to act as the
//! process that made a handle ([`generation`]).

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::os::fd::{BorrowedFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Once;

use crate::Result;

/// Forks counted between the first process of this program and this one:
/// one more in each forked child than in its parent (counted by the child
/// handler, while the child has its one thread), so this process's value
/// differs from every ancestor's, and a handle can tell the process that
/// made it from a forked copy. Forks that skip the atfork handlers (glibc's
/// `_Fork`, a raw `clone` system call) are not counted: such a child acts
/// as its parent would (it unlinks an `unlink_on_drop` segment, and a pin
/// lock held at the fork stays held), as with any library state.
pub(crate) fn generation() -> u64 {
    install();
    // Relaxed: changed only by the child handler, while the child has one
    // thread.
    FORKS.load(Ordering::Relaxed)
}

static FORKS: AtomicU64 = AtomicU64::new(0);

/// Installs the handlers, once per process.
fn install() {
    static HANDLERS: Once = Once::new();
    // SAFETY: the handlers are `extern "C"` functions that live forever.
    HANDLERS.call_once(|| unsafe {
        libc::pthread_atfork(
            Some(before_fork),
            Some(after_fork_parent),
            Some(after_fork_child),
        );
    });
}

/// A lock around a `T` that a forked child finds free even if another
/// thread of the parent held it at the fork: that thread does not exist in
/// the child, and a `Mutex` it held would stay locked there for ever. The
/// child gets `T::default()` in place of what the lost thread may have left
/// half-changed (the old value is leaked, never read or dropped).
///
/// Waiters yield a few times, then sleep in growing naps (up to 1 ms), so
/// that a waiter neither burns a core nor, under a real-time scheduler,
/// keeps a preempted holder from running. No fork may happen while a guard
/// is held by the forking thread itself (a signal handler that forks inside
/// a pin): the child would take the lock as if that hold were lost.
pub(crate) struct ForkLock<T> {
    /// 0 when free; `generation() * 2 + 1` when held, so that a hold from an
    /// earlier generation (a lost thread's) is told from a live one.
    word: AtomicU64,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is only reached through a guard, which holds the lock;
// the lock hands `T` from thread to thread, so `T: Send` is what it needs.
unsafe impl<T: Send> Sync for ForkLock<T> {}

impl<T: Default> ForkLock<T> {
    pub(crate) fn new(value: T) -> ForkLock<T> {
        install(); // so that a fork from now on counts
        ForkLock {
            word: AtomicU64::new(0),
            value: UnsafeCell::new(value),
        }
    }

    pub(crate) fn lock(&self) -> ForkLockGuard<'_, T> {
        let mut waited = 0u32;
        loop {
            // Read each turn: a fork between two turns (a signal handler's)
            // makes this process a child, and the hold it waits on stale.
            let held = generation() * 2 + 1;
            // Relaxed: a hint only; the exchange below decides.
            let now = self.word.load(Ordering::Relaxed);
            // Free, or held in an earlier generation: by a thread gone in a
            // fork (the word only ever holds this process's generation or
            // an ancestor's).
            if now != held {
                // Made before the exchange, so that a panicking default
                // cannot leave the lock taken.
                let fresh = (now != 0).then(T::default);
                // Acquire: pairs with the Release of `unlock`, so this holder
                // sees `value` as the last one left it.
                if self
                    .word
                    .compare_exchange_weak(now, held, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    if let Some(fresh) = fresh {
                        // SAFETY: the lock is ours now; the old value may be
                        // torn, so it is overwritten without being read or
                        // dropped (leaked: a forked child's copy).
                        unsafe { std::ptr::write(self.value.get(), fresh) };
                    }
                    return ForkLockGuard(self, PhantomData);
                }
            }
            waited += 1;
            if waited < 16 {
                std::thread::yield_now();
            } else {
                let nap = 1u64 << (waited - 16).min(10);
                std::thread::sleep(std::time::Duration::from_micros(nap));
            }
        }
    }
}

impl<T: Default> Default for ForkLock<T> {
    fn default() -> ForkLock<T> {
        ForkLock::new(T::default())
    }
}

/// The lock of a [`ForkLock`], held until dropped. `Sync` only for a
/// `T: Sync`, as std's `MutexGuard` (the `PhantomData`).
pub(crate) struct ForkLockGuard<'a, T>(&'a ForkLock<T>, PhantomData<&'a mut T>);

impl<T> Deref for ForkLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference exists.
        unsafe { &*self.0.value.get() }
    }
}

impl<T> DerefMut for ForkLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this one unique.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<T> Drop for ForkLockGuard<'_, T> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire of `lock`.
        self.0.word.store(0, Ordering::Release);
    }
}

/// A descriptor that a forked child does not inherit: the `pthread_atfork`
/// child handler closes it there, and [`get`](Self::get) then says `None`.
pub(crate) struct ForkSafeFd(Box<AtomicI32>);

impl ForkSafeFd {
    /// Registers the descriptor `open` makes. `open` runs with the registry
    /// locked, so no fork can copy the descriptor before it is registered.
    pub(crate) fn open(open: impl FnOnce() -> Result<OwnedFd>) -> Result<ForkSafeFd> {
        REGISTRY.with(|fds| {
            let fd = ForkSafeFd(Box::new(AtomicI32::new(open()?.into_raw_fd())));
            fds.push(&*fd.0);
            Ok(fd)
        })
    }

    /// The descriptor, or `None` in a forked child.
    pub(crate) fn get(&self) -> Option<BorrowedFd<'_>> {
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
        install();
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
    // Relaxed: nothing else runs in the child yet.
    FORKS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the lock taken in `before_fork` is held, and the child runs
    // only this thread; every pointer in the list is a ForkSafeFd's that is
    // live or leaked (by a `ForkLock` taken over in a child), removed before
    // it is freed. close() is async-signal-safe.
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
