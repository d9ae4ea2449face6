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
//! - on x86-64, inline assembly: 16-byte `movdqu` loads and stores, four to
//!   a 64-byte block (SSE2, which every x86-64 has). The compiler treats the
//!   block as an opaque operation on memory (no `nomem`/`readonly` option),
//!   so it cannot assume the bytes are stable, split, repeat or elide the
//!   access. At the hardware level a racing read of ordinary memory returns
//!   some mix of old and new bytes, which the seqlock then rejects. This loop
//!   ran at 0.8 to 1.1 times the time of glibc's `memcpy` for 30 KB, 6 MB and
//!   33 MB frames on the development machine (AMD EPYC, Zen 4). `rep movsb`,
//!   the obvious one-instruction choice, was as fast only when the
//!   destination did not sit just past the source modulo 4096: at 8 bytes
//!   past it took 11 times as long for 6 MB (the Zen page-aliasing problem of
//!   glibc bug 30994), and a user's buffer can sit anywhere.
//!   Copies under 64 bytes use `rep movsb`, which is fast for short lengths.
//! - on x86-64, the writer's copy of a frame of [`STREAM_THRESHOLD`] bytes or
//!   more uses non-temporal stores (`movntdq`), as glibc's `memcpy` does for copies
//!   larger than a share of the last-level cache. They skip reading each
//!   destination line before writing it, and they leave the caches to the
//!   readers and other programs instead of filling them with a frame that
//!   does not fit. In an interleaved benchmark on the development machine,
//!   copying into two shared-memory buffers in turn, they took 0.67x to 0.90x
//!   the time of the ordinary loop from 8 MB to 66 MB, about the same at
//!   6 MB, and 1.4x to 1.8x from 1 MB to 4 MB, hence the threshold.
//!   These stores are the one exception to x86's rule that stores become
//!   visible in program order, and the seqlock's fences in
//!   [`protocol`](crate::protocol) emit no instruction on x86: they rely on
//!   that rule. So the streamed copy is fenced on both sides. An `sfence`
//!   before it makes the buffer's odd counter visible before any new byte
//!   (else a reader could see new bytes under the old even counter and
//!   accept a torn frame); an `sfence` after it makes the whole frame
//!   visible before the publish.
//! - elsewhere, relaxed atomic loads and stores of `usize` words (bytes at
//!   unaligned ends): racing atomics are defined behaviour in the model itself.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

/// The 64-byte block loop of both x86-64 copies: four 16-byte `movdqu` loads
/// and four stores with `$store`, `$blocks` times (at least once), between
/// the instructions `$before` and `$after`. It reads [src, src + 64n) and
/// writes [dst, dst + 64n), and declares every register it changes (the
/// flags too, by omitting `preserves_flags`); without `nomem` the compiler
/// assumes it reads and writes any memory. Expand it inside `unsafe`.
#[cfg(target_arch = "x86_64")]
macro_rules! block_loop {
    ($src:expr, $dst:expr, $blocks:expr, $store:literal, $before:literal, $after:literal) => {
        std::arch::asm!(
            $before,
            "2:",
            "movdqu {a}, [{s}]",
            "movdqu {b}, [{s} + 16]",
            "movdqu {c}, [{s} + 32]",
            "movdqu {d}, [{s} + 48]",
            concat!($store, " [{t}], {a}"),
            concat!($store, " [{t} + 16], {b}"),
            concat!($store, " [{t} + 32], {c}"),
            concat!($store, " [{t} + 48], {d}"),
            "add {s}, 64",
            "add {t}, 64",
            "dec {n}",
            "jnz 2b",
            $after,
            s = inout(reg) $src => _,
            t = inout(reg) $dst => _,
            n = inout(reg) $blocks => _,
            a = out(xmm_reg) _,
            b = out(xmm_reg) _,
            c = out(xmm_reg) _,
            d = out(xmm_reg) _,
            options(nostack),
        )
    };
}

/// Frames this large or larger are written with non-temporal stores.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const STREAM_THRESHOLD: usize = 8 << 20;

/// The writer's copy of a frame into a back buffer: [`copy_racy`], or for
/// frames of [`STREAM_THRESHOLD`] bytes or more on x86-64, non-temporal
/// stores that are complete (fenced) when it returns.
///
/// # Safety
/// As for [`copy_racy`]; in addition `dst` must be 16-byte aligned.
#[inline]
pub(crate) unsafe fn copy_in(src: *const u8, dst: *mut u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if len >= STREAM_THRESHOLD {
        // SAFETY: forwarded from the caller; len >= 64.
        unsafe { copy_streaming(src, dst, len) };
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { copy_racy(src, dst, len) }
}

/// Copies with non-temporal stores, fenced on both sides (see the module
/// docs): `sfence`, whole 64-byte blocks with `movntdq`, `sfence`, then the
/// last block again with ordinary stores if `len` is not a multiple of 64.
///
/// # Safety
/// As for [`copy_racy`], and `len` >= 64 and `dst` 16-byte aligned.
#[cfg(target_arch = "x86_64")]
unsafe fn copy_streaming(src: *const u8, dst: *mut u8, len: usize) {
    const BLOCK: usize = 64;
    // With fewer than one block the loop counter would start at 0 and wrap.
    assert!(len >= BLOCK, "streamed copy of {len} bytes");
    debug_assert!(dst as usize % 16 == 0);
    // SAFETY: the loop reads [src, src + 64n) and writes [dst, dst + 64n),
    // n >= 1, inside the caller's ranges; every `movntdq` address is dst plus
    // a multiple of 16, so aligned as it must be. The first `sfence` orders
    // every earlier store (the odd counter) before the streamed ones, the
    // second the streamed ones before every later store (the tail and the
    // publish).
    unsafe {
        block_loop!(src, dst, len / BLOCK, "movntdq", "sfence", "sfence");
        if len % BLOCK != 0 {
            // SAFETY: as in `copy_racy`: the last block lies inside both ranges.
            copy_blocks(src.add(len - BLOCK), dst.add(len - BLOCK), 1);
        }
    }
}

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
    const BLOCK: usize = 64;
    if len < BLOCK {
        // SAFETY: the caller guarantees both ranges are valid and disjoint;
        // `rep movsb` copies forward because the ABI guarantees DF is clear
        // on entry to an asm block, and it changes only rcx, rsi and rdi,
        // which are declared as clobbered.
        unsafe {
            std::arch::asm!(
                "rep movsb",
                inout("rcx") len => _,
                inout("rsi") src => _,
                inout("rdi") dst => _,
                options(nostack, preserves_flags),
            );
        }
        return;
    }
    // SAFETY: whole blocks from the start, then the last block once more if
    // `len` is not a multiple of it: every access lies within the caller's
    // ranges (len >= BLOCK). The tail block rewrites some bytes already
    // copied; with a racing writer those may differ, which the seqlock's
    // validation rejects like any other racing byte.
    unsafe {
        copy_blocks(src, dst, len / BLOCK);
        if len % BLOCK != 0 {
            copy_blocks(src.add(len - BLOCK), dst.add(len - BLOCK), 1);
        }
    }
}

/// Copies `blocks` 64-byte blocks with SSE2 unaligned loads and stores.
///
/// # Safety
/// `blocks` > 0, and the ranges of `64 * blocks` bytes as for [`copy_racy`].
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn copy_blocks(src: *const u8, dst: *mut u8, blocks: usize) {
    // SAFETY: forwarded from the caller (blocks > 0, both ranges valid for
    // 64 * blocks bytes); the loop touches only those ranges.
    unsafe { block_loop!(src, dst, blocks, "movdqu", "", "") }
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
    #[cfg(target_arch = "x86_64")]
    fn the_streaming_copy_copies_every_length_and_source_alignment_exactly() {
        // 16-byte aligned destinations, as the segment's buffers are.
        let src: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
        for off in 0..17 {
            for len in [64, 65, 79, 127, 128, 129, 192, 200, 256, 291, 320, 383] {
                let mut dst = vec![0xAAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAAu128; 25];
                let base = dst.as_mut_ptr().cast::<u8>();
                // SAFETY: both ranges lie inside their vectors (400 bytes)
                // and are distinct allocations; u128 makes `base` 16-aligned.
                unsafe { super::copy_streaming(src.as_ptr().add(off), base, len) };
                // SAFETY: the 400 bytes of `dst`, read after the copy.
                let out = unsafe { std::slice::from_raw_parts(base, 400) };
                assert_eq!(&out[..len], &src[off..off + len], "len {len}, offset {off}");
                assert!(
                    out[len..].iter().all(|&b| b == 0xAA),
                    "len {len}, offset {off}"
                );
            }
        }
    }

    #[test]
    fn the_writers_copy_is_exact_on_both_sides_of_the_threshold() {
        for len in [super::STREAM_THRESHOLD - 1, super::STREAM_THRESHOLD + 17] {
            let src: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut dst = vec![0u128; len.div_ceil(16)];
            // SAFETY: `dst` holds at least `len` bytes, 16-byte aligned, and
            // is a distinct allocation from `src`.
            unsafe { super::copy_in(src.as_ptr(), dst.as_mut_ptr().cast(), len) };
            // SAFETY: the first `len` bytes of `dst`, read after the copy.
            let out = unsafe { std::slice::from_raw_parts(dst.as_ptr().cast::<u8>(), len) };
            assert!(out == &src[..], "len {len}");
        }
    }

    #[test]
    fn both_copies_copy_every_length_and_alignment_exactly() {
        for copy in [
            copy_racy as unsafe fn(*const u8, *mut u8, usize),
            copy_atomic,
        ] {
            let src: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
            for off in 0..9 {
                for len in [0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 200, 256, 291] {
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
