//! Wait and wake: a futex on the header's `notify` word, shared between
//! processes (no `FUTEX_PRIVATE_FLAG`).
//!
//! The writer increments the word after each publish and wakes every waiter.
//! A waiter reads the word, checks for a new frame, and sleeps only while the
//! word still holds the value it read: the kernel makes that comparison and
//! the sleep one step, so a publish between the check and the sleep is never
//! missed.
//!
//! The wake is issued whether or not anyone waits. A waiter counter in the
//! segment would let the writer skip it, but a read-only handle cannot write
//! the segment to count itself, and read-only readers must be able to wait.
//! The kernel answers a wake with no waiters in about 0.25 µs (measured on
//! the development machine), once per frame.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::thread::futex;

/// Wakes every process waiting on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    // An error here (EFAULT on a vanished mapping) would mean the caller's own
    // mapping is gone, which its ownership rules out; waiters time out anyway.
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
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
