//! Copying frames in and out of memory that another process may be writing.
//!
//! A reader copies a buffer while the writer may be overwriting it; the
//! seqlock in [`protocol`](crate::protocol) detects that afterwards and the
//! copy is thrown away. In Rust's memory model a plain `memcpy` racing with a
//! write is undefined behaviour even when its result is discarded, because the
//! compiler may assume no other thread changes the bytes while it reads them.
//! So the shared side of every copy is made with an access the compiler cannot
//! see into or reason about:
//!
//! - on x86-64, one `rep movsb` in inline assembly. The compiler treats the
//!   block as an opaque operation on memory (no `nomem`/`readonly` option), so
//!   it cannot assume the bytes are stable, split, repeat or elide the access.
//!   At the hardware level a racing read of ordinary memory returns some mix
//!   of old and new bytes, which the seqlock then rejects. With ERMSB
//!   (every x86-64 core since Ivy Bridge and Zen) it runs at `memcpy` speed;
//!   a relaxed-atomic `u64` loop ran at half that speed for 30 KB frames.
//! - elsewhere, relaxed atomic loads and stores of `usize` words (bytes at
//!   unaligned ends): racing atomics are defined behaviour in the model itself.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

/// Copies `len` bytes from `src` to `dst`, where either side may be shared
/// memory that another process writes or reads concurrently.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and the
/// two ranges must not overlap. Bytes read while another process writes them
/// may be any mix of old and new values: the caller validates them afterwards.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) unsafe fn copy_racy(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller guarantees both ranges are valid and disjoint;
    // `rep movsb` copies forward because the ABI guarantees DF is clear on
    // entry to an asm block, and it changes only rcx, rsi and rdi, which are
    // declared as clobbered outputs.
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") len => _,
            inout("rsi") src => _,
            inout("rdi") dst => _,
            options(nostack, preserves_flags),
        );
    }
}

/// Copies `len` bytes from `src` to `dst` with relaxed atomic accesses: the
/// portable version of [`copy_racy`].
///
/// # Safety
/// As for [`copy_racy`].
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn copy_racy(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { copy_atomic(src, dst, len) }
}

/// Relaxed-atomic copy: words where both sides can be aligned alike, bytes
/// elsewhere.
///
/// # Safety
/// As for [`copy_racy`].
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
unsafe fn copy_atomic(src: *const u8, dst: *mut u8, len: usize) {
    const W: usize = std::mem::size_of::<usize>();
    // SAFETY: every access stays inside the caller's valid ranges, and an
    // atomic may be viewed on any valid memory of its size and alignment
    // (the word loop runs only where `src + i` and `dst + i` are aligned).
    unsafe {
        let byte = |i: usize| {
            let b = (*(src.add(i) as *const AtomicU8)).load(Relaxed);
            (*(dst.add(i) as *const AtomicU8)).store(b, Relaxed);
        };
        let mut i = 0;
        if src as usize % W == dst as usize % W {
            while i < len && (src as usize + i) % W != 0 {
                byte(i);
                i += 1;
            }
            while i + W <= len {
                let w = (*(src.add(i) as *const AtomicUsize)).load(Relaxed);
                (*(dst.add(i) as *const AtomicUsize)).store(w, Relaxed);
                i += W;
            }
        }
        while i < len {
            byte(i);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_atomic, copy_racy};

    #[test]
    fn both_copies_copy_every_length_and_alignment_exactly() {
        for copy in [
            copy_racy as unsafe fn(*const u8, *mut u8, usize),
            copy_atomic,
        ] {
            let src: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
            for off in 0..9 {
                for len in [0, 1, 7, 8, 9, 63, 64, 65, 200] {
                    let mut dst = vec![0xAAu8; 300];
                    // SAFETY: both ranges lie inside their vectors and are distinct allocations.
                    unsafe { copy(src.as_ptr().add(off), dst.as_mut_ptr().add(1), len) };
                    assert_eq!(&dst[1..1 + len], &src[off..off + len]);
                    assert_eq!(dst[0], 0xAA);
                    assert!(dst[1 + len..].iter().all(|&b| b == 0xAA));
                }
            }
        }
    }
}
