//! The Rust side of the Python package's cross-language tests
//! (python/tests), as tests/c/frames.c is the C side, with the roles the
//! C-ABI tests run (tests/common/frames.rs): frames of the test kit's
//! pattern, so that every element of every frame is checked.
//!
//!   frames write TYPE NAME MILLIS   writes frames as fast as it can for MILLIS ms
//!   frames read TYPE NAME MILLIS    copies and verifies frames for MILLIS ms
//!   frames pin TYPE NAME MILLIS     pins frames for MILLIS ms, verifying each
//!                                   when pinned and again before letting go
//!
//! TYPE is u8 i8 u16 i16 u32 i32 u64 i64 f32 f64; the segment must exist.
//! Reports JSON lines, as the test kit's children do; panics on an error.
//!
//!   cargo run --release --example frames -- read u8 my-segment 1000

#[path = "../tests/common/mod.rs"]
mod common;

use common::frames::{pin_frames, read_frames, with_type, write_frames};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [role, ty, name, ms] = args.as_slice() else {
        panic!("usage: frames write|read|pin TYPE NAME MILLIS");
    };
    let ms: u64 = ms.parse().expect("MILLIS: milliseconds");
    match role.as_str() {
        "write" => with_type!(ty, write_frames(name, ms)),
        "read" => with_type!(ty, read_frames(name, ms)),
        "pin" => with_type!(ty, pin_frames(name, ms)),
        _ => panic!("no role {role:?}: write, read or pin"),
    }
}
