//! The seqlock over the header's atomics: the steps of publishing a frame and
//! of reading one without ever seeing it half-written.
//!
//! `latest` names the last published frame and the buffer that holds it; the
//! writer fills the next buffer round the ring of `nbuffers`, never the one
//! readers are sent to. Each
//! buffer has a stamp, a counter odd while the writer is in it. A reader
//! notes the stamp, copies, and checks the stamp again: if it moved, or
//! the buffer no longer holds the frame `latest` named, the copy may be torn
//! and is retried. The writer never looks at readers.
//!
//! This is the recipe of Boehm, "Can seqlocks get along with programming
//! language memory models?" (MSPC 2012), figure 6 (fences), the same one as
//! crossbeam-utils' `SeqLock`; each ordering below says what it pairs with.

use crate::sync::{fence, Ordering};

use crate::layout::{latest_parts, latest_word, Header};

/// The frame number and publish time of a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// Frame number: 1 for the first frame ever published in the segment, one
    /// more for each publish, across writer restarts. 0 before any write.
    pub seq: u64,
    /// The writer's `CLOCK_MONOTONIC` at publish, in nanoseconds; comparable
    /// with the clock of any process on the same machine. 0 before any write.
    pub timestamp_ns: u64,
}

/// A write in progress: the buffer it fills and the counters it will publish.
#[derive(Debug)]
pub(crate) struct WriteTicket {
    pub(crate) buffer: usize,
    pub(crate) frame: u64,
    stamp: u64,
}

/// Step 1 of a write: claims the buffer after the latest one, of
/// `nbuffers`, by making its counter odd.
///
/// Call only while holding the writer role. A counter already odd was left
/// so by a writer that died mid-copy; it is advanced by two, so it stays odd
/// and never repeats a value a reader may have noted.
pub(crate) fn begin_write(h: &Header, nbuffers: usize) -> WriteTicket {
    // Acquire: the previous writer, possibly another process, published
    // `latest` with Release; its counters are then visible too.
    let (latest, latest_buffer) = latest_parts(h.latest.load(Ordering::Acquire));
    // Wrapping, here and below: only a damaged header gets near u64::MAX,
    // and it must not panic the writer.
    let frame = latest.wrapping_add(1);
    let buffer = (latest_buffer + 1) % nbuffers;
    let slot = &h.slots[buffer];
    // Relaxed: only writers store the stamp, and the role passes between
    // them through the kernel's lock on the lock file, which orders it.
    let old = slot.stamp.load(Ordering::Relaxed);
    let stamp = old.wrapping_add(if old % 2 == 0 { 1 } else { 2 });
    slot.stamp.store(stamp, Ordering::Relaxed);
    if mutated(&mutation::SKIP_WRITER_FENCE) {
        return WriteTicket {
            buffer,
            frame,
            stamp,
        };
    }
    // Release fence: a reader whose copy sees any byte written after this
    // point, and that then runs its Acquire fence, must see the odd counter
    // (or later) on its re-check. Without it the odd store could become
    // visible after the new bytes and a torn copy would validate.
    fence(Ordering::Release);
    WriteTicket {
        buffer,
        frame,
        stamp,
    }
}

/// Step 2 of a write, after the buffer is filled: makes it the latest frame.
pub(crate) fn publish(h: &Header, ticket: WriteTicket, timestamp_ns: u64) -> FrameInfo {
    let slot = &h.slots[ticket.buffer];
    // Relaxed: both sit inside the odd..even window, ordered by the stores
    // around them, and readers re-validate after reading them.
    slot.frame.store(ticket.frame, Ordering::Relaxed);
    slot.timestamp_ns.store(timestamp_ns, Ordering::Relaxed);
    // Release: a reader that sees the even counter with Acquire sees every
    // byte of the frame and the two stores above.
    slot.stamp
        .store(ticket.stamp.wrapping_add(1), Ordering::Release);
    // Release: a reader that reads this `latest` with Acquire finds the slot
    // counter even, holding this frame.
    h.latest
        .store(latest_word(ticket.frame, ticket.buffer), Ordering::Release);
    // SeqCst: one of the four steps of the wait protocol in `notify`; it is
    // also a Release, so a waiter that sees the new value sees `latest`.
    h.notify.fetch_add(1, Ordering::SeqCst);
    FrameInfo {
        seq: ticket.frame,
        timestamp_ns,
    }
}

/// A read in progress: the buffer to copy and what must still hold after.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadTicket {
    pub(crate) buffer: usize,
    frame: u64,
    stamp: u64,
}

/// Step 1 of a read: finds the latest frame's buffer, one of `nbuffers`.
/// `None` when the writer is in that buffer right now (the caller retries),
/// or when `latest` names no buffer of the segment (a damaged header).
pub(crate) fn begin_read(h: &Header, nbuffers: usize) -> Option<ReadTicket> {
    // Acquire: pairs with `publish`'s Release store of `latest`.
    let (frame, buffer) = latest_parts(h.latest.load(Ordering::Acquire));
    if buffer >= nbuffers {
        return None;
    }
    // Acquire: pairs with `publish`'s Release store of the even counter, so
    // the copy that follows cannot be hoisted above this load.
    let stamp = h.slots[buffer].stamp.load(Ordering::Acquire);
    (stamp % 2 == 0).then_some(ReadTicket {
        buffer,
        frame,
        stamp,
    })
}

/// Step 2 of a read, after the copy: `Some` if the copy is exactly frame
/// `ticket.frame`, `None` if the writer touched the buffer meanwhile and the
/// copy must be discarded.
pub(crate) fn validate_read(h: &Header, ticket: ReadTicket) -> Option<FrameInfo> {
    let slot = &h.slots[ticket.buffer];
    // Relaxed: read inside the window; the fence and the re-check below
    // decide whether they belong to this frame.
    let frame = slot.frame.load(Ordering::Relaxed);
    let timestamp_ns = slot.timestamp_ns.load(Ordering::Relaxed);
    // Acquire fence: if the copy saw any byte the writer stored after its
    // Release fence in `begin_write`, the load below sees its odd counter (or
    // later). Without it the re-check could be satisfied by a stale value
    // read ahead of the copy.
    fence(Ordering::Acquire);
    let stamp = slot.stamp.load(Ordering::Relaxed);
    if mutated(&mutation::SKIP_RECHECK) {
        return Some(FrameInfo {
            seq: frame,
            timestamp_ns,
        });
    }
    // The frame check catches a writer that lapped twice: the buffer then
    // holds a whole but newer frame than `latest` said, and returning it
    // could make a later read go backwards.
    (stamp == ticket.stamp && frame == ticket.frame).then_some(FrameInfo {
        seq: frame,
        timestamp_ns,
    })
}

/// The number of the latest published frame; 0 before the first write.
pub(crate) fn latest_seq(h: &Header) -> u64 {
    // Acquire: pairs with `publish`'s Release store, so a caller that goes
    // on to read sees at least this frame.
    latest_parts(h.latest.load(Ordering::Acquire)).0
}

/// Deliberate breakages of the protocol, switched on only by the model
/// check (`--cfg loom`) to show that it catches them; in every other build
/// they are constants that the compiler removes.
pub(crate) mod mutation {
    #[cfg(loom)]
    pub(crate) type Switch = std::sync::atomic::AtomicBool;
    #[cfg(not(loom))]
    pub(crate) type Switch = ();

    /// `begin_write` leaves out its Release fence.
    #[cfg(loom)]
    pub(crate) static SKIP_WRITER_FENCE: Switch = Switch::new(false);
    #[cfg(not(loom))]
    pub(crate) static SKIP_WRITER_FENCE: Switch = ();
    /// `validate_read` accepts every copy without re-checking.
    #[cfg(loom)]
    pub(crate) static SKIP_RECHECK: Switch = Switch::new(false);
    #[cfg(not(loom))]
    pub(crate) static SKIP_RECHECK: Switch = ();
}

#[cfg(loom)]
fn mutated(switch: &mutation::Switch) -> bool {
    switch.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(not(loom))]
#[inline(always)]
fn mutated(_: &mutation::Switch) -> bool {
    false
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn header() -> Box<Header> {
        // SAFETY: Header holds only integers and atomics, for which all-zero
        // bytes are valid; it is the state a fresh segment starts in.
        unsafe { Box::new(std::mem::zeroed()) }
    }

    #[test]
    fn a_read_before_any_write_is_frame_zero() {
        let h = header();
        let t = begin_read(&h, 2).unwrap();
        assert_eq!(t.buffer, 0);
        assert_eq!(
            validate_read(&h, t),
            Some(FrameInfo {
                seq: 0,
                timestamp_ns: 0
            })
        );
    }

    #[test]
    fn frames_go_round_the_buffers_and_publish_in_order() {
        for nbuffers in [2, 3, 16] {
            let h = header();
            for n in 1..=40u64 {
                let w = begin_write(&h, nbuffers);
                assert_eq!(w.buffer, (n % nbuffers as u64) as usize);
                assert_eq!(
                    publish(&h, w, n * 10),
                    FrameInfo {
                        seq: n,
                        timestamp_ns: n * 10
                    }
                );
                assert_eq!(latest_seq(&h), n);
                let r = begin_read(&h, nbuffers).unwrap();
                assert_eq!(
                    validate_read(&h, r),
                    Some(FrameInfo {
                        seq: n,
                        timestamp_ns: n * 10
                    })
                );
            }
            assert_eq!(h.notify.load(Ordering::Relaxed), 40);
        }
    }

    #[test]
    fn a_read_overlapping_a_write_of_its_buffer_is_rejected() {
        let h = header();
        publish(&h, begin_write(&h, 2), 1); // frame 1 in buffer 1
        let r = begin_read(&h, 2).unwrap();
        publish(&h, begin_write(&h, 2), 2); // frame 2 in buffer 0: r still valid
        assert!(validate_read(&h, r).is_some());
        let w = begin_write(&h, 2); // frame 3 starts in buffer 1, where r copies
        assert_eq!(w.buffer, r.buffer);
        assert_eq!(validate_read(&h, r), None);
        publish(&h, w, 3);
        // Whole again, but frame 3, not the frame 1 that r was sent to.
        assert_eq!(validate_read(&h, r), None);
    }

    #[test]
    fn with_three_buffers_a_read_survives_one_more_frame() {
        let h = header();
        publish(&h, begin_write(&h, 3), 1); // frame 1 in buffer 1
        let r = begin_read(&h, 3).unwrap();
        publish(&h, begin_write(&h, 3), 2); // buffer 2
        publish(&h, begin_write(&h, 3), 3); // buffer 0
        assert_eq!(validate_read(&h, r).map(|i| i.seq), Some(1));
        let _w = begin_write(&h, 3); // frame 4 into buffer 1
        assert_eq!(validate_read(&h, r), None);
    }

    #[test]
    fn a_buffer_under_write_is_not_read() {
        let h = header();
        publish(&h, begin_write(&h, 2), 1);
        let _w = begin_write(&h, 2); // buffer 0
                                     // `latest` still names frame 1 in buffer 1: readers are not blocked.
        assert_eq!(begin_read(&h, 2).unwrap().buffer, 1);
        // As if `latest` named a frame in buffer 0.
        h.latest.store(latest_word(2, 0), Ordering::Relaxed);
        assert!(begin_read(&h, 2).is_none());
    }

    #[test]
    fn a_latest_word_naming_no_buffer_is_not_read() {
        let h = header();
        h.latest.store(latest_word(5, 3), Ordering::Relaxed);
        assert!(begin_read(&h, 3).is_none());
        assert!(begin_read(&h, 4).is_some());
        // The writer still lands inside the segment.
        assert_eq!(begin_write(&h, 3).buffer, 1);
    }

    #[test]
    fn a_writer_that_died_mid_write_is_carried_on_from() {
        let h = header();
        publish(&h, begin_write(&h, 2), 1);
        let dead = begin_write(&h, 2); // frame 2, buffer 0, counter 1, never published
        assert_eq!((dead.buffer, dead.stamp), (0, 1));
        let next = begin_write(&h, 2); // the successor
        assert_eq!((next.buffer, next.frame, next.stamp), (0, 2, 3));
        assert_eq!(publish(&h, next, 7).seq, 2);
        assert_eq!(h.slots[0].stamp.load(Ordering::Relaxed), 4);
        let r = begin_read(&h, 2).unwrap();
        assert_eq!(validate_read(&h, r).unwrap().seq, 2);
    }
}
