//! The demo's frame pattern: every element of frame `seq` is
//! `value(seq, i)`, so that a reader verifies each frame whole, with no
//! word from the writer. Self-contained (it uses nothing of the demo), so
//! that a shared test kit can replace this one file.

/// Element `i` of frame `seq`: (131 seq + 7 i) mod 256, in u8 arithmetic so
/// that filling and checking a frame vectorise.
pub fn value(seq: u64, i: usize) -> u8 {
    (seq as u8)
        .wrapping_mul(131)
        .wrapping_add((i as u8).wrapping_mul(7))
}

/// Writes frame `seq`.
pub fn fill(seq: u64, frame: &mut [u8]) {
    for (i, x) in frame.iter_mut().enumerate() {
        *x = value(seq, i);
    }
}

/// Whether `frame` is exactly frame `seq` (frame 0 is the initial zeros).
/// Folds without an early exit so that the compiler vectorises it.
pub fn is_frame(seq: u64, frame: &[u8]) -> bool {
    let diff = if seq == 0 {
        frame.iter().fold(0u8, |acc, &x| acc | x)
    } else {
        frame
            .iter()
            .enumerate()
            .fold(0u8, |acc, (i, &x)| acc | (x ^ value(seq, i)))
    };
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_verify_and_a_torn_one_does_not() {
        let mut a = vec![0; 4096];
        fill(7, &mut a);
        assert!(is_frame(7, &a));
        assert!(!is_frame(8, &a));
        a[4000] = value(9, 4000);
        assert!(
            !is_frame(7, &a),
            "a frame with one element from another frame"
        );
        assert!(is_frame(0, &[0; 16]));
    }
}
