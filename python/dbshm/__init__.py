"""dbshm: an n-dimensional numpy frame shared between processes through
POSIX shared memory, double-buffered (or N-buffered). One writer, any
number of readers, in Python, Rust, C or C++; a reader never sees a torn
frame, and the writer never waits for readers."""

# numpy first: the extension takes numpy's C API when it first makes an
# array, and a failed import there (a Ctrl-C in the middle of it) would be
# a panic instead of the KeyboardInterrupt.
import numpy as _numpy  # noqa: F401

from ._dbshm import (
    DoubleBufferedSharedMemory,
    FrameInfo,
    Pin,
    info,
    list,
    monotonic_ns,
    unlink,
)
from ._types import (
    AllBuffersPinned,
    AlreadyExists,
    BadDirectory,
    DbShmError,
    Incompatible,
    InvalidBufferCount,
    InvalidMode,
    InvalidName,
    InvalidShape,
    LengthMismatch,
    ModeTooOpen,
    NotFound,
    Os,
    PermissionDenied,
    PinLimit,
    ReadOnly,
    ShapeMismatch,
    Timeout,
    TooFewBuffers,
    TooManyPinners,
    TypeMismatch,
    WriterBusy,
)

__all__ = [
    "AllBuffersPinned",
    "AlreadyExists",
    "BadDirectory",
    "DbShmError",
    "DoubleBufferedSharedMemory",
    "FrameInfo",
    "Incompatible",
    "InvalidBufferCount",
    "InvalidMode",
    "InvalidName",
    "InvalidShape",
    "LengthMismatch",
    "ModeTooOpen",
    "NotFound",
    "Os",
    "PermissionDenied",
    "Pin",
    "PinLimit",
    "ReadOnly",
    "ShapeMismatch",
    "Timeout",
    "TooFewBuffers",
    "TooManyPinners",
    "TypeMismatch",
    "WriterBusy",
    "info",
    "list",
    "monotonic_ns",
    "unlink",
]
