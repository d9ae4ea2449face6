//! The one place where the C boundary's rules live: panics are caught and
//! become `DBSHM_ERR_INTERNAL`, errors become a status and a message for
//! `dbshm_last_error`, and raw arguments are checked before use.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::dbshm_status::{self, *};
use crate::DbShmError;

/// Why a call failed.
pub(crate) enum Failure {
    /// The library said no.
    Lib(DbShmError),
    /// The arguments were unusable before the library was asked.
    Invalid(String),
    /// A caller's length did not match the frame.
    Len {
        name: String,
        expected: usize,
        found: usize,
    },
}

impl From<DbShmError> for Failure {
    fn from(e: DbShmError) -> Self {
        Failure::Lib(e)
    }
}

impl Failure {
    fn status(&self) -> dbshm_status {
        match self {
            Failure::Invalid(_) => DBSHM_ERR_INVALID_ARGUMENT,
            Failure::Len { .. } => DBSHM_ERR_SHAPE_MISMATCH,
            Failure::Lib(e) => match e {
                DbShmError::InvalidName { .. }
                | DbShmError::InvalidShape { .. }
                | DbShmError::InvalidMode { .. }
                | DbShmError::InvalidBufferCount { .. }
                | DbShmError::BadDirectory { .. } => DBSHM_ERR_INVALID_ARGUMENT,
                DbShmError::NotFound { .. } => DBSHM_ERR_NOT_FOUND,
                DbShmError::AlreadyExists { .. } => DBSHM_ERR_ALREADY_EXISTS,
                DbShmError::TypeMismatch { .. } => DBSHM_ERR_TYPE_MISMATCH,
                DbShmError::ShapeMismatch { .. } | DbShmError::LengthMismatch { .. } => {
                    DBSHM_ERR_SHAPE_MISMATCH
                }
                DbShmError::Incompatible { .. } => DBSHM_ERR_INCOMPATIBLE,
                DbShmError::PermissionDenied { .. } | DbShmError::ModeTooOpen { .. } => {
                    DBSHM_ERR_PERMISSION_DENIED
                }
                DbShmError::WriterBusy { .. } => DBSHM_ERR_WRITER_BUSY,
                DbShmError::ReadOnly { .. } => DBSHM_ERR_READ_ONLY,
                DbShmError::Timeout { .. } => DBSHM_ERR_TIMEOUT,
                DbShmError::Os { .. } => DBSHM_ERR_OS,
                DbShmError::AllBuffersPinned { .. } => DBSHM_ERR_ALL_PINNED,
                DbShmError::TooFewBuffers { .. }
                | DbShmError::PinLimit { .. }
                | DbShmError::TooManyPinners { .. } => DBSHM_ERR_CANNOT_PIN,
            },
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Lib(e) => e.to_string(),
            Failure::Invalid(m) => m.clone(),
            Failure::Len {
                name,
                expected,
                found,
            } => format!(
                "segment {name:?}: a frame has {expected} elements, the buffer given has {found}"
            ),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the message; lost, silently, once the thread is tearing down its
/// thread-locals (a call from an atexit handler or a TLS destructor), where
/// storing it would panic and the panic would abort the process.
fn set_last_error(message: String) {
    // A message cannot hold a NUL for C; replace any that slipped in.
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = message);
}

/// The current thread's last message; see `dbshm_last_error`.
pub(crate) fn last_error() -> *const c_char {
    // The pointer stays valid after `try_with` returns: the CString lives in
    // the thread-local until the next `set_last_error` on this thread
    // replaces it. During thread teardown there is none: a static "".
    LAST_ERROR
        .try_with(|e| e.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Runs the body of an exported function: its status, with panics caught and
/// failures recorded for `dbshm_last_error`.
pub(crate) fn call(body: impl FnOnce() -> Result<(), Failure>) -> dbshm_status {
    // Recording a failure runs outside the catch: `set_last_error` cannot panic.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => DBSHM_OK,
        Ok(Err(failure)) => {
            set_last_error(failure.message());
            failure.status()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            set_last_error(format!("internal error in dbshm (please report): {what}"));
            DBSHM_ERR_INTERNAL
        }
    }
}

/// Runs the body of an exported function that returns a value and no status:
/// a panic gives `default`.
pub(crate) fn call_or<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

/// `Err` unless `ptr` is non-NULL and aligned for `T`. `what` names the
/// argument in the message, formatted only on failure: a successful call
/// formats and allocates nothing.
pub(crate) fn non_null<T>(ptr: *const T, what: impl fmt::Display) -> Result<(), Failure> {
    if ptr.is_null() {
        Err(Failure::Invalid(format!("{what} is NULL")))
    } else {
        aligned(ptr, what)
    }
}

/// `Err` unless `ptr` is aligned for `T` (NULL is); `what` as in [`non_null`].
pub(crate) fn aligned<T>(ptr: *const T, what: impl fmt::Display) -> Result<(), Failure> {
    if ptr.is_aligned() {
        Ok(())
    } else {
        Err(Failure::Invalid(format!(
            "{what} is not aligned for its type"
        )))
    }
}

/// `options` with the directory `dir` from C, if not NULL.
///
/// # Safety
/// `dir` is NULL or points to a NUL-terminated string.
pub(crate) unsafe fn in_dir(options: crate::Options, dir: *const c_char) -> crate::Options {
    if dir.is_null() {
        return options;
    }
    // SAFETY: non-NULL, and NUL-terminated by the caller's contract.
    let path = unsafe { CStr::from_ptr(dir) }.to_bytes();
    options.dir(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path))
}

/// A segment name from C.
///
/// # Safety
/// `name` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn name<'a>(name: *const c_char) -> Result<&'a str, Failure> {
    non_null(name, "name")?;
    // SAFETY: non-NULL, and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(name) };
    bytes.to_str().map_err(|_| {
        Failure::Invalid(format!(
            "invalid segment name {bytes:?}: a name must be UTF-8"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal_with_its_message() {
        let status = call(|| panic!("boom at the boundary"));
        assert_eq!(status, DBSHM_ERR_INTERNAL);
        // SAFETY: last_error returns a valid NUL-terminated string.
        let message = unsafe { CStr::from_ptr(last_error()) }.to_str().unwrap();
        assert!(message.contains("boom at the boundary"), "{message}");
        assert_eq!(call_or(7usize, || panic!("no status")), 7);
    }

    #[test]
    fn success_leaves_the_last_error_alone() {
        let _ = call(|| Err(Failure::Invalid("first".into())));
        assert_eq!(call(|| Ok(())), DBSHM_OK);
        assert_eq!(
            // SAFETY: `last_error` returns a NUL-terminated string that
            // lives until this thread's next failure.
            unsafe { CStr::from_ptr(last_error()) }.to_str().unwrap(),
            "first"
        );
    }
}
