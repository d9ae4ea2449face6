//! The C reader of examples-c, which the demo runs beside its own readers:
//! where it is built, the line it prints for each frame, and the checksum
//! that tells a whole frame of the demo's pattern from a torn one.

use std::path::{Path, PathBuf};

/// target/examples-c/reader beside this program's target directory, if built.
pub fn built(exe: &Path) -> Option<PathBuf> {
    // target/<profile>/dbshm → target/examples-c/reader
    let path = exe.parent()?.parent()?.join("examples-c/reader");
    path.is_file().then_some(path)
}

/// The checksum (byte sum) the C reader prints for every whole frame of
/// `len` bytes: for a whole number of 100-byte blocks, each block of the
/// pattern holds every value 0 to 99 once, whatever the frame (7 and 100
/// are coprime), so the sum is the same for all frames; a torn frame mixes
/// two frames' blocks at some offset and its sum differs unless the tear
/// falls on a block boundary. `None` otherwise.
pub fn checksum(len: usize) -> Option<u64> {
    (len % 100 == 0).then(|| (len / 100) as u64 * (0..100u64).sum::<u64>())
}

/// What the C reader says of a frame it read:
/// "frame 12: 85.3 us old, checksum 793152000".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameLine {
    pub seq: u64,
    /// Microseconds from its publication to the reader holding its copy.
    pub age_us: f64,
    /// The frame's byte sum.
    pub checksum: u64,
}

impl FrameLine {
    /// The frame a line tells of; `None` for any other line.
    pub fn parse(line: &str) -> Option<FrameLine> {
        let rest = line.strip_prefix("frame ")?;
        let (seq, rest) = rest.split_once(": ")?;
        let (age_us, rest) = rest.split_once(" us old, checksum ")?;
        Some(FrameLine {
            seq: seq.parse().ok()?,
            age_us: age_us.parse().ok()?,
            checksum: rest.trim().parse().ok()?,
        })
    }

    /// Its age in nanoseconds.
    pub fn latency_ns(&self) -> u64 {
        (self.age_us * 1000.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbshm_testkit::frame::fill;

    #[test]
    fn every_whole_frame_has_the_c_checksum_and_a_torn_one_does_not() {
        let len = 100 * 40;
        let sum = |f: &[u8]| f.iter().map(|&x| u64::from(x)).sum::<u64>();
        let (mut a, mut b) = (vec![0; len], vec![0; len]);
        fill(3, &mut a);
        fill(4, &mut b);
        assert_eq!(Some(sum(&a)), checksum(len));
        assert_eq!(Some(sum(&b)), checksum(len));
        let mut torn = a.clone();
        torn[..1050].copy_from_slice(&b[..1050]);
        assert_ne!(Some(sum(&torn)), checksum(len));
        assert_eq!(checksum(150), None);
    }

    #[test]
    fn the_c_readers_frame_lines_parse_and_nothing_else_does() {
        let line = FrameLine::parse("frame 12: 85.3 us old, checksum 793152000").unwrap();
        assert_eq!(
            line,
            FrameLine {
                seq: 12,
                age_us: 85.3,
                checksum: 793152000
            }
        );
        assert_eq!(line.latency_ns(), 85_300);
        assert_eq!(FrameLine::parse("reader: demo, 3 dimensions"), None);
        assert_eq!(FrameLine::parse("frame 12: 85.3 us old"), None);
        assert_eq!(FrameLine::parse("frame x: 85.3 us old, checksum 1"), None);
    }
}
