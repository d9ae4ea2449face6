//! The C functions, written once over the element type. Each checks its raw
//! arguments, then calls the Rust API inside the boundary of `boundary::call`.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{self, call, call_or, non_null, Failure};
use super::{dbshm_frame_info, dbshm_options, dbshm_status, DBSHM_WAIT_FOREVER};
use crate::layout::MAX_NDIM;
use crate::pin::PinId;
use crate::{DoubleBufferedSharedMemory, Element, Options};

/// A C handle type: `dbshm_u8` wraps a `DoubleBufferedSharedMemory<u8>`.
pub(crate) trait Handle: Sized {
    type Elem: Element;
    fn wrap(inner: DoubleBufferedSharedMemory<Self::Elem>) -> Self;
    fn inner(&self) -> &DoubleBufferedSharedMemory<Self::Elem>;
}

/// A C view type: `dbshm_u8_view` holds a pinned frame of `u8`.
pub(crate) trait View: Sized {
    type Elem: Element;
    fn new(data: *const Self::Elem, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self;
    fn pin(&self) -> [u64; 2];
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

/// The options from C (NULL: every default), and whether to open read-only.
///
/// # Safety
/// `options` is NULL or readable, and its `dir` NULL or a NUL-terminated string.
unsafe fn options(name: &str, options: *const dbshm_options) -> Result<(Options, bool), Failure> {
    boundary::aligned(options, format_args!("segment {name:?}: options"))?;
    // SAFETY: NULL, or aligned and readable by the caller's contract.
    let o = unsafe { options.as_ref() }.copied().unwrap_or_default();
    let mut made = Options::new();
    if o.mode != 0 {
        made = made.mode(o.mode);
    }
    if o.buffers != 0 {
        made = made.buffers(o.buffers as usize);
    }
    if o.max_pins != 0 {
        made = made.max_pins(o.max_pins as usize);
    }
    // SAFETY: `dir` is NULL or NUL-terminated, by the caller's contract.
    let made = unsafe { boundary::in_dir(made, o.dir) };
    Ok((made, o.read_only != 0))
}

/// `dbshm_X_create_with`.
///
/// # Safety
/// As for [`new`]; `o` NULL or readable, its `dir` NULL or NUL-terminated.
pub(crate) unsafe fn create_with<H: Handle>(
    name: *const c_char,
    dims: *const usize,
    ndim: usize,
    o: *const dbshm_options,
    out: *mut *mut H,
) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller, as in `new`.
        let name = unsafe { boundary::name(name) }?;
        // SAFETY: likewise.
        let dims = unsafe { shape(name, dims, ndim) }?;
        // SAFETY: likewise.
        let (options, _) = unsafe { options(name, o) }?;
        non_null(out, format_args!("segment {name:?}: out"))?;
        let shm = options.create(name, dims)?;
        // SAFETY: `out` checked non-NULL; writable by the caller's contract.
        unsafe { give(out, shm) };
        Ok(())
    })
}

/// `dbshm_X_open_with`.
///
/// # Safety
/// As for [`open`]; `o` NULL or readable, its `dir` NULL or NUL-terminated.
pub(crate) unsafe fn open_with<H: Handle>(
    name: *const c_char,
    o: *const dbshm_options,
    out: *mut *mut H,
) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let name = unsafe { boundary::name(name) }?;
        // SAFETY: likewise.
        let (options, read_only) = unsafe { options(name, o) }?;
        non_null(out, format_args!("segment {name:?}: out"))?;
        let shm = if read_only {
            options.open_readonly(name)?
        } else {
            options.open(name)?
        };
        // SAFETY: `out` checked non-NULL; writable by the caller's contract.
        unsafe { give(out, shm) };
        Ok(())
    })
}

/// `dbshm_X_pin` and, with `after`, `dbshm_X_wait_pin`.
///
/// # Safety
/// `h` NULL or live; `view` NULL or writable.
pub(crate) unsafe fn pin<H: Handle, V: View<Elem = H::Elem>>(
    h: *const H,
    after: Option<(u64, u64)>,
    view: *mut V,
) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let shm = unsafe { handle(h) }?;
        non_null(view, format_args!("segment {:?}: view", shm.name()))?;
        let (data, info, id) = match after {
            Some((seq, timeout_us)) => shm.wait_pin_raw(seq, timeout(timeout_us))?,
            None => shm.pin_raw()?,
        };
        // SAFETY: checked non-NULL and aligned; writable by the caller's contract.
        unsafe { view.write(V::new(data, shm.len(), info.into(), id.to_words())) };
        Ok(())
    })
}

/// `dbshm_X_unpin`: lets go of the view's pin, and clears it.
///
/// # Safety
/// `h` NULL or live; `view` NULL or a view of this handle, writable.
pub(crate) unsafe fn unpin<H: Handle, V: View<Elem = H::Elem>>(
    h: *const H,
    view: *mut V,
) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let shm = unsafe { handle(h) }?;
        non_null(view, format_args!("segment {:?}: view", shm.name()))?;
        // SAFETY: checked non-NULL and aligned; readable and writable by
        // the caller's contract.
        let view = unsafe { &mut *view };
        if let Some(id) = PinId::from_words(view.pin()) {
            if !shm.unpin_raw(id) {
                return Err(Failure::Invalid(format!(
                    "segment {:?}: the view was not pinned through this handle \
                     (another handle's, or pinned before a fork)",
                    shm.name()
                )));
            }
        }
        *view = V::new(std::ptr::null(), 0, dbshm_frame_info::default(), [0, 0]);
        Ok(())
    })
}

/// `timeout_us` of a `_wait` function as a duration.
fn timeout(timeout_us: u64) -> Duration {
    match timeout_us {
        DBSHM_WAIT_FOREVER => Duration::MAX,
        us => Duration::from_micros(us),
    }
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
    // SAFETY: forwarded from the caller.
    unsafe { read_after(h, Some((after_seq, timeout(timeout_us))), out, len, info) }
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

/// `dbshm_X_event_fd`.
///
/// # Safety
/// `h` NULL or live; `fd` NULL or writable.
pub(crate) unsafe fn event_fd<H: Handle>(h: *const H, fd: *mut std::ffi::c_int) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let shm = unsafe { handle(h) }?;
        non_null(fd, format_args!("segment {:?}: fd", shm.name()))?;
        let raw = shm.event_fd()?;
        // SAFETY: checked non-NULL and aligned; writable by the caller's contract.
        unsafe { fd.write(raw) };
        Ok(())
    })
}

/// `dbshm_X_acknowledge_events`.
///
/// # Safety
/// `h` NULL or live; `count` NULL (not wanted) or writable.
pub(crate) unsafe fn acknowledge_events<H: Handle>(h: *const H, count: *mut u64) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let shm = unsafe { handle(h) }?;
        let n = shm.acknowledge_events()?;
        if !count.is_null() {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { count.write(n) };
        }
        Ok(())
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
