//! One handle of any element type, behind one object-safe trait: the
//! Python class holds an `Arc<dyn Frames>`, made by `dbshm::with_element_type!`
//! from the segment's dtype, and every method below is written once,
//! generic over the element type.
//!
//! The GIL is released during every copy and every wait. A wait sleeps in
//! slices of [`SLICE`], checking for signals between them, so that Ctrl-C
//! interrupts it.

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
        out: Option<&Bound<'py, PyUntypedArray>>,
    ) -> PyResult<(Bound<'py, PyAny>, FrameInfo)>;
    /// Pins the latest frame (after waiting for one newer than `after_seq`,
    /// if given): a read-only array over it, whose base holds the pin.
    fn pin<'py>(
        self: Arc<Self>,
        py: Python<'py>,
        wait: Option<(u64, Option<Duration>)>,
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

/// A `dbshm.FrameInfo`.
pub(crate) fn frame_info(py: Python<'_>, info: FrameInfo) -> PyResult<Bound<'_, PyAny>> {
    errors::make(py, "FrameInfo", (info.seq, info.timestamp_ns))
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
pub(crate) fn type_mismatch(py: Python<'_>, name: &str, dtype: Dtype, found: &str) -> PyErr {
    let message = format!("segment {name:?} holds {dtype} elements, not {found}");
    match errors::make(py, "TypeMismatch", (message,)) {
        Ok(err) => {
            let _ = err.setattr("name", name);
            PyErr::from_value(err)
        }
        Err(e) => e,
    }
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
            in_slices(py, self.name(), after_seq, timeout, |slice_timeout| {
                DoubleBufferedSharedMemory::wait_into(self, after_seq, slice_timeout, slice)
            })?
        };
        Ok((out.into_any(), info))
    }

    fn pin<'py>(
        self: Arc<Self>,
        py: Python<'py>,
        wait: Option<(u64, Option<Duration>)>,
    ) -> PyResult<(Bound<'py, PyAny>, FrameInfo)> {
        let pinned: OwnedPinned<T> = match wait {
            None => py.detach(|| self.pin_owned()).or_py()?,
            Some((after_seq, timeout)) => {
                in_slices(py, self.name(), after_seq, timeout, |slice_timeout| {
                    self.wait_pin_owned(after_seq, slice_timeout)
                })?
            }
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
        let write = pyo3::types::PyDict::new(py);
        write.set_item("write", false)?;
        frame.call_method("setflags", (), Some(&write))?;
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
    // that Rust code borrows elsewhere.
    out.try_readwrite().map_err(|e| {
        let message = format!("segment {name:?}: the array to fill must be writable ({e})");
        errors::make(out.py(), "InvalidShape", (message,)).map_or_else(|e| e, PyErr::from_value)
    })
}

/// The error for an output array that is not C-contiguous.
fn not_contiguous(py: Python<'_>, name: &str) -> PyErr {
    let message =
        format!("segment {name:?}: the array to fill must be C-contiguous (np.ascontiguousarray)");
    errors::make(py, "InvalidShape", (message,)).map_or_else(|e| e, PyErr::from_value)
}

/// Runs `wait(slice)` without the GIL, in slices of at most [`SLICE`] until
/// `timeout` (None: without limit), checking for signals between slices.
fn in_slices<R>(
    py: Python<'_>,
    name: &str,
    after_seq: u64,
    timeout: Option<Duration>,
    mut wait: impl FnMut(Duration) -> dbshm::Result<R> + Send,
) -> PyResult<R>
where
    R: Send,
{
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let slice = left.map_or(SLICE, |left| left.min(SLICE));
        match py.detach(|| wait(slice)) {
            Err(DbShmError::Timeout { .. }) if left.is_none_or(|left| left > slice) => {
                py.check_signals()?;
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
