//! Wait and wake: a futex on the header's `notify` word, shared between
//! processes (no `FUTEX_PRIVATE_FLAG`), and a count of sleepers so that the
//! writer makes the wake system call only when someone may be asleep.
//!
//! The protocol, all four steps `SeqCst` so that they fall in one total order:
//!
//! - writer: `notify += 1` (in `publish`), then load `waiters`; wake if non-zero;
//! - waiter: `waiters += 1`, then load `notify`, check `latest`, and sleep
//!   only while `notify` still holds the value loaded.
//!
//! If the writer's load misses the waiter's increment, the increment comes
//! later in the total order, so the waiter's load of `notify` sees the new
//! value and, through it, the new `latest`: it does not sleep. Otherwise the
//! writer wakes it; the kernel compares the word and queues the sleeper in
//! one step, so a wake between the check and the sleep is never lost.
//!
//! A read-only handle counts itself through a second, writable mapping of the
//! header page when its user may open the segment read-write. A user who may
//! only read cannot write `waiters`: for such users the creator sets
//! [`FLAG_WAKE_ALWAYS`](crate::layout::FLAG_WAKE_ALWAYS) and the writer wakes
//! at every publish (about 0.25 µs on the development machine). A reader
//! that can neither count itself nor rely on that flag (the mode was changed
//! after creation) re-checks every [`UNCOUNTED_SLICE`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::thread::futex;

use crate::layout::Header;

/// Longest sleep of a waiter the writer does not know about.
pub(crate) const UNCOUNTED_SLICE: Duration = Duration::from_millis(2);

/// Wakes every process waiting on the segment if any may be asleep. Call
/// after `publish`.
pub(crate) fn wake(header: &Header, always: bool) {
    // SeqCst: see the module documentation.
    if always || header.waiters.load(Ordering::SeqCst) != 0 {
        // An error (EFAULT on a vanished mapping) is ruled out by the
        // caller's ownership of the mapping; waiters time out regardless.
        let _ = futex::wake(&header.notify, futex::Flags::empty(), i32::MAX as u32);
    }
}

/// A waiter's presence in `waiters`, withdrawn on drop.
pub(crate) struct Registration<'a>(Option<&'a AtomicU32>);

impl<'a> Registration<'a> {
    /// Counts the caller in `waiters`, when it has one it may write.
    pub(crate) fn new(waiters: Option<&'a AtomicU32>) -> Registration<'a> {
        if let Some(w) = waiters {
            // SeqCst: see the module documentation.
            w.fetch_add(1, Ordering::SeqCst);
        }
        Registration(waiters)
    }

    /// Whether the writer will know to wake this waiter.
    pub(crate) fn counted(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.0 {
            // Relaxed: a decrement seen late costs one needless wake at most.
            // A process killed in a wait never decrements: the same cost, for
            // every frame, until the segment is recreated.
            w.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Sleeps while `word` holds `seen`, for at most `timeout`. Returns on a
/// wake, a timeout, a signal, or a changed word alike: the caller re-checks.
pub(crate) fn wait(word: &AtomicU32, seen: u32, timeout: Duration) {
    let ts = rustix::time::Timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // EAGAIN (word changed), ETIMEDOUT and EINTR all mean "look again".
    let _ = futex::wait(word, futex::Flags::empty(), seen, Some(&ts));
}
