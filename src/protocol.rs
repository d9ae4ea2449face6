//! The seqlock over the header's atomics: the steps of publishing a frame and
//! of reading one without ever seeing it half-written.
//!
//! `latest` names the last published frame and the buffer that holds it; the
//! writer fills another of the `nbuffers`, never the one readers are sent to
//! nor one a reader has pinned. Each
//! buffer has a stamp, a counter odd while the writer is in it. A reader
//! notes the stamp, copies, and checks the stamp again: if it moved, or
//! the buffer no longer holds the frame `latest` named, the copy may be torn
//! and is retried. The writer never looks at readers.
//!
//! A pinned read holds a buffer instead of copying it: the reader marks the
//! buffer in its pin record, then checks that the writer has not entered it;
//! the writer marks a buffer (odd stamp), then checks that no record holds
//! it. Each side's mark and check are split by a SeqCst fence, so at least
//! one of them sees the other (the store-fence-load pattern of Dekker's
//! mutual exclusion): either the writer leaves the buffer alone, or the
//! reader lets it go and tries the latest frame again.
//!
//! This is the recipe of Boehm, "Can seqlocks get along with programming
//! language memory models?" (MSPC 2012), figure 6 (fences), the same one as
//! crossbeam-utils' `SeqLock`; each ordering below says what it pairs with.

use crate::sync::{fence, Ordering};

use std::cmp::Reverse;

use crate::layout::{
    latest_parts, latest_word, Header, PinPage, PinRecord, MAX_BUFFERS, PIN_GENERATION,
};

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

/// Step 1 of a write: claims a buffer of `nbuffers` by making its stamp
/// odd: of those that are not the latest and that no pin record holds, the
/// most recently written. `None` if every buffer but the latest is pinned. `pins` is `None`
/// for a segment where nobody can pin (two buffers): then there is nothing
/// to check, and no fence to pay for.
///
/// Call only while holding the writer role. A stamp already odd was left
/// so by a writer that died mid-copy; it is advanced by two, so it stays odd
/// and never repeats an even value a reader may have noted. (An odd value
/// can repeat: a write that finds its buffer pinned puts the stamp back.
/// Readers only ever keep what they read under an even one.)
pub(crate) fn begin_write(
    h: &Header,
    pins: Option<&PinPage>,
    nbuffers: usize,
) -> Option<WriteTicket> {
    // Acquire: the previous writer, possibly another process, published
    // `latest` with Release; its counters are then visible too.
    let (latest, latest_buffer) = latest_parts(h.latest.load(Ordering::Acquire));
    // Wrapping, here and below: only a damaged header gets near u64::MAX,
    // and it must not panic the writer.
    let frame = latest.wrapping_add(1);
    // A pin seen here is a buffer not even to try; a pin made after this
    // look is caught by the check after the fence.
    let mut held = pins.map_or(0, pinned);
    // The most recently written first: without pins the writer keeps to two
    // buffers, as a double-buffered one does, and touches a third only while
    // a reader holds one. (Taking them in turn, a third 6.2 MB buffer made a
    // 1080p write cost 1.45x a two-buffer one here: its cache footprint.)
    let mut order = [0usize; MAX_BUFFERS];
    let mut candidates = 0;
    for buffer in (0..nbuffers).filter(|&b| b != latest_buffer) {
        order[candidates] = buffer;
        candidates += 1;
    }
    let order = &mut order[..candidates];
    // Relaxed: frame numbers only writers store, ordered by the role.
    order.sort_unstable_by_key(|&b| (Reverse(h.slots[b].frame.load(Ordering::Relaxed)), b));
    for &buffer in order.iter() {
        if held & 1 << buffer != 0 && !mutated(&mutation::IGNORE_PINS) {
            continue;
        }
        let slot = &h.slots[buffer];
        // Relaxed: only writers store the stamp, and the role passes between
        // them through the kernel's lock on the lock file, which orders it.
        let old = slot.stamp.load(Ordering::Relaxed);
        let stamp = old.wrapping_add(if old % 2 == 0 { 1 } else { 2 });
        slot.stamp.store(stamp, Ordering::Relaxed);
        if let Some(pins) = pins {
            // SeqCst fence: the writer's half of the Dekker pattern. Either
            // a pinner's fence comes after this one, and its check of the
            // stamp sees the odd value; or it comes before, and the load of
            // its pin record below sees its mark.
            fence(Ordering::SeqCst);
            held = pinned(pins);
            if held & 1 << buffer != 0 && !mutated(&mutation::IGNORE_PINS) {
                // Untouched: back to the stamp it had, so readers copying
                // or pinning it lose nothing.
                slot.stamp.store(old, Ordering::Relaxed);
                continue;
            }
        }
        if !mutated(&mutation::SKIP_WRITER_FENCE) {
            // Release fence: a reader whose copy sees any byte written after
            // this point, and that then runs its Acquire fence, must see the
            // odd counter (or later) on its re-check. Without it the odd
            // store could become visible after the new bytes and a torn copy
            // would validate. (After the SeqCst fence it costs nothing.)
            fence(Ordering::Release);
        }
        return Some(WriteTicket {
            buffer,
            frame,
            stamp,
        });
    }
    None
}

/// The buffers any pin record holds. Acquire: pairs with [`unpin`]'s
/// Release, so a writer that finds a buffer let go writes into it only
/// after its pinner's last read of it.
pub(crate) fn pinned(pins: &PinPage) -> u32 {
    let mut in_use = pins.in_use.load(Ordering::Acquire);
    let mut buffers = 0;
    while in_use != 0 {
        let r = in_use.trailing_zeros() as usize;
        in_use &= in_use - 1;
        if let Some(record) = pins.records.get(r) {
            buffers |= held_buffers(record.word.load(Ordering::Acquire));
        }
    }
    buffers
}

/// The low bits of a pin record's word: one per buffer.
const BUFFER_BITS: u32 = (PIN_GENERATION - 1) as u32;

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

/// A pinned frame: the buffer held, and what it holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PinTicket {
    pub(crate) buffer: usize,
    pub(crate) info: FrameInfo,
}

/// Why [`pin`] did not pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PinMiss {
    /// The writer is in the latest frame's buffer, or was about to be:
    /// try again.
    Retry,
    /// The latest frame is in a buffer `held` does not have, and `may_add`
    /// was false.
    Full,
}

/// Pins the latest frame through `record`, of a segment of `nbuffers`.
/// `held` are the buffers the record holds already (for other pins of its
/// handle); a buffer not among them is added only if `may_add`. On a miss
/// the record is as it was.
pub(crate) fn pin(
    h: &Header,
    record: &PinRecord,
    nbuffers: usize,
    held: u32,
    may_add: bool,
) -> Result<PinTicket, PinMiss> {
    // Acquire: pairs with `publish`'s Release store of `latest`.
    let (frame, buffer) = latest_parts(h.latest.load(Ordering::Acquire));
    if buffer >= nbuffers {
        return Err(PinMiss::Retry); // a damaged header: the caller gives up in time
    }
    let slot = &h.slots[buffer];
    // Acquire: pairs with `publish`'s Release of the even stamp, so the
    // frame's bytes and the two fields below are this frame's.
    let stamp = slot.stamp.load(Ordering::Acquire);
    if stamp % 2 != 0 {
        return Err(PinMiss::Retry);
    }
    let timestamp_ns = slot.timestamp_ns.load(Ordering::Relaxed);
    let bit = 1u64 << buffer;
    let adds = held & (bit as u32) == 0;
    if adds {
        if !may_add {
            return Err(PinMiss::Full);
        }
        // Relaxed: the fence below orders it before the re-check, and
        // before any writer's look at the record that follows that fence.
        record.word.fetch_or(bit, Ordering::Relaxed);
    }
    // SeqCst fence: the reader's half of the Dekker pattern (see
    // `begin_write`): a writer that did not see the mark above has made the
    // stamp odd, and the load below sees it (or a later value).
    fence(Ordering::SeqCst);
    let whole = mutated(&mutation::SKIP_PIN_RECHECK)
        || (slot.stamp.load(Ordering::Relaxed) == stamp
            && slot.frame.load(Ordering::Relaxed) == frame);
    if !whole {
        if adds {
            // Relaxed: nothing was read through the pin.
            record.word.fetch_and(!bit, Ordering::Relaxed);
        }
        return Err(PinMiss::Retry);
    }
    Ok(PinTicket {
        buffer,
        info: FrameInfo {
            seq: frame,
            timestamp_ns,
        },
    })
}

/// Lets go of `buffer` in `record`, after the last read through the pin.
pub(crate) fn unpin(record: &PinRecord, buffer: usize) {
    // Release: pairs with the writer's Acquire in `pinned`, so that every
    // read of the pinned frame happens before the writer's next bytes.
    record.word.fetch_and(!(1u64 << buffer), Ordering::Release);
}

/// Makes `record` its new owner's: a new generation, no buffers held (a
/// dead owner's are let go). Call while holding the record's lock.
pub(crate) fn claim(record: &PinRecord) {
    // Relaxed: only the lock holder stores a generation; the writer reads
    // the buffers with Acquire, and a stale set only keeps it off them.
    let word = record.word.load(Ordering::Relaxed);
    let generation = (word / PIN_GENERATION).wrapping_add(1);
    record
        .word
        .store(generation.wrapping_mul(PIN_GENERATION), Ordering::Release);
}

/// Lets go of every buffer `record` holds: its owner gives it back.
pub(crate) fn release(record: &PinRecord) {
    // Release: as in `unpin`.
    record
        .word
        .fetch_and(!u64::from(BUFFER_BITS), Ordering::Release);
}

/// A record's word, to pass to [`reclaim`].
pub(crate) fn record_word(record: &PinRecord) -> u64 {
    // Relaxed: `reclaim` compares it with the word as it then is.
    record.word.load(Ordering::Relaxed)
}

/// The buffers a record's word holds, one bit each.
pub(crate) fn held_buffers(word: u64) -> u32 {
    word as u32 & BUFFER_BITS
}

/// Whether a record's word holds any buffer.
pub(crate) fn holds_any(word: u64) -> bool {
    held_buffers(word) != 0
}

/// Lets go of the buffers of a record whose owner died, if `word` (read
/// before its lock was found free) is still its value: a new owner would
/// have changed the generation. Whether it let go.
pub(crate) fn reclaim(record: &PinRecord, word: u64) -> bool {
    // Relaxed: the dead owner read nothing more; a failure means a new owner.
    record
        .word
        .compare_exchange(
            word,
            word & !u64::from(BUFFER_BITS),
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .is_ok()
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
    /// `begin_write` writes into a buffer it finds pinned.
    #[cfg(loom)]
    pub(crate) static IGNORE_PINS: Switch = Switch::new(false);
    #[cfg(not(loom))]
    pub(crate) static IGNORE_PINS: Switch = ();
    /// `pin` keeps its mark without checking the stamp again.
    #[cfg(loom)]
    pub(crate) static SKIP_PIN_RECHECK: Switch = Switch::new(false);
    #[cfg(not(loom))]
    pub(crate) static SKIP_PIN_RECHECK: Switch = ();
    /// An async wait registers its waker without looking at `latest` again.
    #[cfg(loom)]
    pub(crate) static SKIP_ASYNC_RECHECK: Switch = Switch::new(false);
    #[cfg(not(loom))]
    pub(crate) static SKIP_ASYNC_RECHECK: Switch = ();
}

#[cfg(loom)]
pub(crate) fn mutated(switch: &mutation::Switch) -> bool {
    switch.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn mutated(_: &mutation::Switch) -> bool {
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
    fn without_pins_frames_alternate_between_two_buffers_and_publish_in_order() {
        for nbuffers in [2, 3, 16] {
            let h = header();
            for n in 1..=40u64 {
                let w = begin_write(&h, None, nbuffers).unwrap();
                assert_eq!(w.buffer, (n % 2) as usize, "{nbuffers} buffers");
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
        publish(&h, begin_write(&h, None, 2).unwrap(), 1); // frame 1 in buffer 1
        let r = begin_read(&h, 2).unwrap();
        publish(&h, begin_write(&h, None, 2).unwrap(), 2); // frame 2 in buffer 0: r still valid
        assert!(validate_read(&h, r).is_some());
        let w = begin_write(&h, None, 2).unwrap(); // frame 3 starts in buffer 1, where r copies
        assert_eq!(w.buffer, r.buffer);
        assert_eq!(validate_read(&h, r), None);
        publish(&h, w, 3);
        // Whole again, but frame 3, not the frame 1 that r was sent to.
        assert_eq!(validate_read(&h, r), None);
    }

    fn pin_page() -> Box<PinPage> {
        // SAFETY: as in `header`: atomics and padding, all-zero valid.
        let pins: Box<PinPage> = unsafe { Box::new(std::mem::zeroed()) };
        claim(&pins.records[0]);
        pins.in_use.store(1, Ordering::Relaxed);
        pins
    }

    #[test]
    fn a_third_buffer_is_written_only_while_one_is_pinned() {
        let (h, pins) = (header(), pin_page());
        let write = |n| publish(&h, begin_write(&h, Some(&pins), 3).unwrap(), n).seq;
        write(1); // buffer 1
        let held = pin(&h, &pins.records[0], 3, 0, true).unwrap();
        assert_eq!((held.buffer, held.info.seq), (1, 1));
        for n in 2..=10 {
            assert_eq!(write(n), n);
            // Buffers 0 and 2 in turn; buffer 1 keeps frame 1.
            let latest = latest_parts(h.latest.load(Ordering::Relaxed)).1;
            assert_eq!(latest, if n % 2 == 0 { 0 } else { 2 }, "frame {n}");
            assert_eq!(h.slots[1].frame.load(Ordering::Relaxed), 1);
        }
        // Pin the latest too (frame 10, buffer 0), write frame 11 into the
        // last free one (buffer 2) and pin it: with every buffer but the
        // latest pinned, the write is refused and nothing claimed.
        let record = &pins.records[0];
        pin(&h, record, 3, 1 << 1, true).unwrap();
        publish(&h, begin_write(&h, Some(&pins), 3).unwrap(), 11);
        assert_eq!(pin(&h, record, 3, 1 << 1 | 1, true).unwrap().buffer, 2);
        let stamps = || {
            h.slots
                .iter()
                .map(|s| s.stamp.load(Ordering::Relaxed))
                .collect::<Vec<_>>()
        };
        let before = stamps();
        assert!(begin_write(&h, Some(&pins), 3).is_none());
        assert_eq!(stamps(), before, "a refused write left a stamp changed");
        unpin(record, 1);
        assert_eq!(begin_write(&h, Some(&pins), 3).unwrap().buffer, 1);
    }

    #[test]
    fn a_buffer_under_write_is_not_read() {
        let h = header();
        publish(&h, begin_write(&h, None, 2).unwrap(), 1);
        let _w = begin_write(&h, None, 2).unwrap(); // buffer 0
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
        assert_eq!(begin_write(&h, None, 3).unwrap().buffer, 0);
    }

    #[test]
    fn a_writer_that_died_mid_write_is_carried_on_from() {
        let h = header();
        publish(&h, begin_write(&h, None, 2).unwrap(), 1);
        let dead = begin_write(&h, None, 2).unwrap(); // frame 2, buffer 0, counter 1, never published
        assert_eq!((dead.buffer, dead.stamp), (0, 1));
        let next = begin_write(&h, None, 2).unwrap(); // the successor
        assert_eq!((next.buffer, next.frame, next.stamp), (0, 2, 3));
        assert_eq!(publish(&h, next, 7).seq, 2);
        assert_eq!(h.slots[0].stamp.load(Ordering::Relaxed), 4);
        let r = begin_read(&h, 2).unwrap();
        assert_eq!(validate_read(&h, r).unwrap().seq, 2);
    }
}
