//! The element types a segment can hold, and the codes that name them in the header.

use std::fmt;

/// The element type of a segment, as stored in its header.
///
/// The numeric codes are part of the segment layout: they never change, and a
/// reader in another language compares against them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
#[repr(u32)]
pub enum Dtype {
    /// `u8` / `uint8_t`
    U8 = 1,
    /// `i8` / `int8_t`
    I8 = 2,
    /// `u16` / `uint16_t`
    U16 = 3,
    /// `i16` / `int16_t`
    I16 = 4,
    /// `u32` / `uint32_t`
    U32 = 5,
    /// `i32` / `int32_t`
    I32 = 6,
    /// `u64` / `uint64_t`
    U64 = 7,
    /// `i64` / `int64_t`
    I64 = 8,
    /// `f32` / `float`
    F32 = 9,
    /// `f64` / `double`
    F64 = 10,
}

impl Dtype {
    /// Every dtype, in code order.
    pub const ALL: [Dtype; 10] = [
        Dtype::U8,
        Dtype::I8,
        Dtype::U16,
        Dtype::I16,
        Dtype::U32,
        Dtype::I32,
        Dtype::U64,
        Dtype::I64,
        Dtype::F32,
        Dtype::F64,
    ];

    /// The dtype stored under `code`, or `None` for a code no version defines.
    pub fn from_code(code: u32) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.code() == code)
    }

    /// The stable code stored in the segment header.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// Size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }

    /// The Rust name of the type (`"u8"`, `"f32"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "u8",
            Dtype::I8 => "i8",
            Dtype::U16 => "u16",
            Dtype::I16 => "i16",
            Dtype::U32 => "u32",
            Dtype::I32 => "i32",
            Dtype::U64 => "u64",
            Dtype::I64 => "i64",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A numeric type that can live in a segment.
///
/// Sealed: it is implemented for `u8`, `i8`, `u16`, `i16`, `u32`, `i32`,
/// `u64`, `i64`, `f32` and `f64` only. Each of them is plain data for which
/// every bit pattern is a valid value, which is what lets a reader copy bytes
/// out of shared memory into a `T` without checking them.
pub trait Element:
    sealed::Sealed + Copy + Send + Sync + num_traits::Zero + fmt::Debug + 'static
{
    /// The code stored in the header of segments of this type.
    const DTYPE: Dtype;
}

macro_rules! element {
    ($($t:ty => $d:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$d;
        }
        const _: () = assert!(std::mem::size_of::<$t>() == Dtype::$d.size());
    )*};
}

element!(
    u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32,
    i32 => I32, u64 => U64, i64 => I64, f32 => F32, f64 => F64,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_stable() {
        for (i, d) in Dtype::ALL.into_iter().enumerate() {
            assert_eq!(d.code(), i as u32 + 1);
            assert_eq!(Dtype::from_code(d.code()), Some(d));
        }
        assert_eq!(Dtype::from_code(0), None);
        assert_eq!(Dtype::from_code(11), None);
    }
}
