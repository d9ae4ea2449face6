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
    /// The name is empty, holds a '/' or a NUL byte, or is too long.
    #[error("invalid segment name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    /// No dimensions, more than 16, a zero dimension, or too many bytes.
    #[error("segment {name:?}: invalid shape {shape:?}: {reason}")]
    InvalidShape {
        name: String,
        shape: Vec<usize>,
        reason: &'static str,
    },

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

    /// The segment has another shape, or a caller's buffer has the wrong size.
    #[error("segment {name:?}: shape mismatch: expected {expected:?}, found {found:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// The object under that name is not a segment this version can use:
    /// foreign, truncated, corrupt, or never finished by its creator.
    #[error("segment {name:?} is incompatible or corrupt: {reason}")]
    Incompatible { name: String, reason: String },

    /// The OS refused access to the segment.
    #[error("segment {name:?}: permission denied to {operation}")]
    PermissionDenied {
        name: String,
        operation: &'static str,
    },

    /// Another handle, in this process or another, holds the writer role
    /// (or a write was started from inside `write_with`'s closure).
    #[error("segment {name:?}: the writer role is taken (last taken by pid {pid})")]
    WriterBusy { name: String, pid: u32 },

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

/// Result with a [`DbShmError`].
pub type Result<T, E = DbShmError> = std::result::Result<T, E>;
