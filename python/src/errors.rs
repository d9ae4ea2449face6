//! dbshm's errors as Python exceptions: one class per variant of
//! [`DbShmError`], each a subclass of `dbshm.DbShmError` and of the
//! built-in exception a Python user would catch (they are defined in
//! `dbshm/_types.py`, where multiple inheritance is plain Python).

use dbshm::DbShmError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// `dbshm._types`, imported once.
fn types(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static TYPES: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    TYPES
        .get_or_try_init(py, || py.import("dbshm._types").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// An instance of the class `class` of `dbshm._types`, made with `args`.
pub(crate) fn make<'py>(
    py: Python<'py>,
    class: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    types(py)?.getattr(class)?.call1(args)
}

/// The class of each variant, and the segment it names.
fn class_and_name(e: &DbShmError) -> (&'static str, &str) {
    use DbShmError::*;
    match e {
        InvalidName { name, .. } => ("InvalidName", name),
        InvalidShape { name, .. } => ("InvalidShape", name),
        InvalidBufferCount { name, .. } => ("InvalidBufferCount", name),
        NotFound { name } => ("NotFound", name),
        AlreadyExists { name } => ("AlreadyExists", name),
        TypeMismatch { name, .. } => ("TypeMismatch", name),
        ShapeMismatch { name, .. } => ("ShapeMismatch", name),
        LengthMismatch { name, .. } => ("LengthMismatch", name),
        Incompatible { name, .. } => ("Incompatible", name),
        InvalidMode { name, .. } => ("InvalidMode", name),
        ModeTooOpen { name, .. } => ("ModeTooOpen", name),
        PermissionDenied { name, .. } => ("PermissionDenied", name),
        WriterBusy { name, .. } => ("WriterBusy", name),
        AllBuffersPinned { name, .. } => ("AllBuffersPinned", name),
        TooFewBuffers { name, .. } => ("TooFewBuffers", name),
        PinLimit { name, .. } => ("PinLimit", name),
        TooManyPinners { name } => ("TooManyPinners", name),
        ReadOnly { name } => ("ReadOnly", name),
        Timeout { name, .. } => ("Timeout", name),
        BadDirectory { name, .. } => ("BadDirectory", name),
        Os { name, .. } => ("Os", name),
        // A variant newer than this package: its base class, and its message.
        _ => ("DbShmError", ""),
    }
}

/// The Python exception for `e`: its class, its message (Rust's), and the
/// segment's name as `.name`; an `Os` error also carries the errno.
pub(crate) fn to_py(e: DbShmError) -> PyErr {
    Python::attach(|py| {
        let (class, name) = class_and_name(&e);
        let message = e.to_string();
        let errno = match &e {
            DbShmError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        };
        let made = match errno {
            Some(errno) => make(py, class, (errno, message.as_str())),
            None => make(py, class, (message.as_str(),)),
        };
        match made.and_then(|err| {
            err.setattr("name", name)?;
            Ok(err)
        }) {
            Ok(err) => PyErr::from_value(err),
            // dbshm._types missing or broken: the message still gets through.
            Err(import) => {
                let err = PyRuntimeError::new_err(message);
                err.set_cause(py, Some(import));
                err
            }
        }
    })
}

/// An exception of class `class` of `dbshm._types` for the segment `name`,
/// for what the Python side checks itself (the message names the segment
/// too).
pub(crate) fn named(py: Python<'_>, class: &str, name: &str, message: String) -> PyErr {
    match make(py, class, (message,)).and_then(|err| {
        err.setattr("name", name)?;
        Ok(err)
    }) {
        Ok(err) => PyErr::from_value(err),
        Err(e) => e,
    }
}

/// `map_err(to_py)`, shorter.
pub(crate) trait OrPy<T> {
    fn or_py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for dbshm::Result<T> {
    fn or_py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
