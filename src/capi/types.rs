// @generated from src/capi/types.rs.in; do not edit.
// Regenerate: cargo run -p xtask -- gen-capi

use std::ffi::c_char;

use super::generic::{self, Handle};
use super::{dbshm_frame_info, dbshm_options, dbshm_status};
use crate::DoubleBufferedSharedMemory;

/// The library's version, as the crate's.
pub const DBSHM_VERSION_MAJOR: u32 = 0;
/// See `DBSHM_VERSION_MAJOR`.
pub const DBSHM_VERSION_MINOR: u32 = 1;
/// See `DBSHM_VERSION_MAJOR`.
pub const DBSHM_VERSION_PATCH: u32 = 0;

pub(crate) const VERSION: &std::ffi::CStr = c"0.1.0";

/// A handle to a segment of `uint8_t` elements: made by `dbshm_u8_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_u8_free`.
pub struct dbshm_u8(DoubleBufferedSharedMemory<u8>);

impl Handle for dbshm_u8 {
    type Elem = u8;
    fn wrap(inner: DoubleBufferedSharedMemory<u8>) -> Self {
        dbshm_u8(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<u8> {
        &self.0
    }
}

/// Opens the `uint8_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u8_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `uint8_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u8_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_u8_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `uint8_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u8_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_open(name: *const c_char, out: *mut *mut dbshm_u8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `uint8_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u8_free`
/// @return as `dbshm_u8_open` does.
///
/// # Safety
/// As for `dbshm_u8_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_open_readonly(name: *const c_char, out: *mut *mut dbshm_u8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_u8_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u8_free`
/// @return as `dbshm_u8_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_u8_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_u8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_u8_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u8_free`
/// @return as `dbshm_u8_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_u8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `uint8_t` elements, filled by `dbshm_u8_pin` or
/// `dbshm_u8_wait_pin` and let go by `dbshm_u8_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_u8_view {
    /// The frame's first element, row-major; read only.
    pub data: *const u8,
    /// The frame's element count, `dbshm_u8_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_u8_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_u8_view {
    type Elem = u8;
    fn new(data: *const u8, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_u8_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_u8_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_pin(h: *const dbshm_u8, view: *mut dbshm_u8_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_u8_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u8_pin` does.
///
/// # Safety
/// As for `dbshm_u8_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_wait_pin(h: *const dbshm_u8, after_seq: u64, timeout_us: u64, view: *mut dbshm_u8_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_unpin(h: *const dbshm_u8, view: *mut dbshm_u8_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u8_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_write(h: *mut dbshm_u8, data: *const u8, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u8_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_read(h: *const dbshm_u8, out: *mut u8, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_u8_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u8_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u8_read` does.
///
/// # Safety
/// As for `dbshm_u8_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_wait(h: *const dbshm_u8, after_seq: u64, timeout_us: u64, out: *mut u8, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_u8_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_event_fd(h: *const dbshm_u8, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_u8_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_u8_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_acknowledge_events(h: *const dbshm_u8, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_latest_seq(h: *const dbshm_u8) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_memory_size(h: *const dbshm_u8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_buffers(h: *const dbshm_u8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_dropped_writes(h: *const dbshm_u8) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_len(h: *const dbshm_u8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_ndim(h: *const dbshm_u8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_u8_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_shape(h: *const dbshm_u8, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u8_free(h: *mut dbshm_u8) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `int8_t` elements: made by `dbshm_i8_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_i8_free`.
pub struct dbshm_i8(DoubleBufferedSharedMemory<i8>);

impl Handle for dbshm_i8 {
    type Elem = i8;
    fn wrap(inner: DoubleBufferedSharedMemory<i8>) -> Self {
        dbshm_i8(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<i8> {
        &self.0
    }
}

/// Opens the `int8_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i8_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `int8_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i8_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_i8_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `int8_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i8_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_open(name: *const c_char, out: *mut *mut dbshm_i8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `int8_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i8_free`
/// @return as `dbshm_i8_open` does.
///
/// # Safety
/// As for `dbshm_i8_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_open_readonly(name: *const c_char, out: *mut *mut dbshm_i8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_i8_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i8_free`
/// @return as `dbshm_i8_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_i8_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_i8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_i8_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i8_free`
/// @return as `dbshm_i8_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_i8) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `int8_t` elements, filled by `dbshm_i8_pin` or
/// `dbshm_i8_wait_pin` and let go by `dbshm_i8_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_i8_view {
    /// The frame's first element, row-major; read only.
    pub data: *const i8,
    /// The frame's element count, `dbshm_i8_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_i8_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_i8_view {
    type Elem = i8;
    fn new(data: *const i8, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_i8_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_i8_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_pin(h: *const dbshm_i8, view: *mut dbshm_i8_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_i8_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i8_pin` does.
///
/// # Safety
/// As for `dbshm_i8_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_wait_pin(h: *const dbshm_i8, after_seq: u64, timeout_us: u64, view: *mut dbshm_i8_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_unpin(h: *const dbshm_i8, view: *mut dbshm_i8_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i8_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_write(h: *mut dbshm_i8, data: *const i8, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i8_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_read(h: *const dbshm_i8, out: *mut i8, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_i8_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i8_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i8_read` does.
///
/// # Safety
/// As for `dbshm_i8_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_wait(h: *const dbshm_i8, after_seq: u64, timeout_us: u64, out: *mut i8, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_i8_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_event_fd(h: *const dbshm_i8, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_i8_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_i8_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_acknowledge_events(h: *const dbshm_i8, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_latest_seq(h: *const dbshm_i8) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_memory_size(h: *const dbshm_i8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_buffers(h: *const dbshm_i8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_dropped_writes(h: *const dbshm_i8) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_len(h: *const dbshm_i8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_ndim(h: *const dbshm_i8) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_i8_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_shape(h: *const dbshm_i8, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i8_free(h: *mut dbshm_i8) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `uint16_t` elements: made by `dbshm_u16_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_u16_free`.
pub struct dbshm_u16(DoubleBufferedSharedMemory<u16>);

impl Handle for dbshm_u16 {
    type Elem = u16;
    fn wrap(inner: DoubleBufferedSharedMemory<u16>) -> Self {
        dbshm_u16(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<u16> {
        &self.0
    }
}

/// Opens the `uint16_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u16_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `uint16_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u16_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_u16_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `uint16_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u16_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_open(name: *const c_char, out: *mut *mut dbshm_u16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `uint16_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u16_free`
/// @return as `dbshm_u16_open` does.
///
/// # Safety
/// As for `dbshm_u16_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_open_readonly(name: *const c_char, out: *mut *mut dbshm_u16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_u16_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u16_free`
/// @return as `dbshm_u16_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_u16_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_u16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_u16_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u16_free`
/// @return as `dbshm_u16_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_u16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `uint16_t` elements, filled by `dbshm_u16_pin` or
/// `dbshm_u16_wait_pin` and let go by `dbshm_u16_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_u16_view {
    /// The frame's first element, row-major; read only.
    pub data: *const u16,
    /// The frame's element count, `dbshm_u16_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_u16_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_u16_view {
    type Elem = u16;
    fn new(data: *const u16, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_u16_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_u16_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_pin(h: *const dbshm_u16, view: *mut dbshm_u16_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_u16_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u16_pin` does.
///
/// # Safety
/// As for `dbshm_u16_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_wait_pin(h: *const dbshm_u16, after_seq: u64, timeout_us: u64, view: *mut dbshm_u16_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_unpin(h: *const dbshm_u16, view: *mut dbshm_u16_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u16_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_write(h: *mut dbshm_u16, data: *const u16, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u16_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_read(h: *const dbshm_u16, out: *mut u16, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_u16_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u16_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u16_read` does.
///
/// # Safety
/// As for `dbshm_u16_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_wait(h: *const dbshm_u16, after_seq: u64, timeout_us: u64, out: *mut u16, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_u16_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_event_fd(h: *const dbshm_u16, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_u16_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_u16_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_acknowledge_events(h: *const dbshm_u16, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_latest_seq(h: *const dbshm_u16) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_memory_size(h: *const dbshm_u16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_buffers(h: *const dbshm_u16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_dropped_writes(h: *const dbshm_u16) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_len(h: *const dbshm_u16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_ndim(h: *const dbshm_u16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_u16_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_shape(h: *const dbshm_u16, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u16_free(h: *mut dbshm_u16) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `int16_t` elements: made by `dbshm_i16_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_i16_free`.
pub struct dbshm_i16(DoubleBufferedSharedMemory<i16>);

impl Handle for dbshm_i16 {
    type Elem = i16;
    fn wrap(inner: DoubleBufferedSharedMemory<i16>) -> Self {
        dbshm_i16(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<i16> {
        &self.0
    }
}

/// Opens the `int16_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i16_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `int16_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i16_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_i16_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `int16_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i16_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_open(name: *const c_char, out: *mut *mut dbshm_i16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `int16_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i16_free`
/// @return as `dbshm_i16_open` does.
///
/// # Safety
/// As for `dbshm_i16_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_open_readonly(name: *const c_char, out: *mut *mut dbshm_i16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_i16_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i16_free`
/// @return as `dbshm_i16_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_i16_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_i16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_i16_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i16_free`
/// @return as `dbshm_i16_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_i16) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `int16_t` elements, filled by `dbshm_i16_pin` or
/// `dbshm_i16_wait_pin` and let go by `dbshm_i16_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_i16_view {
    /// The frame's first element, row-major; read only.
    pub data: *const i16,
    /// The frame's element count, `dbshm_i16_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_i16_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_i16_view {
    type Elem = i16;
    fn new(data: *const i16, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_i16_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_i16_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_pin(h: *const dbshm_i16, view: *mut dbshm_i16_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_i16_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i16_pin` does.
///
/// # Safety
/// As for `dbshm_i16_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_wait_pin(h: *const dbshm_i16, after_seq: u64, timeout_us: u64, view: *mut dbshm_i16_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_unpin(h: *const dbshm_i16, view: *mut dbshm_i16_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i16_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_write(h: *mut dbshm_i16, data: *const i16, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i16_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_read(h: *const dbshm_i16, out: *mut i16, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_i16_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i16_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i16_read` does.
///
/// # Safety
/// As for `dbshm_i16_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_wait(h: *const dbshm_i16, after_seq: u64, timeout_us: u64, out: *mut i16, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_i16_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_event_fd(h: *const dbshm_i16, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_i16_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_i16_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_acknowledge_events(h: *const dbshm_i16, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_latest_seq(h: *const dbshm_i16) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_memory_size(h: *const dbshm_i16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_buffers(h: *const dbshm_i16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_dropped_writes(h: *const dbshm_i16) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_len(h: *const dbshm_i16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_ndim(h: *const dbshm_i16) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_i16_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_shape(h: *const dbshm_i16, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i16_free(h: *mut dbshm_i16) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `uint32_t` elements: made by `dbshm_u32_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_u32_free`.
pub struct dbshm_u32(DoubleBufferedSharedMemory<u32>);

impl Handle for dbshm_u32 {
    type Elem = u32;
    fn wrap(inner: DoubleBufferedSharedMemory<u32>) -> Self {
        dbshm_u32(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<u32> {
        &self.0
    }
}

/// Opens the `uint32_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u32_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `uint32_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u32_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_u32_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `uint32_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u32_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_open(name: *const c_char, out: *mut *mut dbshm_u32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `uint32_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u32_free`
/// @return as `dbshm_u32_open` does.
///
/// # Safety
/// As for `dbshm_u32_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_open_readonly(name: *const c_char, out: *mut *mut dbshm_u32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_u32_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u32_free`
/// @return as `dbshm_u32_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_u32_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_u32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_u32_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u32_free`
/// @return as `dbshm_u32_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_u32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `uint32_t` elements, filled by `dbshm_u32_pin` or
/// `dbshm_u32_wait_pin` and let go by `dbshm_u32_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_u32_view {
    /// The frame's first element, row-major; read only.
    pub data: *const u32,
    /// The frame's element count, `dbshm_u32_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_u32_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_u32_view {
    type Elem = u32;
    fn new(data: *const u32, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_u32_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_u32_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_pin(h: *const dbshm_u32, view: *mut dbshm_u32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_u32_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u32_pin` does.
///
/// # Safety
/// As for `dbshm_u32_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_wait_pin(h: *const dbshm_u32, after_seq: u64, timeout_us: u64, view: *mut dbshm_u32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_unpin(h: *const dbshm_u32, view: *mut dbshm_u32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u32_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_write(h: *mut dbshm_u32, data: *const u32, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u32_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_read(h: *const dbshm_u32, out: *mut u32, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_u32_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u32_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u32_read` does.
///
/// # Safety
/// As for `dbshm_u32_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_wait(h: *const dbshm_u32, after_seq: u64, timeout_us: u64, out: *mut u32, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_u32_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_event_fd(h: *const dbshm_u32, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_u32_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_u32_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_acknowledge_events(h: *const dbshm_u32, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_latest_seq(h: *const dbshm_u32) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_memory_size(h: *const dbshm_u32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_buffers(h: *const dbshm_u32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_dropped_writes(h: *const dbshm_u32) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_len(h: *const dbshm_u32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_ndim(h: *const dbshm_u32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_u32_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_shape(h: *const dbshm_u32, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u32_free(h: *mut dbshm_u32) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `int32_t` elements: made by `dbshm_i32_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_i32_free`.
pub struct dbshm_i32(DoubleBufferedSharedMemory<i32>);

impl Handle for dbshm_i32 {
    type Elem = i32;
    fn wrap(inner: DoubleBufferedSharedMemory<i32>) -> Self {
        dbshm_i32(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<i32> {
        &self.0
    }
}

/// Opens the `int32_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i32_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `int32_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i32_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_i32_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `int32_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i32_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_open(name: *const c_char, out: *mut *mut dbshm_i32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `int32_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i32_free`
/// @return as `dbshm_i32_open` does.
///
/// # Safety
/// As for `dbshm_i32_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_open_readonly(name: *const c_char, out: *mut *mut dbshm_i32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_i32_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i32_free`
/// @return as `dbshm_i32_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_i32_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_i32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_i32_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i32_free`
/// @return as `dbshm_i32_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_i32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `int32_t` elements, filled by `dbshm_i32_pin` or
/// `dbshm_i32_wait_pin` and let go by `dbshm_i32_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_i32_view {
    /// The frame's first element, row-major; read only.
    pub data: *const i32,
    /// The frame's element count, `dbshm_i32_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_i32_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_i32_view {
    type Elem = i32;
    fn new(data: *const i32, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_i32_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_i32_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_pin(h: *const dbshm_i32, view: *mut dbshm_i32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_i32_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i32_pin` does.
///
/// # Safety
/// As for `dbshm_i32_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_wait_pin(h: *const dbshm_i32, after_seq: u64, timeout_us: u64, view: *mut dbshm_i32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_unpin(h: *const dbshm_i32, view: *mut dbshm_i32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i32_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_write(h: *mut dbshm_i32, data: *const i32, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i32_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_read(h: *const dbshm_i32, out: *mut i32, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_i32_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i32_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i32_read` does.
///
/// # Safety
/// As for `dbshm_i32_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_wait(h: *const dbshm_i32, after_seq: u64, timeout_us: u64, out: *mut i32, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_i32_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_event_fd(h: *const dbshm_i32, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_i32_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_i32_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_acknowledge_events(h: *const dbshm_i32, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_latest_seq(h: *const dbshm_i32) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_memory_size(h: *const dbshm_i32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_buffers(h: *const dbshm_i32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_dropped_writes(h: *const dbshm_i32) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_len(h: *const dbshm_i32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_ndim(h: *const dbshm_i32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_i32_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_shape(h: *const dbshm_i32, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i32_free(h: *mut dbshm_i32) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `uint64_t` elements: made by `dbshm_u64_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_u64_free`.
pub struct dbshm_u64(DoubleBufferedSharedMemory<u64>);

impl Handle for dbshm_u64 {
    type Elem = u64;
    fn wrap(inner: DoubleBufferedSharedMemory<u64>) -> Self {
        dbshm_u64(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<u64> {
        &self.0
    }
}

/// Opens the `uint64_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u64_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `uint64_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_u64_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_u64_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `uint64_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u64_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_open(name: *const c_char, out: *mut *mut dbshm_u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `uint64_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_u64_free`
/// @return as `dbshm_u64_open` does.
///
/// # Safety
/// As for `dbshm_u64_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_open_readonly(name: *const c_char, out: *mut *mut dbshm_u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_u64_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u64_free`
/// @return as `dbshm_u64_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_u64_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_u64_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_u64_free`
/// @return as `dbshm_u64_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `uint64_t` elements, filled by `dbshm_u64_pin` or
/// `dbshm_u64_wait_pin` and let go by `dbshm_u64_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_u64_view {
    /// The frame's first element, row-major; read only.
    pub data: *const u64,
    /// The frame's element count, `dbshm_u64_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_u64_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_u64_view {
    type Elem = u64;
    fn new(data: *const u64, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_u64_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_u64_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_pin(h: *const dbshm_u64, view: *mut dbshm_u64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_u64_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u64_pin` does.
///
/// # Safety
/// As for `dbshm_u64_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_wait_pin(h: *const dbshm_u64, after_seq: u64, timeout_us: u64, view: *mut dbshm_u64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_unpin(h: *const dbshm_u64, view: *mut dbshm_u64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u64_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_write(h: *mut dbshm_u64, data: *const u64, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u64_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_read(h: *const dbshm_u64, out: *mut u64, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_u64_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_u64_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_u64_read` does.
///
/// # Safety
/// As for `dbshm_u64_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_wait(h: *const dbshm_u64, after_seq: u64, timeout_us: u64, out: *mut u64, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_u64_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_event_fd(h: *const dbshm_u64, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_u64_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_u64_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_acknowledge_events(h: *const dbshm_u64, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_latest_seq(h: *const dbshm_u64) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_memory_size(h: *const dbshm_u64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_buffers(h: *const dbshm_u64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_dropped_writes(h: *const dbshm_u64) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_len(h: *const dbshm_u64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_ndim(h: *const dbshm_u64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_u64_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_shape(h: *const dbshm_u64, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_u64_free(h: *mut dbshm_u64) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `int64_t` elements: made by `dbshm_i64_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_i64_free`.
pub struct dbshm_i64(DoubleBufferedSharedMemory<i64>);

impl Handle for dbshm_i64 {
    type Elem = i64;
    fn wrap(inner: DoubleBufferedSharedMemory<i64>) -> Self {
        dbshm_i64(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<i64> {
        &self.0
    }
}

/// Opens the `int64_t` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i64_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `int64_t` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_i64_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_i64_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_i64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `int64_t` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i64_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_open(name: *const c_char, out: *mut *mut dbshm_i64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `int64_t` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_i64_free`
/// @return as `dbshm_i64_open` does.
///
/// # Safety
/// As for `dbshm_i64_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_open_readonly(name: *const c_char, out: *mut *mut dbshm_i64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_i64_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i64_free`
/// @return as `dbshm_i64_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_i64_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_i64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_i64_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_i64_free`
/// @return as `dbshm_i64_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_i64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `int64_t` elements, filled by `dbshm_i64_pin` or
/// `dbshm_i64_wait_pin` and let go by `dbshm_i64_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_i64_view {
    /// The frame's first element, row-major; read only.
    pub data: *const i64,
    /// The frame's element count, `dbshm_i64_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_i64_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_i64_view {
    type Elem = i64;
    fn new(data: *const i64, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_i64_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_i64_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_pin(h: *const dbshm_i64, view: *mut dbshm_i64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_i64_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i64_pin` does.
///
/// # Safety
/// As for `dbshm_i64_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_wait_pin(h: *const dbshm_i64, after_seq: u64, timeout_us: u64, view: *mut dbshm_i64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_unpin(h: *const dbshm_i64, view: *mut dbshm_i64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i64_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_write(h: *mut dbshm_i64, data: *const i64, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i64_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_read(h: *const dbshm_i64, out: *mut i64, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_i64_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_i64_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_i64_read` does.
///
/// # Safety
/// As for `dbshm_i64_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_wait(h: *const dbshm_i64, after_seq: u64, timeout_us: u64, out: *mut i64, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_i64_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_event_fd(h: *const dbshm_i64, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_i64_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_i64_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_acknowledge_events(h: *const dbshm_i64, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_latest_seq(h: *const dbshm_i64) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_memory_size(h: *const dbshm_i64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_buffers(h: *const dbshm_i64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_dropped_writes(h: *const dbshm_i64) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_len(h: *const dbshm_i64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_ndim(h: *const dbshm_i64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_i64_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_shape(h: *const dbshm_i64, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_i64_free(h: *mut dbshm_i64) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `float` elements: made by `dbshm_f32_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_f32_free`.
pub struct dbshm_f32(DoubleBufferedSharedMemory<f32>);

impl Handle for dbshm_f32 {
    type Elem = f32;
    fn wrap(inner: DoubleBufferedSharedMemory<f32>) -> Self {
        dbshm_f32(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<f32> {
        &self.0
    }
}

/// Opens the `float` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_f32_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_f32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `float` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_f32_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_f32_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_f32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `float` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_f32_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_open(name: *const c_char, out: *mut *mut dbshm_f32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `float` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_f32_free`
/// @return as `dbshm_f32_open` does.
///
/// # Safety
/// As for `dbshm_f32_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_open_readonly(name: *const c_char, out: *mut *mut dbshm_f32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_f32_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_f32_free`
/// @return as `dbshm_f32_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_f32_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_f32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_f32_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_f32_free`
/// @return as `dbshm_f32_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_f32) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `float` elements, filled by `dbshm_f32_pin` or
/// `dbshm_f32_wait_pin` and let go by `dbshm_f32_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_f32_view {
    /// The frame's first element, row-major; read only.
    pub data: *const f32,
    /// The frame's element count, `dbshm_f32_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_f32_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_f32_view {
    type Elem = f32;
    fn new(data: *const f32, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_f32_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_f32_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_pin(h: *const dbshm_f32, view: *mut dbshm_f32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_f32_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_f32_pin` does.
///
/// # Safety
/// As for `dbshm_f32_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_wait_pin(h: *const dbshm_f32, after_seq: u64, timeout_us: u64, view: *mut dbshm_f32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_unpin(h: *const dbshm_f32, view: *mut dbshm_f32_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_f32_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_write(h: *mut dbshm_f32, data: *const f32, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_f32_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_read(h: *const dbshm_f32, out: *mut f32, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_f32_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_f32_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_f32_read` does.
///
/// # Safety
/// As for `dbshm_f32_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_wait(h: *const dbshm_f32, after_seq: u64, timeout_us: u64, out: *mut f32, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_f32_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_event_fd(h: *const dbshm_f32, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_f32_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_f32_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_acknowledge_events(h: *const dbshm_f32, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_latest_seq(h: *const dbshm_f32) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_memory_size(h: *const dbshm_f32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_buffers(h: *const dbshm_f32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_dropped_writes(h: *const dbshm_f32) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_len(h: *const dbshm_f32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_ndim(h: *const dbshm_f32) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_f32_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_shape(h: *const dbshm_f32, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f32_free(h: *mut dbshm_f32) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}

/// A handle to a segment of `double` elements: made by `dbshm_f64_new`,
/// `_create`, `_open` or `_open_readonly`, released by `dbshm_f64_free`.
pub struct dbshm_f64(DoubleBufferedSharedMemory<f64>);

impl Handle for dbshm_f64 {
    type Elem = f64;
    fn wrap(inner: DoubleBufferedSharedMemory<f64>) -> Self {
        dbshm_f64(inner)
    }
    fn inner(&self) -> &DoubleBufferedSharedMemory<f64> {
        &self.0
    }
}

/// Opens the `double` segment `name` if it exists (its shape must equal
/// `shape`), or creates it with mode 0600; race-free between processes.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_f64_free`
/// @return DBSHM_OK; DBSHM_ERR_TYPE_MISMATCH or DBSHM_ERR_SHAPE_MISMATCH if
/// the segment exists with another type or shape; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `shape` NULL or `ndim`
/// readable values, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_new(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_f64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, false) }
}

/// Creates the `double` segment `name` with mode 0600.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param out receives the new handle, which the caller releases with `dbshm_f64_free`
/// @return DBSHM_OK; DBSHM_ERR_ALREADY_EXISTS if the name is taken;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// As for `dbshm_f64_new`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_create(name: *const c_char, shape: *const usize, ndim: usize, out: *mut *mut dbshm_f64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::new(name, shape, ndim, out, true) }
}

/// Opens the existing `double` segment `name`; its shape comes from the segment.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_f64_free`
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if no segment has that name;
/// DBSHM_ERR_TYPE_MISMATCH if it holds another type; DBSHM_ERR_INVALID_ARGUMENT,
/// DBSHM_ERR_INCOMPATIBLE, DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string, `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_open(name: *const c_char, out: *mut *mut dbshm_f64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, false) }
}

/// Opens the existing `double` segment `name` without write permission: it can
/// read and wait; writes get `DBSHM_ERR_READ_ONLY`.
///
/// @param name the segment's name, NUL-terminated
/// @param out receives the new handle, which the caller releases with `dbshm_f64_free`
/// @return as `dbshm_f64_open` does.
///
/// # Safety
/// As for `dbshm_f64_open`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_open_readonly(name: *const c_char, out: *mut *mut dbshm_f64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open(name, out, true) }
}

/// Like `dbshm_f64_create`, with options: the mode, the number of buffers
/// (3 or more to pin), the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param shape the length of each dimension, outermost first: `ndim` values
/// @param ndim the number of dimensions, 1 to DBSHM_MAX_NDIM
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_f64_free`
/// @return as `dbshm_f64_create` does; DBSHM_ERR_INVALID_ARGUMENT also for a
/// buffer count outside 2 to 16 or a mode without the owner's read and write.
///
/// # Safety
/// As for `dbshm_f64_new`; `options` NULL or readable, its `dir` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_create_with(name: *const c_char, shape: *const usize, ndim: usize, options: *const dbshm_options, out: *mut *mut dbshm_f64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::create_with(name, shape, ndim, options, out) }
}

/// Like `dbshm_f64_open` (or `_open_readonly`, with `options->read_only`),
/// with options: the most permissive mode accepted, the handle's pin limit.
///
/// @param name the segment's name, NUL-terminated
/// @param options what to ask for; NULL or all zeros for the defaults
/// @param out receives the new handle, which the caller releases with `dbshm_f64_free`
/// @return as `dbshm_f64_open` does; DBSHM_ERR_PERMISSION_DENIED also for a
/// segment open to more users than `options->mode` allows.
///
/// # Safety
/// `name` NULL or a NUL-terminated string, `options` NULL or readable (its `dir` NULL or NUL-terminated), `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_open_with(name: *const c_char, options: *const dbshm_options, out: *mut *mut dbshm_f64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::open_with(name, options, out) }
}

/// A pinned frame of `double` elements, filled by `dbshm_f64_pin` or
/// `dbshm_f64_wait_pin` and let go by `dbshm_f64_unpin`. Until then the
/// writer leaves its buffer alone, so `data` never changes; after, and after
/// the handle is freed, `data` must not be used.
#[repr(C)]
pub struct dbshm_f64_view {
    /// The frame's first element, row-major; read only.
    pub data: *const f64,
    /// The frame's element count, `dbshm_f64_len(h)`.
    pub len: usize,
    /// The frame's number and timestamp.
    pub info: dbshm_frame_info,
    /// Which pin this is, for `dbshm_f64_unpin`; do not change it.
    pub pin: [u64; 2],
}

impl generic::View for dbshm_f64_view {
    type Elem = f64;
    fn new(data: *const f64, len: usize, info: dbshm_frame_info, pin: [u64; 2]) -> Self {
        dbshm_f64_view { data, len, info, pin }
    }
    fn pin(&self) -> [u64; 2] {
        self.pin
    }
}

/// Pins the latest complete frame: `view` then shows it in place, without a
/// copy, until `dbshm_f64_unpin`. The writer writes the other buffers
/// meanwhile. Needs a segment of 3 buffers or more and a user who may write
/// it (also through a handle opened read-only); the handle pins at most
/// `max_pins` buffers at once (1 by default; pins of the same frame share a
/// buffer). Unpin a view before pinning into it again.
///
/// @param h the handle; any number of threads may share it
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_CANNOT_PIN for a segment of 2 buffers, a
/// handle at its pin limit, or every pin record taken;
/// DBSHM_ERR_PERMISSION_DENIED for a user who may only read;
/// DBSHM_ERR_INVALID_ARGUMENT, DBSHM_ERR_INCOMPATIBLE or DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_pin(h: *const dbshm_f64, view: *mut dbshm_f64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, None, view) }
}

/// Waits until a frame newer than `after_seq` is published, then pins the
/// latest frame as `dbshm_f64_pin` does.
///
/// @param h the handle; any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param view receives the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_f64_pin` does.
///
/// # Safety
/// As for `dbshm_f64_pin`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_wait_pin(h: *const dbshm_f64, after_seq: u64, timeout_us: u64, view: *mut dbshm_f64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::pin(h, Some((after_seq, timeout_us)), view) }
}

/// Lets go of a pinned frame, and clears `view` (so a second unpin of the
/// same view does nothing). Each pin is its own view: do not copy views.
///
/// @param h the handle the view was pinned through
/// @param view the pinned frame
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL, or for a view
/// another handle pinned (or that was pinned before a fork), which is left
/// as it is.
///
/// # Safety
/// `h` is NULL or a live handle, `view` NULL or a view this handle filled.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_unpin(h: *const dbshm_f64, view: *mut dbshm_f64_view) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::unpin(h, view) }
}

/// Writes one frame into the back buffer and publishes it. The first write
/// takes the writer role for this handle.
///
/// @param h the handle
/// @param data the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_f64_len(h)`
/// @return DBSHM_OK; DBSHM_ERR_WRITER_BUSY while another handle has the
/// writer role, or another write through `h` is in progress;
/// DBSHM_ERR_READ_ONLY for a read-only handle; DBSHM_ERR_SHAPE_MISMATCH if
/// `len` is not the frame's element count; DBSHM_ERR_INVALID_ARGUMENT or
/// DBSHM_ERR_OS.
///
/// # Safety
/// `h` is NULL or a live handle, `data` NULL or `len` readable elements.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_write(h: *mut dbshm_f64, data: *const f64, len: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::write(h, data, len) }
}

/// Copies the latest complete frame out. `out` is untouched on failure, but
/// for `DBSHM_ERR_INCOMPATIBLE` (a damaged segment whose frame never
/// validates): then it holds a partial copy.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_f64_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_SHAPE_MISMATCH if `len` is not the frame's
/// element count; DBSHM_ERR_INVALID_ARGUMENT or DBSHM_ERR_INCOMPATIBLE.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `len` writable elements,
/// `info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_read(h: *const dbshm_f64, out: *mut f64, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::read(h, out, len, info) }
}

/// Waits until a frame newer than `after_seq` is published, then reads it as
/// `dbshm_f64_read` does.
///
/// @param h the handle; only read, so any number of threads may share it
/// @param after_seq the frame number to wait past: the last one seen, or 0
/// @param timeout_us how long to wait, in microseconds; `DBSHM_WAIT_FOREVER`
/// waits without limit
/// @param out receives the frame, row-major: `len` elements
/// @param len the frame's element count, `dbshm_f64_len(h)`
/// @param info receives the frame's number and timestamp; may be NULL
/// @return DBSHM_OK; DBSHM_ERR_TIMEOUT if no newer frame came in time; else
/// as `dbshm_f64_read` does.
///
/// # Safety
/// As for `dbshm_f64_read`.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_wait(h: *const dbshm_f64, after_seq: u64, timeout_us: u64, out: *mut f64, len: usize, info: *mut dbshm_frame_info) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::wait(h, after_seq, timeout_us, out, len, info) }
}

/// A descriptor that becomes readable when a frame newer than the last one
/// it announced is published, for poll, epoll or select. Read it (8 bytes,
/// as an eventfd; or `dbshm_f64_acknowledge_events`) to acknowledge the
/// frames announced so far. Level-triggered; no frame is lost between a read
/// and the next look. A watcher thread of the handle, started by the first
/// call, feeds it; both go when the handle is freed. The descriptor is the
/// handle's: do not close it. In a forked child call this again for one of
/// the child's own.
///
/// @param h the handle; any number of threads may share it
/// @param fd receives the descriptor (the same one on every call)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL; DBSHM_ERR_OS if
/// the descriptor or the thread could not be made.
///
/// # Safety
/// `h` is NULL or a live handle, `fd` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_event_fd(h: *const dbshm_f64, fd: *mut std::ffi::c_int) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::event_fd(h, fd) }
}

/// Reads the descriptor of `dbshm_f64_event_fd`, acknowledging what it
/// announced.
///
/// @param h the handle
/// @param count NULL, or receives the frames announced since the last read
/// (0 if none, or if `dbshm_f64_event_fd` was never called)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for a NULL handle;
/// DBSHM_ERR_OS if the read failed.
///
/// # Safety
/// `h` is NULL or a live handle, `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_acknowledge_events(h: *const dbshm_f64, count: *mut u64) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::acknowledge_events(h, count) }
}

/// The number of the latest published frame. A writer's next frame gets
/// this number plus one; a reader can wait for frames after it.
///
/// @param h the handle, or NULL
/// @return the frame number; 0 before the first write, and for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_latest_seq(h: *const dbshm_f64) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.latest_seq()) }
}

/// The size of the shared segment: its header and its buffers.
///
/// @param h the handle, or NULL
/// @return the size in bytes; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_memory_size(h: *const dbshm_f64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.get_memory_size()) }
}

/// The segment's number of buffers.
///
/// @param h the handle, or NULL
/// @return 2 to 16; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_buffers(h: *const dbshm_f64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.buffers()) }
}

/// Writes through this handle dropped because every buffer but the latest
/// was pinned (DBSHM_ERR_ALL_PINNED).
///
/// @param h the handle, or NULL
/// @return the count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_dropped_writes(h: *const dbshm_f64) -> u64 {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.dropped_writes()) }
}

/// The number of elements in one frame: the product of the shape.
///
/// @param h the handle, or NULL
/// @return the element count; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_len(h: *const dbshm_f64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.len()) }
}

/// The number of dimensions of a frame.
///
/// @param h the handle, or NULL
/// @return the number of dimensions; 0 for NULL.
///
/// # Safety
/// `h` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_ndim(h: *const dbshm_f64) -> usize {
    // SAFETY: the caller's contract, above.
    unsafe { generic::query(h, |s| s.shape().len()) }
}

/// Copies the shape out, outermost dimension first.
///
/// @param h the handle
/// @param out receives the `dbshm_f64_ndim(h)` lengths
/// @param cap how many values `out` has room for: at least the ndim
/// (`DBSHM_MAX_NDIM` always suffices)
/// @return DBSHM_OK; DBSHM_ERR_INVALID_ARGUMENT for NULL or a `cap` too small.
///
/// # Safety
/// `h` is NULL or a live handle, `out` NULL or `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_shape(h: *const dbshm_f64, out: *mut usize, cap: usize) -> dbshm_status {
    // SAFETY: the caller's contract, above.
    unsafe { generic::shape_into(h, out, cap) }
}

/// Releases a handle, and the writer role if it holds it; the segment stays.
///
/// @param h the handle, or NULL (which does nothing); not used afterwards
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dbshm_f64_free(h: *mut dbshm_f64) {
    // SAFETY: the caller's contract, above.
    unsafe { generic::free(h) }
}
