//! `dbshm._dbshm`, the extension module of dbshm's Python package: the
//! Rust handle, for numpy arrays. `dbshm/__init__.py` re-exports it with
//! the exception classes and `FrameInfo` of `dbshm/_types.py`.

mod errors;
mod frames;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dbshm::{with_element_type, DoubleBufferedSharedMemory, Dtype, Options};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString, PyTuple, PyType};

use errors::OrPy;
use frames::{closed_error, frame_info, Frames, PinBase, PyFrameInfo};

/// A segment: one writer, any number of readers, in any process.
#[pyclass(module = "dbshm", name = "DoubleBufferedSharedMemory", frozen)]
struct Segment {
    /// `None` once closed. Each call takes its own `Arc`, so a close while
    /// another thread waits, or while pinned arrays live, unmaps nothing
    /// under them: the last `Arc` does.
    handle: Mutex<Option<Arc<dyn Frames>>>,
    /// Set by `close`: ends the waits of other threads at their next slice.
    closed: AtomicBool,
    /// For messages after close.
    name: String,
}

/// How a handle is opened.
#[derive(Clone, Copy)]
enum How {
    Create,
    Open,
    ReadOnly,
    OpenOrCreate,
}

/// Opens or creates `name` as a segment of `T`.
fn open_as<T: dbshm::Element + numpy::Element>(
    how: How,
    options: &Options,
    name: &str,
    shape: &[usize],
) -> dbshm::Result<Arc<dyn Frames>> {
    let shm: DoubleBufferedSharedMemory<T> = match how {
        How::Create => options.create(name, shape)?,
        How::Open => options.open(name)?,
        How::ReadOnly => options.open_readonly(name)?,
        How::OpenOrCreate => options.open_or_create(name, shape)?,
    };
    Ok(Arc::new(shm))
}

/// Whether the numpy dtype `descr` is `T`'s.
fn is_dtype<T: numpy::Element>(py: Python<'_>, descr: &Bound<'_, PyArrayDescr>) -> bool {
    descr.is_equiv_to(&numpy::dtype::<T>(py))
}

/// The numpy dtype of `T`.
fn numpy_dtype<T: numpy::Element>(py: Python<'_>) -> Bound<'_, PyArrayDescr> {
    numpy::dtype::<T>(py)
}

/// What numpy takes as a dtype (`np.uint8`, `"float32"`, `np.dtype(...)`),
/// as one of the ten element types.
fn element_type(py: Python<'_>, name: &str, dtype: &Bound<'_, PyAny>) -> PyResult<Dtype> {
    if dtype.is_none() {
        // numpy would read None as float64; a segment's type is said.
        let message = format!("segment {name:?}: a dtype is needed (np.uint8, \"float32\", ...)");
        return Err(errors::named(py, "TypeMismatch", name, message));
    }
    let descr = PyArrayDescr::new(py, dtype)?;
    Dtype::ALL
        .into_iter()
        .find(|&d| with_element_type!(d, is_dtype(py, &descr)))
        .ok_or_else(|| {
            let found = descr
                .str()
                .map_or_else(|_| "?".to_owned(), |s| s.to_string());
            let message = format!(
                "segment {name:?}: dtype {found} is not one of dbshm's element types \
                 (uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64, \
                 in native byte order)"
            );
            errors::named(py, "TypeMismatch", name, message)
        })
}

/// A shape: an int or a sequence of ints, each 0 or more (a bool, a str or
/// bytes is none, though Python would let them pass as ints).
fn shape_of(name: &str, shape: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let text = shape.is_instance_of::<PyBool>()
        || shape.is_instance_of::<PyString>()
        || shape.is_instance_of::<PyBytes>();
    let parsed = match shape.extract::<usize>() {
        _ if text => None,
        Ok(n) => Some(vec![n]),
        Err(_) => shape.extract::<Vec<usize>>().ok(),
    };
    parsed.ok_or_else(|| {
        let found = shape
            .repr()
            .map_or_else(|_| "?".to_owned(), |r| r.to_string());
        let message = format!(
            "segment {name:?}: a shape is an int or a sequence of ints 0 or more, not {found}"
        );
        errors::named(shape.py(), "InvalidShape", name, message)
    })
}

/// Seconds as a timeout: `None`, infinity or more than the clock can count
/// waits without limit; NaN or less than 0 is an error.
fn timeout_of(name: &str, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s >= 0.0 => Ok(Duration::try_from_secs_f64(s).ok()),
        Some(s) => Err(PyValueError::new_err(format!(
            "segment {name:?}: a timeout is seconds, 0 or more, or None; not {s}"
        ))),
    }
}

impl Segment {
    fn opened(
        py: Python<'_>,
        how: How,
        options: Options,
        name: &str,
        shape: &[usize],
        dtype: Dtype,
    ) -> PyResult<Segment> {
        let handle = py
            .detach(|| with_element_type!(dtype, open_as(how, &options, name, shape)))
            .or_py()?;
        Ok(Segment {
            handle: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            name: name.to_owned(),
        })
    }

    /// Opens an existing segment of whatever type and shape it has.
    fn open_existing(
        py: Python<'_>,
        how: How,
        name: &str,
        max_pins: usize,
        dir: Option<PathBuf>,
    ) -> PyResult<Segment> {
        let options = in_dir(Options::new().max_pins(max_pins), dir);
        let handle = py
            .detach(|| {
                // Replaced by a segment of another type between the look and
                // the open: look again (a race lost twice in a row is a fight).
                let mut last = None;
                for _ in 0..3 {
                    let dtype = options.inspect(name)?.dtype;
                    match with_element_type!(dtype, open_as(how, &options, name, &[])) {
                        Err(e @ dbshm::DbShmError::TypeMismatch { .. }) => last = Some(e),
                        other => return other,
                    }
                }
                Err(last.expect("three turns"))
            })
            .or_py()?;
        Ok(Segment {
            handle: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            name: name.to_owned(),
        })
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<dyn Frames>>> {
        // Nothing panics while holding it: a take or a clone.
        self.handle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open handle, or `ValueError` once closed.
    fn handle(&self) -> PyResult<Arc<dyn Frames>> {
        self.slot().clone().ok_or_else(|| closed_error(&self.name))
    }
}

/// `obj` as an ndarray: itself, or `numpy.asarray(obj)` (which never casts
/// an ndarray; for a list it picks numpy's own dtype, which the write then
/// checks like any other).
fn as_ndarray<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    match obj.cast::<PyUntypedArray>() {
        Ok(array) => Ok(array.clone()),
        Err(_) => {
            let array = py.import("numpy")?.call_method1("asarray", (obj,))?;
            Ok(array.cast_into::<PyUntypedArray>()?)
        }
    }
}

#[pymethods]
impl Segment {
    /// Opens the segment `name`, or creates it with `shape` and `dtype`
    /// (two buffers, mode 0600 or `mode`) if there is none, like Rust's
    /// `new`. A `mode` given is also the most an existing segment may
    /// allow (`ModeTooOpen`).
    #[new]
    #[pyo3(signature = (name, shape, dtype, *, mode=None, dir=None))]
    fn new(
        py: Python<'_>,
        name: &str,
        shape: &Bound<'_, PyAny>,
        dtype: &Bound<'_, PyAny>,
        mode: Option<u32>,
        dir: Option<PathBuf>,
    ) -> PyResult<Segment> {
        let dtype = element_type(py, name, dtype)?;
        let shape = shape_of(name, shape)?;
        let options = match mode {
            Some(mode) => Options::new().mode(mode),
            None => Options::new(),
        };
        let options = in_dir(options, dir);
        Segment::opened(py, How::OpenOrCreate, options, name, &shape, dtype)
    }

    /// Creates a new segment; `AlreadyExists` if the name is taken.
    #[classmethod]
    #[pyo3(signature = (name, shape, dtype, *, mode=0o600, buffers=2, unlink_on_drop=false, max_pins=1, dir=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        shape: &Bound<'_, PyAny>,
        dtype: &Bound<'_, PyAny>,
        mode: u32,
        buffers: usize,
        unlink_on_drop: bool,
        max_pins: usize,
        dir: Option<PathBuf>,
    ) -> PyResult<Segment> {
        let dtype = element_type(py, name, dtype)?;
        let shape = shape_of(name, shape)?;
        let options = Options::new()
            .mode(mode)
            .buffers(buffers)
            .unlink_on_drop(unlink_on_drop)
            .max_pins(max_pins);
        let options = in_dir(options, dir);
        Segment::opened(py, How::Create, options, name, &shape, dtype)
    }

    /// Opens an existing segment to write and read; its shape and dtype are
    /// the segment's.
    #[classmethod]
    #[pyo3(signature = (name, *, max_pins=1, dir=None))]
    fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        max_pins: usize,
        dir: Option<PathBuf>,
    ) -> PyResult<Segment> {
        Segment::open_existing(py, How::Open, name, max_pins, dir)
    }

    /// Opens an existing segment to read only (and pin, if this user may
    /// write it).
    #[classmethod]
    #[pyo3(signature = (name, *, max_pins=1, dir=None))]
    fn open_readonly(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: &str,
        max_pins: usize,
        dir: Option<PathBuf>,
    ) -> PyResult<Segment> {
        Segment::open_existing(py, How::ReadOnly, name, max_pins, dir)
    }

    /// Writes `array` (any array-like of the segment's shape and dtype, in
    /// any layout; never cast) as the next frame.
    fn write<'py>(
        &self,
        py: Python<'py>,
        array: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shm = self.handle()?;
        let array = as_ndarray(py, array)?;
        let info = shm.write(py, &array)?;
        frame_info(py, info)
    }

    /// A copy of the latest frame, as a new array.
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.handle()?.read(py)?.0)
    }

    /// A copy of the latest frame, and its `FrameInfo`.
    fn read_with_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (array, info) = self.handle()?.read(py)?;
        PyTuple::new(py, [array, frame_info(py, info)?])
    }

    /// Copies the latest frame into `out`, a writable C-contiguous array of
    /// the segment's shape and dtype; its `FrameInfo`.
    fn read_into<'py>(
        &self,
        py: Python<'py>,
        out: &Bound<'py, PyUntypedArray>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let info = self.handle()?.read_into(py, out)?;
        frame_info(py, info)
    }

    /// Waits for a frame newer than `after_seq` (`timeout` seconds at most;
    /// None: without limit), then copies it: `(array, FrameInfo)`.
    #[pyo3(signature = (after_seq, timeout=None))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        after_seq: u64,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (array, info) = self.handle()?.wait(
            py,
            after_seq,
            timeout_of(&self.name, timeout)?,
            &self.closed,
            None,
        )?;
        PyTuple::new(py, [array, frame_info(py, info)?])
    }

    /// As `wait`, into `out` (as `read_into`); its `FrameInfo`.
    #[pyo3(signature = (after_seq, out, timeout=None))]
    fn wait_into<'py>(
        &self,
        py: Python<'py>,
        after_seq: u64,
        out: &Bound<'py, PyUntypedArray>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (_, info) = self.handle()?.wait(
            py,
            after_seq,
            timeout_of(&self.name, timeout)?,
            &self.closed,
            Some(out),
        )?;
        frame_info(py, info)
    }

    /// The latest frame in place: a read-only array over the pinned buffer,
    /// which the writer leaves alone as long as the array (or any view of
    /// it) lives. Its `.base.info` is its `FrameInfo`.
    fn pin<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.handle()?.pin(py, None, &self.closed)?.0)
    }

    /// As `pin`, and its `FrameInfo`: `(array, FrameInfo)`.
    fn pin_with_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (array, info) = self.handle()?.pin(py, None, &self.closed)?;
        PyTuple::new(py, [array, frame_info(py, info)?])
    }

    /// Waits for a frame newer than `after_seq`, then pins the latest:
    /// `(array, FrameInfo)`.
    #[pyo3(signature = (after_seq, timeout=None))]
    fn wait_pin<'py>(
        &self,
        py: Python<'py>,
        after_seq: u64,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let wait = Some((after_seq, timeout_of(&self.name, timeout)?));
        let (array, info) = self.handle()?.pin(py, wait, &self.closed)?;
        PyTuple::new(py, [array, frame_info(py, info)?])
    }

    /// The event descriptor: readable when a frame newer than the last one
    /// it announced is published (for `select`, `selectors`, asyncio's
    /// `add_reader`); `acknowledge_events()` reads it. The handle's: do not
    /// close it.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        let shm = self.handle()?;
        py.detach(|| shm.event_fd()).or_py()
    }

    /// Reads the event descriptor: the frames announced since the last read.
    fn acknowledge_events(&self) -> PyResult<u64> {
        self.handle()?.acknowledge_events().or_py()
    }

    /// `await shm.wait_async(after_seq, timeout=None)`: as `wait`, on the
    /// running asyncio loop, holding no thread: `(array, FrameInfo)`.
    #[pyo3(signature = (after_seq, timeout=None))]
    fn wait_async<'py>(
        slf: &Bound<'py, Self>,
        after_seq: u64,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let take = slf.getattr("read_with_info")?;
        asyncio_wait(slf, after_seq, timeout, take)
    }

    /// `await shm.wait_pin_async(after_seq, timeout=None)`: as `wait_pin`,
    /// on the running asyncio loop: `(array, FrameInfo)`.
    #[pyo3(signature = (after_seq, timeout=None))]
    fn wait_pin_async<'py>(
        slf: &Bound<'py, Self>,
        after_seq: u64,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let take = slf.getattr("pin_with_info")?;
        asyncio_wait(slf, after_seq, timeout, take)
    }

    /// Number of the latest published frame; 0 before the first write.
    #[getter]
    fn latest_seq(&self) -> PyResult<u64> {
        Ok(self.handle()?.latest_seq())
    }

    /// Shape of a frame.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.handle()?.shape())
    }

    /// Element type, as a numpy dtype.
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDescr>> {
        let dtype = self.handle()?.dtype();
        Ok(with_element_type!(dtype, numpy_dtype(py)))
    }

    /// The segment's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Bytes of shared memory the segment takes.
    #[getter(memory_size)]
    fn size_in_memory(&self) -> PyResult<usize> {
        Ok(self.handle()?.memory_size())
    }

    /// `memory_size`, by the seed's name.
    fn get_memory_size(&self) -> PyResult<usize> {
        self.size_in_memory()
    }

    /// Reads through this handle that found the writer in their buffer and
    /// copied again.
    #[getter]
    fn retries(&self) -> PyResult<u64> {
        Ok(self.handle()?.retries())
    }

    /// Buffers of the segment (2 to 16).
    #[getter]
    fn buffers(&self) -> PyResult<usize> {
        Ok(self.handle()?.buffers())
    }

    /// Writes through this handle dropped because every buffer but the
    /// latest was pinned.
    #[getter]
    fn dropped_writes(&self) -> PyResult<u64> {
        Ok(self.handle()?.dropped_writes())
    }

    /// Whether the handle was opened read-only.
    #[getter]
    fn read_only(&self) -> PyResult<bool> {
        Ok(self.handle()?.is_read_only())
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.slot().is_none()
    }

    /// Closes the handle (the segment stays, unless created with
    /// `unlink_on_drop`). Arrays of pinned frames keep their pins and the
    /// mapping until they go; a second close does nothing.
    fn close(&self, py: Python<'_>) {
        // Relaxed: a flag that waits read at their next slice.
        self.closed.store(true, Ordering::Relaxed);
        let handle = self.slot().take();
        // The last Arc unmaps and may unlink: without the GIL.
        py.detach(move || drop(handle));
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        match self.slot().as_ref() {
            Some(h) => format!(
                "DoubleBufferedSharedMemory(name={:?}, shape={:?}, dtype={}, buffers={}{})",
                self.name,
                h.shape(),
                h.dtype(),
                h.buffers(),
                if h.is_read_only() { ", read-only" } else { "" }
            ),
            None => format!("DoubleBufferedSharedMemory(name={:?}, closed)", self.name),
        }
    }
}

/// The coroutine of `dbshm._aio`, which waits on the event descriptor and
/// then calls `take`.
fn asyncio_wait<'py>(
    slf: &Bound<'py, Segment>,
    after_seq: u64,
    timeout: Option<f64>,
    take: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    timeout_of(&slf.get().name, timeout)?; // the same errors as `wait`'s
    py.import("dbshm._aio")?
        .getattr("wait_for_frame")?
        .call1((slf, after_seq, timeout, take))
}

/// The directory `dir`, or (None) `$DBSHM_DIR` or /dev/shm.
fn place(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(dbshm::default_dir)
}

/// `options` in the directory `dir`, if one is given.
fn in_dir(options: Options, dir: Option<PathBuf>) -> Options {
    match dir {
        Some(dir) => options.dir(dir),
        None => options,
    }
}

/// Removes the segment `name` (and its lock file), from `dir` or the
/// default directory (`$DBSHM_DIR`, or /dev/shm).
#[pyfunction]
#[pyo3(signature = (name, *, dir=None))]
fn unlink(py: Python<'_>, name: &str, dir: Option<PathBuf>) -> PyResult<()> {
    py.detach(|| in_dir(Options::new(), dir).unlink(name))
        .or_py()
}

/// Every segment this user may read in `dir` or the default directory: a
/// list of dicts, as `dbshm list --json`.
#[pyfunction]
#[pyo3(signature = (*, dir=None))]
fn list(py: Python<'_>, dir: Option<PathBuf>) -> PyResult<Bound<'_, PyAny>> {
    let segments = py.detach(|| dbshm::list_in(&place(dir))).or_py()?;
    let json = serde_json::to_string(&segments)
        .map_err(|e| PyValueError::new_err(format!("segment list as JSON: {e}")))?;
    py.import("json")?.call_method1("loads", (json,))
}

/// What a segment's header says: a dict, as `dbshm info --json`.
#[pyfunction]
#[pyo3(signature = (name, *, dir=None))]
fn info<'py>(py: Python<'py>, name: &str, dir: Option<PathBuf>) -> PyResult<Bound<'py, PyAny>> {
    let segment = py.detach(|| dbshm::inspect_in(&place(dir), name)).or_py()?;
    let json = serde_json::to_string(&segment)
        .map_err(|e| PyValueError::new_err(format!("segment {name:?} as JSON: {e}")))?;
    py.import("json")?.call_method1("loads", (json,))
}

/// `CLOCK_MONOTONIC` in nanoseconds, the clock of `FrameInfo.timestamp_ns`.
#[pyfunction]
fn monotonic_ns() -> u64 {
    dbshm::monotonic_ns()
}

#[pymodule]
fn _dbshm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Segment>()?;
    m.add_class::<PinBase>()?;
    m.add_class::<PyFrameInfo>()?;
    m.add_function(wrap_pyfunction!(unlink, m)?)?;
    m.add_function(wrap_pyfunction!(list, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(monotonic_ns, m)?)?;
    Ok(())
}
