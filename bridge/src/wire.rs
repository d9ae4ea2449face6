//! What travels with each frame: its element type, shape, number and
//! timestamp, and the publisher's send time and count, in the Zenoh
//! attachment of the put whose payload is the frame's bytes. Little-endian
//! on every machine, so that an x86 publisher and an ARM subscriber agree.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `DBSHMZ1\0` |
//! | 8 | 4 | `dtype`, dbshm's element code ([`Dtype::code`]) |
//! | 12 | 4 | `ndim`, 1 to [`MAX_NDIM`] |
//! | 16 | 8 | `seq`, the frame's number in the publisher's segment |
//! | 24 | 8 | `timestamp_ns`, its publish time there (that machine's CLOCK_MONOTONIC) |
//! | 32 | 8 | `sent_unix_ns`, when the bridge put it (that machine's CLOCK_REALTIME) |
//! | 40 | 8 | `sent`, how many frames the bridge has put on this key, this one included |
//! | 48 | 8·ndim | `shape`, row-major |
//!
//! A subscriber trusts none of it: [`Meta::parse`] checks every field, and
//! [`Meta::frame_bytes`] the payload's length against the shape.

use dbshm::layout::MAX_NDIM;
use dbshm::Dtype;

const MAGIC: [u8; 8] = *b"DBSHMZ1\0";
const FIXED: usize = 48;

/// One frame's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub seq: u64,
    pub timestamp_ns: u64,
    pub sent_unix_ns: u64,
    pub sent: u64,
}

impl Meta {
    /// The attachment's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED + 8 * self.shape.len());
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&self.dtype.code().to_le_bytes());
        b.extend_from_slice(&(self.shape.len() as u32).to_le_bytes());
        for v in [self.seq, self.timestamp_ns, self.sent_unix_ns, self.sent] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for &d in &self.shape {
            b.extend_from_slice(&(d as u64).to_le_bytes());
        }
        b
    }

    /// The description in an attachment, or why it is none.
    pub fn parse(b: &[u8]) -> Result<Meta, String> {
        if b.len() < FIXED || b[..8] != MAGIC {
            return Err(format!(
                "its attachment ({} bytes) is not a dbshm frame's description",
                b.len()
            ));
        }
        let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let code = u32_at(8);
        let dtype = Dtype::from_code(code).ok_or(format!("unknown element type code {code}"))?;
        let ndim = u32_at(12) as usize;
        if !(1..=MAX_NDIM).contains(&ndim) {
            return Err(format!("{ndim} dimensions (1 to {MAX_NDIM} allowed)"));
        }
        if b.len() != FIXED + 8 * ndim {
            return Err(format!(
                "its description is {} bytes, {} for {ndim} dimensions",
                b.len(),
                FIXED + 8 * ndim
            ));
        }
        let shape = (0..ndim)
            .map(|i| {
                let d = u64_at(FIXED + 8 * i);
                usize::try_from(d)
                    .ok()
                    .filter(|&d| d > 0)
                    .ok_or(format!("dimension {i} is {d}"))
            })
            .collect::<Result<Vec<usize>, String>>()?;
        let meta = Meta {
            dtype,
            shape,
            seq: u64_at(16),
            timestamp_ns: u64_at(24),
            sent_unix_ns: u64_at(32),
            sent: u64_at(40),
        };
        meta.frame_bytes()?;
        Ok(meta)
    }

    /// The bytes of a frame of this shape and type, if it can be one.
    pub fn frame_bytes(&self) -> Result<usize, String> {
        self.shape
            .iter()
            .try_fold(self.dtype.size(), |n, &d| n.checked_mul(d))
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or(format!(
                "shape {:?} of {} is too large",
                self.shape, self.dtype
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            dtype: Dtype::U16,
            shape: vec![1080, 1920, 3],
            seq: 7,
            timestamp_ns: 123,
            sent_unix_ns: 456,
            sent: 3,
        }
    }

    #[test]
    fn a_description_reads_back_as_written() {
        let m = meta();
        let b = m.encode();
        assert_eq!(b.len(), FIXED + 24);
        assert_eq!(Meta::parse(&b), Ok(m.clone()));
        assert_eq!(m.frame_bytes(), Ok(1080 * 1920 * 3 * 2));
    }

    #[test]
    fn every_bad_description_is_refused_with_its_reason() {
        let good = meta().encode();
        let with = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            b
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "not a dbshm frame"),
            (good[..FIXED - 1].to_vec(), "not a dbshm frame"),
            (with(0, b"DBSHMZ2\0"), "not a dbshm frame"),
            (
                with(8, &99u32.to_le_bytes()),
                "unknown element type code 99",
            ),
            (with(12, &0u32.to_le_bytes()), "0 dimensions"),
            (with(12, &17u32.to_le_bytes()), "17 dimensions"),
            (with(12, &2u32.to_le_bytes()), "for 2 dimensions"),
            (good[..good.len() - 1].to_vec(), "for 3 dimensions"),
            (with(FIXED + 8, &0u64.to_le_bytes()), "dimension 1 is 0"),
            (with(FIXED, &u64::MAX.to_le_bytes()), "too large"),
        ];
        for (bytes, reason) in cases {
            let err = Meta::parse(&bytes).expect_err(reason);
            assert!(err.contains(reason), "{err:?} does not say {reason:?}");
        }
    }
}
