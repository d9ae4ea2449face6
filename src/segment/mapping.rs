//! A shared mapping of a segment, unmapped on drop.

use std::ffi::c_void;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use rustix::mm::{self, MapFlags, ProtFlags};

use super::open::Pages;
use crate::layout::{offset, Geometry, Header, PinPage, HEADER_SIZE};
use crate::{DbShmError, Result};

/// The first `size` bytes of a segment, mapped shared.
pub(crate) struct Mapping {
    base: NonNull<u8>,
    size: usize,
    /// Bytes actually mapped: `size` rounded up to a hugetlbfs page, whose
    /// mappings are unmapped only whole.
    len: usize,
    /// The pages of the object's filesystem.
    pages: Pages,
    /// Left mapped on drop: a thread that is still running reads it.
    kept: bool,
}

// SAFETY: the mapping is owned by this value and lives until drop; all access
// to the shared bytes goes through atomics or `copy_racy`, which may be used
// from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` hands out only shared references to atomics
// and raw pointers whose uses are justified where they are dereferenced.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `size` bytes of `fd`, which is on a filesystem with `pages`
    /// and which the caller has checked holds `size` bytes rounded up to
    /// `pages` (on hugetlbfs: whole huge pages, see `Segment::open`).
    /// `size` is at least [`HEADER_SIZE`]: `header` and `pin_page` rely on it.
    pub(crate) fn new(
        name: &str,
        fd: &OwnedFd,
        size: usize,
        writable: bool,
        pages: Pages,
    ) -> Result<Mapping> {
        assert!(
            size >= HEADER_SIZE,
            "a mapping of {size} bytes holds no header"
        );
        let len = pages.round(size).ok_or_else(|| DbShmError::Os {
            name: name.to_owned(),
            operation: "map the segment",
            source: std::io::ErrorKind::OutOfMemory.into(),
        })?;
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a fresh shared mapping placed by the kernel aliases no Rust
        // object; `len` is non-zero and the object holds it (see above).
        let ptr = unsafe { mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }
            .map_err(|e| match (e, pages) {
                // hugetlbfs reserves a shared mapping's pages when it is made.
                (rustix::io::Errno::NOMEM, Pages::Hugetlb(_)) => DbShmError::os(
                    name,
                    "map the segment (its huge page pool cannot reserve the pages; see vm.nr_hugepages)",
                    e,
                ),
                _ => DbShmError::os(name, "map the segment", e),
            })?;
        let base = NonNull::new(ptr.cast::<u8>()).expect("mmap never returns NULL on success");
        Ok(Mapping {
            base,
            size,
            len,
            pages,
            kept: false,
        })
    }

    /// Copies `bytes` to offset `at` of a writable mapping: how files are
    /// written where `write` is refused (hugetlbfs).
    ///
    /// # Safety
    /// The mapping is of a file this process has just made, not yet named,
    /// and no reference into `at..at + bytes.len()` exists (no `header`, no
    /// handle): nothing in this process reads those bytes meanwhile.
    pub(crate) unsafe fn fill(&self, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= self.size, "filled past the mapping");
        // SAFETY: the range is inside this mapping (asserted), which the
        // caller made writable; by the caller's contract nothing in this
        // process aliases it, and other processes do not bind this one's
        // memory model.
        unsafe {
            let to = self.base.as_ptr().add(at);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), to, bytes.len())
        }
    }

    /// Faults in the pages of `len` bytes at offset `at` of a writable
    /// mapping, as writes would, without writing (`MADV_POPULATE_WRITE`).
    pub(crate) fn populate(&self, at: usize, len: usize) -> rustix::io::Result<()> {
        self.advise(at, len, mm::Advice::LinuxPopulateWrite)
    }

    /// Gives `advice` for `len` bytes at offset `at` of this mapping.
    fn advise(&self, at: usize, len: usize, advice: mm::Advice) -> rustix::io::Result<()> {
        assert!(at + len <= self.size, "advised past the mapping");
        let page = rustix::param::page_size();
        let start = at / page * page;
        // SAFETY: the range (widened down to a page boundary, which stays
        // inside the page-aligned mapping) is inside this mapping. The
        // callers' advice changes no byte of a shared mapping's file: it
        // only faults pages in or out of this process's page tables.
        unsafe {
            mm::madvise(
                self.base.as_ptr().add(start).cast::<c_void>(),
                at + len - start,
                advice,
            )
        }
    }

    /// Asks for transparent huge pages for the buffers, if they start on
    /// huge-page boundaries (see `Geometry::with_huge_pages`) in a tmpfs:
    /// needed where it is mounted `huge=advise`, harmless elsewhere (an
    /// error leaves small pages). hugetlbfs needs no advice.
    pub(crate) fn advise_huge(&self, geometry: &Geometry) {
        let transparent = matches!(self.pages, Pages::Transparent(_));
        if !transparent || geometry.first_buffer == HEADER_SIZE || self.size < geometry.total_size {
            return;
        }
        let len = geometry.total_size - geometry.first_buffer;
        // SAFETY: the range lies inside this mapping (checked above), and
        // the advice changes no contents: it only lets the kernel back the
        // range with huge pages.
        let _ = unsafe {
            mm::madvise(
                self.base
                    .as_ptr()
                    .add(geometry.first_buffer)
                    .cast::<c_void>(),
                len,
                mm::Advice::LinuxHugepage,
            )
        };
    }

    /// Leaves the bytes mapped when this is dropped, until the process ends.
    pub(crate) fn keep(&mut self) {
        self.kept = true;
    }

    /// The header at the start of the mapping.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every mapping holds at least HEADER_SIZE bytes at page
        // alignment, Header fits in it, and every bit pattern is valid for its
        // integer and atomic fields; the fields other processes change are atomics.
        unsafe { &*self.base.as_ptr().cast::<Header>() }
    }

    /// The pin records, in the header's second page.
    pub(crate) fn pin_page(&self) -> &PinPage {
        // SAFETY: as in `header`: the second page of the HEADER_SIZE bytes
        // every mapping holds, page-aligned; PinPage is atomics and padding.
        unsafe {
            &*self
                .base
                .as_ptr()
                .add(offset::PINS_IN_USE)
                .cast::<PinPage>()
        }
    }

    /// Start of the mapping.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Bytes mapped.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Removes the pages of `len` bytes at offset `at` from this mapping
    /// (`MADV_DONTNEED`); a shared mapping's file keeps them, and they are
    /// faulted in again as they are next touched.
    pub(crate) fn unmap_pages(&self, at: usize, len: usize) -> rustix::io::Result<()> {
        self.advise(at, len, mm::Advice::LinuxDontNeed)
    }

    /// Bytes mapped, rounded up as the kernel mapped them.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Writes `bytes` at the start of a file this process just made, sized and
/// reserved to hold them, through a mapping made for it alone: how a lock
/// file is written on hugetlbfs, which refuses `write`.
pub(crate) fn write_new(name: &str, fd: &OwnedFd, bytes: &[u8], pages: Pages) -> Result<()> {
    let len = pages.round(bytes.len()).expect("a size the file was given");
    let prot = ProtFlags::READ | ProtFlags::WRITE;
    // SAFETY: a fresh shared mapping placed by the kernel aliases no Rust
    // object; the caller sized the file to hold `len` bytes.
    let ptr = unsafe { mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }
        .map_err(|e| DbShmError::os(name, "write the segment's lock file", e))?;
    // SAFETY: `bytes.len() <= len` bytes at the start of that mapping,
    // which nothing else refers to, then the mapping unmapped whole.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.cast::<u8>(), bytes.len());
        let _ = mm::munmap(ptr, len);
    }
    Ok(())
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        // SAFETY: `base` and `len` are a mapping made by `Mapping::new`, and
        // no reference into it outlives `self`.
        unsafe {
            let _ = mm::munmap(self.base.as_ptr().cast::<c_void>(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Advice is given for ranges that start anywhere, also inside a page
    /// of whatever size the kernel's are (16 KiB on a Raspberry Pi 5):
    /// `madvise` itself takes only page-aligned starts. The advice is what
    /// every kernel knows (`MADV_POPULATE_WRITE` is Linux 5.14's, newer
    /// than JetPack 5's 5.10, where dbshm goes on without it).
    #[test]
    fn advice_starts_anywhere_on_pages_of_any_size() {
        let page = rustix::param::page_size();
        let size = 3 * page;
        let fd = rustix::fs::memfd_create("dbshm-advice", rustix::fs::MemfdFlags::CLOEXEC)
            .expect("memfd_create");
        rustix::fs::ftruncate(&fd, size as u64).expect("ftruncate");
        let map = Mapping::new("advice", &fd, size, true, Pages::Small).expect("map");
        for at in [0, 1, HEADER_SIZE, page - 1, page, page + 1] {
            let len = size - at;
            for advice in [mm::Advice::WillNeed, mm::Advice::LinuxDontNeed] {
                map.advise(at, len, advice)
                    .unwrap_or_else(|e| panic!("{advice:?} at {at} of {page}-byte pages: {e}"));
            }
        }
    }
}
