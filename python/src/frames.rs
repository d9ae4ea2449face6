//! One handle of any element type, behind one object-safe trait: the
//! Python class holds an `Arc<dyn Frames>`, made by `dbshm::with_element_type!`
//! from the segment's dtype, and every method below is written once,
//! generic over the element type.
//!
//! The GIL is released during every copy and every wait. A wait sleeps in
//! slices of [`SLICE`], checking for signals between them, so that Ctrl-C
//! interrupts it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbshm::ndarray::{ArrayViewD, IxDyn};
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Dtype, FrameInfo, OwnedPinned};
use numpy::{PyArray, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::{self, OrPy};

/// Longest sleep of a wait between two checks for signals (Ctrl-C).
const SLICE: Duration = Duration::from_millis(50);

/// A handle of some element type.
pub(crate) trait Frames: Send + Sync {
    fn shape(&self) -> &[usize];
    fn dtype(&self) -> Dtype;
    fn latest_seq(&self) -> u64;
    fn memory_size(&self) -> usize;
    fn retries(&self) -> u64;
    fn buffers(&self) -> usize;
    fn dropped_writes(&self) -> u64;
    fn is_read_only(&self) -> bool;
    fn event_fd(&self) -> dbshm::Result<i32>;
    fn acknowledge_events(&self) -> dbshm::Result<u64>;
    /// Writes `array` (already checked to be an ndarray of this dtype).
    fn write(&self, py: Python<'_>, array: &Bound<'_, PyUntypedArray>) -> PyResult<FrameInfo>;
    /// Copies the latest frame into a new array.
    fn read<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, FrameInfo)>;
    /// Copies the latest frame into `out` (checked here).
    fn read_into(&self, py: Python<'_>, out: &Bound<'_, PyUntypedArray>) -> PyResult<FrameInfo>;
    /// Waits for a frame newer than `after_seq`, then copies it into a new
    /// array, or into `out`.
    fn wait<'py>(
        &self,
        py: Python<'py>,
        after_seq: u64,
        timeout: Option<Duration>,
        closed: &AtomicBool,
        out: Option<&Bound<'py, PyUntypedArray>>,
    ) -> PyResult<(Bound<'py, PyAny>, FrameInfo)>;
    /// Pins the latest frame (after waiting for one newer than `after_seq`,
    /// if given): a read-only array over it, whose base holds the pin.
    fn pin<'py>(
        self: Arc<Self>,
        py: Python<'py>,
        wait: Option<(u64, Option<Duration>)>,
        closed: &AtomicBool,
    ) -> PyResult<(Bound<'py, PyAny>, FrameInfo)>;
}

/// The base of a pinned frame's array: holds the pin, and through it the
/// handle and its mapping, for as long as any array refers to it.
#[pyclass(module = "dbshm", name = "Pin", frozen)]
pub(crate) struct PinBase {
    /// Never read: it is what is kept.
    _pin: Box<dyn std::any::Any + Send + Sync>,
    info: FrameInfo,
}

#[pymethods]
impl PinBase {
    /// The pinned frame's number and timestamp.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        frame_info(py, self.info)
    }
}

/// A frame's number (1 for the first frame ever published in the segment)
/// and the writer's `CLOCK_MONOTONIC` at publish, in nanoseconds (the clock
/// of `dbshm.monotonic_ns()`). Behaves as the tuple `(seq, timestamp_ns)`:
/// it unpacks, indexes and compares as one. A class of its own rather than
/// a `NamedTuple`, whose construction in Python cost 0.25 µs of each 1 µs
/// read of a 30 KB frame.
#[pyclass(module = "dbshm", name = "FrameInfo", frozen, sequence)]
pub(crate) struct PyFrameInfo {
    #[pyo3(get)]
    seq: u64,
    #[pyo3(get)]
    timestamp_ns: u64,
}

#[pymethods]
impl PyFrameInfo {
    #[new]
    fn new(seq: u64, timestamp_ns: u64) -> Self {
        PyFrameInfo { seq, timestamp_ns }
    }

    fn __len__(&self) -> usize {
        2
    }

    fn __getitem__(&self, i: isize) -> PyResult<u64> {
        match i {
            0 | -2 => Ok(self.seq),
            1 | -1 => Ok(self.timestamp_ns),
            _ => Err(pyo3::exceptions::PyIndexError::new_err(
                "FrameInfo index out of range",
            )),
        }
    }

    fn __richcmp__<'py>(
        &self,
        other: &Bound<'py, PyAny>,
        op: pyo3::basic::CompareOp,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = other.py();
        let me = (self.seq, self.timestamp_ns).into_pyobject(py)?;
        let other = match other.cast::<PyFrameInfo>() {
            Ok(info) => (info.get().seq, info.get().timestamp_ns)
                .into_pyobject(py)?
                .into_any(),
            Err(_) => other.clone(),
        };
        me.rich_compare(other, op)
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        (self.seq, self.timestamp_ns).into_pyobject(py)?.hash()
    }

    fn __repr__(&self) -> String {
        format!(
            "FrameInfo(seq={}, timestamp_ns={})",
            self.seq, self.timestamp_ns
        )
    }

    fn __getnewargs__(&self) -> (u64, u64) {
        (self.seq, self.timestamp_ns)
    }
}

/// A `dbshm.FrameInfo`.
pub(crate) fn frame_info(py: Python<'_>, info: FrameInfo) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(
        py,
        PyFrameInfo {
            seq: info.seq,
            timestamp_ns: info.timestamp_ns,
        },
    )?
    .into_any())
}

/// `array` as an array of `T`, or the error that names what it is.
fn typed<'a, 'py, T: numpy::Element>(
    name: &str,
    dtype: Dtype,
    array: &'a Bound<'py, PyUntypedArray>,
) -> PyResult<&'a Bound<'py, PyArrayDyn<T>>> {
    array.cast::<PyArrayDyn<T>>().map_err(|_| {
        let found = array
            .dtype()
            .str()
            .map_or_else(|_| "another type".to_owned(), |s| s.to_string());
        type_mismatch(array.py(), name, dtype, &found)
    })
}

/// `TypeMismatch` for an array of a dtype that is not the segment's.
fn type_mismatch(py: Python<'_>, name: &str, dtype: Dtype, found: &str) -> PyErr {
    let message = format!("segment {name:?} holds {dtype} elements, not {found}");
    errors::named(py, "TypeMismatch", name, message)
}

impl<T> Frames for DoubleBufferedSharedMemory<T>
where
    T: dbshm::Element + numpy::Element,
{
    fn shape(&self) -> &[usize] {
        DoubleBufferedSharedMemory::shape(self)
    }

    fn dtype(&self) -> Dtype {
        T::DTYPE
    }

    fn latest_seq(&self) -> u64 {
        DoubleBufferedSharedMemory::latest_seq(self)
    }

    fn memory_size(&self) -> usize {
        DoubleBufferedSharedMemory::memory_size(self)
    }

    fn retries(&self) -> u64 {
        DoubleBufferedSharedMemory::retries(self)
    }

    fn buffers(&self) -> usize {
        DoubleBufferedSharedMemory::buffers(self)
    }

    fn dropped_writes(&self) -> u64 {
        DoubleBufferedSharedMemory::dropped_writes(self)
    }

    fn is_read_only(&self) -> bool {
        DoubleBufferedSharedMemory::is_read_only(self)
    }

    fn event_fd(&self) -> dbshm::Result<i32> {
        DoubleBufferedSharedMemory::event_fd(self)
    }

    fn acknowledge_events(&self) -> dbshm::Result<u64> {
        DoubleBufferedSharedMemory::acknowledge_events(self)
    }

    fn write(&self, py: Python<'_>, array: &Bound<'_, PyUntypedArray>) -> PyResult<FrameInfo> {
        let array = typed::<T>(self.name(), T::DTYPE, array)?;
        // Shared borrow (rust-numpy's borrow checking): no Rust code writes
        // the array meanwhile.
        let array = array.try_readonly()?;
        let view: ArrayViewD<'_, T> = array.as_array();
        // `write` checks the shape before it takes anything, and copies a
        // view of any strides in its logical order.
        py.detach(|| DoubleBufferedSharedMemory::write(self, &view))
            .or_py()
    }

    fn read<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, FrameInfo)> {
        let out = PyArray::<T, _>::zeros(py, IxDyn(self.shape()), false);
        let info = Frames::read_into(self, py, out.as_untyped())?;
        Ok((out.into_any(), info))
    }

    fn read_into(&self, py: Python<'_>, out: &Bound<'_, PyUntypedArray>) -> PyResult<FrameInfo> {
        let mut out = writable_frame::<T>(self, out)?;
        let slice = out
            .as_slice_mut()
            .map_err(|_| not_contiguous(py, self.name()))?;
        py.detach(|| DoubleBufferedSharedMemory::read_into(self, slice))
            .or_py()
    }

    fn wait<'py>(
        &self,
        py: Python<'py>,
        after_seq: u64,
        timeout: Option<Duration>,
        closed: &AtomicBool,
        out: Option<&Bound<'py, PyUntypedArray>>,
    ) -> PyResult<(Bound<'py, PyAny>, FrameInfo)> {
        let out = match out {
            Some(out) => out.clone(),
            None => PyArray::<T, _>::zeros(py, IxDyn(self.shape()), false)
                .as_untyped()
                .clone(),
        };
        let info = {
            let mut frame = writable_frame::<T>(self, &out)?;
            let slice = frame
                .as_slice_mut()
                .map_err(|_| not_contiguous(py, self.name()))?;
            in_slices(
                py,
                self.name(),
                after_seq,
                timeout,
                closed,
                |slice_timeout| {
                    DoubleBufferedSharedMemory::wait_into(self, after_seq, slice_timeout, slice)
                },
            )?
        };
        Ok((out.into_any(), info))
    }

    fn pin<'py>(
        self: Arc<Self>,
        py: Python<'py>,
        wait: Option<(u64, Option<Duration>)>,
        closed: &AtomicBool,
    ) -> PyResult<(Bound<'py, PyAny>, FrameInfo)> {
        let pinned: OwnedPinned<T> = match wait {
            None => py.detach(|| self.pin_owned()).or_py()?,
            Some((after_seq, timeout)) => in_slices(
                py,
                self.name(),
                after_seq,
                timeout,
                closed,
                |slice_timeout| self.wait_pin_owned(after_seq, slice_timeout),
            )?,
        };
        let info = pinned.info();
        let view = pinned.view();
        // The view's address and shape, taken before the guard moves into
        // its base (moving the guard moves no frame: the view points into
        // the mapping).
        let (data, shape) = (view.as_ptr(), view.raw_dim());
        drop(view);
        let base = Bound::new(
            py,
            PinBase {
                _pin: Box::new(pinned),
                info,
            },
        )?;
        // SAFETY: `data` is one whole frame of `shape`, in standard layout,
        // in the mapping that `base` keeps alive through the pin's Arc of
        // the handle; the writer leaves it alone while `base` holds the
        // pin, and `base` is the array's base, so it lives as long as the
        // array and every view of it.
        let frame = unsafe {
            let view = ArrayViewD::from_shape_ptr(shape, data);
            PyArray::borrow_from_array(&view, base.into_any())
        };
        // Read-only: the buffer is the writer's to fill again once let go,
        // and a read-only handle maps it read-only.
        // SAFETY: `frame` is the array just made, which no other code has
        // seen yet; clearing a flag bit is what numpy's PyArray_CLEARFLAGS
        // does (a method call with keywords cost 0.2 µs of a 0.8 µs pin).
        unsafe {
            (*frame.as_array_ptr()).fields.flags &= !numpy::npyffi::NPY_ARRAY_WRITEABLE;
        }
        Ok((frame.into_any(), info))
    }
}

/// `out` as a writable array of the frame's type and shape.
fn writable_frame<'py, T: dbshm::Element + numpy::Element>(
    shm: &DoubleBufferedSharedMemory<T>,
    out: &Bound<'py, PyUntypedArray>,
) -> PyResult<numpy::PyReadwriteArrayDyn<'py, T>> {
    let name = shm.name();
    let out = typed::<T>(name, T::DTYPE, out)?;
    if out.shape() != shm.shape() {
        return Err(errors::to_py(DbShmError::ShapeMismatch {
            name: name.to_owned(),
            expected: shm.shape().to_vec(),
            found: out.shape().to_vec(),
        }));
    }
    if !out.is_c_contiguous() {
        return Err(not_contiguous(out.py(), name));
    }
    // Exclusive borrow (rust-numpy's): fails for a read-only array, or one
    // that another call (in another thread) is filling.
    out.try_readwrite().map_err(|e| {
        let why = match e {
            numpy::BorrowError::NotWriteable => "must be writable",
            _ => "is being filled by another call",
        };
        let message = format!("segment {name:?}: the array to fill {why}");
        errors::named(out.py(), "InvalidShape", name, message)
    })
}

/// The error for an output array that is not C-contiguous.
fn not_contiguous(py: Python<'_>, name: &str) -> PyErr {
    let message =
        format!("segment {name:?}: the array to fill must be C-contiguous (np.ascontiguousarray)");
    errors::named(py, "InvalidShape", name, message)
}

/// Runs `wait(slice)` without the GIL, in slices of at most [`SLICE`] until
/// `timeout` (None: without limit), checking between slices for signals and
/// for `closed` (a `close` from another thread ends the wait).
fn in_slices<R>(
    py: Python<'_>,
    name: &str,
    after_seq: u64,
    timeout: Option<Duration>,
    closed: &AtomicBool,
    mut wait: impl FnMut(Duration) -> dbshm::Result<R> + Send,
) -> PyResult<R>
where
    R: Send,
{
    // None also for a timeout past the clock's range: without limit.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let slice = left.map_or(SLICE, |left| left.min(SLICE));
        match py.detach(|| wait(slice)) {
            Err(DbShmError::Timeout { .. }) if left.is_none_or(|left| left > slice) => {
                py.check_signals()?;
                // Relaxed: a flag, read again every slice.
                if closed.load(Ordering::Relaxed) {
                    return Err(closed_error(name));
                }
            }
            Err(DbShmError::Timeout { .. }) => {
                return Err(errors::to_py(DbShmError::Timeout {
                    name: name.to_owned(),
                    after_seq,
                    timeout: timeout.unwrap_or(Duration::MAX),
                }))
            }
            other => return other.or_py(),
        }
    }
}

/// The error for a handle used, or waited on, after `close`.
pub(crate) fn closed_error(name: &str) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!("segment {name:?}: the handle is closed"))
}
