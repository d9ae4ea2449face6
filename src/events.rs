//! New frames announced through a descriptor, for event loops (poll, epoll,
//! select, tokio's `AsyncFd`, asyncio's `add_reader`, GLib, Qt): a handle's
//! [`event_fd`](crate::DoubleBufferedSharedMemory::event_fd).
//!
//! A futex cannot be polled, so a watcher thread does it: one per handle
//! that asked, started on the first call. It counts itself among the
//! segment's waiters (so the writer, which wakes only when someone waits,
//! wakes it at every publish), sleeps on the futex, and on each frame newer
//! than the last it announced adds 1 to an eventfd. The descriptor is
//! readable while that count is non-zero; reading it (8 bytes, as one reads
//! an eventfd) takes the count back to zero and so acknowledges every frame
//! announced so far. A frame published after the watcher's last look is
//! announced on its own wake, also if it came between the read and the
//! caller's next look: none is lost, and at most one readiness is spurious
//! (the frame was already read).
//!
//! Cost: one thread and one descriptor per handle that asked, kept until
//! the handle is dropped; the writer's wake call at every publish while one
//! exists (about 0.25 µs). Dropping the handle stops the thread (waking the
//! futex until the thread is gone, which also wakes, harmlessly, every
//! other waiter of the segment) and joins it before the mapping goes.
//!
//! A forked child has no watcher thread (threads do not survive `fork`),
//! and its copy of the eventfd is closed (a [`ForkSafeFd`]): its first
//! `event_fd` starts a watcher and a descriptor of its own.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::{eventfd, EventfdFlags};
use rustix::thread::futex;

use crate::fork::{self, ForkLock, ForkSafeFd};
use crate::layout::Header;
use crate::{notify, protocol, DbShmError, Result};

/// Longest sleep of a counted watcher between two looks at `stop`: a drop
/// wakes it sooner.
const COUNTED_SLICE: Duration = Duration::from_secs(1);

/// A handle's watcher, once it asked for one.
#[derive(Default)]
pub(crate) struct Events(ForkLock<Option<Watcher>>);

struct Watcher {
    /// The fork generation of the process the thread runs in.
    generation: u64,
    fd: ForkSafeFd,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// What the thread reads: the handle's mapping, which outlives it (the
/// handle joins the thread before unmapping).
struct Mapped {
    header: *const Header,
    waiters: *const AtomicU32,
    wake_always: bool,
    fd: RawFd,
}

// SAFETY: the pointers are into the handle's mapping, which the handle
// keeps until it has joined the thread (`Events::stop`); the header's
// fields that change are atomics, and `fd` stays open until then too.
unsafe impl Send for Mapped {}

impl Events {
    /// The descriptor, starting the watcher on first use (and again in a
    /// forked child). `header` and `waiters` are the handle's, which must
    /// call [`stop`](Self::stop) before they go.
    pub(crate) fn fd(
        &self,
        name: &str,
        header: &Header,
        waiters: Option<&AtomicU32>,
        wake_always: bool,
    ) -> Result<RawFd> {
        let mut watcher = self.0.lock();
        let generation = fork::generation();
        if let Some(w) = watcher.as_ref() {
            if w.generation == generation {
                return Ok(w.fd.get().expect("open in this process").as_raw_fd());
            }
            // A forked child's copy: its thread is not here to join, and its
            // descriptor is closed already.
            std::mem::forget(watcher.take());
        }
        let fd = ForkSafeFd::open(|| {
            eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
                .map_err(|e| DbShmError::os(name, "create the event descriptor", e))
        })?;
        let raw = fd.get().expect("just opened").as_raw_fd();
        let stop = Arc::new(AtomicBool::new(false));
        let mapped = Mapped {
            header,
            waiters: waiters.map_or(std::ptr::null(), |w| w),
            wake_always,
            fd: raw,
        };
        // Announced from the next frame on: the latest is the caller's.
        let seen = protocol::latest_seq(header);
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("dbshm-events".into())
                .spawn(move || watch(mapped, &stop, seen))
                .map_err(|e| DbShmError::Os {
                    name: name.to_owned(),
                    operation: "start the event thread",
                    source: e,
                })?
        };
        *watcher = Some(Watcher {
            generation,
            fd,
            stop,
            thread,
        });
        Ok(raw)
    }

    /// Reads the descriptor, if this process has one: the frames announced
    /// since the last read (0 if none).
    pub(crate) fn acknowledge(&self, name: &str) -> Result<u64> {
        let watcher = self.0.lock();
        let Some(fd) = watcher
            .as_ref()
            .filter(|w| w.generation == fork::generation())
            .and_then(|w| w.fd.get())
        else {
            return Ok(0);
        };
        let mut count = [0u8; 8];
        match rustix::io::read(fd, &mut count) {
            Ok(8) => Ok(u64::from_ne_bytes(count)),
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(0),
            Err(e) => Err(DbShmError::os(name, "read the event descriptor", e)),
        }
    }

    /// Stops and joins the watcher, if this process has one; the handle
    /// calls it before its mapping goes. `header` wakes it.
    pub(crate) fn stop(&self, header: &Header) {
        let Some(w) = self.0.lock().take() else {
            return;
        };
        if w.generation != fork::generation() {
            std::mem::forget(w); // a forked child's copy: no thread to join
            return;
        }
        // Release: the thread's Acquire load after its wake sees it.
        w.stop.store(true, Ordering::Release);
        // Woken until it is gone: a wake between its look at `stop` and its
        // sleep finds nobody asleep, and the word it sleeps on is unchanged.
        let mut turns = 0u32;
        loop {
            let _ = futex::wake(&header.notify, futex::Flags::empty(), i32::MAX as u32);
            if w.thread.is_finished() {
                break;
            }
            // Yield first (the thread needs a moment to run and end), then nap.
            turns += 1;
            if turns < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        let _ = w.thread.join();
        // `w.fd` closes here, after the thread's last write.
    }
}

/// The watcher thread: announces every frame newer than `seen` until stopped.
fn watch(mapped: Mapped, stop: &AtomicBool, mut seen: u64) {
    // SAFETY: see `Mapped`: valid until the handle has joined this thread.
    let header = unsafe { &*mapped.header };
    // SAFETY: as above; null when the handle has no writable count.
    let waiters = unsafe { mapped.waiters.as_ref() };
    let registration = notify::Registration::new(waiters);
    let slice = if registration.counted() || mapped.wake_always {
        COUNTED_SLICE
    } else {
        notify::UNCOUNTED_SLICE
    };
    // Acquire: pairs with `stop`'s Release.
    while !stop.load(Ordering::Acquire) {
        // SeqCst: a step of the wait protocol (see `notify`).
        let word = header.notify.load(Ordering::SeqCst);
        let latest = protocol::latest_seq(header);
        if latest > seen {
            seen = latest;
            // EAGAIN (the count at its maximum) still leaves it readable.
            let _ = rustix::io::write(
                // SAFETY: the eventfd stays open until this thread is joined.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(mapped.fd) },
                &1u64.to_ne_bytes(),
            );
            continue;
        }
        notify::wait(&header.notify, word, slice);
    }
}
