//! The element types a segment can hold, and the codes that name them in the header.

use std::fmt;

/// Calls the macro `$callback!` with the one list of element types, each as
/// `(rust_type, DtypeVariant, code, "c_type")` in code order, after the
/// `{ ... }` context given here, which it passes on untouched:
///
/// ```text
/// for_each_element!(my_macro { context });
/// // expands to
/// my_macro! { { context } (u8, U8, 1, "uint8_t") (i8, I8, 2, "int8_t") ... }
/// ```
///
/// Everything with one entry per element type expands from it: [`Dtype`] and
/// [`Element`], the C functions and header (through the generator in
/// `xtask/`), the command's and the tests' dispatch. A new type is one line
/// here (and a new, never reused code). Not a stable API: for the crates of
/// this workspace.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_element {
    ($($callback:ident)::+ { $($context:tt)* }) => {
        $($callback)::+! { { $($context)* }
            // The codes are part of the segment layout: they never change,
            // and a reader in another language compares against them.
            (u8, U8, 1, "uint8_t")
            (i8, I8, 2, "int8_t")
            (u16, U16, 3, "uint16_t")
            (i16, I16, 4, "int16_t")
            (u32, U32, 5, "uint32_t")
            (i32, I32, 6, "int32_t")
            (u64, U64, 7, "uint64_t")
            (i64, I64, 8, "int64_t")
            (f32, F32, 9, "float")
            (f64, F64, 10, "double")
        }
    };
}

/// Evaluates `$f::<T>(args)` with `T` the [`Element`] type that the
/// [`Dtype`] `$dtype` names: from a type known at run time to generic code.
///
/// ```
/// fn size<T: dbshm::Element>(n: usize) -> usize {
///     n * std::mem::size_of::<T>()
/// }
/// assert_eq!(dbshm::with_element_type!(dbshm::Dtype::F64, size(3)), 24);
/// ```
///
/// Not a stable API: for the crates of this workspace.
#[doc(hidden)]
#[macro_export]
macro_rules! with_element_type {
    ($dtype:expr, $f:ident $args:tt) => {
        $crate::for_each_element!($crate::__with_element_type { ($dtype) $f $args })
    };
}

/// The `match` behind [`with_element_type!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __with_element_type {
    ({ ($dtype:expr) $f:ident $args:tt } $(($t:ident, $v:ident, $code:literal, $c:literal))*) => {
        match $dtype {
            $($crate::Dtype::$v => $f::<$t> $args,)*
        }
    };
}

/// [`Dtype`], its methods and the [`Element`] impls, from the list.
macro_rules! elements {
    ({} $(($t:ident, $v:ident, $code:literal, $c:literal))*) => {
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
            $(
                #[doc = concat!("`", stringify!($t), "` / `", $c, "`")]
                $v = $code,
            )*
        }

        impl Dtype {
            /// Every dtype, in code order.
            pub const ALL: [Dtype; [$($code),*].len()] = [$(Dtype::$v),*];

            /// Size of one element in bytes.
            pub const fn size(self) -> usize {
                match self {
                    $(Dtype::$v => std::mem::size_of::<$t>(),)*
                }
            }

            /// The Rust name of the type (`"u8"`, `"f32"`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $(Dtype::$v => stringify!($t),)*
                }
            }
        }

        $(
            impl sealed::Sealed for $t {}
            impl Element for $t {
                const DTYPE: Dtype = Dtype::$v;
            }
        )*
    };
}

for_each_element!(elements {});

impl Dtype {
    /// The dtype stored under `code`, or `None` for a code no version defines.
    pub fn from_code(code: u32) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.code() == code)
    }

    /// The stable code stored in the segment header.
    pub fn code(self) -> u32 {
        self as u32
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
/// Sealed: it is implemented for the primitive numbers that [`Dtype`] names
/// (`u8` to `f64`) only. Each of them is plain data for which
/// every bit pattern is a valid value, which is what lets a reader copy bytes
/// out of shared memory into a `T` without checking them.
pub trait Element:
    sealed::Sealed + Copy + Send + Sync + num_traits::Zero + fmt::Debug + 'static
{
    /// The code stored in the header of segments of this type.
    const DTYPE: Dtype;
}

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
        assert_eq!(Dtype::from_code(Dtype::ALL.len() as u32 + 1), None);
    }
}
