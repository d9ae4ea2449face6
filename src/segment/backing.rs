//! What backs a new segment's buffers, asked of the kernel by the creator:
//! it faults each buffer in, in order, and reads after each its own
//! mapping's entry in /proc/self/smaps. Observers cannot ask (they never
//! map segments), so the answer goes into the header (see `Backing`).

use super::mapping::Mapping;
use super::open;
use crate::layout::{Backing, Geometry};

/// What smaps says of the mappings inside one address range.
#[derive(Clone, Copy, Default)]
struct Smaps {
    /// The largest `KernelPageSize`: a hugetlbfs page, or the base page.
    kernel_page_kb: u64,
    /// Mapped on huge pages: `ShmemPmdMapped` (transparent huge pages of a
    /// tmpfs) and `Shared_Hugetlb` plus `Private_Hugetlb` (hugetlbfs; a
    /// page only this process maps counts as private).
    huge_kb: u64,
}

/// Faults in the buffers of `map`, a new segment's writable mapping, and
/// says what the kernel put under each; `None` where it cannot tell (no
/// `MADV_POPULATE_WRITE` before Linux 5.14, no /proc). Each read of smaps
/// costs about a millisecond in a process of a hundred mappings, so they
/// are read once where the answer is the same for every buffer (small
/// pages, or hugetlbfs, where every page is huge); only where transparent
/// huge pages turn up are the buffers faulted in again piece by piece.
pub(crate) fn measure(map: &Mapping, geometry: &Geometry) -> Option<Backing> {
    let range = map.base() as usize..map.base() as usize + map.len();
    let frame_kb = u32::try_from(geometry.frame_bytes.div_ceil(1024)).ok()?;
    let buffers = geometry.first_buffer..geometry.total_size;
    let n = geometry.nbuffers;
    let recorded = |page_kb: u64, huge_kb: Vec<u32>| {
        Some(Backing {
            page_kb: u32::try_from(page_kb).ok()?,
            huge_kb,
            frame_kb,
        })
    };
    map.populate(buffers.start, buffers.len()).ok()?;
    let all = smaps(&range)?;
    if all.kernel_page_kb > base_page_kb() {
        return recorded(all.kernel_page_kb, vec![frame_kb; n]);
    }
    if all.huge_kb == 0 {
        return recorded(all.kernel_page_kb, vec![0; n]);
    }
    // Transparent huge pages: unmapped (the file keeps them) and faulted in
    // again a piece at a time, each piece counted by what its faults add.
    let pmd = open::pmd_size()?;
    map.unmap_pages(buffers.start, buffers.len()).ok()?;
    let frames =
        |i: usize| geometry.buffer_offset(i)..geometry.buffer_offset(i) + geometry.frame_bytes;
    let mut before = smaps(&range)?.huge_kb;
    let mut grew = |at: usize, len: usize| -> Option<u64> {
        map.populate(at, len).ok()?;
        let after = smaps(&range)?.huge_kb;
        let kb = after.saturating_sub(before);
        before = after;
        Some(kb)
    };
    let huge_kb: Vec<u32> = if geometry.first_buffer % pmd == 0 && geometry.buffer_stride % pmd == 0
    {
        // Buffers on huge-page boundaries share no huge page: each one's own.
        (0..n)
            .map(|i| {
                Some(grew(frames(i).start, geometry.frame_bytes)?.min(u64::from(frame_kb)) as u32)
            })
            .collect::<Option<_>>()?
    } else {
        // Buffers that share huge pages: which huge-page extents are huge,
        // then each buffer's bytes in those.
        let mut huge = Vec::new();
        let mut at = buffers.start / pmd * pmd;
        while at < buffers.end {
            let piece = at.max(buffers.start)..(at + pmd).min(buffers.end);
            if grew(piece.start, piece.len())? > 0 {
                huge.push(at..at + pmd);
            }
            at += pmd;
        }
        (0..n)
            .map(|i| {
                let frame = frames(i);
                let bytes: usize = huge
                    .iter()
                    .map(|e| {
                        e.end
                            .min(frame.end)
                            .saturating_sub(e.start.max(frame.start))
                    })
                    .sum();
                bytes.div_ceil(1024) as u32
            })
            .collect()
    };
    let page_kb = if huge_kb.iter().any(|&kb| kb > 0) {
        pmd as u64 / 1024
    } else {
        all.kernel_page_kb
    };
    recorded(page_kb, huge_kb)
}

fn base_page_kb() -> u64 {
    rustix::param::page_size() as u64 / 1024
}

/// The sums over this process's mappings that lie in `range`.
fn smaps(range: &std::ops::Range<usize>) -> Option<Smaps> {
    let text = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let (mut ours, mut sums) = (false, Smaps::default());
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(first), second) = (words.next(), words.next()) else {
            continue;
        };
        // A mapping's first line: "start-end perms offset dev inode path".
        if let Some((start, end)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                ours = range.start <= start && end <= range.end;
                continue;
            }
        }
        let Some(kb) = second.and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if !ours {
            continue;
        }
        match first {
            "KernelPageSize:" => sums.kernel_page_kb = sums.kernel_page_kb.max(kb),
            "ShmemPmdMapped:" | "Shared_Hugetlb:" | "Private_Hugetlb:" => sums.huge_kb += kb,
            _ => {}
        }
    }
    Some(sums)
}
