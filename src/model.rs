//! Model check of the seqlock in `protocol.rs` with loom: every interleaving
//! of one writer and one reader that reads twice, up to a preemption bound, over a few frames
//! of a few words, under the C++ memory model's weak orderings. Each copy a
//! reader accepts must be one whole frame, and a reader's frames never go
//! backwards. Then each deliberate breakage in `protocol::mutation` must make
//! the check fail, so the check is known to have teeth.
//!
//! Pins have a model of their own: a writer, a reader that pins the latest
//! frame, reads it, reads it again and lets it go, and a reader that copies,
//! over three buffers. Each pinned view must hold one whole frame from the
//! pin to its release, and each accepted copy must be whole. The writer
//! ignoring pins and a pinner skipping its check of the stamp must each be
//! caught. The async wait has a third: a future that finds no frame, a
//! writer and the watcher thread's announcement; the future must see the
//! frame or be woken, and one that registers without looking again must be
//! caught.
//!
//! Every role runs in a spawned thread, and the main thread only joins
//! them: in the executions loom explores, the main thread's steps before
//! its first join all come before the spawned threads'. (A copying reader
//! on the main thread, as the copy and pin models had until December
//! 2026, saw no frame in any of 1,765,711 executions: it checked nothing.
//! Spawned, it makes the pin model take about 80 s instead of 2; a second
//! spawned reader in the copy model ran over 17 minutes, so that model
//! has one reader.) loom models SeqCst fences (not SeqCst accesses), which is why
//! the Dekker pattern in `protocol` is written with fences.
//!
//!     RUSTFLAGS="--cfg loom" cargo test -p dbshm --lib --release model
//!
//! `DBSHM_LOOM_BOUND` sets the preemption bound (default 2: about 100 s) and
//! `DBSHM_LOOM_FRAMES` the frames (default 3); the soak runs bound 3 with 2
//! frames (bound 3 with 3 frames did not finish in 14 minutes). The frame's
//! words are relaxed atomics, as the portable `copy_racy` makes them. The
//! x86 copies are outside the model: ordinary stores keep program order on
//! x86, and the writer's non-temporal stores, which do not, are fenced on
//! both sides in `copy.rs`.

use loom::sync::Arc;

use crate::layout::{Header, PinPage};
use crate::protocol::{
    begin_read, begin_write, claim, latest_seq, mutation, pin, publish, unpin, validate_read,
    PinMiss,
};
use crate::sync::{AtomicU64, Ordering};
use crate::wakers::Wakers;

/// Words per frame.
const WORDS: usize = 2;

/// Frames the writer publishes: `DBSHM_LOOM_FRAMES`, default 3 (frame 2
/// reuses buffer 0 under a reader of frame 0, frame 3 buffer 1).
fn frames() -> u64 {
    std::env::var("DBSHM_LOOM_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

struct Shared {
    header: Header,
    /// `None`: the copy-only model, where nobody pins.
    pins: Option<PinPage>,
    data: Vec<[AtomicU64; WORDS]>,
}

fn write_frame(s: &Shared) {
    let Some(ticket) = begin_write(&s.header, s.pins.as_ref(), s.data.len()) else {
        return; // every other buffer pinned: dropped
    };
    for word in &s.data[ticket.buffer] {
        word.store(ticket.frame, Ordering::Relaxed);
    }
    publish(&s.header, ticket, 0);
}

/// Reads once; checks what it accepts; returns its frame number.
fn read_frame(s: &Shared, last: u64) -> u64 {
    let Some(ticket) = begin_read(&s.header, s.data.len()) else {
        return last;
    };
    let copy: Vec<u64> = s.data[ticket.buffer]
        .iter()
        .map(|w| w.load(Ordering::Relaxed))
        .collect();
    match validate_read(&s.header, ticket) {
        Some(info) => {
            assert!(
                copy.iter().all(|&w| w == info.seq),
                "torn: frame {} read as {copy:?}",
                info.seq
            );
            assert!(
                info.seq >= last,
                "backwards: frame {} after {last}",
                info.seq
            );
            info.seq
        }
        None => last,
    }
}

/// The model checker, with the preemption bound `DBSHM_LOOM_BOUND` (default 2).
fn model() -> loom::model::Builder {
    let bound = std::env::var("DBSHM_LOOM_BOUND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(bound);
    model
}

/// Every interleaving with `nbuffers` buffers.
fn check(nbuffers: usize) {
    let frames = frames();
    model().check(move || {
        let s = Arc::new(Shared {
            header: Header::for_model(),
            pins: None,
            data: (0..nbuffers)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        });
        let writer = {
            let s = Arc::clone(&s);
            loom::thread::spawn(move || (0..frames).for_each(|_| write_frame(&s)))
        };
        let reader = {
            let s = Arc::clone(&s);
            loom::thread::spawn(move || {
                let last = read_frame(&s, 0);
                read_frame(&s, last);
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
    });
}

/// Pins the latest frame through record 0, checks the view is one whole
/// frame, and again before letting it go.
fn pin_frame(s: &Shared) {
    let pins = s.pins.as_ref().expect("the pin model");
    let record = &pins.records[0];
    let ticket = match pin(&s.header, record, s.data.len(), 0, true) {
        Ok(ticket) => ticket,
        Err(PinMiss::Retry) => return,
        Err(PinMiss::Full) => unreachable!("nothing held"),
    };
    let view = &s.data[ticket.buffer];
    let seq = ticket.info.seq;
    let look = || {
        view.iter()
            .map(|w| w.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
    };
    let first = look();
    assert!(
        first.iter().all(|&w| w == seq),
        "pinned frame {seq} torn: {first:?}"
    );
    let last = look();
    assert!(
        last.iter().all(|&w| w == seq),
        "pinned frame {seq} changed under its pin: {last:?}"
    );
    unpin(record, ticket.buffer);
}

/// Every interleaving of a writer, a pinner and a copying reader over three
/// buffers.
fn check_pins() {
    let frames = frames();
    model().check(move || {
        let pins = PinPage::for_model();
        claim(&pins.records[0]);
        pins.in_use.store(1, Ordering::Relaxed);
        let s = Arc::new(Shared {
            header: Header::for_model(),
            pins: Some(pins),
            data: (0..3)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        });
        let writer = {
            let s = Arc::clone(&s);
            loom::thread::spawn(move || (0..frames).for_each(|_| write_frame(&s)))
        };
        let pinner = {
            let s = Arc::clone(&s);
            loom::thread::spawn(move || pin_frame(&s))
        };
        // Every role in a thread of its own: loom runs the main thread's
        // first steps before any spawned thread's, so a reader here would
        // never meet the writer.
        let copier = {
            let s = Arc::clone(&s);
            loom::thread::spawn(move || {
                read_frame(&s, 0);
            })
        };
        writer.join().unwrap();
        pinner.join().unwrap();
        copier.join().unwrap();
    });
}

/// A waker that raises a flag.
struct Flag(loom::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Every interleaving of a writer publishing one frame, the watcher thread
/// announcing it, and a future's first poll (its look at `latest`, then
/// its registration and second look, as `events::NextFrame` does them):
/// the future must find the frame or be woken.
fn check_async() {
    model().check(|| {
        let s = Arc::new(Shared {
            header: Header::for_model(),
            pins: None,
            data: (0..2)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        });
        let wakers = Arc::new(Wakers::default());
        let writer = {
            let s = Arc::clone(&s);
            loom::thread::spawn(move || write_frame(&s))
        };
        // The futex is outside the model: the watcher looks until it finds
        // the frame, as the writer's wake would make it.
        let watcher = {
            let (s, wakers) = (Arc::clone(&s), Arc::clone(&wakers));
            loom::thread::spawn(move || {
                let mut seen = 0;
                while !wakers.announce_newer(&s.header, &mut seen) {
                    loom::thread::yield_now();
                }
            })
        };
        let flag = std::sync::Arc::new(Flag(loom::sync::atomic::AtomicBool::new(false)));
        let future = {
            let (s, wakers) = (Arc::clone(&s), Arc::clone(&wakers));
            let waker = std::task::Waker::from(std::sync::Arc::clone(&flag));
            loom::thread::spawn(move || {
                let mut key = 0;
                latest_seq(&s.header) > 0
                    || wakers.register_and_look(&s.header, 0, &mut key, &waker)
            })
        };
        let ready = future.join().unwrap();
        writer.join().unwrap();
        watcher.join().unwrap();
        assert!(
            ready || flag.0.load(Ordering::SeqCst),
            "a waiting future was neither ready nor woken"
        );
    });
}

/// The mutation switches are process-wide: one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check_with(switch: &mutation::Switch) -> std::thread::Result<()> {
    check_broken(switch, || check(2))
}

fn check_broken(switch: &mutation::Switch, check: impl Fn()) -> std::thread::Result<()> {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    switch.store(true, std::sync::atomic::Ordering::Relaxed);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
    switch.store(false, std::sync::atomic::Ordering::Relaxed);
    result
}

#[test]
fn model_every_accepted_copy_is_a_whole_frame_in_order() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check(2);
}

#[test]
fn model_with_three_buffers_every_accepted_copy_is_whole_and_in_order() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check(3);
}

#[test]
fn model_catches_a_writer_without_its_release_fence() {
    assert!(
        check_with(&mutation::SKIP_WRITER_FENCE).is_err(),
        "the model check missed a removed fence"
    );
}

#[test]
fn model_catches_a_reader_that_skips_the_recheck() {
    assert!(
        check_with(&mutation::SKIP_RECHECK).is_err(),
        "the model check missed a removed re-check"
    );
}

#[test]
fn model_a_pinned_frame_never_changes_and_copies_stay_whole() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check_pins();
}

#[test]
fn model_catches_a_writer_that_ignores_pins() {
    assert!(
        check_broken(&mutation::IGNORE_PINS, check_pins).is_err(),
        "the model check missed a writer writing into a pinned buffer"
    );
}

#[test]
fn model_catches_a_pinner_that_skips_its_check() {
    assert!(
        check_broken(&mutation::SKIP_PIN_RECHECK, check_pins).is_err(),
        "the model check missed a pin kept without checking the stamp"
    );
}

#[test]
fn model_a_waiting_future_finds_the_frame_or_is_woken() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check_async();
}

#[test]
fn model_catches_a_future_that_registers_without_looking_again() {
    assert!(
        check_broken(&mutation::SKIP_ASYNC_RECHECK, check_async).is_err(),
        "the model check missed a lost wake of a future"
    );
}
