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
//!   33 MB frames on the machine it was chosen on (AMD EPYC, Zen 4); on the
//!   Zen 5 of the next item, at 1.2 to 2.0 times. `rep movsb`,
//!   the obvious one-instruction choice, was as fast only when the
//!   destination did not sit just past the source modulo 4096: at 8 bytes
//!   past it took 11 times as long for 6 MB (the Zen page-aliasing problem of
//!   glibc bug 30994), and a user's buffer can sit anywhere.
//!   Copies under 64 bytes use relaxed atomic words, as the portable copy.
//! - on x86-64 processors that report fast strings (ERMS and FSRM: Intel
//!   since Ice Lake, AMD since Zen 3), copies of [`STRING_MIN`] bytes or
//!   more below the streaming threshold use `rep movsb`, as glibc's `memcpy`
//!   does there, after one 64-byte block copied as above. It starts where the
//!   destination is 64-byte aligned, unless the destination sits less than
//!   512 bytes past the source modulo 4096: then where the source is, which
//!   is glibc's way around the page aliasing above (but on AMD family 19h,
//!   Zen 3 and Zen 4, where glibc bug 30994 shows that it is not enough,
//!   such a pair keeps the block loop; that was not measured here, on Zen
//!   5). On the Zen 5 this was measured on (AMD EPYC, family 1Ah) it ran at 0.86x to 1.06x
//!   the time of glibc's `memcpy` from 8 KiB to 300 KiB, where the block
//!   loop took 1.2x to 2.0x, and at 0.53x to 1.15x at 6 MB. A reader's
//!   copies of [`STREAM_THRESHOLD`] bytes or more keep the block loop:
//!   reading 33 MB frames, `rep movsb` took 1.02x to 1.06x a memcpy and
//!   the loop 0.90x to 0.94x (BENCHMARKS.md, "Huge pages"). Its stores may
//!   become visible out of order among themselves (fast-string operation),
//!   which the seqlock tolerates, but the order against the stamps is
//!   what the protocol rests on, and neither vendor states it for loads,
//!   nor AMD for stores. So it is fenced: the writer's copy with `sfence`
//!   on both sides (every earlier store, the odd stamp, is visible before
//!   any of its stores, and all of them before any later store, the
//!   publish); the reader's with `lfence` on both sides (no later
//!   instruction starts before every earlier one has completed: the stamp
//!   is read before the copy's loads begin, and they have all completed
//!   before the stamp is read again).
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
//! - on aarch64 (Jetson, Raspberry Pi), inline assembly too: `ldp`/`stp`
//!   of q registers, two loads and two stores of 32 bytes to a 64-byte
//!   block (NEON, which every ARMv8-A core has), opaque to the compiler as
//!   the x86 loop is; copies under 64 bytes use relaxed atomic words. Its
//!   loads and stores are ordinary ones, which ARMv8 may make visible in any
//!   order: the protocol's fences order them against the stamps, as they
//!   order any access in the C++/Rust model (LLVM's mapping, which these
//!   fences compile to on ARMv8). The writer's odd stamp (a plain `str`)
//!   is followed by `fence(Release)` or `fence(SeqCst)`, both `dmb ish`:
//!   every earlier access is observed before any later one, so the odd
//!   stamp before any byte of the copy; the publish that follows the copy
//!   is a Release store, `stlr`, observed after every access before it, so
//!   after every byte. The reader loads the stamp with Acquire, `ldar`
//!   (`ldapr` with RCpc), which no later access may be observed before:
//!   the copy's loads come after it; after the copy, `fence(Acquire)` is
//!   `dmb ishld`: every earlier load completes before any later access, so
//!   the copy's loads before the stamp's re-check (a plain `ldr`). A pin's
//!   mark and check are split by `fence(SeqCst)`, `dmb ish`, as the
//!   writer's are. Without `nomem` the compiler moves no access of the
//!   block across those fences. (qemu-user on an x86 host gives the guest
//!   x86's ordering, so the emulated test runs prove nothing about these
//!   barriers; that argument, and on a real board `scripts/test-aarch64.sh
//!   --native`, do.) Measured: no board was at hand (BENCHMARKS.md).
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

/// Copies of this many bytes or more use `rep movsb` where the processor
/// has fast strings ([`strings_for`]). Below it the block loop is faster:
/// `rep movsb` costs some cycles to start, and the fences are a larger share.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const STRING_MIN: usize = 4096;

/// The writer's copy of a frame into a back buffer. On x86-64: for frames of
/// [`STREAM_THRESHOLD`] bytes or more, non-temporal stores; from
/// [`STRING_MIN`] bytes where the processor has fast strings, `rep movsb`;
/// else the block loop of [`copy_racy`]. Every store is ordered after the
/// stores before the call and before the stores after it (fenced where the
/// instructions are not ordered by themselves).
///
/// # Safety
/// As for [`copy_racy`]; in addition `dst` must be 16-byte aligned.
#[inline]
pub(crate) unsafe fn copy_in(src: *const u8, dst: *mut u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if len >= STREAM_THRESHOLD {
            // SAFETY: forwarded from the caller; len >= 64.
            unsafe { copy_streaming(src, dst, len) };
            return;
        }
        if len >= STRING_MIN && strings_for(src, dst) {
            // SAFETY: forwarded from the caller; len >= 64.
            unsafe { copy_string(src, dst, len, Fence::Stores) };
            return;
        }
        // SAFETY: forwarded from the caller.
        unsafe { copy_plain(src, dst, len) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: forwarded from the caller.
    unsafe {
        copy_racy(src, dst, len)
    }
}

/// Whether to copy from `src` to `dst` with `rep movsb`: where the processor
/// has fast strings, ERMS and FSRM in CPUID leaf 7, so that it runs at
/// `memcpy`'s speed; but on AMD family 19h (Zen 3 and Zen 4, where glibc
/// bug 30994 was reported) not where the destination sits less than 512
/// bytes past the source modulo 4096. The processor is asked once.
#[cfg(target_arch = "x86_64")]
fn strings_for(src: *const u8, dst: *mut u8) -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    const NO: u8 = 1;
    const YES: u8 = 2;
    const UNLESS_NEAR: u8 = 3;
    // 0: not asked yet. Relaxed: every thread that asks computes the same
    // answer, so any value it reads is right.
    static KNOWN: AtomicU8 = AtomicU8::new(0);
    let known = match KNOWN.load(Relaxed) {
        0 => {
            // `__cpuid` became a safe function after this crate's MSRV.
            #[allow(unused_unsafe)]
            // SAFETY: CPUID exists on every x86-64 processor, and leaf 7 is
            // asked only where leaf 0 says it exists.
            let (leaf0, leaf1, leaf7) = unsafe {
                let leaf0 = __cpuid(0);
                (
                    leaf0,
                    __cpuid(1),
                    (leaf0.eax >= 7).then(|| __cpuid_count(7, 0)),
                )
            };
            let fast = leaf7.is_some_and(|l| l.ebx & (1 << 9) != 0 && l.edx & (1 << 4) != 0);
            // "AuthenticAMD", and the family: base plus extended where base is 0xF.
            let amd = (leaf0.ebx, leaf0.edx, leaf0.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
            let base = (leaf1.eax >> 8) & 0xF;
            let family = if base == 0xF {
                base + ((leaf1.eax >> 20) & 0xFF)
            } else {
                base
            };
            let known = match (fast, amd && family == 0x19) {
                (false, _) => NO,
                (true, false) => YES,
                (true, true) => UNLESS_NEAR,
            };
            KNOWN.store(known, Relaxed);
            known
        }
        known => known,
    };
    match known {
        YES => true,
        UNLESS_NEAR => (dst as usize).wrapping_sub(src as usize) % 4096 >= 512,
        _ => false,
    }
}

/// Copies with `rep movsb` between two `fence`s (see the module
/// docs): the first 64-byte block with the block loop, then the rest from
/// the first 64-byte boundary of the destination, or of the source where
/// the destination sits less than 512 bytes past it modulo 4096.
///
/// # Safety
/// As for [`copy_racy`], and `len` >= 64.
#[cfg(target_arch = "x86_64")]
unsafe fn copy_string(src: *const u8, dst: *mut u8, len: usize, fence: Fence) {
    assert!(len >= 64, "string copy of {len} bytes");
    let near = (dst as usize).wrapping_sub(src as usize) & 0xe00 == 0;
    let align = if near { src as usize } else { dst as usize };
    // 1 to 64: the first block covers the bytes before it.
    let skip = 64 - align % 64;
    // SAFETY: the block and the rest lie inside the caller's ranges (skip
    // <= 64 <= len); the rest overlaps the block by 64 - skip bytes, which
    // it copies again (with a racing writer they may differ, which the
    // seqlock rejects like any other racing byte). `rep movsb` copies
    // forward because the ABI guarantees DF is clear on entry to an asm
    // block; it changes only rcx, rsi and rdi, declared as clobbered. The
    // fences order memory accesses only (see the module docs).
    unsafe {
        fence.emit();
        copy_blocks(src, dst, 1);
        std::arch::asm!(
            "rep movsb",
            inout("rcx") len - skip => _,
            inout("rsi") src.add(skip) => _,
            inout("rdi") dst.add(skip) => _,
            options(nostack, preserves_flags),
        );
        fence.emit();
    }
}

/// Orders every store before it before every store after it, the weakly
/// ordered kinds included (non-temporal and fast-string stores, which x86's
/// rule of stores in program order leaves out): around a writer's own code
/// filling a back buffer between the stamps (`write_with`), which may call
/// a `memcpy` that uses them. Elsewhere the protocol's fences are enough.
#[inline]
pub(crate) fn order_stores() {
    #[cfg(target_arch = "x86_64")]
    Fence::Stores.emit();
}

/// The fence around a string copy: `sfence` for the writer's, `lfence` for
/// a reader's (see the module docs).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Fence {
    Stores,
    Loads,
}

#[cfg(target_arch = "x86_64")]
impl Fence {
    #[inline]
    fn emit(self) {
        // SAFETY: a fence reads and writes no memory and no register; it
        // only orders this thread's memory accesses.
        unsafe {
            match self {
                Fence::Stores => std::arch::asm!("sfence", options(nostack, preserves_flags)),
                Fence::Loads => std::arch::asm!("lfence", options(nostack, preserves_flags)),
            }
        }
    }
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
/// memory that another process writes or reads concurrently: a reader's
/// copy (`rep movsb` where [`copy_in`] says, up to [`STREAM_THRESHOLD`];
/// the block loop else), whose loads are all ordered after the loads
/// before the call and before those after it.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and the
/// two ranges must not overlap. Bytes read while another process writes them
/// may be any mix of old and new values: the caller validates them afterwards.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) unsafe fn copy_racy(src: *const u8, dst: *mut u8, len: usize) {
    if (STRING_MIN..STREAM_THRESHOLD).contains(&len) && strings_for(src, dst) {
        // SAFETY: forwarded from the caller; len >= 64.
        unsafe { copy_string(src, dst, len, Fence::Loads) };
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { copy_plain(src, dst, len) }
}

/// The block loop, or under 64 bytes relaxed atomic words: on x86,
/// instructions it orders among themselves and with the stamps' accesses;
/// on aarch64, accesses the protocol's fences order.
///
/// # Safety
/// As for [`copy_racy`].
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline]
unsafe fn copy_plain(src: *const u8, dst: *mut u8, len: usize) {
    const BLOCK: usize = 64;
    if len < BLOCK {
        // SAFETY: forwarded from the caller.
        unsafe { copy_atomic(src, dst, len) };
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

/// Copies `blocks` 64-byte blocks with NEON loads and stores: `ldp` and
/// `stp` of two q registers, twice a block. Unaligned addresses are fine
/// for them on normal memory, which a shared mapping is.
///
/// # Safety
/// `blocks` > 0, and the ranges of `64 * blocks` bytes as for [`copy_racy`].
#[cfg(target_arch = "aarch64")]
#[inline]
unsafe fn copy_blocks(src: *const u8, dst: *mut u8, blocks: usize) {
    // SAFETY: forwarded from the caller (blocks > 0, both ranges valid for
    // 64 * blocks bytes); the loop touches only those ranges and declares
    // every register it changes (the flags too, by omitting
    // `preserves_flags`); without `nomem` the compiler assumes it reads and
    // writes any memory.
    unsafe {
        std::arch::asm!(
            "2:",
            "ldp {a:q}, {b:q}, [{s}]",
            "ldp {c:q}, {d:q}, [{s}, #32]",
            "stp {a:q}, {b:q}, [{t}]",
            "stp {c:q}, {d:q}, [{t}, #32]",
            "add {s}, {s}, #64",
            "add {t}, {t}, #64",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            s = inout(reg) src => _,
            t = inout(reg) dst => _,
            n = inout(reg) blocks => _,
            a = out(vreg) _,
            b = out(vreg) _,
            c = out(vreg) _,
            d = out(vreg) _,
            options(nostack),
        )
    }
}

/// A reader's copy on aarch64: the NEON block loop (see the module docs).
///
/// # Safety
/// As for the x86-64 [`copy_racy`].
#[cfg(target_arch = "aarch64")]
#[inline]
pub(crate) unsafe fn copy_racy(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { copy_plain(src, dst, len) }
}

/// Copies `len` bytes from `src` to `dst` with relaxed atomic accesses: the
/// portable version of [`copy_racy`].
///
/// # Safety
/// As for [`copy_racy`].
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) unsafe fn copy_racy(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { copy_atomic(src, dst, len) }
}

/// Relaxed-atomic copy: words where both sides can be aligned alike, bytes
/// elsewhere.
///
/// # Safety
/// As for [`copy_racy`].
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
    #[cfg(target_arch = "x86_64")]
    fn the_string_copy_copies_every_length_and_alignment_exactly() {
        use super::{copy_string, Fence};
        // Both sides from page boundaries, so that the offsets below are
        // their alignments and their distance modulo 4096.
        let page = |v: &mut Vec<u8>| v.as_mut_ptr().wrapping_add(v.as_ptr().align_offset(4096));
        let mut src: Vec<u8> = (0..16384u32).map(|i| (i * 7 + 3) as u8).collect();
        let base = page(&mut src);
        // Destinations near the source modulo 4096 and far from it, at every
        // alignment of either side to 64 bytes.
        for (from, to) in [
            (0, 0),
            (0, 64),
            (3, 5),
            (17, 9),
            (63, 0),
            (0, 700),
            (40, 2100),
            (5, 4090),
        ] {
            for len in [64, 65, 127, 128, 129, 1000, 4095, 4096, 4097, 5000, 8191] {
                for fence in [Fence::Stores, Fence::Loads] {
                    let mut out = vec![0xAAu8; 20480];
                    let dst = page(&mut out);
                    // SAFETY: both ranges lie inside their vectors (a page
                    // boundary is less than 4096 bytes in, plus at most 4090
                    // and 8191 bytes) and are distinct allocations.
                    let got = unsafe {
                        copy_string(base.add(from), dst.add(to), len, fence);
                        std::slice::from_raw_parts(dst, to + len + 64)
                    };
                    // SAFETY: as above: the source's bytes, read only.
                    let want = unsafe { std::slice::from_raw_parts(base.add(from), len) };
                    let what = format!("len {len}, source +{from}, destination +{to}");
                    assert_eq!(&got[to..to + len], want, "{what}");
                    assert!(got[..to].iter().all(|&b| b == 0xAA), "{what}");
                    assert!(got[to + len..].iter().all(|&b| b == 0xAA), "{what}");
                }
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
            let src: Vec<u8> = (0..5100u32).map(|i| (i * 7 + 3) as u8).collect();
            for off in 0..9 {
                for len in [
                    0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 200, 256, 291, 4097, 5000,
                ] {
                    let mut dst = vec![0xAAu8; 5100];
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
