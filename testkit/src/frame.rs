//! The frame pattern: element `i` of frame `seq` is `(131·seq + 7·i) mod 100`.
//!
//! Every element depends on the frame number, so a copy that mixes two
//! frames matches neither; below 100, every value is exact in every element
//! type, `i8` and the floats included. The C and C++ tests (tests/c/frames.c
//! and frames.cpp) spell the same formula as their `VALUE` and `value`, and
//! tests/capi.rs checks them against these functions in both directions.
//!
//! Frame 0 is the initial zeros a segment is created with.

use num_traits::NumCast;

/// 1 for yes, 0 for no.
fn count(yes: bool) -> u64 {
    // Spelled out: NumCast's `from` makes `u64::from` ambiguous here.
    <u64 as From<bool>>::from(yes)
}

/// 131 ≡ 31 (mod 100): the formula reduced so that no product overflows.
const SEQ_STEP: u64 = 31;
/// Consecutive elements differ by 7 (mod 100).
const I_STEP: u64 = 7;

/// `(131·seq + 7·i) mod 100`, exact for every `seq` and `i`.
fn raw(seq: u64, i: usize) -> u64 {
    ((seq % 100) * SEQ_STEP + (i as u64 % 100) * I_STEP) % 100
}

fn cast<T: NumCast>(v: u64) -> T {
    T::from(v).expect("a value below 100 fits every element type")
}

/// Element `i` of frame `seq`.
pub fn value<T: NumCast>(seq: u64, i: usize) -> T {
    cast(raw(seq, i))
}

/// The pattern repeats every `PERIOD` elements (7·100 ≡ 0 mod 100): a frame
/// is its first period copied over and over, at the speed of a copy.
const PERIOD: usize = 100;

/// Elements `0..PERIOD` of frame `seq`.
fn period<T: NumCast + Copy>(seq: u64) -> [T; PERIOD] {
    let mut period = [cast::<T>(0); PERIOD];
    let mut v = raw(seq, 0);
    for x in &mut period {
        *x = cast(v);
        v = (v + I_STEP) % 100;
    }
    period
}

/// Writes frame `seq` into `frame`, last elements first.
///
/// A reader copies first element first, so a writer that enters the buffer
/// after a reader began copying it changes elements the copy has yet to
/// reach: without the seqlock's check, such a copy is torn, and
/// [`is_frame`] says so. (Period by period from the end, each period in
/// order: "last first" to within 100 elements.)
pub fn fill<T: NumCast + Copy>(seq: u64, frame: &mut [T]) {
    let period = period::<T>(seq);
    for chunk in frame.chunks_mut(PERIOD).rev() {
        chunk.copy_from_slice(&period[..chunk.len()]);
    }
}

/// Whether `frame` is exactly frame `seq` (frame 0: all zeros).
pub fn is_frame<T: NumCast + Copy + PartialEq>(seq: u64, frame: &[T]) -> bool {
    let period = if seq == 0 {
        [cast::<T>(0); PERIOD]
    } else {
        period::<T>(seq)
    };
    // `==` on the values, so a float between two values is neither.
    frame
        .chunks(PERIOD)
        .all(|chunk| chunk == &period[..chunk.len()])
}

/// What a verifying reader counts of the frames it read: how many, how
/// many were torn, how many went back behind the newest seen, how many were
/// new. Serializes as the keys a child reports (`reads`, `torn`,
/// `backwards`, `distinct`, `max_seq`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Frames read.
    pub reads: u64,
    /// Reads [`is_frame`] did not find whole.
    pub torn: u64,
    /// Reads of a frame older than the newest seen before.
    pub backwards: u64,
    /// Reads of a frame other than the newest seen before.
    pub distinct: u64,
    /// The newest frame seen.
    pub max_seq: u64,
}

impl Tally {
    /// Counts a read of frame `seq`, which [`is_frame`] found `whole` or not.
    pub fn saw(&mut self, seq: u64, whole: bool) {
        self.reads += 1;
        self.torn += count(!whole);
        self.backwards += count(seq < self.max_seq);
        self.distinct += count(seq != self.max_seq);
        self.max_seq = self.max_seq.max(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_the_formula_reduced_mod_100() {
        for seq in [0u64, 1, 2, 99, 100, 12345, u64::MAX / 131] {
            for i in [0usize, 1, 13, 99, 100, 1 << 20] {
                let want = ((seq as u128) * 131 + i as u128 * 7) % 100;
                assert_eq!((value::<u8>(seq, i) as u128), want, "seq {seq} i {i}");
            }
        }
        // Large enough that reducing before multiplying matters.
        assert_eq!(value::<u8>(u64::MAX, usize::MAX), {
            (((u64::MAX as u128) * 131 + usize::MAX as u128 * 7) % 100) as u8
        });
    }

    fn fill_and_check<T: NumCast + Copy + Default + PartialEq + std::fmt::Debug>() {
        for len in [0, 1, 2, 7, 99, 100, 101, 1001] {
            let mut frame = vec![T::default(); len];
            fill(12345, &mut frame);
            for (i, &x) in frame.iter().enumerate() {
                assert_eq!(x, value::<T>(12345, i), "len {len} element {i}");
            }
            assert!(is_frame(12345, &frame));
            if len > 0 {
                assert!(!is_frame(12346, &frame));
                // One element of another frame, anywhere, is seen.
                for at in [0, len / 2, len - 1] {
                    let mut torn = frame.clone();
                    torn[at] = value(12346, at);
                    assert!(!is_frame(12345, &torn), "len {len}: element {at} changed");
                }
            }
        }
    }

    #[test]
    fn fill_writes_the_values_and_is_frame_sees_one_changed_element() {
        fill_and_check::<u8>();
        fill_and_check::<i8>();
        fill_and_check::<u16>();
        fill_and_check::<i64>();
        fill_and_check::<f32>();
        fill_and_check::<f64>();
    }

    #[test]
    fn frame_0_is_the_zeros() {
        assert!(is_frame(0, &[0u8; 16]));
        assert!(!is_frame(0, &[0u8, 0, 1]));
        assert!(is_frame::<u8>(0, &[]));
    }

    #[test]
    fn a_float_between_the_values_is_not_one_of_them() {
        let mut frame = vec![0f32; 3];
        fill(5, &mut frame);
        frame[1] += 0.5;
        assert!(!is_frame(5, &frame));
    }

    #[test]
    fn a_tally_counts_torn_backwards_and_new_frames() {
        let mut t = Tally::default();
        for (seq, whole) in [(1, true), (1, true), (3, false), (2, true), (4, true)] {
            t.saw(seq, whole);
        }
        assert_eq!(
            t,
            Tally {
                reads: 5,
                torn: 1,
                backwards: 1,
                distinct: 4,
                max_seq: 4
            }
        );
    }
}
