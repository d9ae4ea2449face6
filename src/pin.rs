//! Pinned reads: a handle holds the latest frame's buffer in place, and the
//! writer leaves that buffer alone until it lets go.
//!
//! A handle that pins owns one of the segment's pin records (see `layout`):
//! it claims one at its first pin by taking the record's exclusive mark (a
//! lock on one byte of the segment, through a description of its own,
//! which the kernel drops when the process dies), and keeps it for its
//! life. Per pin there is no system call: `protocol::pin` sets the buffer's
//! bit in the record and checks the writer did not enter it. Several pins
//! of one buffer through one handle share the bit; the handle counts them.
//!
//! A forked child does not inherit the record: the mark's descriptor is a
//! [`ForkSafeFd`], closed in the child, and the child's copies of its
//! parent's pins let go of nothing when dropped. A child that pins claims a
//! record of its own.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::fork::{ForkLock, ForkLockGuard, ForkSafeFd};
use crate::layout::{PinPage, MAX_BUFFERS, MAX_PINNERS};
use crate::protocol::{self, PinMiss, PinTicket};
use crate::segment::{liveness, Segment};
use crate::{DbShmError, Result};

/// A handle's pins.
pub(crate) struct Pins {
    /// Free again in a forked child, also if another thread of the parent
    /// was inside a pin at the fork.
    state: ForkLock<State>,
    /// Most buffers the handle may hold at once.
    limit: usize,
}

#[derive(Default)]
struct State {
    /// The record this handle owns, once it has pinned.
    owner: Option<Owner>,
    /// The handle's pins of each buffer.
    counts: [u32; MAX_BUFFERS],
}

struct Owner {
    record: usize,
    /// Holds the record's mark.
    mark: ForkSafeFd,
    /// Tells this ownership from a later one (after a fork), so that a pin
    /// made under another lets go of nothing.
    serial: u64,
}

/// One pin of a handle: the buffer, and the ownership it was made under.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PinId {
    pub(crate) buffer: usize,
    serial: u64,
}

#[cfg_attr(not(feature = "capi"), allow(dead_code))]
impl PinId {
    /// As C keeps it in a view: two words, neither of a made pin all zero.
    pub(crate) fn to_words(self) -> [u64; 2] {
        [self.buffer as u64, self.serial.wrapping_add(1)]
    }

    /// What [`to_words`](Self::to_words) gave; `None` for a cleared view.
    pub(crate) fn from_words(words: [u64; 2]) -> Option<PinId> {
        let buffer = usize::try_from(words[0])
            .ok()
            .filter(|&b| b < MAX_BUFFERS)?;
        let serial = words[1].checked_sub(1)?;
        Some(PinId { buffer, serial })
    }
}

impl Pins {
    pub(crate) fn new(limit: usize) -> Pins {
        Pins {
            state: ForkLock::new(State::default()),
            limit,
        }
    }

    fn state(&self) -> ForkLockGuard<'_, State> {
        // A panic cannot leave `State` half-changed (nothing that can
        // panic runs inside a change), and the guard lets go when unwound.
        self.state.lock()
    }

    /// Pins the latest frame of `segment` (of `nbuffers` buffers), calling
    /// `retry` between attempts that found the writer in its buffer (it
    /// decides when to give up).
    pub(crate) fn pin(
        &self,
        segment: &Segment,
        name: &str,
        nbuffers: usize,
        mut retry: impl FnMut() -> Result<()>,
    ) -> Result<(PinTicket, PinId)> {
        let page = segment
            .pin_page_writable()
            .ok_or_else(|| DbShmError::PermissionDenied {
                name: name.to_owned(),
                operation: "pin frames (a pin is marked in the segment, which this user may only read; copy frames out with read)",
            })?;
        let mut state = self.state();
        // None before the first pin; in a forked child, the parent's.
        if state.owner.as_ref().is_none_or(|o| o.mark.get().is_none()) {
            *state = State {
                owner: Some(claim(segment, page, name)?),
                counts: [0; MAX_BUFFERS],
            };
        }
        let owner = state.owner.as_ref().expect("claimed above");
        let (record, serial) = (&page.records[owner.record], owner.serial);
        let held = state
            .counts
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .fold(0u32, |bits, (b, _)| bits | 1 << b);
        let may_add = (held.count_ones() as usize) < self.limit;
        loop {
            match protocol::pin(segment.header(), record, nbuffers, held, may_add) {
                Ok(ticket) => {
                    state.counts[ticket.buffer] += 1;
                    let id = PinId {
                        buffer: ticket.buffer,
                        serial,
                    };
                    return Ok((ticket, id));
                }
                Err(PinMiss::Full) => {
                    return Err(DbShmError::PinLimit {
                        name: name.to_owned(),
                        limit: self.limit,
                    })
                }
                Err(PinMiss::Retry) => retry()?,
            }
        }
    }

    /// Lets go of one pin; the buffer, once its last pin through this handle
    /// goes. A pin made under an ownership the handle does not have (its
    /// parent's, in a forked child, or another handle's, from C) lets go of
    /// nothing: then `false`.
    pub(crate) fn unpin(&self, segment: &Segment, id: PinId) -> bool {
        let mut state = self.state();
        let Some(owner) = &state.owner else {
            return false;
        };
        if owner.serial != id.serial || owner.mark.get().is_none() {
            return false;
        }
        let record = owner.record;
        let count = &mut state.counts[id.buffer];
        if *count == 0 {
            return true; // a view from C let go twice: nothing more to let go
        }
        *count -= 1;
        if *count == 0 {
            if let Some(page) = segment.pin_page_writable() {
                protocol::unpin(&page.records[record], id.buffer);
            }
        }
        true
    }

    /// The record this handle owns, if it has pinned (not in a forked child).
    pub(crate) fn own_record(&self) -> Option<usize> {
        let state = self.state();
        let owner = state.owner.as_ref()?;
        owner.mark.get().map(|_| owner.record)
    }

    /// Gives the record back; when the handle is dropped, so no pin is left.
    pub(crate) fn release(&self, segment: &Segment) {
        let mut state = self.state();
        let Some(owner) = state.owner.take() else {
            return;
        };
        let (Some(fd), Some(page)) = (owner.mark.get(), segment.pin_page_writable()) else {
            return; // a forked child's copy of its parent's
        };
        protocol::release(&page.records[owner.record]);
        // Release: a writer that reads this value (with Acquire, in
        // `protocol::pinned`) and so skips the record writes only after the
        // owner's last reads. The next owner sets the bit again after
        // taking the mark, which the kernel orders after its release below.
        page.in_use
            .fetch_and(!(1 << owner.record), Ordering::Release);
        let _ = liveness::release(fd, liveness::pin_owner(owner.record));
    }
}

/// Claims a free pin record: the first whose mark this handle can take.
/// A dead owner's buffers are let go by the claim.
fn claim(segment: &Segment, page: &PinPage, name: &str) -> Result<Owner> {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let mark = ForkSafeFd::open(|| segment.reopen_writable(name))?;
    let fd = mark.get().expect("opened in this process");
    for record in 0..MAX_PINNERS {
        let taken = liveness::try_take(fd, liveness::pin_owner(record), true)
            .map_err(|e| DbShmError::os(name, "mark a pin record owned", e))?;
        if taken {
            protocol::claim(&page.records[record]);
            // Relaxed: the SeqCst fence of each pin orders it before the
            // writer's look at the records.
            page.in_use.fetch_or(1 << record, Ordering::Relaxed);
            return Ok(Owner {
                record,
                mark,
                // Relaxed: only ever compared with itself.
                serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            });
        }
    }
    Err(DbShmError::TooManyPinners {
        name: name.to_owned(),
    })
}

/// Lets go of the buffers of every pin record whose owner died holding
/// some: the writer's last resort when every buffer but the latest is
/// pinned. `own` is the writer handle's own record, which it skips.
pub(crate) fn reclaim_dead(segment: &Segment, own: Option<usize>) -> usize {
    let Some(page) = segment.pin_page_writable() else {
        return 0;
    };
    // Relaxed: a record set in use meanwhile is a live owner's.
    let mut in_use = page.in_use.load(Ordering::Relaxed);
    let mut reclaimed = 0;
    while in_use != 0 {
        let r = in_use.trailing_zeros() as usize;
        in_use &= in_use - 1;
        let Some(record) = page.records.get(r).filter(|_| Some(r) != own) else {
            continue;
        };
        let word = protocol::record_word(record);
        if !protocol::holds_any(word) {
            continue;
        }
        // The word read before the question: if a new owner claims the
        // record after it, the generation has changed and `reclaim` fails.
        if liveness::held_exclusive(segment.fd(), liveness::pin_owner(r)) == Ok(false)
            && protocol::reclaim(record, word)
        {
            reclaimed += 1;
        }
    }
    reclaimed
}
