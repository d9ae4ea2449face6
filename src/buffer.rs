//! The public handle, composing the segment, the writer role, the protocol,
//! the copy and the futex.
//!
//! The path of one frame: `write` → shape check → take the writer role →
//! `begin_write` → copy in → `publish` → wake; `read` → `begin_read` →
//! copy out → `validate_read` (→ retry).

use std::hint;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ndarray::{
    ArrayBase, ArrayD, ArrayRefD, ArrayViewD, ArrayViewMutD, Data, DataMut, Dimension,
    IntoDimension, IxDyn,
};

use crate::copy::{self, copy_in, copy_racy};
use crate::events::{Events, NextFrame, Watched};
use crate::layout::{latest_parts, Geometry, Header, FLAG_WAKE_ALWAYS, MAX_BUFFERS, MIN_BUFFERS};
use crate::pin::{self, PinId, Pins};
use crate::protocol::{self, FrameInfo};
use crate::segment::{self, open, Segment};
use crate::writer::WriterRole;
use crate::{notify, DbShmError, Dtype, Element, Result};

/// Longest single futex sleep; a waiter re-checks at least this often.
const WAIT_SLICE: Duration = Duration::from_secs(1);

/// How long a reader retries a buffer that never becomes whole while
/// `latest` stays put before calling the segment corrupt. A live writer
/// finishes a frame long before; only a damaged header gets here.
const STUCK_LIMIT: Duration = Duration::from_secs(2);

/// How a segment is created or opened; the defaults are those of
/// [`DoubleBufferedSharedMemory::new`].
///
/// ```
/// use dbshm::{DoubleBufferedSharedMemory, Options};
/// # let name = format!("dbshm-doc-options-{}", std::process::id());
/// let shared: DoubleBufferedSharedMemory<f32> = Options::new()
///     .mode(0o640) // the owner writes, its group may open read-only
///     .unlink_on_drop(true)
///     .open_or_create(&name, (480, 640))?;
/// assert_eq!(shared.shape(), &[480, 640]);
/// # Ok::<(), dbshm::DbShmError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The mode asked for, if any; segments this creates get 0600 otherwise.
    mode: Option<u32>,
    unlink_on_drop: bool,
    /// Buffers of a segment this creates; `None` for [`MIN_BUFFERS`].
    buffers: Option<usize>,
    /// Most buffers the handle may pin at once; `None` for [`DEFAULT_MAX_PINS`].
    max_pins: Option<usize>,
    /// The directory of the segment; `None` for `$DBSHM_DIR` or /dev/shm.
    dir: Option<PathBuf>,
}

/// Buffers a handle may pin at once unless [`Options::max_pins`] says otherwise.
const DEFAULT_MAX_PINS: usize = 1;

/// The mode of a segment created without [`Options::mode`].
const DEFAULT_MODE: u32 = 0o600;

impl Options {
    /// Mode 0600, and the segment outlives its handles.
    pub fn new() -> Options {
        Options::default()
    }

    /// Permission bits of a segment this creates (not filtered by the
    /// umask). Default 0600: the owner only. 0640 lets the group open it
    /// read-only; 0660 lets the group write too. The owner must keep read
    /// and write ([`DbShmError::InvalidMode`] otherwise).
    ///
    /// A mode asked for here is also the most a segment this opens may
    /// allow: an existing segment that lets in more users (another owner,
    /// more permission bits, or group bits for another group) is refused
    /// with [`DbShmError::ModeTooOpen`]. Without it, `open_or_create`
    /// attaches to whatever segment the name has, as a group sharing a
    /// segment or a writer restarted under another account needs.
    pub fn mode(mut self, mode: u32) -> Options {
        self.mode = Some(mode & 0o777);
        self
    }

    /// Remove the segment's name when the handle is dropped, if it still
    /// names the segment this handle opened. Other handles keep working;
    /// new opens fail with [`DbShmError::NotFound`]. Only in the process
    /// that made the handle: a forked child's copy removes nothing when the
    /// child drops it or exits.
    pub fn unlink_on_drop(mut self, yes: bool) -> Options {
        self.unlink_on_drop = yes;
        self
    }

    /// Buffers of a segment this creates, 2 (the default) to 16
    /// ([`DbShmError::InvalidBufferCount`] otherwise). Buffers past two are
    /// for pinned reads ([`DoubleBufferedSharedMemory::pin`]): a segment
    /// needs two more than its readers pin at once. The writer fills the
    /// most recently written buffer that is neither the latest nor pinned,
    /// so that without pins it keeps to two, as a double-buffered writer
    /// does, and the others cost memory but no cache. Opening a segment
    /// takes its count from the segment.
    pub fn buffers(mut self, count: usize) -> Options {
        self.buffers = Some(count);
        self
    }

    /// Most buffers the handle may pin at once (default 1; 0 counts as 1), so that a
    /// program that forgets its pins holds that many buffers and no more;
    /// pins of the same frame share a buffer. A segment needs two buffers
    /// more than its readers pin at once.
    pub fn max_pins(mut self, count: usize) -> Options {
        // 0 would refuse every pin; C's 0 means the default, 1.
        self.max_pins = Some(count.max(1));
        self
    }

    /// The directory the segment lives in, instead of `$DBSHM_DIR` (the
    /// default for every handle that names none, so that the processes of
    /// an application meet without code changes) or, without it,
    /// /dev/shm. A tmpfs or hugetlbfs mount gives huge pages (see the
    /// README). It is checked as /dev/shm would pass: a directory, not a
    /// symbolic link, owned by root or this user, and sticky if other users
    /// may write it ([`DbShmError::BadDirectory`] otherwise).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Options {
        self.dir = Some(dir.into());
        self
    }

    /// The directory segments of these options live in.
    fn place(&self) -> PathBuf {
        open::place(self.dir.as_deref())
    }

    /// Removes the segment `name` from these options' directory, as
    /// [`unlink`](crate::unlink) does from the default one.
    pub fn unlink(&self, name: &str) -> Result<()> {
        segment::unlink(&self.place(), name)
    }

    /// What the segment `name` in these options' directory says, as
    /// [`inspect`](crate::inspect) does in the default one.
    pub fn inspect(&self, name: &str) -> Result<crate::SegmentInfo> {
        crate::inspect_in(&self.place(), name)
    }

    /// Creates a new segment; [`DbShmError::AlreadyExists`] if the name is taken.
    pub fn create<T: Element>(
        &self,
        name: &str,
        shape: impl IntoDimension,
    ) -> Result<DoubleBufferedSharedMemory<T>> {
        let geometry = self.geometry::<T>(name, shape.into_dimension().slice())?;
        let (segment, geometry) =
            Segment::create(&self.place(), name, &geometry, self.create_mode())?;
        DoubleBufferedSharedMemory::from_created(name, segment, geometry, self)
    }

    /// Opens an existing segment read-write; its shape comes from the segment.
    pub fn open<T: Element>(&self, name: &str) -> Result<DoubleBufferedSharedMemory<T>> {
        self.attach(name, true)
    }

    /// Opens an existing segment read-only: it maps the segment without write
    /// permission, can read and wait, and gets [`DbShmError::ReadOnly`] on write.
    pub fn open_readonly<T: Element>(&self, name: &str) -> Result<DoubleBufferedSharedMemory<T>> {
        self.attach(name, false)
    }

    /// Opens the segment if it exists, with the same element type and shape,
    /// or creates it. Safe against other processes doing the same at once:
    /// exactly one creates, the others open what it created.
    pub fn open_or_create<T: Element>(
        &self,
        name: &str,
        shape: impl IntoDimension,
    ) -> Result<DoubleBufferedSharedMemory<T>> {
        let shape = shape.into_dimension();
        let geometry = self.geometry::<T>(name, shape.slice())?;
        // Each turn loses at most one race: to a creator (AlreadyExists) or to
        // an unlink (NotFound). Three losses in a row is a fight, not a race.
        let mut last = None;
        for _ in 0..3 {
            match self.open::<T>(name) {
                Ok(shared) => return shared.check_shape(shape.slice()).map(|()| shared),
                Err(DbShmError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            match Segment::create(&self.place(), name, &geometry, self.create_mode()) {
                Ok((segment, geometry)) => {
                    return DoubleBufferedSharedMemory::from_created(name, segment, geometry, self)
                }
                Err(e @ DbShmError::AlreadyExists { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("the loop ran"))
    }

    fn create_mode(&self) -> u32 {
        self.mode.unwrap_or(DEFAULT_MODE)
    }

    /// The geometry of a segment this creates.
    fn geometry<T: Element>(&self, name: &str, shape: &[usize]) -> Result<Geometry> {
        let nbuffers = self.buffers.unwrap_or(MIN_BUFFERS);
        if !(MIN_BUFFERS..=MAX_BUFFERS).contains(&nbuffers) {
            return Err(DbShmError::InvalidBufferCount {
                name: name.to_owned(),
                count: nbuffers,
            });
        }
        let mut geometry =
            Geometry::new(T::DTYPE, shape, nbuffers).map_err(|e| DbShmError::InvalidShape {
                name: name.to_owned(),
                shape: shape.to_vec(),
                reason: e.reason(),
            })?;
        // A class of users that may read but not write cannot count itself
        // among the waiters, so the writer must wake at every publish.
        let mode = self.create_mode();
        let read_only = |r: u32, w: u32| mode & r != 0 && mode & w == 0;
        if read_only(0o400, 0o200) || read_only(0o040, 0o020) || read_only(0o004, 0o002) {
            geometry.flags |= FLAG_WAKE_ALWAYS;
        }
        Ok(geometry)
    }

    fn attach<T: Element>(
        &self,
        name: &str,
        writable: bool,
    ) -> Result<DoubleBufferedSharedMemory<T>> {
        let (segment, geometry) = Segment::open(&self.place(), name, writable)?;
        if let Some(mode) = self.mode {
            segment.check_exposure(name, mode)?;
        }
        if geometry.dtype != T::DTYPE {
            return Err(DbShmError::TypeMismatch {
                name: name.to_owned(),
                expected: T::DTYPE,
                found: geometry.dtype,
            });
        }
        DoubleBufferedSharedMemory::from_opened(name, segment, geometry, self)
    }
}

/// An n-dimensional array of `T` in POSIX shared memory, double-buffered:
/// one writer at a time publishes frames, any number of readers in any
/// process copy out the latest whole one.
///
/// A handle can read and, unless opened read-only, write. It takes the writer
/// role at its first write and keeps it until dropped; meanwhile a write
/// through any other handle gets [`DbShmError::WriterBusy`]. The role is a
/// lock the kernel releases when the process dies, so a crashed writer
/// never blocks its successor, whatever children it forked. Reads never
/// wait for the writer, and the writer never waits for readers.
///
/// Threads may share a handle. Writes through one handle never wait for
/// each other: a write while another is in progress gets `WriterBusy` at
/// once.
///
/// Dropping a handle leaves the segment in place for others (see
/// [`Options::unlink_on_drop`] and [`unlink`](crate::unlink)).
pub struct DoubleBufferedSharedMemory<T: Element> {
    name: String,
    segment: Segment,
    geometry: Geometry,
    /// `None` for a read-only handle.
    writer: Option<WriterRole>,
    pins: Pins,
    /// The watcher behind `event_fd`, once asked for.
    events: Events,
    retries: AtomicU64,
    /// Writes dropped because every buffer but the latest was pinned.
    dropped_writes: AtomicU64,
    /// The fork generation of the process that made the handle, if it is
    /// to remove the name on drop: a forked child's copy (dropped when the
    /// child exits) removes nothing.
    unlink_on_drop: Option<u64>,
    _element: PhantomData<fn() -> T>,
}

impl<T: Element> DoubleBufferedSharedMemory<T> {
    /// Opens the segment `name` if it exists (its element type and shape must
    /// match), otherwise creates it with mode 0600. The name rules are at
    /// [`MAX_NAME_LEN`](crate::MAX_NAME_LEN).
    ///
    /// `shape` is anything ndarray takes: `(100, 100, 3)`, `[480, 640]`,
    /// `&[usize]`, `vec![..]` or `IxDyn(..)`.
    pub fn new(name: &str, shape: impl IntoDimension) -> Result<Self> {
        Options::new().open_or_create(name, shape)
    }

    /// Creates a new segment with mode 0600; fails if the name exists.
    pub fn create(name: &str, shape: impl IntoDimension) -> Result<Self> {
        Options::new().create(name, shape)
    }

    /// Opens an existing segment; its shape comes from the segment and its
    /// element type must be `T`.
    pub fn open(name: &str) -> Result<Self> {
        Options::new().open(name)
    }

    /// Opens an existing segment read-only (see [`Options::open_readonly`]).
    pub fn open_readonly(name: &str) -> Result<Self> {
        Options::new().open_readonly(name)
    }

    /// Removes the segment's name; the same as [`crate::unlink`].
    pub fn unlink(name: &str) -> Result<()> {
        Options::new().unlink(name)
    }

    /// [`from_parts`](Self::from_parts) for a segment this process just
    /// created: if the handle cannot be made, the segment is removed again.
    fn from_created(
        name: &str,
        segment: Segment,
        geometry: Geometry,
        options: &Options,
    ) -> Result<Self> {
        match WriterRole::new(&segment, name) {
            Ok(writer) => Ok(Self::from_parts(
                name,
                segment,
                geometry,
                options,
                Some(writer),
            )),
            Err(e) => {
                let _ = segment.unlink(name);
                Err(e)
            }
        }
    }

    fn from_opened(
        name: &str,
        segment: Segment,
        geometry: Geometry,
        options: &Options,
    ) -> Result<Self> {
        let writer = if segment.writable() {
            Some(WriterRole::new(&segment, name)?)
        } else {
            None
        };
        Ok(Self::from_parts(name, segment, geometry, options, writer))
    }

    fn from_parts(
        name: &str,
        segment: Segment,
        geometry: Geometry,
        options: &Options,
        writer: Option<WriterRole>,
    ) -> Self {
        DoubleBufferedSharedMemory {
            name: name.to_owned(),
            segment,
            geometry,
            writer,
            pins: Pins::new(options.max_pins.unwrap_or(DEFAULT_MAX_PINS)),
            events: Events::default(),
            retries: AtomicU64::new(0),
            dropped_writes: AtomicU64::new(0),
            unlink_on_drop: options.unlink_on_drop.then(crate::fork::generation),
            _element: PhantomData,
        }
    }

    /// The start of buffer `i`, one of the segment's: every ticket the
    /// protocol hands out names one below `nbuffers`.
    fn buffer(&self, i: usize) -> *mut u8 {
        assert!(
            i < self.geometry.nbuffers,
            "buffer {i} of {}",
            self.geometry.nbuffers
        );
        // SAFETY: buffer `i` lies inside the mapping (checked by
        // `Geometry::parse` or computed by `Geometry::new`), so the offset
        // stays within the one mapped object.
        unsafe { self.segment.base().add(self.geometry.buffer_offset(i)) }
    }

    /// `ShapeMismatch` unless `shape`, the caller's, is the segment's.
    fn check_shape(&self, shape: &[usize]) -> Result<()> {
        if shape == self.shape() {
            Ok(())
        } else {
            Err(DbShmError::ShapeMismatch {
                name: self.name.clone(),
                expected: self.shape().to_vec(),
                found: shape.to_vec(),
            })
        }
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len == self.len() {
            Ok(())
        } else {
            Err(DbShmError::LengthMismatch {
                name: self.name.clone(),
                expected: self.len(),
                found: len,
            })
        }
    }

    /// Writes `array` into the back buffer, then publishes it as the latest
    /// frame. Any layout is accepted (a transposed view is written in its
    /// logical order); the shape must be the segment's.
    pub fn write<S, D>(&self, array: &ArrayBase<S, D>) -> Result<FrameInfo>
    where
        S: Data<Elem = T>,
        D: Dimension,
    {
        self.check_shape(array.shape())?;
        match array.as_slice() {
            Some(src) => self.write_slice(src),
            None => self.write_with(|mut back| back.assign(array)),
        }
    }

    /// Writes a frame given as [`len`](Self::len) elements in row-major
    /// order, then publishes it.
    pub fn write_slice(&self, data: &[T]) -> Result<FrameInfo> {
        self.check_len(data.len())?;
        self.write_raw(|dst| {
            // SAFETY: `data` is exactly one frame long; `dst` is the back
            // buffer, one frame long, which this writer alone writes, and
            // ALIGN-aligned: the mapping starts on a page and both buffer
            // offsets are multiples of ALIGN (checked by `Geometry::parse`).
            unsafe { copy_in(data.as_ptr().cast(), dst, self.geometry.frame_bytes) }
        })
    }

    /// Lets `fill` write the back buffer in place, then publishes it: the
    /// zero-copy path for producers.
    ///
    /// The view starts with stale contents (an older frame, or a frame a
    /// crashed writer left half-written): `fill` should set every element.
    /// If `fill` panics, nothing is published and the next write carries on.
    pub fn write_with<F>(&self, fill: F) -> Result<FrameInfo>
    where
        F: FnOnce(ArrayViewMutD<'_, T>),
    {
        self.write_raw(|dst| {
            // SAFETY: `dst` is the back buffer: ALIGN-aligned (so aligned for
            // T), one frame of `len` elements, valid for the life of `self`.
            // This write is its only writer (the role, and one write per
            // handle at a time; a process of a user who may write and
            // ignores the advisory role races with it, as with any shared
            // memory it may write), and readers touch it only through
            // `copy_racy`, so the exclusive view aliases no Rust reference.
            // Any bytes are a valid T.
            let view =
                unsafe { ArrayViewMutD::from_shape_ptr(IxDyn(self.shape()), dst.cast::<T>()) };
            // `fill` may store with instructions x86 does not keep in order
            // (glibc's `memcpy` does, for big copies): fenced on both sides
            // as the writer's own copies are.
            copy::order_stores();
            fill(view);
            copy::order_stores();
        })
    }

    fn write_raw(&self, fill: impl FnOnce(*mut u8)) -> Result<FrameInfo> {
        let Some(writer) = &self.writer else {
            return Err(DbShmError::ReadOnly {
                name: self.name.clone(),
            });
        };
        let _turn = writer.take(&self.segment, &self.name)?;
        let header = self.segment.header();
        let nbuffers = self.geometry.nbuffers;
        // Two buffers: nobody can pin, so nothing to look at.
        let pins = (nbuffers > MIN_BUFFERS).then(|| self.segment.pin_page());
        let begin = || protocol::begin_write(header, pins, nbuffers);
        // Every buffer but the latest pinned: perhaps by readers that died.
        let ticket = match begin().or_else(|| {
            let reclaimed = pin::reclaim_dead(&self.segment, self.pins.own_record());
            (reclaimed > 0).then(begin).flatten()
        }) {
            Some(ticket) => ticket,
            None => {
                self.dropped_writes.fetch_add(1, Ordering::Relaxed);
                return Err(DbShmError::AllBuffersPinned {
                    name: self.name.clone(),
                    buffers: nbuffers,
                });
            }
        };
        fill(self.buffer(ticket.buffer));
        let info = protocol::publish(header, ticket, monotonic_ns());
        notify::wake(header, self.geometry.flags & FLAG_WAKE_ALWAYS != 0);
        Ok(info)
    }

    /// A copy of the latest complete frame (the initial zeros before any write).
    pub fn read(&self) -> Result<ArrayD<T>> {
        self.read_with_info().map(|(array, _)| array)
    }

    /// A copy of the latest complete frame, with its number and timestamp.
    pub fn read_with_info(&self) -> Result<(ArrayD<T>, FrameInfo)> {
        let len = self.len();
        let mut data: Vec<T> = Vec::with_capacity(len);
        let info = self.read_raw(|src| {
            // SAFETY: `data` has capacity for one frame; `src` is a whole buffer.
            unsafe { copy_racy(src, data.as_mut_ptr().cast(), self.geometry.frame_bytes) }
        })?;
        // SAFETY: the last copy wrote all `len` elements, and every bit
        // pattern is a valid `T` (a sealed set of plain numeric types).
        unsafe { data.set_len(len) };
        let array =
            ArrayD::from_shape_vec(IxDyn(self.shape()), data).expect("one frame of elements");
        Ok((array, info))
    }

    /// Copies the latest complete frame into `out`, which must hold exactly
    /// [`len`](Self::len) elements, in row-major order. Allocates nothing.
    ///
    /// On the one error that can come after copying began (`Incompatible`,
    /// when a damaged header keeps a frame from ever validating) `out` holds
    /// whatever the last attempt copied.
    pub fn read_into(&self, out: &mut [T]) -> Result<FrameInfo> {
        self.check_len(out.len())?;
        // SAFETY: `out` is one frame of writable, exclusively borrowed elements.
        unsafe { self.read_into_ptr(out.as_mut_ptr()) }
    }

    /// [`read_into`](Self::read_into) through a pointer, which may point to
    /// uninitialised memory (a C caller's `malloc`).
    ///
    /// # Safety
    /// `out` is valid for writes of [`len`](Self::len) elements and not
    /// accessed by anything else meanwhile.
    pub(crate) unsafe fn read_into_ptr(&self, out: *mut T) -> Result<FrameInfo> {
        self.read_raw(|src| {
            // SAFETY: by the caller's contract, one frame of writable memory.
            unsafe { copy_racy(src, out.cast(), self.geometry.frame_bytes) }
        })
    }

    /// Copies the latest complete frame into an array of the segment's shape,
    /// in any memory layout. Allocates nothing.
    pub fn read_into_array<S, D>(&self, out: &mut ArrayBase<S, D>) -> Result<FrameInfo>
    where
        S: DataMut<Elem = T>,
        D: Dimension,
    {
        self.check_shape(out.shape())?;
        if let Some(slice) = out.as_slice_mut() {
            return self.read_into(slice);
        }
        let size = std::mem::size_of::<T>();
        self.read_raw(|src| {
            for (i, element) in out.iter_mut().enumerate() {
                // SAFETY: `i < len`, so the element lies inside the buffer;
                // `element` is one exclusively borrowed `T`.
                unsafe { copy_racy(src.add(i * size), (element as *mut T).cast(), size) }
            }
        })
    }

    fn read_raw(&self, mut copy: impl FnMut(*const u8)) -> Result<FrameInfo> {
        let header = self.segment.header();
        let mut retries = Retries::new(header, &self.name);
        let result = loop {
            if let Some(ticket) = protocol::begin_read(header, self.geometry.nbuffers) {
                copy(self.buffer(ticket.buffer));
                if let Some(info) = protocol::validate_read(header, ticket) {
                    break Ok(info);
                }
            }
            if let Err(e) = retries.again() {
                break Err(e);
            }
        };
        if retries.count > 0 {
            self.retries.fetch_add(retries.count, Ordering::Relaxed);
        }
        result
    }

    /// Pins the latest complete frame: a view of it in place, which the
    /// writer does not touch until the [`Pinned`] guard is dropped. Copies
    /// nothing and, for up to four dimensions, allocates nothing.
    ///
    /// Needs a segment of three buffers or more ([`DbShmError::TooFewBuffers`]),
    /// a user who may write the segment, also through a handle opened
    /// read-only ([`DbShmError::PermissionDenied`]), and a pin record: the
    /// handle's first pin claims one of the segment's 31
    /// ([`DbShmError::TooManyPinners`]). A handle holds at most
    /// [`Options::max_pins`] buffers at once ([`DbShmError::PinLimit`]);
    /// pins of the same frame share its buffer.
    ///
    /// While a pin lives the writer fills the other buffers; with every
    /// buffer but the latest pinned, writes fail with
    /// [`DbShmError::AllBuffersPinned`] until one is let go.
    ///
    /// ```
    /// use dbshm::{DoubleBufferedSharedMemory, Options};
    /// # let name = format!("dbshm-doc-pin-{}", std::process::id());
    /// let writer = Options::new()
    ///     .buffers(3)
    ///     .unlink_on_drop(true)
    ///     .create::<u8>(&name, (4, 4))?;
    /// writer.write_slice(&[7; 16])?;
    /// let reader = DoubleBufferedSharedMemory::<u8>::open_readonly(&name)?;
    /// let frame = reader.pin()?;
    /// writer.write_slice(&[8; 16])?; // into another buffer
    /// assert!(frame.iter().all(|&x| x == 7)); // the pinned frame is as it was
    /// assert_eq!(frame.info().seq, 1);
    /// # Ok::<(), dbshm::DbShmError>(())
    /// ```
    pub fn pin(&self) -> Result<Pinned<'_, T>> {
        let (data, info, id) = self.pin_raw()?;
        // SAFETY: the guard lets go of `id` on drop, and its lifetime ties
        // the view to the handle, and so to the mapping.
        let view = unsafe { self.pinned_view(data) };
        Ok(Pinned {
            shm: self,
            view,
            info,
            id,
        })
    }

    /// [`pin`](Self::pin) for a guard that holds the handle itself, and so
    /// may outlive any borrow of it: kept in a struct, sent to another
    /// thread, or owning a NumPy array in dbshm's Python package. The
    /// mapping lives as long as the guard, also when every other `Arc` of
    /// the handle is dropped.
    pub fn pin_owned(self: &Arc<Self>) -> Result<OwnedPinned<T>> {
        let (data, info, id) = self.pin_raw()?;
        // SAFETY: the guard holds an `Arc` of the handle, and so the
        // mapping, for as long as the view it hands out, and lets go of
        // `id` on drop.
        let view = unsafe { self.pinned_view(data) };
        Ok(OwnedPinned {
            shm: Arc::clone(self),
            view,
            info,
            id,
        })
    }

    /// The frame at `data`, pinned by [`pin_raw`](Self::pin_raw), as a view.
    ///
    /// # Safety
    /// The view must not outlive the mapping (this handle), nor the pin.
    unsafe fn pinned_view<'v>(&self, data: *const T) -> ArrayViewD<'v, T> {
        // SAFETY: `data` is one frame of `len` elements, ALIGN-aligned,
        // inside the mapping, holding a whole frame that no honest writer
        // touches until its pin is let go (`pin_raw`); the caller keeps the
        // view within the life of the mapping and of the pin.
        unsafe { ArrayViewD::from_shape_ptr(IxDyn(self.shape()), data) }
    }

    /// [`pin`](Self::pin) without a guard, for C: the frame's first element
    /// (`len` of them), its info, and the pin to give to
    /// [`unpin_raw`](Self::unpin_raw). Until then, no honest writer writes
    /// those elements: the protocol's guarantee (`protocol::pin`). A process
    /// of a user who may write and ignores the protocol can change them, as
    /// it can any shared memory it may write.
    pub(crate) fn pin_raw(&self) -> Result<(*const T, FrameInfo, PinId)> {
        self.check_pinnable()?;
        let nbuffers = self.geometry.nbuffers;
        let mut retries = Retries::new(self.segment.header(), &self.name);
        let (ticket, id) = self
            .pins
            .pin(&self.segment, &self.name, nbuffers, || retries.again())?;
        Ok((
            self.buffer(ticket.buffer).cast::<T>().cast_const(),
            ticket.info,
            id,
        ))
    }

    /// Lets go of a pin [`pin_raw`](Self::pin_raw) made (once; a second
    /// time does nothing); `false` if this handle did not make it.
    pub(crate) fn unpin_raw(&self, id: PinId) -> bool {
        self.pins.unpin(&self.segment, id)
    }

    /// Waits until a frame newer than `after_seq` is published, then pins
    /// the latest frame, as [`pin`](Self::pin). [`DbShmError::Timeout`]
    /// after `timeout`.
    pub fn wait_pin(&self, after_seq: u64, timeout: Duration) -> Result<Pinned<'_, T>> {
        self.check_pinnable()?;
        self.wait_for(after_seq, timeout)?;
        self.pin()
    }

    /// [`wait_pin`](Self::wait_pin) for a guard that holds the handle, as
    /// [`pin_owned`](Self::pin_owned).
    pub fn wait_pin_owned(
        self: &Arc<Self>,
        after_seq: u64,
        timeout: Duration,
    ) -> Result<OwnedPinned<T>> {
        self.check_pinnable()?;
        self.wait_for(after_seq, timeout)?;
        self.pin_owned()
    }

    /// [`wait_pin`](Self::wait_pin) without a guard, for C.
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) fn wait_pin_raw(
        &self,
        after_seq: u64,
        timeout: Duration,
    ) -> Result<(*const T, FrameInfo, PinId)> {
        self.check_pinnable()?;
        self.wait_for(after_seq, timeout)?;
        self.pin_raw()
    }

    /// `TooFewBuffers` for a segment of two buffers.
    fn check_pinnable(&self) -> Result<()> {
        if self.geometry.nbuffers <= MIN_BUFFERS {
            return Err(DbShmError::TooFewBuffers {
                name: self.name.clone(),
                buffers: self.geometry.nbuffers,
            });
        }
        Ok(())
    }

    /// Waits until a frame newer than `after_seq` is published, then returns
    /// a copy of the latest frame. [`DbShmError::Timeout`] after `timeout`;
    /// `Duration::MAX` waits without limit. Sleeps in the kernel (a futex
    /// shared between processes), with no polling.
    pub fn wait(&self, after_seq: u64, timeout: Duration) -> Result<(ArrayD<T>, FrameInfo)> {
        self.wait_for(after_seq, timeout)?;
        self.read_with_info()
    }

    /// [`wait`](Self::wait) into a caller's buffer, as [`read_into`](Self::read_into).
    pub fn wait_into(&self, after_seq: u64, timeout: Duration, out: &mut [T]) -> Result<FrameInfo> {
        self.check_len(out.len())?;
        // SAFETY: as in `read_into`.
        unsafe { self.wait_into_ptr(after_seq, timeout, out.as_mut_ptr()) }
    }

    /// [`wait_into`](Self::wait_into) through a pointer, as [`read_into_ptr`](Self::read_into_ptr).
    ///
    /// # Safety
    /// As for `read_into_ptr`.
    pub(crate) unsafe fn wait_into_ptr(
        &self,
        after_seq: u64,
        timeout: Duration,
        out: *mut T,
    ) -> Result<FrameInfo> {
        self.wait_for(after_seq, timeout)?;
        // SAFETY: forwarded from the caller.
        unsafe { self.read_into_ptr(out) }
    }

    fn wait_for(&self, after_seq: u64, timeout: Duration) -> Result<()> {
        let header = self.segment.header();
        let deadline = Instant::now().checked_add(timeout);
        let registration = notify::Registration::new(self.segment.waiters());
        let longest = if registration.counted() || self.geometry.flags & FLAG_WAKE_ALWAYS != 0 {
            WAIT_SLICE
        } else {
            notify::UNCOUNTED_SLICE
        };
        loop {
            // SeqCst: a step of the wait protocol (see `notify`); as an
            // Acquire it also pairs with `publish`'s increment, so a value
            // already past a publish comes with that publish's `latest`.
            let seen = header.notify.load(Ordering::SeqCst);
            if protocol::latest_seq(header) > after_seq {
                return Ok(());
            }
            let slice = match deadline {
                Some(deadline) => deadline
                    .saturating_duration_since(Instant::now())
                    .min(longest),
                None => longest,
            };
            if slice.is_zero() {
                return Err(DbShmError::Timeout {
                    name: self.name.clone(),
                    after_seq,
                    timeout,
                });
            }
            notify::wait(&header.notify, seen, slice);
        }
    }

    /// [`wait`](Self::wait) as a future, for async code: completes once a
    /// frame newer than `after_seq` is published, with a copy of the latest
    /// frame. It needs no particular executor (it is tested under tokio and
    /// `futures::executor`): the handle's watcher thread (the one
    /// [`event_fd`](Self::event_fd) uses, started by the first future that
    /// has to wait) wakes it, sleeping on the futex meanwhile (a read-only
    /// handle that can neither count itself nor rely on the segment's
    /// wake-always flag looks every 2 ms, as `wait` does). It returns the
    /// latest frame, which may be newer than the next one (frames between
    /// are skipped, as `wait` skips them). It takes no timeout: bound it
    /// with the runtime's own (`tokio::time::timeout`). Cancel-safe:
    /// dropping it before it completes leaves nothing registered and
    /// consumes no frame. Every wait lets the executor's other tasks run
    /// (it returns `Pending` once even when the frame is there already), so
    /// that a task following a writer faster than itself, which finds a
    /// frame at every wait, does not hold a single-threaded executor.
    ///
    /// ```no_run
    /// # async fn run() -> dbshm::Result<()> {
    /// let shm = dbshm::DoubleBufferedSharedMemory::<u8>::open("camera")?;
    /// let mut seq = shm.latest_seq();
    /// loop {
    ///     let (frame, info) = shm.wait_async(seq).await?;
    ///     seq = info.seq;
    ///     println!("frame {seq}: {} bytes", frame.len());
    /// }
    /// # }
    /// ```
    pub async fn wait_async(&self, after_seq: u64) -> Result<(ArrayD<T>, FrameInfo)> {
        self.next_frame(after_seq).await?;
        self.read_with_info()
    }

    /// [`wait_async`](Self::wait_async) into a caller's buffer, as
    /// [`read_into`](Self::read_into).
    pub async fn wait_into_async(&self, after_seq: u64, out: &mut [T]) -> Result<FrameInfo> {
        self.check_len(out.len())?;
        self.next_frame(after_seq).await?;
        self.read_into(out)
    }

    /// [`wait_pin`](Self::wait_pin) as a future, as
    /// [`wait_async`](Self::wait_async).
    pub async fn wait_pin_async(&self, after_seq: u64) -> Result<Pinned<'_, T>> {
        self.check_pinnable()?;
        self.next_frame(after_seq).await?;
        self.pin()
    }

    /// [`wait_pin_owned`](Self::wait_pin_owned) as a future, as
    /// [`wait_async`](Self::wait_async).
    pub async fn wait_pin_owned_async(self: &Arc<Self>, after_seq: u64) -> Result<OwnedPinned<T>> {
        self.check_pinnable()?;
        self.next_frame(after_seq).await?;
        self.pin_owned()
    }

    fn next_frame(&self, after_seq: u64) -> NextFrame<'_> {
        NextFrame::new(&self.events, self.watched(), after_seq)
    }

    /// A descriptor that becomes readable when a frame newer than the last
    /// one it announced is published, for an event loop: poll, epoll,
    /// select, tokio's `AsyncFd`, GLib or Qt socket notifiers. Reading it
    /// (8 bytes, as one reads an eventfd) acknowledges the frames announced
    /// so far; it is level-triggered, and no frame is lost between a read
    /// and the next look (at most one readiness finds no newer frame). The
    /// first frame announced is the first one after this call.
    ///
    /// A watcher thread, started by the first call and stopped when the
    /// handle is dropped, waits on the futex for it (see the `events`
    /// module: one thread and one descriptor per handle that asked). The
    /// descriptor is the handle's: open until it is dropped; do not close
    /// it. In a forked child the parent's is closed, and the child's first
    /// call starts a watcher and a descriptor of its own.
    pub fn event_fd(&self) -> Result<std::os::fd::RawFd> {
        self.events.fd(&self.watched())
    }

    /// What the watcher thread of `event_fd` and the async waits reads.
    fn watched(&self) -> Watched<'_> {
        Watched {
            name: &self.name,
            header: self.segment.header(),
            waiters: self.segment.waiters(),
            wake_always: self.geometry.flags & FLAG_WAKE_ALWAYS != 0,
        }
    }

    /// Reads the [`event_fd`](Self::event_fd) descriptor, acknowledging what
    /// it announced: the number of frames announced since the last read,
    /// 0 if none (or if `event_fd` was never called in this process).
    pub fn acknowledge_events(&self) -> Result<u64> {
        self.events.acknowledge(&self.name)
    }

    /// Total bytes of the shared segment: header and buffers.
    pub fn memory_size(&self) -> usize {
        self.segment.size()
    }

    /// The seed's name for [`memory_size`](Self::memory_size).
    pub fn get_memory_size(&self) -> usize {
        self.memory_size()
    }

    /// The shape of a frame.
    pub fn shape(&self) -> &[usize] {
        &self.geometry.shape
    }

    /// Elements in a frame: the product of the shape.
    #[allow(clippy::len_without_is_empty)] // a frame always has at least one element
    pub fn len(&self) -> usize {
        self.geometry.len
    }

    /// The element type, as stored in the segment.
    pub fn dtype(&self) -> Dtype {
        self.geometry.dtype
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of the latest published frame; 0 before the first write.
    pub fn latest_seq(&self) -> u64 {
        protocol::latest_seq(self.segment.header())
    }

    /// The segment's number of buffers (see [`Options::buffers`]).
    pub fn buffers(&self) -> usize {
        self.geometry.nbuffers
    }

    /// Writes through this handle that were dropped because every buffer
    /// but the latest was pinned ([`DbShmError::AllBuffersPinned`]).
    pub fn dropped_writes(&self) -> u64 {
        self.dropped_writes.load(Ordering::Relaxed)
    }

    /// Reads this handle retried because the writer overwrote the buffer
    /// being copied (a reader lapped by the writer).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Whether the handle was opened read-only.
    pub fn is_read_only(&self) -> bool {
        !self.segment.writable()
    }
}

/// The retries of one read or pin, which found the writer in the latest
/// frame's buffer.
struct Retries<'a> {
    header: &'a Header,
    name: &'a str,
    count: u64,
    /// When `latest` was last seen to move, and where it was.
    stuck_since: Option<(Instant, u64)>,
}

impl<'a> Retries<'a> {
    fn new(header: &'a Header, name: &'a str) -> Retries<'a> {
        Retries {
            header,
            name,
            count: 0,
            stuck_since: None,
        }
    }

    /// Before the next attempt: `Incompatible` once `latest` has stayed on
    /// a frame that never became readable for [`STUCK_LIMIT`].
    fn again(&mut self) -> Result<()> {
        self.count += 1;
        // A failed attempt waits for nobody: `latest` always names a whole
        // frame, so the next attempt can succeed at once. Hence no
        // backoff (crossbeam's `Backoff` spins longer each time, for a
        // thread that waits on another's progress; measured against this
        // loop, it changed nothing beyond run-to-run spread). Every 64th
        // attempt yields and asks the clock whether the header is damaged.
        if self.count % 64 != 0 {
            hint::spin_loop();
            return Ok(());
        }
        thread::yield_now();
        // Relaxed: only compared with itself to see whether frames move.
        let (latest, _) = latest_parts(self.header.latest.load(Ordering::Relaxed));
        match self.stuck_since {
            Some((since, seen)) if seen == latest => {
                if since.elapsed() > STUCK_LIMIT {
                    return Err(DbShmError::Incompatible {
                        name: self.name.to_owned(),
                        reason: format!(
                            "frame {latest} never became readable: the header is damaged"
                        ),
                    });
                }
            }
            _ => self.stuck_since = Some((Instant::now(), latest)),
        }
        Ok(())
    }
}

/// A pinned frame: a view of the latest frame in place in shared memory,
/// made by [`DoubleBufferedSharedMemory::pin`]. The writer does not touch
/// its buffer until the guard is dropped. Derefs to the frame's array
/// ([`ArrayRefD`], so `frame.iter()`, `frame.shape()`, `frame.sum()` and
/// the rest); [`view`](Self::view) and [`as_slice`](Self::as_slice) borrow
/// it, and nothing taken from it outlives the guard:
///
/// ```compile_fail
/// # use dbshm::{DoubleBufferedSharedMemory, Options};
/// # let name = format!("dbshm-doc-escape-{}", std::process::id());
/// # let shm = Options::new().buffers(3).unlink_on_drop(true).create::<u8>(&name, [4]).unwrap();
/// let pinned = shm.pin().unwrap();
/// let escaped: &[u8] = pinned.as_slice();
/// drop(pinned); // the writer may now overwrite the buffer
/// println!("{}", escaped[0]); // refused: it borrows the guard
/// ```
pub struct Pinned<'a, T: Element> {
    shm: &'a DoubleBufferedSharedMemory<T>,
    view: ArrayViewD<'a, T>,
    info: FrameInfo,
    id: PinId,
}

impl<'a, T: Element> Pinned<'a, T> {
    /// The frame's number and timestamp.
    pub fn info(&self) -> FrameInfo {
        self.info
    }

    /// The frame's elements in row-major order, for as long as the guard.
    pub fn as_slice(&self) -> &[T] {
        self.view.as_slice().expect("a frame is in standard layout")
    }

    /// The frame as an [`ArrayViewD`], for as long as the guard.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        self.view.view()
    }
}

impl<T: Element> std::ops::Deref for Pinned<'_, T> {
    // Not `ArrayViewD<'a, T>`: a view is `Copy` and converts to slices of
    // its own lifetime, the handle's, which would outlive the pin.
    type Target = ArrayRefD<T>;

    fn deref(&self) -> &ArrayRefD<T> {
        &self.view
    }
}

impl<T: Element> Drop for Pinned<'_, T> {
    fn drop(&mut self) {
        let _ = self.shm.unpin_raw(self.id);
    }
}

impl<T: Element> std::fmt::Debug for Pinned<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned")
            .field("segment", &self.shm.name)
            .field("info", &self.info)
            .finish()
    }
}

/// A pinned frame that holds its handle: what
/// [`pin_owned`](DoubleBufferedSharedMemory::pin_owned) returns. As
/// [`Pinned`], but `'static`: the view lives as long as the guard, which
/// keeps the handle, and so the mapping, alive.
pub struct OwnedPinned<T: Element> {
    shm: Arc<DoubleBufferedSharedMemory<T>>,
    /// Not `'static` in truth: as long as `shm` and the pin; handed out only
    /// borrowed from the guard.
    view: ArrayViewD<'static, T>,
    info: FrameInfo,
    id: PinId,
}

impl<T: Element> OwnedPinned<T> {
    /// The frame's number and timestamp.
    pub fn info(&self) -> FrameInfo {
        self.info
    }

    /// The frame's elements in row-major order, for as long as the guard.
    pub fn as_slice(&self) -> &[T] {
        self.view.as_slice().expect("a frame is in standard layout")
    }

    /// The frame as an [`ArrayViewD`], for as long as the guard.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        self.view.view()
    }

    /// The handle the pin was made through.
    pub fn handle(&self) -> &Arc<DoubleBufferedSharedMemory<T>> {
        &self.shm
    }
}

impl<T: Element> std::ops::Deref for OwnedPinned<T> {
    // As for `Pinned`: never the view itself, which would outlive the pin.
    type Target = ArrayRefD<T>;

    fn deref(&self) -> &ArrayRefD<T> {
        &self.view
    }
}

impl<T: Element> Drop for OwnedPinned<T> {
    fn drop(&mut self) {
        let _ = self.shm.unpin_raw(self.id);
    }
}

impl<T: Element> std::fmt::Debug for OwnedPinned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedPinned")
            .field("segment", &self.shm.name)
            .field("info", &self.info)
            .finish()
    }
}

impl<T: Element> Drop for DoubleBufferedSharedMemory<T> {
    fn drop(&mut self) {
        // First: the watcher reads the mapping until joined.
        if !self.events.stop(self.segment.header()) {
            // Dropped by a waker the watcher ran: it reads the mapping
            // until it sees `stop`, after this returns to it.
            self.segment.keep_mapped();
        }
        self.pins.release(&self.segment);
        if self.unlink_on_drop == Some(crate::fork::generation()) {
            // Only the object this handle opened: the name may have been
            // unlinked and given to a new segment meanwhile.
            let _ = self.segment.unlink(&self.name);
        }
    }
}

impl<T: Element> std::fmt::Debug for DoubleBufferedSharedMemory<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoubleBufferedSharedMemory")
            .field("name", &self.name)
            .field("dtype", &self.dtype())
            .field("shape", &self.shape())
            .field("latest_seq", &self.latest_seq())
            .field("read_only", &self.is_read_only())
            .finish()
    }
}

/// This machine's `CLOCK_MONOTONIC` in nanoseconds: the clock of
/// [`FrameInfo::timestamp_ns`], so `monotonic_ns() - info.timestamp_ns` is
/// the age of a frame.
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Mutex;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// A segment of this test alone, removed when the handle goes.
    fn segment(tag: &str) -> DoubleBufferedSharedMemory<u8> {
        let name = format!("dbshm-unit-{tag}-{}", std::process::id());
        let shm = Options::new()
            .unlink_on_drop(true)
            .create::<u8>(&name, [16]);
        shm.expect("create the test segment")
    }

    #[test]
    fn an_async_wait_leaves_the_list_when_dropped_or_done() {
        let shm = segment("async-list");
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut waiting = std::pin::pin!(shm.wait_async(0));
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
            assert_eq!(shm.events.registered(), 1, "a waiting future registers");
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
            assert_eq!(shm.events.registered(), 1, "a second poll registers again");
        }
        assert_eq!(
            shm.events.registered(),
            0,
            "a dropped future left its waker"
        );
        let mut waiting = std::pin::pin!(shm.wait_async(0));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        shm.write_slice(&[5; 16]).unwrap();
        let Poll::Ready(Ok((frame, info))) = waiting.as_mut().poll(&mut cx) else {
            panic!("no frame after a write");
        };
        assert_eq!((info.seq, frame[[0]]), (1, 5));
    }

    /// A waker that runs `on_wake` when woken.
    struct OnWake<F: Fn() + Send + Sync>(F);

    impl<F: Fn() + Send + Sync + 'static> std::task::Wake for OnWake<F> {
        fn wake(self: Arc<Self>) {
            (self.0)();
        }
    }

    #[test]
    fn a_waker_that_panics_leaves_the_watcher_waking_the_others() {
        let shm = segment("async-panic");
        let panicking = Waker::from(Arc::new(OnWake(|| panic!("an executor's bug"))));
        let mut first = std::pin::pin!(shm.wait_async(0));
        assert!(first
            .as_mut()
            .poll(&mut Context::from_waker(&panicking))
            .is_pending());
        shm.write_slice(&[1; 16]).unwrap();
        // The watcher ran the panicking waker; the next future still wakes.
        let (tx, rx) = std::sync::mpsc::channel();
        let woken = Waker::from(Arc::new(OnWake(move || {
            let _ = tx.send(());
        })));
        let mut second = std::pin::pin!(shm.wait_async(1));
        assert!(second
            .as_mut()
            .poll(&mut Context::from_waker(&woken))
            .is_pending());
        shm.write_slice(&[2; 16]).unwrap();
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the watcher died with the panicking waker"
        );
    }

    #[test]
    fn a_waker_that_drops_the_last_handle_does_not_hang_the_watcher() {
        let shm = segment("async-last");
        let reader = Arc::new(DoubleBufferedSharedMemory::<u8>::open(shm.name()).unwrap());
        // A task that owns the handle, dropped (with the handle) by its
        // waker, as an executor shutting down drops the tasks it wakes.
        type Task = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
        let task: Arc<Mutex<Option<Task>>> = Arc::new(Mutex::new(None));
        let (tx, rx) = std::sync::mpsc::channel();
        let waker = {
            let task = Arc::clone(&task);
            Waker::from(Arc::new(OnWake(move || {
                drop(task.lock().unwrap().take());
                let _ = tx.send(());
            })))
        };
        let mut future: Task = Box::pin(async move {
            let _ = reader.wait_async(0).await;
        });
        assert!(future
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        *task.lock().unwrap() = Some(future);
        shm.write_slice(&[3; 16]).unwrap();
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the watcher hung dropping the last handle"
        );
    }
}
