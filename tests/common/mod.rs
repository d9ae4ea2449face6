//! Helpers shared by the integration tests: unique segment names that are
//! removed even when a test fails, and self-verifying frames.

#![allow(dead_code)] // each test crate uses its own subset

use std::sync::atomic::{AtomicU32, Ordering};

/// A segment name no other test, run or process uses; unlinked on drop, so
/// also when the test panics.
pub struct TestSegment(pub String);

impl TestSegment {
    pub fn new(tag: &str) -> TestSegment {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        TestSegment(format!("dbshm-test-{tag}-{}-{n}", std::process::id()))
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for TestSegment {
    fn drop(&mut self) {
        let _ = dbshm::unlink(&self.0);
    }
}

/// Element `i` of frame `seq`: every element depends on the frame number, so
/// a copy mixing two frames cannot match either.
pub fn pattern(seq: u64, i: usize) -> u8 {
    (seq.wrapping_mul(131) as usize).wrapping_add(i.wrapping_mul(7)) as u8
}

/// Writes frame `seq`, last element first. A reader copies first element
/// first, so a writer that enters the buffer after a reader began copying it
/// changes bytes the copy has yet to reach: without the seqlock's check, such
/// a copy is torn (`validation_is_what_stops_torn_frames` proves it).
pub fn fill(seq: u64, frame: &mut [u8]) {
    for (i, x) in frame.iter_mut().enumerate().rev() {
        *x = pattern(seq, i);
    }
}

/// Whether `frame` is exactly frame `seq` (frame 0 is the initial zeros).
pub fn is_frame(seq: u64, frame: &[u8]) -> bool {
    if seq == 0 {
        return frame.iter().all(|&x| x == 0);
    }
    frame.iter().enumerate().all(|(i, &x)| x == pattern(seq, i))
}
