//! A shared mapping of a segment, unmapped on drop.

use std::ffi::c_void;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use rustix::mm::{self, MapFlags, ProtFlags};

use crate::layout::{offset, Geometry, Header, PinPage, HEADER_SIZE};
use crate::{DbShmError, Result};

/// The first `size` bytes of a segment, mapped shared.
pub(crate) struct Mapping {
    base: NonNull<u8>,
    size: usize,
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
    /// Maps `size` bytes of `fd`, which the caller has checked the object holds.
    pub(crate) fn new(name: &str, fd: &OwnedFd, size: usize, writable: bool) -> Result<Mapping> {
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a fresh shared mapping placed by the kernel aliases no Rust
        // object; `size` is non-zero and the callers checked the object holds it.
        let ptr = unsafe { mm::mmap(std::ptr::null_mut(), size, prot, MapFlags::SHARED, fd, 0) }
            .map_err(|e| DbShmError::os(name, "map the segment", e))?;
        let base = NonNull::new(ptr.cast::<u8>()).expect("mmap never returns NULL on success");
        Ok(Mapping {
            base,
            size,
            kept: false,
        })
    }

    /// Asks for huge pages for the buffers, if they start on huge-page
    /// boundaries (see `Geometry::with_huge_pages`): needed on a tmpfs
    /// mounted `huge=advise`, harmless elsewhere (an error, such as EINVAL
    /// where transparent huge pages are off, leaves small pages).
    pub(crate) fn advise_huge(&self, geometry: &Geometry) {
        if geometry.first_buffer == HEADER_SIZE || self.size < geometry.total_size {
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
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        // SAFETY: `base` and `size` are a mapping made by `Mapping::new`, and
        // no reference into it outlives `self`.
        unsafe {
            let _ = mm::munmap(self.base.as_ptr().cast::<c_void>(), self.size);
        }
    }
}
