"""The exception classes: one per error of the Rust library, each also a
subclass of the built-in exception a Python user would catch."""


class DbShmError(Exception):
    """Any dbshm error. ``.name`` is the segment's name."""

    name: str = ""


class InvalidName(DbShmError, ValueError):
    """The name is not a valid segment name."""


class InvalidShape(DbShmError, ValueError):
    """The shape is empty, has a zero, or is too large; or an output array
    is not one frame of the segment's (not C-contiguous, or read-only)."""


class InvalidBufferCount(DbShmError, ValueError):
    """A buffer count outside 2 to 16."""


class NotFound(DbShmError, FileNotFoundError):
    """No segment has that name."""


class AlreadyExists(DbShmError, FileExistsError):
    """The name is taken."""


class TypeMismatch(DbShmError, ValueError):
    """The segment holds another element type than the one given."""


class ShapeMismatch(DbShmError, ValueError):
    """The segment's shape is not the array's."""


class LengthMismatch(DbShmError, ValueError):
    """A buffer does not hold one frame."""


class Incompatible(DbShmError, ValueError):
    """The object under that name is not a segment this version can use."""


class BadDirectory(DbShmError, OSError):
    """The directory segments live in (DBSHM_DIR) cannot be used: missing,
    not a directory, another user's, or writable by others and not sticky."""


class InvalidMode(DbShmError, ValueError):
    """A mode the owner could not read and write."""


class ModeTooOpen(DbShmError, PermissionError):
    """The segment lets in more users than the mode asked for."""


class PermissionDenied(DbShmError, PermissionError):
    """This user may not do that with the segment."""


class WriterBusy(DbShmError):
    """Another live process holds the writer role."""


class AllBuffersPinned(DbShmError, BlockingIOError):
    """The write was dropped: every buffer but the latest is pinned."""


class TooFewBuffers(DbShmError, ValueError):
    """Pinning needs a segment of three buffers or more."""


class PinLimit(DbShmError):
    """The handle already pins as many buffers as it may (``max_pins``)."""


class TooManyPinners(DbShmError):
    """Every pin record of the segment has an owner."""


class ReadOnly(DbShmError, PermissionError):
    """A write through a handle opened read-only."""


class Timeout(DbShmError, TimeoutError):
    """No newer frame within the timeout."""


class Os(DbShmError, OSError):
    """Another failure of the operating system; ``.errno`` says which."""
