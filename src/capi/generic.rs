//! The C functions, written once over the element type. Each checks its raw
//! arguments, then calls the Rust API inside the boundary of `boundary::call`.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{self, call, call_or, non_null, Failure};
use super::{dbshm_frame_info, dbshm_status, DBSHM_WAIT_FOREVER};
use crate::layout::MAX_NDIM;
use crate::{DoubleBufferedSharedMemory, Element};

/// A C handle type: `dbshm_u8` wraps a `DoubleBufferedSharedMemory<u8>`.
pub(crate) trait Handle: Sized {
    type Elem: Element;
    fn wrap(inner: DoubleBufferedSharedMemory<Self::Elem>) -> Self;
    fn inner(&self) -> &DoubleBufferedSharedMemory<Self::Elem>;
}

/// The handle behind a pointer from C.
///
/// # Safety
/// `h` is NULL or a live handle from this library.
unsafe fn handle<'a, H: Handle + 'a>(
    h: *const H,
) -> Result<&'a DoubleBufferedSharedMemory<H::Elem>, Failure> {
    non_null(h, "the handle")?;
    // SAFETY: non-NULL, and live by the caller's contract.
    Ok(unsafe { &*h }.inner())
}

/// A shape from C, checked before it is read.
///
/// # Safety
/// `shape` is NULL or points to `ndim` readable `size_t`s.
unsafe fn shape<'a>(name: &str, shape: *const usize, ndim: usize) -> Result<&'a [usize], Failure> {
    non_null(shape, format_args!("segment {name:?}: shape"))?;
    if ndim == 0 || ndim > MAX_NDIM {
        return Err(Failure::Invalid(format!(
            "segment {name:?}: invalid shape: ndim is {ndim}, it must be 1 to {MAX_NDIM}"
        )));
    }
    // SAFETY: non-NULL, `ndim` elements by the caller's contract, and at
    // most MAX_NDIM of them are read.
    Ok(unsafe { std::slice::from_raw_parts(shape, ndim) })
}

/// Checks a caller's element buffer: non-NULL, aligned for `T`, one frame long.
fn frame_buffer<T>(
    shm: &DoubleBufferedSharedMemory<T>,
    ptr: *const T,
    len: usize,
    what: &str,
) -> Result<(), Failure>
where
    T: Element,
{
    non_null(ptr, format_args!("segment {:?}: {what}", shm.name()))?;
    if len != shm.len() {
        return Err(Failure::Len {
            name: shm.name().to_owned(),
            expected: shm.len(),
            found: len,
        });
    }
    Ok(())
}

/// Stores a new handle through `out`.
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn give<H: Handle>(out: *mut *mut H, shm: DoubleBufferedSharedMemory<H::Elem>) {
    // SAFETY: the caller's contract.
    unsafe { out.write(Box::into_raw(Box::new(H::wrap(shm)))) }
}

/// `dbshm_X_new` (open or create) and, with `exclusive`, `dbshm_X_create`.
///
/// # Safety
/// As documented in the header: C strings, arrays and out-pointers valid or NULL.
pub(crate) unsafe fn new<H: Handle>(
    name: *const c_char,
    dims: *const usize,
    ndim: usize,
    out: *mut *mut H,
    exclusive: bool,
) -> dbshm_status {
    call(|| {
        // SAFETY: `name` is NULL or a C string, by the caller's contract.
        let name = unsafe { boundary::name(name) }?;
        // SAFETY: `dims` is NULL or `ndim` readable `size_t`s, likewise.
        let dims = unsafe { shape(name, dims, ndim) }?;
        non_null(out, format_args!("segment {name:?}: out"))?;
        let shm = if exclusive {
            DoubleBufferedSharedMemory::create(name, dims)?
        } else {
            DoubleBufferedSharedMemory::new(name, dims)?
        };
        // SAFETY: `out` checked non-NULL; writable by the caller's contract.
        unsafe { give(out, shm) };
        Ok(())
    })
}

/// `dbshm_X_open` and `dbshm_X_open_readonly`.
///
/// # Safety
/// As for [`new`].
pub(crate) unsafe fn open<H: Handle>(
    name: *const c_char,
    out: *mut *mut H,
    read_only: bool,
) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let name = unsafe { boundary::name(name) }?;
        non_null(out, format_args!("segment {name:?}: out"))?;
        let shm = if read_only {
            DoubleBufferedSharedMemory::open_readonly(name)?
        } else {
            DoubleBufferedSharedMemory::open(name)?
        };
        // SAFETY: `out` checked non-NULL; writable by the caller's contract.
        unsafe { give(out, shm) };
        Ok(())
    })
}

/// `dbshm_X_write`.
///
/// # Safety
/// `h` NULL or live; `data` NULL or `len` readable elements.
pub(crate) unsafe fn write<H: Handle>(h: *mut H, data: *const H::Elem, len: usize) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let shm = unsafe { handle(h) }?;
        frame_buffer(shm, data, len, "data")?;
        // SAFETY: checked non-NULL and aligned; `len` readable elements by
        // the caller's contract.
        let data = unsafe { std::slice::from_raw_parts(data, len) };
        shm.write_slice(data)?;
        Ok(())
    })
}

/// Writes `info` through a pointer that may be NULL.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn put_info(out: *mut dbshm_frame_info, info: crate::FrameInfo) {
    if !out.is_null() {
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(info.into()) }
    }
}

/// `dbshm_X_read`. Reading needs only `&` of the handle (no scratch state
/// lives in it), so C gets a `const` handle, as for `wait`.
///
/// # Safety
/// `h` NULL or live; `out` NULL or `len` writable elements; `info` NULL or writable.
pub(crate) unsafe fn read<H: Handle>(
    h: *const H,
    out: *mut H::Elem,
    len: usize,
    info: *mut dbshm_frame_info,
) -> dbshm_status {
    // SAFETY: forwarded from the caller.
    unsafe { read_after(h, None, out, len, info) }
}

/// `dbshm_X_wait`.
///
/// # Safety
/// As for [`read`].
pub(crate) unsafe fn wait<H: Handle>(
    h: *const H,
    after_seq: u64,
    timeout_us: u64,
    out: *mut H::Elem,
    len: usize,
    info: *mut dbshm_frame_info,
) -> dbshm_status {
    let timeout = match timeout_us {
        DBSHM_WAIT_FOREVER => Duration::MAX,
        us => Duration::from_micros(us),
    };
    // SAFETY: forwarded from the caller.
    unsafe { read_after(h, Some((after_seq, timeout)), out, len, info) }
}

/// Both: checks every argument before anything is written, then reads the
/// latest frame, after waiting for one newer than `after` when given.
///
/// # Safety
/// As for [`read`].
unsafe fn read_after<H: Handle>(
    h: *const H,
    after: Option<(u64, Duration)>,
    out: *mut H::Elem,
    len: usize,
    info: *mut dbshm_frame_info,
) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let shm = unsafe { handle(h) }?;
        frame_buffer(shm, out, len, "out")?;
        boundary::aligned(info, format_args!("segment {:?}: info", shm.name()))?;
        // SAFETY: checked non-NULL, aligned and one frame long; writable and
        // not otherwise accessed meanwhile by the caller's contract. It may be
        // uninitialised: it is only written, through a pointer.
        let frame = unsafe {
            match after {
                Some((seq, timeout)) => shm.wait_into_ptr(seq, timeout, out),
                None => shm.read_into_ptr(out),
            }
        }?;
        // SAFETY: forwarded from the caller.
        unsafe { put_info(info, frame) };
        Ok(())
    })
}

/// A number about the handle, 0 for NULL.
///
/// # Safety
/// `h` NULL or live.
pub(crate) unsafe fn query<H: Handle, R: Default>(
    h: *const H,
    f: impl FnOnce(&DoubleBufferedSharedMemory<H::Elem>) -> R,
) -> R {
    call_or(R::default(), || {
        // SAFETY: `h` is NULL or a live handle, by the caller's contract.
        unsafe { handle(h) }.map_or_else(|_| R::default(), f)
    })
}

/// `dbshm_X_shape`.
///
/// # Safety
/// `h` NULL or live; `out` NULL or `cap` writable `size_t`s.
pub(crate) unsafe fn shape_into<H: Handle>(
    h: *const H,
    out: *mut usize,
    cap: usize,
) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let shm = unsafe { handle(h) }?;
        non_null(out, format_args!("segment {:?}: out", shm.name()))?;
        let dims = shm.shape();
        if cap < dims.len() {
            return Err(Failure::Invalid(format!(
                "segment {:?}: its shape has {} dimensions, out has room for {cap}",
                shm.name(),
                dims.len()
            )));
        }
        // SAFETY: `out` has room for `cap >= dims.len()` elements.
        unsafe { std::ptr::copy_nonoverlapping(dims.as_ptr(), out, dims.len()) };
        Ok(())
    })
}

/// `dbshm_X_free`.
///
/// # Safety
/// `h` NULL or a live handle, not used afterwards.
pub(crate) unsafe fn free<H: Handle>(h: *mut H) {
    if !h.is_null() {
        // SAFETY: made by `give` with Box::into_raw; the caller gives it back once.
        call_or((), || drop(unsafe { Box::from_raw(h) }));
    }
}
