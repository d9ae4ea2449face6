//! The one error type: a variant per thing a caller can act on, each naming
//! the segment.

use std::io;
use std::time::Duration;

use crate::Dtype;

/// Everything that can go wrong with a segment.
///
/// In every variant `name` is the segment's name; the other fields read as
/// the messages show them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields, described once above
pub enum DbShmError {
    /// The name is empty, too long, holds a '/' or a control character, or
    /// starts with `.dbshm-` (dbshm's own files).
    #[error("invalid segment name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    /// No dimensions, more than 16, a zero dimension, or too many bytes.
    #[error("segment {name:?}: invalid shape {shape:?}: {reason}")]
    InvalidShape {
        name: String,
        shape: Vec<usize>,
        reason: &'static str,
    },

    /// A buffer count a segment cannot be created with (2 to 16).
    #[error("segment {name:?}: {count} buffers asked for; a segment has 2 to 16")]
    InvalidBufferCount { name: String, count: usize },

    /// No segment of that name exists.
    #[error("segment {name:?} does not exist")]
    NotFound { name: String },

    /// A segment of that name exists already (exclusive create).
    #[error("segment {name:?} already exists")]
    AlreadyExists { name: String },

    /// The segment holds another element type.
    #[error("segment {name:?} holds {found} elements, not {expected}")]
    TypeMismatch {
        name: String,
        expected: Dtype,
        found: Dtype,
    },

    /// The segment's shape (`expected`) is not the caller's (`found`).
    #[error("segment {name:?} has shape {expected:?}, not {found:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// A caller's buffer does not hold one frame: `expected` elements (the
    /// segment's), `found` given.
    #[error("segment {name:?}: a frame is {expected} elements, the buffer given holds {found}")]
    LengthMismatch {
        name: String,
        expected: usize,
        found: usize,
    },

    /// The object under that name is not a segment this version can use:
    /// foreign, truncated, corrupt, or never finished by its creator.
    #[error("segment {name:?} is incompatible or corrupt: {reason}")]
    Incompatible { name: String, reason: String },

    /// A mode a segment cannot be created with.
    #[error("segment {name:?}: invalid mode {mode:04o}: {reason}")]
    InvalidMode {
        name: String,
        mode: u32,
        reason: &'static str,
    },

    /// The caller asked for a mode ([`Options::mode`](crate::Options::mode)),
    /// and the existing segment lets in more users than that mode would.
    #[error(
        "segment {name:?} is open to more users than mode {requested:04o} allows ({reason}): \
         mode {mode:04o}, owner uid {uid}, group gid {gid}"
    )]
    ModeTooOpen {
        name: String,
        mode: u32,
        uid: u32,
        gid: u32,
        requested: u32,
        reason: &'static str,
    },

    /// The OS refused access to the segment.
    #[error("segment {name:?}: permission denied to {operation}")]
    PermissionDenied {
        name: String,
        operation: &'static str,
    },

    /// Another handle, in this process or another, holds the writer role,
    /// or another write through this handle is in progress (from another
    /// thread, or from inside `write_with`'s closure).
    #[error("segment {name:?}: the writer role is taken ({})", taken_by(*pid))]
    WriterBusy { name: String, pid: u32 },

    /// Every buffer but the latest is pinned by readers: the write was
    /// dropped, nothing published, the caller's data untouched. The next
    /// write after a pin is released succeeds. A segment needs as many
    /// buffers as readers may pin at once, plus two.
    #[error(
        "segment {name:?}: every buffer but the latest is pinned by readers, so this frame \
         was dropped (a segment needs 2 buffers more than readers pin at once; it has {buffers})"
    )]
    AllBuffersPinned { name: String, buffers: usize },

    /// Pinning needs three buffers or more: with two, one pin would stop
    /// the writer after one frame.
    #[error(
        "segment {name:?} has {buffers} buffers; pinned reads need 3 or more \
         (create it with Options::buffers(3) or more), or copy frames out with read"
    )]
    TooFewBuffers { name: String, buffers: usize },

    /// The handle holds as many pinned buffers as it may
    /// ([`Options::max_pins`](crate::Options::max_pins)): drop a pin first.
    #[error("segment {name:?}: this handle already pins {limit} buffer(s), its limit (Options::max_pins)")]
    PinLimit { name: String, limit: usize },

    /// Every pin record of the segment has an owner: 31 handles pin at once.
    #[error("segment {name:?}: all 31 pin records are taken by other handles")]
    TooManyPinners { name: String },

    /// The handle was opened read-only.
    #[error("segment {name:?} was opened read-only and cannot be written")]
    ReadOnly { name: String },

    /// No frame newer than `after_seq` was published in time.
    #[error("segment {name:?}: no frame newer than {after_seq} within {timeout:?}")]
    Timeout {
        name: String,
        after_seq: u64,
        timeout: Duration,
    },

    /// The directory segments live in cannot be used: missing, not a
    /// directory (a link to one is refused too), owned by a user other than
    /// root and the caller, or writable by other users without being
    /// sticky, so that they could remove or replace segments in it.
    #[error("segment {name:?}: cannot use the directory {dir:?}: {reason}")]
    BadDirectory {
        name: String,
        dir: std::path::PathBuf,
        reason: String,
    },

    /// Any other failure of the OS.
    #[error("segment {name:?}: {operation} failed: {source}")]
    Os {
        name: String,
        operation: &'static str,
        #[source]
        source: io::Error,
    },
}

impl DbShmError {
    /// The error for a failed system call, with the common cases given their
    /// own variants.
    pub(crate) fn os(name: &str, operation: &'static str, err: rustix::io::Errno) -> DbShmError {
        let name = name.to_owned();
        match err {
            rustix::io::Errno::NOENT => DbShmError::NotFound { name },
            rustix::io::Errno::EXIST => DbShmError::AlreadyExists { name },
            rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => {
                DbShmError::PermissionDenied { name, operation }
            }
            err => DbShmError::Os {
                name,
                operation,
                source: err.into(),
            },
        }
    }
}

/// Who holds the writer role, as far as the header knows.
fn taken_by(pid: u32) -> String {
    match pid {
        0 => "by a process that has not written yet".into(),
        pid => format!("last taken by pid {pid}"),
    }
}

/// Result with a [`DbShmError`].
pub type Result<T, E = DbShmError> = std::result::Result<T, E>;
