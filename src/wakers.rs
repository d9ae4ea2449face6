//! The futures waiting on a handle for a new frame (`wait_async` and its
//! kin) and how the watcher thread of `events` wakes them; apart from the
//! thread so that the model check (`model.rs`) runs this very code.
//!
//! A future that finds no new frame registers its waker, then looks at
//! `latest` again; the watcher, each time it finds a frame newer than the
//! last it announced, wakes every registered future and forgets it (each
//! registers again if it still waits). The list's mutex orders the two:
//!
//! - the future's registration comes first: the watcher's wake finds it;
//! - the watcher's wake comes first: its look at `latest`, made before it
//!   took the lock, happens before the future's second look, which
//!   therefore sees that frame or a newer one.
//!
//! Either way no frame leaves a registered future asleep.

use std::task::Waker;

use crate::layout::Header;
use crate::protocol::{self, mutated, mutation};
use crate::sync::Mutex;

/// The registered futures of one watcher.
#[derive(Default)]
pub(crate) struct Wakers(Mutex<List>);

#[derive(Default)]
struct List {
    /// The last key given out; a future's key is 0 until it registers.
    last_key: u64,
    wakers: Vec<(u64, Waker)>,
}

impl Wakers {
    fn list(&self) -> crate::sync::MutexGuard<'_, List> {
        // A panic elsewhere while it was held leaves the list whole: every
        // change of it is one push, retain or take.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `waker` for the future `key` (0 if it has none yet: it
    /// gets one), replacing the one it registered before.
    fn register(&self, key: &mut u64, waker: &Waker) {
        let replaced = {
            let mut list = self.list();
            if *key == 0 {
                list.last_key += 1;
                *key = list.last_key;
            }
            match list.wakers.iter_mut().find(|(k, _)| k == key) {
                Some((_, old)) if old.will_wake(waker) => None,
                Some((_, old)) => Some(std::mem::replace(old, waker.clone())),
                None => {
                    list.wakers.push((*key, waker.clone()));
                    None
                }
            }
        };
        // Dropped after the lock: a waker's drop is code of its executor's,
        // which could reach this very list.
        drop_outside(replaced);
    }

    /// Withdraws the future `key`: it no longer waits (done, or dropped).
    pub(crate) fn withdraw(&self, key: u64) {
        if key == 0 {
            return;
        }
        let withdrawn = {
            let mut list = self.list();
            let at = list.wakers.iter().position(|(k, _)| *k == key);
            at.map(|at| list.wakers.swap_remove(at))
        };
        drop_outside(withdrawn); // as in `register`
    }

    #[cfg(all(test, not(loom)))]
    pub(crate) fn len(&self) -> usize {
        self.list().wakers.len()
    }

    /// The watcher's step: if a frame newer than `seen` is published, makes
    /// it `seen`, wakes every registered future (outside the lock) and
    /// returns true.
    pub(crate) fn announce_newer(&self, header: &Header, seen: &mut u64) -> bool {
        let latest = protocol::latest_seq(header);
        if latest <= *seen {
            return false;
        }
        *seen = latest;
        let woken = std::mem::take(&mut self.list().wakers);
        for (_, waker) in woken {
            // An executor's waker that panics must not end the watcher,
            // which every other future and the descriptor of the handle
            // depend on: its panic is its own (and was reported by the
            // panic hook); the others are still woken.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
        }
        true
    }

    /// A waiting future's step, after it found no frame newer than
    /// `after_seq`: registers `waker` and looks again. True if the frame is
    /// there after all; otherwise the watcher's next announcement wakes it.
    pub(crate) fn register_and_look(
        &self,
        header: &Header,
        after_seq: u64,
        key: &mut u64,
        waker: &Waker,
    ) -> bool {
        self.register(key, waker);
        !mutated(&mutation::SKIP_ASYNC_RECHECK) && protocol::latest_seq(header) > after_seq
    }
}

/// Drops what was taken out of the list, after its lock: a waker's drop
/// runs its executor's code. A panic there is the executor's, and is not
/// carried into the watcher or a poll.
fn drop_outside<T>(taken: Option<T>) {
    if let Some(taken) = taken {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(taken)));
    }
}
