//! The frames every comparison uses, and the self-checking content that the
//! cross-process receivers verify after each timed copy.
//!
//! Not the test kit's pattern (`dbshm_testkit::frame`), on purpose: the
//! contenders here are compared at up to 33 MB a frame, and the scaling
//! writer renumbers its frame by rewriting two stamps, not the whole frame,
//! so that its rate is the transport's and not the pattern's. Whether a
//! transport tears frames is the tests' business, with the kit's pattern.

pub struct Frame {
    pub label: &'static str,
    pub shape: &'static [usize],
    pub f32: bool,
}

impl Frame {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn bytes(&self) -> usize {
        self.elements() * if self.f32 { 4 } else { 1 }
    }
}

pub const FRAMES: [Frame; 5] = [
    Frame {
        label: "100x100x3 u8",
        shape: &[100, 100, 3],
        f32: false,
    },
    Frame {
        label: "640x480x3 u8",
        shape: &[480, 640, 3],
        f32: false,
    },
    Frame {
        label: "1920x1080x3 u8",
        shape: &[1080, 1920, 3],
        f32: false,
    },
    Frame {
        label: "3840x2160x4 u8",
        shape: &[2160, 3840, 4],
        f32: false,
    },
    Frame {
        label: "512x512 f32",
        shape: &[512, 512],
        f32: true,
    },
];

/// The 1080p frame, for reader scaling and memory.
pub const HD: &Frame = &FRAMES[2];

/// Fills `buf` as frame `seq`: each 4 KiB page holds one byte value that
/// depends on the frame and the page, and the frame number is stamped in the
/// first and the last 8 bytes, so that a stale, torn or short frame differs from the expected one.
pub fn fill(buf: &mut [u8], seq: u64) {
    for (page, chunk) in buf.chunks_mut(4096).enumerate() {
        chunk.fill((seq as usize).wrapping_add(page) as u8);
    }
    stamp(buf, seq);
}

/// Writes `seq` into the first and the last 8 bytes of `buf`.
pub fn stamp(buf: &mut [u8], seq: u64) {
    let n = buf.len();
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    buf[n - 8..].copy_from_slice(&seq.to_le_bytes());
}

/// The frame numbers in the first and the last 8 bytes of `buf`.
pub fn stamps(buf: &[u8]) -> (u64, u64) {
    let n = buf.len();
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
    (word(&buf[..8]), word(&buf[n - 8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_or_torn_frame_differs_from_the_expected_one() {
        let (mut a, mut b) = (vec![0u8; 3 * 4096], vec![0u8; 3 * 4096]);
        fill(&mut a, 7);
        fill(&mut b, 7);
        assert_eq!(a, b);
        assert_eq!(stamps(&a), (7, 7));
        fill(&mut b, 8);
        b[4096..].copy_from_slice(&a[4096..]); // first page new, the rest old
        assert_ne!(a, b);
        assert_eq!(stamps(&b), (8, 7));
    }
}
