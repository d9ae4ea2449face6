//! New frames announced to event loops: through a descriptor (poll, epoll,
//! select, tokio's `AsyncFd`, asyncio's `add_reader`, GLib, Qt), a handle's
//! [`event_fd`](crate::DoubleBufferedSharedMemory::event_fd), and to the
//! futures of [`wait_async`](crate::DoubleBufferedSharedMemory::wait_async)
//! and its kin, which any executor polls.
//!
//! A futex cannot be polled, so a watcher thread does it: one per handle
//! that asked, started on the first call. It counts itself among the
//! segment's waiters (so the writer, which wakes only when someone waits,
//! wakes it at every publish), sleeps on the futex, and on each frame newer
//! than the last it announced adds 1 to the eventfd (once `event_fd` made
//! one) and wakes the registered futures ([`Wakers`]). The descriptor is
//! readable while that count is non-zero; reading it (8 bytes, as one reads
//! an eventfd) takes the count back to zero and so acknowledges every frame
//! announced so far. A frame published after the watcher's last look is
//! announced on its own wake, also if it came between the read and the
//! caller's next look: none is lost, and at most one readiness is spurious
//! (the frame was already read).
//!
//! Cost: one thread per handle that asked, and one descriptor if it asked
//! for `event_fd`, kept until the handle is dropped; the writer's wake call
//! at every publish while one exists (about 0.25 µs). A future holds its
//! place in the list (and a reference to it), which it leaves when it
//! completes or is dropped. The watcher runs the futures' wakers: one that
//! panics is caught there, and one that drops the handle's last owner
//! leaves the mapping in place for the watcher, which then ends (a
//! mapping kept until the process exits). Dropping the handle stops the thread (waking the futex until
//! the thread is gone, which also wakes, harmlessly, every other waiter of
//! the segment) and joins it before the mapping goes.
//!
//! A forked child has no watcher thread (threads do not survive `fork`),
//! and its copy of the eventfd is closed (a [`ForkSafeFd`]): its first
//! `event_fd` or async wait starts a watcher of its own (and `event_fd` a
//! descriptor).

use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::{eventfd, EventfdFlags};
use rustix::thread::futex;

use crate::fork::{self, ForkLock, ForkLockGuard, ForkSafeFd};
use crate::layout::Header;
use crate::wakers::Wakers;
use crate::{notify, protocol, DbShmError, Result};

/// Longest sleep of a counted watcher between two looks at `stop`: a drop
/// wakes it sooner.
const COUNTED_SLICE: Duration = Duration::from_secs(1);

/// A handle's watcher, once it asked for one.
#[derive(Default)]
pub(crate) struct Events(ForkLock<Option<Watcher>>);

/// What a watcher needs of its handle: the mapping, which outlives it (the
/// handle calls [`Events::stop`] before unmapping).
#[derive(Clone, Copy)]
pub(crate) struct Watched<'a> {
    pub(crate) name: &'a str,
    pub(crate) header: &'a Header,
    pub(crate) waiters: Option<&'a AtomicU32>,
    pub(crate) wake_always: bool,
}

struct Watcher {
    announced: Arc<Announced>,
    thread: JoinHandle<()>,
}

/// What the thread shares with its handle and the futures: where it
/// announces frames, and when to stop; closed (the descriptor) when the
/// thread and every future are done with it.
#[derive(Default)]
struct Announced {
    /// Set once, by the first `event_fd`.
    fd: OnceLock<ForkSafeFd>,
    wakers: Wakers,
    /// Set by the handle's drop (`Events::stop`).
    stop: AtomicBool,
    /// The fork generation of the process whose watcher this is.
    generation: u64,
}

impl Announced {
    /// Whether the watcher is this process's: a forked child's copy has no
    /// thread behind it, and its list may be locked by a thread the child
    /// does not have.
    fn is_ours(&self) -> bool {
        self.generation == fork::generation()
    }
}

/// What the thread reads: the handle's mapping, which outlives it.
struct Mapped {
    header: *const Header,
    waiters: *const AtomicU32,
    wake_always: bool,
}

// SAFETY: the pointers are into the handle's mapping, which the handle
// keeps until it has joined the thread, or, when the thread itself drops
// the handle, for good (`Events::stop`, `Segment::keep_mapped`); the
// header's fields that change are atomics.
unsafe impl Send for Mapped {}

impl Events {
    /// The watcher's announcements, starting the watcher on first use (and
    /// again in a forked child).
    fn announced(&self, watched: &Watched<'_>) -> Result<Arc<Announced>> {
        let watcher = self.start(watched)?;
        Ok(Arc::clone(&watcher.as_ref().expect("started").announced))
    }

    /// The descriptor, made on first use.
    pub(crate) fn fd(&self, watched: &Watched<'_>) -> Result<RawFd> {
        let watcher = self.start(watched)?;
        let announced = &watcher.as_ref().expect("started").announced;
        if announced.fd.get().is_none() {
            let fd = ForkSafeFd::open(|| {
                eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
                    .map_err(|e| DbShmError::os(watched.name, "create the event descriptor", e))
            })?;
            // Under the watcher's lock: nobody else can have set it.
            let _ = announced.fd.set(fd);
        }
        let fd = announced.fd.get().and_then(ForkSafeFd::get);
        Ok(fd.expect("opened in this process").as_raw_fd())
    }

    /// The watcher, locked, started first unless this process has one.
    fn start(&self, watched: &Watched<'_>) -> Result<ForkLockGuard<'_, Option<Watcher>>> {
        let mut watcher = self.0.lock();
        match watcher.as_ref() {
            Some(w) if w.announced.is_ours() => return Ok(watcher),
            // A forked child's copy: its thread is not here to join, and
            // its descriptor is closed already.
            Some(_) => std::mem::forget(watcher.take()),
            None => {}
        }
        let announced = Arc::new(Announced {
            generation: fork::generation(),
            ..Announced::default()
        });
        let mapped = Mapped {
            header: watched.header,
            waiters: watched.waiters.map_or(std::ptr::null(), |w| w),
            wake_always: watched.wake_always,
        };
        // Announced from the next frame on: the latest is the caller's.
        let seen = protocol::latest_seq(watched.header);
        let thread = {
            let announced = Arc::clone(&announced);
            std::thread::Builder::new()
                .name("dbshm-events".into())
                .spawn(move || watch(mapped, &announced, seen))
                .map_err(|e| DbShmError::Os {
                    name: watched.name.to_owned(),
                    operation: "start the event thread",
                    source: e,
                })?
        };
        *watcher = Some(Watcher { announced, thread });
        Ok(watcher)
    }

    /// The futures registered with this process's watcher.
    #[cfg(test)]
    pub(crate) fn registered(&self) -> usize {
        let watcher = self.0.lock();
        watcher.as_ref().map_or(0, |w| w.announced.wakers.len())
    }

    /// Reads the descriptor, if this process has one: the frames announced
    /// since the last read (0 if none).
    pub(crate) fn acknowledge(&self, name: &str) -> Result<u64> {
        let watcher = self.0.lock();
        let Some(fd) = watcher
            .as_ref()
            .filter(|w| w.announced.is_ours())
            .and_then(|w| w.announced.fd.get())
            .and_then(ForkSafeFd::get)
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
    /// calls it before its mapping goes. `header` wakes it. False if the
    /// caller is the watcher thread itself (a waker it ran dropped the
    /// handle's last owner): it stops after the caller returns, and reads
    /// the mapping until then, so the caller must leave the mapping be.
    #[must_use]
    pub(crate) fn stop(&self, header: &Header) -> bool {
        let Some(w) = self.0.lock().take() else {
            return true;
        };
        if !w.announced.is_ours() {
            std::mem::forget(w); // a forked child's copy: no thread to join
            return true;
        }
        // Release: the thread's Acquire load after its wake sees it.
        w.announced.stop.store(true, Ordering::Release);
        if w.thread.thread().id() == std::thread::current().id() {
            return false; // ends once this call's caller returns to it
        }
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
        // The descriptor closes with the last `Arc<Announced>`: the
        // thread's is gone, and no future outlives the handle it borrows.
        true
    }
}

/// The watcher thread: announces every frame newer than `seen` until stopped.
fn watch(mapped: Mapped, announced: &Announced, mut seen: u64) {
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
    while !announced.stop.load(Ordering::Acquire) {
        // SeqCst: a step of the wait protocol (see `notify`).
        let word = header.notify.load(Ordering::SeqCst);
        if announced.wakers.announce_newer(header, &mut seen) {
            if let Some(fd) = announced.fd.get().and_then(ForkSafeFd::get) {
                // EAGAIN (the count at its maximum) still leaves it readable.
                let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
            }
            continue;
        }
        notify::wait(&header.notify, word, slice);
    }
}

/// A future that completes once a frame newer than `after_seq` is
/// published: the wait of `wait_async` and its kin. It registers with the
/// handle's watcher only when it has to wait, and leaves on completion or
/// drop.
pub(crate) struct NextFrame<'a> {
    events: &'a Events,
    watched: Watched<'a>,
    after_seq: u64,
    /// The list it is registered in, and its key there.
    registered: Option<(Arc<Announced>, u64)>,
    /// Whether it has returned `Pending` yet: it does once, also when the
    /// frame is there at the first poll.
    yielded: bool,
}

impl<'a> NextFrame<'a> {
    pub(crate) fn new(events: &'a Events, watched: Watched<'a>, after_seq: u64) -> NextFrame<'a> {
        NextFrame {
            events,
            watched,
            after_seq,
            registered: None,
            yielded: false,
        }
    }

    fn withdraw(&mut self) {
        if let Some((announced, key)) = self.registered.take() {
            // A forked parent's list is left alone.
            if announced.is_ours() {
                announced.wakers.withdraw(key);
            }
        }
    }
}

impl Future for NextFrame<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        if protocol::latest_seq(this.watched.header) > this.after_seq {
            if !this.yielded {
                // The frame is there already: let the executor's other
                // tasks run first (as tokio's `yield_now` does). A task
                // that follows a writer faster than itself finds a frame at
                // every wait, and would otherwise hold a single-threaded
                // executor for as long as the writer writes.
                this.yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.withdraw();
            return Poll::Ready(Ok(()));
        }
        // The list it is in already (no lock for a poll after the first),
        // unless it is in none yet, or in a forked parent's.
        if !matches!(&this.registered, Some((a, _)) if a.is_ours()) {
            let announced = match this.events.announced(&this.watched) {
                Ok(announced) => announced,
                Err(e) => return Poll::Ready(Err(e)),
            };
            this.withdraw();
            this.registered = Some((announced, 0));
        }
        let (announced, key) = this.registered.as_mut().expect("just set");
        let ready = announced.wakers.register_and_look(
            this.watched.header,
            this.after_seq,
            key,
            cx.waker(),
        );
        if ready {
            this.withdraw();
            return Poll::Ready(Ok(()));
        }
        this.yielded = true;
        Poll::Pending
    }
}

impl Drop for NextFrame<'_> {
    fn drop(&mut self) {
        self.withdraw();
    }
}
