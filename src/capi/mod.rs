//! The C ABI (feature `capi`): the generic handle monomorphised for each
//! element type and exported through `extern "C"` functions, from which
//! cbindgen writes `include/dbshm.h`.
//!
//! Naming and ownership, the rules every function follows:
//!
//! - Everything is prefixed `dbshm_` (types, functions) or `DBSHM_` (macros,
//!   enumerators). Per-type items are `dbshm_<type>` and `dbshm_<type>_<verb>`
//!   with `<type>` one of u8 i8 u16 i16 u32 i32 u64 i64 f32 f64.
//! - A handle (`dbshm_u8 *`, ...) is made by `_new`, `_create`, `_open` or
//!   `_open_readonly` through an out-parameter, owned by the caller, and
//!   released by `_free` (NULL is fine). It may be used from several threads
//!   at once; a write while another write of the same handle is in progress
//!   gets `DBSHM_ERR_WRITER_BUSY` at once. Freeing it leaves the segment in
//!   place; `dbshm_unlink` removes the name.
//! - Every fallible function returns a `dbshm_status`; on failure it writes
//!   nothing through its out-parameters and leaves a message for
//!   `dbshm_last_error()`, valid on the calling thread until its next failed
//!   call. NULL where a pointer is required is `DBSHM_ERR_INVALID_ARGUMENT`;
//!   a Rust panic never unwinds into C, it becomes `DBSHM_ERR_INTERNAL`.
//! - Lengths (`len`) count elements, not bytes.
//!
//! The per-type items live in `types.rs`, which `cargo run -p xtask --
//! gen-capi` renders from its template `types.rs.in`, once per element type,
//! and the `capi_drift` test keeps in step: cbindgen on a stable toolchain
//! cannot see functions a macro expands to, so they are written out as plain
//! source it can parse. Each is one line calling the generic code in
//! `generic.rs`. The same command writes `include/dbshm.h`; builds only read
//! both.

// The C names are the contract: dbshm_u8, DBSHM_OK, ...
#![allow(non_camel_case_types)]

mod boundary;
mod generic;
#[rustfmt::skip] // rendered from types.rs.in by xtask
mod types;

use std::ffi::{c_char, c_int, CStr};

pub use types::*;

use boundary::{call, Failure};

/// `timeout_us` of the `_wait` functions that waits without limit.
pub const DBSHM_WAIT_FOREVER: u64 = u64::MAX;

/// Most dimensions a shape may have.
pub const DBSHM_MAX_NDIM: usize = 16;
const _: () = assert!(DBSHM_MAX_NDIM == crate::layout::MAX_NDIM);

/// What a call did. Every fallible function returns one.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dbshm_status {
    /// Success.
    DBSHM_OK = 0,
    /// A NULL or malformed argument: a bad name (empty, too long, not UTF-8,
    /// containing '/' or a control character, starting with `.dbshm-`), a bad shape (NULL, ndim 0 or over 16, a zero
    /// dimension, a size that overflows), a buffer too small.
    DBSHM_ERR_INVALID_ARGUMENT = 1,
    /// No segment has that name.
    DBSHM_ERR_NOT_FOUND = 2,
    /// A segment of that name exists (`_create`).
    DBSHM_ERR_ALREADY_EXISTS = 3,
    /// The segment holds another element type.
    DBSHM_ERR_TYPE_MISMATCH = 4,
    /// The segment has another shape, or `len` differs from its element count
    /// (the message says which).
    DBSHM_ERR_SHAPE_MISMATCH = 5,
    /// The object under the name is not a usable segment: foreign, truncated,
    /// corrupt, of another layout version, or its lock file is missing or
    /// not its owner's. Nothing is removed or changed.
    DBSHM_ERR_INCOMPATIBLE = 6,
    /// The OS refused access to the segment.
    DBSHM_ERR_PERMISSION_DENIED = 7,
    /// Another handle, in this process or another, holds the writer role; or
    /// another write through this handle is in progress.
    DBSHM_ERR_WRITER_BUSY = 8,
    /// The handle was opened read-only.
    DBSHM_ERR_READ_ONLY = 9,
    /// No newer frame was published in time.
    DBSHM_ERR_TIMEOUT = 10,
    /// Another error of the operating system; the message says which.
    DBSHM_ERR_OS = 11,
    /// A bug in dbshm (a caught panic); the message says where.
    DBSHM_ERR_INTERNAL = 12,
    /// Every buffer but the latest is pinned by readers: the write was
    /// dropped (nothing published, the data untouched); a write after a pin
    /// is let go succeeds.
    DBSHM_ERR_ALL_PINNED = 13,
    /// The frame cannot be pinned: the segment has fewer than 3 buffers, the
    /// handle pins as many buffers as it may, or every pin record is taken
    /// (the message says which).
    DBSHM_ERR_CANNOT_PIN = 14,
}

/// How `_create_with` and `_open_with` make or open a segment. Start from
/// all zeros (`dbshm_options o = {0};`), which asks for every default, and
/// set what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dbshm_options {
    /// Permission bits of a segment this creates; 0 for 0600. When opening,
    /// a mode given is the most the segment may allow
    /// (DBSHM_ERR_PERMISSION_DENIED if it lets in more users).
    pub mode: u32,
    /// Buffers of a segment this creates, 2 to 16; 0 for 2. Pinning needs 3
    /// or more; a segment needs 2 more than its readers pin at once.
    pub buffers: u32,
    /// Most buffers the handle may pin at once; 0 for 1.
    pub max_pins: u32,
    /// Nonzero: open without write permission, as `_open_readonly`.
    pub read_only: u32,
    /// The directory the segment is in, a NUL-terminated path (a tmpfs or
    /// hugetlbfs mount, for huge pages); NULL for $DBSHM_DIR, or /dev/shm.
    /// A directory, not a link to one, owned by root or this user, and
    /// sticky if other users may write it (DBSHM_ERR_INVALID_ARGUMENT,
    /// with the reason in the message, otherwise).
    pub dir: *const c_char,
}

impl Default for dbshm_options {
    fn default() -> Self {
        dbshm_options {
            mode: 0,
            buffers: 0,
            max_pins: 0,
            read_only: 0,
            dir: std::ptr::null(),
        }
    }
}

/// The number and publish time of a frame.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct dbshm_frame_info {
    /// Frame number: 1 for the first frame ever published in the segment, one
    /// more per publish, across writer restarts; 0 before any write.
    pub seq: u64,
    /// The writer's CLOCK_MONOTONIC at publish, in nanoseconds.
    pub timestamp_ns: u64,
}

impl From<crate::FrameInfo> for dbshm_frame_info {
    fn from(info: crate::FrameInfo) -> Self {
        dbshm_frame_info {
            seq: info.seq,
            timestamp_ns: info.timestamp_ns,
        }
    }
}

/// The message of the last failed call on this thread, naming the segment.
///
/// @return the message, or "" if no call has failed on this thread; never
/// NULL. Valid until the next failed call on this thread.
#[no_mangle]
pub extern "C" fn dbshm_last_error() -> *const c_char {
    boundary::last_error()
}

/// A human-readable name for a status. Takes an `int` so that any value,
/// even one that is no `dbshm_status`, is safe to pass.
///
/// @param status a `dbshm_status`, or any other value
/// @return a static string, e.g. "DBSHM_ERR_NOT_FOUND"; "unknown status" for
/// a value that is no status.
#[no_mangle]
pub extern "C" fn dbshm_status_str(status: c_int) -> *const c_char {
    let code = status;
    let name: &'static CStr = match code {
        0 => c"DBSHM_OK",
        1 => c"DBSHM_ERR_INVALID_ARGUMENT",
        2 => c"DBSHM_ERR_NOT_FOUND",
        3 => c"DBSHM_ERR_ALREADY_EXISTS",
        4 => c"DBSHM_ERR_TYPE_MISMATCH",
        5 => c"DBSHM_ERR_SHAPE_MISMATCH",
        6 => c"DBSHM_ERR_INCOMPATIBLE",
        7 => c"DBSHM_ERR_PERMISSION_DENIED",
        8 => c"DBSHM_ERR_WRITER_BUSY",
        9 => c"DBSHM_ERR_READ_ONLY",
        10 => c"DBSHM_ERR_TIMEOUT",
        11 => c"DBSHM_ERR_OS",
        12 => c"DBSHM_ERR_INTERNAL",
        13 => c"DBSHM_ERR_ALL_PINNED",
        14 => c"DBSHM_ERR_CANNOT_PIN",
        _ => c"unknown status",
    };
    name.as_ptr()
}

/// The library's version, which may differ from the header's
/// `DBSHM_VERSION_*` a program was compiled with.
///
/// @return a static string, "MAJOR.MINOR.PATCH".
#[no_mangle]
pub extern "C" fn dbshm_version() -> *const c_char {
    types::VERSION.as_ptr()
}

/// Removes the segment's name and its lock file, in $DBSHM_DIR or
/// /dev/shm (dbshm_unlink_in for another directory). Handles already open
/// keep working.
///
/// @param name the segment's name, NUL-terminated
/// @return DBSHM_OK; DBSHM_ERR_NOT_FOUND if nothing has that name;
/// DBSHM_ERR_INCOMPATIBLE (removing nothing) if what has it is not a
/// segment; DBSHM_ERR_INVALID_ARGUMENT for a NULL or invalid name;
/// DBSHM_ERR_PERMISSION_DENIED or DBSHM_ERR_OS.
///
/// # Safety
/// `name` is NULL or points to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn dbshm_unlink(name: *const c_char) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let name = unsafe { boundary::name(name) }?;
        crate::unlink(name).map_err(Failure::from)
    })
}

/// dbshm_unlink in the directory `dir` (NULL: $DBSHM_DIR, or /dev/shm).
///
/// @param dir the directory, NUL-terminated, or NULL
/// @param name the segment's name, NUL-terminated
/// @return as dbshm_unlink; DBSHM_ERR_INVALID_ARGUMENT for a directory
/// that cannot be used (as dbshm_options.dir says)
///
/// # Safety
/// `dir` and `name` are each NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn dbshm_unlink_in(dir: *const c_char, name: *const c_char) -> dbshm_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let name = unsafe { boundary::name(name) }?;
        // SAFETY: forwarded from the caller.
        let options = unsafe { boundary::in_dir(crate::Options::new(), dir) };
        options.unlink(name).map_err(Failure::from)
    })
}
