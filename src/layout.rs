//! The bytes of a segment: the header, its constants, and its validation.
//!
//! Pure: no system calls. The validation takes the header bytes and the size
//! of the object they came from and either describes a segment whose every
//! buffer lies inside the object, or says why not.
//!
//! A segment is one POSIX shared-memory object, native-endian:
//!
//! | offset | size | field | notes |
//! |---|---|---|---|
//! | 0 | 8 | `magic` | `u64` [`MAGIC`]; read as another value on a machine of the other endianness |
//! | 8 | 4 | `version` | `u32` [`LAYOUT_VERSION`] |
//! | 12 | 4 | `header_size` | `u32`, bytes before the first buffer: [`HEADER_SIZE`] |
//! | 16 | 4 | `dtype` | `u32` element code, see [`Dtype`](crate::Dtype::code) |
//! | 20 | 4 | `elem_size` | `u32` bytes per element |
//! | 24 | 4 | `ndim` | `u32`, 1 to [`MAX_NDIM`] |
//! | 28 | 4 | `nbuffers` | `u32`, 2 to [`MAX_BUFFERS`] |
//! | 32 | 128 | `shape` | `u64[16]`, row-major (C order); entries past `ndim` are 0 |
//! | 160 | 8 | `first_buffer` | `u64`, byte offset of buffer 0: [`HEADER_SIZE`], or the huge page size (see below) |
//! | 168 | 8 | `buffer_stride` | `u64`, bytes from one buffer to the next: `frame_bytes` rounded up to [`ALIGN`], or to the huge page size |
//! | 176 | 8 | `frame_bytes` | `u64`, bytes of one frame: product of shape times `elem_size` |
//! | 184 | 8 | `total_size` | `u64`, bytes the segment uses: the object holds at least this many (on hugetlbfs, rounded up to its page) |
//! | 192 | 4 | `init` | `u32` [`INIT_READY`]: the creator writes the whole descriptor before the segment gets its name |
//! | 196 | 4 | `flags` | `u32`: bit 0 [`FLAG_WAKE_ALWAYS`]; other bits 0 |
//! | 200 | 8 | `created_unix_ns` | `u64`, the creator's CLOCK_REALTIME when it made the segment |
//! | 208 | 16 | `lock_id` | 16 random bytes naming the segment's lock file, `.dbshm-lock-<32 hex digits>` beside it; at this offset in every later version too |
//! | 256 | 8 | `latest` | atomic `u64`: the latest published frame's number times 16, plus the buffer that holds it; 0 before the first write |
//! | 264 | 4 | `notify` | atomic `u32` futex word, incremented at each publish |
//! | 268 | 4 | `writer_pid` | atomic `u32`, pid of the last process that took the writer role (information only) |
//! | 384 | 4 | `waiters` | atomic `u32`, processes blocked in a wait that could count themselves |
//! | 512 + 128·i | 8 | `slot[i].stamp` | atomic `u64` seqlock stamp of buffer i: odd while it is written |
//! | 520 + 128·i | 8 | `slot[i].frame` | atomic `u64`, number of the frame buffer i holds |
//! | 528 + 128·i | 8 | `slot[i].timestamp_ns` | atomic `u64`, writer's CLOCK_MONOTONIC at publish |
//! | 2560 | 4 | `backing_page_kb` | `u32`: see [`Backing`]; 0 if not recorded |
//! | 2564 + 4·i | 4 | `backing_huge_kb[i]` | `u32`: kB of buffer i on huge pages, see [`Backing`] |
//!
//! `slot[i]` exists for i below [`MAX_BUFFERS`]; those past `nbuffers` stay
//! zero. The second page holds the pin records (see `pin.rs`):
//!
//! | offset | size | field | notes |
//! |---|---|---|---|
//! | 4096 | 4 | `pins_in_use` | atomic `u32`: bit r set while pin record r has an owner (or had one that died) |
//! | 4224 + 128·r | 8 | `pin[r]` | atomic `u64`: the record's generation times 2^16, plus a bit for each buffer its owner pins |
//!
//! Record r's owner holds an exclusive lock on byte 2 + r of the segment. The
//! buffers follow the header, each starting on an [`ALIGN`] boundary; the
//! writer fills any buffer but the latest's. In a directory whose
//! filesystem backs files with huge pages, a frame of one huge page or more
//! gets buffers that start on huge-page boundaries: `first_buffer` and
//! `buffer_stride` are then multiples of the huge page size. On hugetlbfs
//! every page is a huge one, so a smaller frame keeps the layout above,
//! in as few huge pages as hold it. Readers take
//! both from the header, checked: multiples of [`ALIGN`], the first buffer
//! after the header, each buffer at least a frame, all inside `total_size`. Groups of fields written by different
//! parties at different times sit 128 bytes apart, so that neither a cache line
//! nor an adjacent-line prefetch pair is shared between them.

use crate::sync::{AtomicU32, AtomicU64};

use crate::Dtype;

/// First eight bytes of every segment: "DBSHM_V1" read as a big-endian `u64`.
pub const MAGIC: u64 = u64::from_be_bytes(*b"DBSHM_V1");
/// Version of this layout; a segment of another version is refused.
pub const LAYOUT_VERSION: u32 = 4;
/// Bytes of the header, before the first buffer: the protocol's page and
/// the page reserved for pinned reads.
pub const HEADER_SIZE: usize = 8192;
/// Alignment of each buffer within the object.
pub const ALIGN: usize = 4096;
/// Most dimensions a shape may have.
pub const MAX_NDIM: usize = 16;
/// Value of `init` once the creator has written every other header field.
pub const INIT_READY: u32 = u32::from_be_bytes(*b"RDY!");
/// Fewest buffers a segment has: double buffering.
pub const MIN_BUFFERS: usize = 2;
/// Most buffers a segment may have.
pub const MAX_BUFFERS: usize = 16;
/// `latest` is the frame number times this, plus the buffer.
pub const LATEST_BUFFERS: u64 = 16;
/// Most handles that may hold pinned frames at once: the pin records.
pub const MAX_PINNERS: usize = 31;
/// A pin record's word is its generation times this, plus the buffers pinned.
pub const PIN_GENERATION: u64 = 1 << 16;
/// Bytes of the random id that names a segment's lock file.
pub const LOCK_ID_SIZE: usize = 16;
/// `flags` bit: the writer wakes the futex at every publish, not only when
/// `waiters` is non-zero. Set at creation when the mode lets a class of users
/// read the segment but not write it: such readers cannot count themselves.
pub const FLAG_WAKE_ALWAYS: u32 = 1;

/// Byte offsets of the header's fields, as in the table above: the one
/// place the descriptor's writer and reader, the observers and the tests
/// take them from (the struct is checked against them at compile time).
pub mod offset {
    /// `magic`, u64.
    pub const MAGIC: usize = 0;
    /// `version`, u32.
    pub const VERSION: usize = 8;
    /// `header_size`, u32.
    pub const HEADER_SIZE: usize = 12;
    /// `dtype`, u32.
    pub const DTYPE: usize = 16;
    /// `elem_size`, u32.
    pub const ELEM_SIZE: usize = 20;
    /// `ndim`, u32.
    pub const NDIM: usize = 24;
    /// `nbuffers`, u32.
    pub const NBUFFERS: usize = 28;
    /// `shape`, u64 per dimension.
    pub const SHAPE: usize = 32;
    /// `first_buffer`, u64.
    pub const FIRST_BUFFER: usize = 160;
    /// `buffer_stride`, u64.
    pub const BUFFER_STRIDE: usize = 168;
    /// `frame_bytes`, u64.
    pub const FRAME_BYTES: usize = 176;
    /// `total_size`, u64.
    pub const TOTAL_SIZE: usize = 184;
    /// `init`, u32.
    pub const INIT: usize = 192;
    /// `flags`, u32.
    pub const FLAGS: usize = 196;
    /// `created_unix_ns`, u64.
    pub const CREATED_UNIX_NS: usize = 200;
    /// `lock_id`, 16 bytes.
    pub const LOCK_ID: usize = 208;
    /// `latest`, atomic u64.
    pub const LATEST: usize = 256;
    /// `notify`, atomic u32.
    pub const NOTIFY: usize = 264;
    /// `writer_pid`, atomic u32.
    pub const WRITER_PID: usize = 268;
    /// `waiters`, atomic u32.
    pub const WAITERS: usize = 384;
    /// `slot[0]`; `slot[i]` is at `SLOTS + i * SLOT_SIZE`.
    pub const SLOTS: usize = 512;
    /// Bytes of one slot.
    pub const SLOT_SIZE: usize = 128;
    /// `backing_page_kb`, u32.
    pub const BACKING_PAGE_KB: usize = 2560;
    /// `backing_huge_kb[0]`; `[i]` is 4 bytes further each, u32.
    pub const BACKING_HUGE_KB: usize = 2564;
    /// A slot's `stamp`, atomic u64, from the slot's start.
    pub const SLOT_STAMP: usize = 0;
    /// A slot's `frame`, atomic u64, from the slot's start.
    pub const SLOT_FRAME: usize = 8;
    /// A slot's `timestamp_ns`, atomic u64, from the slot's start.
    pub const SLOT_TIMESTAMP_NS: usize = 16;
    /// `pins_in_use`, atomic u32, at the start of the second page.
    pub const PINS_IN_USE: usize = 4096;
    /// `pin[0]`; `pin[r]` is at `PINS + r * PIN_SIZE`.
    pub const PINS: usize = 4224;
    /// Bytes of one pin record.
    pub const PIN_SIZE: usize = 128;
}

/// One buffer's publication state.
#[repr(C, align(128))]
pub(crate) struct Slot {
    /// The seqlock's stamp: odd while the writer fills the buffer, even when
    /// it holds a whole frame.
    pub(crate) stamp: AtomicU64,
    /// Number of the frame the buffer holds (valid when `stamp` is even and unchanged).
    pub(crate) frame: AtomicU64,
    /// Writer's CLOCK_MONOTONIC when that frame was published, in nanoseconds.
    pub(crate) timestamp_ns: AtomicU64,
}

/// One handle's pin record: which buffers it holds, and a generation that
/// changes with each new owner.
#[repr(C, align(128))]
pub(crate) struct PinRecord {
    pub(crate) word: AtomicU64,
}

/// The second page of the header: the pin records.
#[repr(C)]
pub(crate) struct PinPage {
    pub(crate) in_use: AtomicU32,
    _pad: [u8; 124],
    pub(crate) records: [PinRecord; MAX_PINNERS],
}

/// The header as mapped in memory; see the module documentation for the table.
///
/// The plain fields are written once by the creator before the segment has
/// its name (`init` among them) and never
/// again; the atomic fields are the protocol's.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) magic: u64,
    pub(crate) version: u32,
    pub(crate) header_size: u32,
    pub(crate) dtype: u32,
    pub(crate) elem_size: u32,
    pub(crate) ndim: u32,
    pub(crate) nbuffers: u32,
    pub(crate) shape: [u64; MAX_NDIM],
    pub(crate) first_buffer: u64,
    pub(crate) buffer_stride: u64,
    pub(crate) frame_bytes: u64,
    pub(crate) total_size: u64,
    pub(crate) init: AtomicU32,
    pub(crate) flags: u32,
    pub(crate) created_unix_ns: u64,
    pub(crate) lock_id: [u8; LOCK_ID_SIZE],
    _pad0: [u8; 32],
    pub(crate) latest: AtomicU64,
    pub(crate) notify: AtomicU32,
    pub(crate) writer_pid: AtomicU32,
    _pad1: [u8; 112],
    pub(crate) waiters: AtomicU32,
    _pad2: [u8; 124],
    pub(crate) slots: [Slot; MAX_BUFFERS],
    pub(crate) backing_page_kb: u32,
    pub(crate) backing_huge_kb: [u32; MAX_BUFFERS],
}

// The table in the module documentation, and `offset`, are the contract
// with other languages.
// (Loom's atomics are larger: the model check does not use this layout.)
#[cfg(not(loom))]
const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(Header, magic) == offset::MAGIC);
    assert!(offset_of!(Header, version) == offset::VERSION);
    assert!(offset_of!(Header, header_size) == offset::HEADER_SIZE);
    assert!(offset_of!(Header, dtype) == offset::DTYPE);
    assert!(offset_of!(Header, elem_size) == offset::ELEM_SIZE);
    assert!(offset_of!(Header, ndim) == offset::NDIM);
    assert!(offset_of!(Header, nbuffers) == offset::NBUFFERS);
    assert!(offset_of!(Header, shape) == offset::SHAPE);
    assert!(offset_of!(Header, first_buffer) == offset::FIRST_BUFFER);
    assert!(offset_of!(Header, buffer_stride) == offset::BUFFER_STRIDE);
    assert!(offset_of!(Header, frame_bytes) == offset::FRAME_BYTES);
    assert!(offset_of!(Header, total_size) == offset::TOTAL_SIZE);
    assert!(offset_of!(Header, init) == offset::INIT);
    assert!(offset_of!(Header, flags) == offset::FLAGS);
    assert!(offset_of!(Header, created_unix_ns) == offset::CREATED_UNIX_NS);
    assert!(offset_of!(Header, lock_id) == offset::LOCK_ID);
    assert!(offset_of!(Header, backing_page_kb) == offset::BACKING_PAGE_KB);
    assert!(offset_of!(Header, backing_huge_kb) == offset::BACKING_HUGE_KB);
    assert!(offset_of!(Header, latest) == offset::LATEST);
    assert!(offset_of!(Header, notify) == offset::NOTIFY);
    assert!(offset_of!(Header, writer_pid) == offset::WRITER_PID);
    assert!(offset_of!(Header, waiters) == offset::WAITERS);
    assert!(offset_of!(Header, slots) == offset::SLOTS);
    assert!(offset_of!(Slot, stamp) == offset::SLOT_STAMP);
    assert!(offset_of!(Slot, frame) == offset::SLOT_FRAME);
    assert!(offset_of!(Slot, timestamp_ns) == offset::SLOT_TIMESTAMP_NS);
    assert!(std::mem::size_of::<Slot>() == offset::SLOT_SIZE);
    assert!(offset::LOCK_ID + LOCK_ID_SIZE <= DESCRIPTOR_SIZE);
    // The first page; the second is the pin records'.
    assert!(std::mem::size_of::<Header>() <= offset::PINS_IN_USE);
    assert!(offset_of!(PinPage, in_use) == 0);
    assert!(offset_of!(PinPage, records) == offset::PINS - offset::PINS_IN_USE);
    assert!(std::mem::size_of::<PinRecord>() == offset::PIN_SIZE);
    assert!(offset::PINS_IN_USE + std::mem::size_of::<PinPage>() == HEADER_SIZE);
};

/// The `latest` word of frame `frame` in buffer `buffer`.
pub(crate) fn latest_word(frame: u64, buffer: usize) -> u64 {
    // Wrapping: only a damaged header gets near the top, and it must not
    // panic the writer.
    frame.wrapping_mul(LATEST_BUFFERS) | buffer as u64
}

/// The frame number and the buffer a `latest` word names.
pub(crate) fn latest_parts(word: u64) -> (u64, usize) {
    (word / LATEST_BUFFERS, (word % LATEST_BUFFERS) as usize)
}

#[cfg(loom)]
impl PinPage {
    /// An empty pin page for the model check.
    pub(crate) fn for_model() -> PinPage {
        PinPage {
            in_use: AtomicU32::new(0),
            _pad: [0; 124],
            records: std::array::from_fn(|_| PinRecord {
                word: AtomicU64::new(0),
            }),
        }
    }
}

#[cfg(loom)]
impl Header {
    /// A zeroed header for the model check, which cannot zero loom's atomics.
    pub(crate) fn for_model() -> Header {
        let slot = || Slot {
            stamp: AtomicU64::new(0),
            frame: AtomicU64::new(0),
            timestamp_ns: AtomicU64::new(0),
        };
        Header {
            magic: 0,
            version: 0,
            header_size: 0,
            dtype: 0,
            elem_size: 0,
            ndim: 0,
            nbuffers: 0,
            shape: [0; MAX_NDIM],
            first_buffer: 0,
            buffer_stride: 0,
            frame_bytes: 0,
            total_size: 0,
            init: AtomicU32::new(0),
            flags: 0,
            created_unix_ns: 0,
            lock_id: [0; LOCK_ID_SIZE],
            _pad0: [0; 32],
            latest: AtomicU64::new(0),
            notify: AtomicU32::new(0),
            writer_pid: AtomicU32::new(0),
            _pad1: [0; 112],
            waiters: AtomicU32::new(0),
            _pad2: [0; 124],
            slots: std::array::from_fn(|_| slot()),
            backing_page_kb: 0,
            backing_huge_kb: [0; MAX_BUFFERS],
        }
    }
}

/// Bytes of the header that describe the segment (everything before the
/// protocol's atomics); what [`Geometry::parse`] reads.
pub(crate) const DESCRIPTOR_SIZE: usize = 256;

/// What backs a segment's buffers, as the creator's kernel reported it
/// (its own mapping's smaps, once it had faulted each buffer in), recorded
/// in the header for observers, which never map segments. Information only:
/// the kernel may change it later (it can split or collapse huge pages).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Backing {
    /// The size of the huge pages counted in `huge_kb`, in kB; the base
    /// page size where no byte is on huge pages.
    pub page_kb: u32,
    /// For each buffer, how many kB of its frame are on huge pages.
    pub huge_kb: Vec<u32>,
    /// The kB of each buffer's frame (rounded up).
    pub frame_kb: u32,
}

impl Backing {
    /// Whether every byte of buffer `i`'s frame is on huge pages.
    pub fn all_huge(&self, i: usize) -> bool {
        self.huge_kb.get(i).is_some_and(|&kb| kb >= self.frame_kb)
    }

    /// The record in a header page, for a segment of `geometry`: `None`
    /// where it was not recorded, or makes no sense.
    pub(crate) fn read(page: &[u8], geometry: &Geometry) -> Option<Backing> {
        let u32_at =
            |off: usize| Some(u32::from_ne_bytes(page.get(off..off + 4)?.try_into().ok()?));
        let page_kb = u32_at(offset::BACKING_PAGE_KB)?;
        let frame_kb = u32::try_from(geometry.frame_bytes.div_ceil(1024)).ok()?;
        let huge_kb = (0..geometry.nbuffers)
            .map(|i| u32_at(offset::BACKING_HUGE_KB + 4 * i))
            .collect::<Option<Vec<u32>>>()?;
        let sane = page_kb.is_power_of_two() && huge_kb.iter().all(|&kb| kb <= frame_kb);
        sane.then_some(Backing {
            page_kb,
            huge_kb,
            frame_kb,
        })
    }

    /// The record's bytes, to be written at [`offset::BACKING_PAGE_KB`].
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut b = self.page_kb.to_ne_bytes().to_vec();
        for kb in &self.huge_kb {
            b.extend_from_slice(&kb.to_ne_bytes());
        }
        b
    }
}

/// Why a shape cannot be a segment's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShapeError {
    /// No dimensions.
    NoDimensions,
    /// More than [`MAX_NDIM`] dimensions.
    TooManyDimensions,
    /// A dimension of length 0.
    ZeroDimension,
    /// The byte size does not fit in memory.
    TooLarge,
}

impl ShapeError {
    /// The reason, as a phrase for an error message.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            ShapeError::NoDimensions => "a shape needs at least one dimension",
            ShapeError::TooManyDimensions => "a shape has at most 16 dimensions",
            ShapeError::ZeroDimension => "every dimension must be at least 1",
            ShapeError::TooLarge => "the frame's byte size overflows",
        }
    }
}

/// Where everything is in a segment of a given element type and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    /// Elements in one frame.
    pub(crate) len: usize,
    /// Bytes in one frame.
    pub(crate) frame_bytes: usize,
    /// Buffers, [`MIN_BUFFERS`] to [`MAX_BUFFERS`].
    pub(crate) nbuffers: usize,
    /// Byte offset of buffer 0: [`HEADER_SIZE`], or a huge page's size.
    pub(crate) first_buffer: usize,
    /// Bytes from one buffer to the next.
    pub(crate) buffer_stride: usize,
    pub(crate) total_size: usize,
    /// The header's `flags`.
    pub(crate) flags: u32,
    /// The header's `created_unix_ns`.
    pub(crate) created_unix_ns: u64,
    /// The header's `lock_id`.
    pub(crate) lock_id: [u8; LOCK_ID_SIZE],
}

fn round_up(n: usize, align: usize) -> Option<usize> {
    n.checked_add(align - 1).map(|v| v / align * align)
}

impl Geometry {
    /// The geometry of a new segment of `nbuffers` buffers (which the
    /// caller has checked: [`MIN_BUFFERS`] to [`MAX_BUFFERS`]); the shape's
    /// checks live here.
    pub(crate) fn new(
        dtype: Dtype,
        shape: &[usize],
        nbuffers: usize,
    ) -> Result<Geometry, ShapeError> {
        Geometry::with_huge_pages(dtype, shape, nbuffers, None)
    }

    /// [`new`](Self::new) for a filesystem that backs files with huge
    /// pages of `huge` bytes: a frame of one huge page or more gets buffers
    /// on huge-page boundaries, so that huge pages can back them whole; a
    /// smaller frame, and `None`, keeps [`ALIGN`].
    pub(crate) fn with_huge_pages(
        dtype: Dtype,
        shape: &[usize],
        nbuffers: usize,
        huge: Option<usize>,
    ) -> Result<Geometry, ShapeError> {
        assert!((MIN_BUFFERS..=MAX_BUFFERS).contains(&nbuffers));
        if shape.is_empty() {
            return Err(ShapeError::NoDimensions);
        }
        if shape.len() > MAX_NDIM {
            return Err(ShapeError::TooManyDimensions);
        }
        if shape.contains(&0) {
            return Err(ShapeError::ZeroDimension);
        }
        let len = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or(ShapeError::TooLarge)?;
        let frame_bytes = len.checked_mul(dtype.size()).ok_or(ShapeError::TooLarge)?;
        let align = huge
            .filter(|&h| h.is_power_of_two() && h > ALIGN && frame_bytes >= h)
            .unwrap_or(ALIGN);
        let first_buffer = round_up(HEADER_SIZE, align).ok_or(ShapeError::TooLarge)?;
        let stride = round_up(frame_bytes, align).ok_or(ShapeError::TooLarge)?;
        let total_size = stride
            .checked_mul(nbuffers)
            .and_then(|b| b.checked_add(first_buffer))
            .filter(|&t| t <= isize::MAX as usize && u64::try_from(t).is_ok())
            .ok_or(ShapeError::TooLarge)?;
        Ok(Geometry {
            dtype,
            shape: shape.to_vec(),
            len,
            frame_bytes,
            nbuffers,
            first_buffer,
            buffer_stride: stride,
            total_size,
            flags: 0,
            created_unix_ns: 0,
            lock_id: [0; LOCK_ID_SIZE],
        })
    }

    /// This geometry with its buffers placed for huge pages of `huge` bytes,
    /// as [`with_huge_pages`](Self::with_huge_pages) places them.
    pub(crate) fn placed_for(&self, huge: Option<usize>) -> Result<Geometry, ShapeError> {
        let placed = Geometry::with_huge_pages(self.dtype, &self.shape, self.nbuffers, huge)?;
        Ok(Geometry {
            first_buffer: placed.first_buffer,
            buffer_stride: placed.buffer_stride,
            total_size: placed.total_size,
            ..self.clone()
        })
    }

    /// Byte offset of buffer `i` in the segment.
    pub(crate) fn buffer_offset(&self, i: usize) -> usize {
        self.first_buffer + i * self.buffer_stride
    }

    /// Writes the descriptor of a new segment's header, `init` included (a
    /// segment is complete before its name appears), but not the protocol's
    /// atomics, which start at zero.
    pub(crate) fn write_descriptor(&self, bytes: &mut [u8; DESCRIPTOR_SIZE]) {
        let mut put = |off: usize, v: &[u8]| bytes[off..off + v.len()].copy_from_slice(v);
        put(offset::MAGIC, &MAGIC.to_ne_bytes());
        put(offset::VERSION, &LAYOUT_VERSION.to_ne_bytes());
        put(offset::HEADER_SIZE, &(HEADER_SIZE as u32).to_ne_bytes());
        put(offset::DTYPE, &self.dtype.code().to_ne_bytes());
        put(offset::ELEM_SIZE, &(self.dtype.size() as u32).to_ne_bytes());
        put(offset::NDIM, &(self.shape.len() as u32).to_ne_bytes());
        put(offset::NBUFFERS, &(self.nbuffers as u32).to_ne_bytes());
        for (i, &d) in self.shape.iter().enumerate() {
            put(offset::SHAPE + 8 * i, &(d as u64).to_ne_bytes());
        }
        put(
            offset::FIRST_BUFFER,
            &(self.first_buffer as u64).to_ne_bytes(),
        );
        put(
            offset::BUFFER_STRIDE,
            &(self.buffer_stride as u64).to_ne_bytes(),
        );
        put(
            offset::FRAME_BYTES,
            &(self.frame_bytes as u64).to_ne_bytes(),
        );
        put(offset::TOTAL_SIZE, &(self.total_size as u64).to_ne_bytes());
        put(offset::INIT, &INIT_READY.to_ne_bytes());
        put(offset::FLAGS, &self.flags.to_ne_bytes());
        put(offset::CREATED_UNIX_NS, &self.created_unix_ns.to_ne_bytes());
        put(offset::LOCK_ID, &self.lock_id);
    }

    /// Reads and checks a header's descriptor, taken from an object of
    /// `object_size` bytes.
    ///
    /// Succeeds only when the header is one this version wrote and every byte
    /// it describes lies within the object, so that a caller may map
    /// `total_size` bytes and touch both buffers without a SIGBUS.
    pub(crate) fn parse(
        bytes: &[u8; DESCRIPTOR_SIZE],
        object_size: u64,
    ) -> Result<Geometry, String> {
        let u32_at = |off: usize| u32::from_ne_bytes(bytes[off..off + 4].try_into().unwrap());
        let u64_at = |off: usize| u64::from_ne_bytes(bytes[off..off + 8].try_into().unwrap());

        let magic = u64_at(offset::MAGIC);
        if magic != MAGIC {
            return Err(if magic.swap_bytes() == MAGIC {
                "the segment was written on a machine of the other byte order".into()
            } else {
                format!("bad magic {magic:#018x}: not a dbshm segment")
            });
        }
        let init = u32_at(offset::INIT);
        if init != INIT_READY {
            return Err(format!(
                "the header is not initialised (init word {init:#010x})"
            ));
        }
        let version = u32_at(offset::VERSION);
        if version != LAYOUT_VERSION {
            return Err(format!(
                "layout version {version}, this library reads version {LAYOUT_VERSION} \
                 (a segment made by an older dbshm: remove it and create it again)"
            ));
        }
        let header_size = u32_at(offset::HEADER_SIZE);
        if header_size as usize != HEADER_SIZE {
            return Err(format!("header size {header_size}, expected {HEADER_SIZE}"));
        }
        let code = u32_at(offset::DTYPE);
        let dtype = Dtype::from_code(code).ok_or_else(|| format!("unknown dtype code {code}"))?;
        let elem_size = u32_at(offset::ELEM_SIZE);
        if elem_size as usize != dtype.size() {
            return Err(format!(
                "element size {elem_size} does not match dtype {dtype}"
            ));
        }
        let ndim = u32_at(offset::NDIM) as usize;
        if ndim == 0 || ndim > MAX_NDIM {
            return Err(format!("ndim {ndim} is outside 1..={MAX_NDIM}"));
        }
        let nbuffers = u32_at(offset::NBUFFERS) as usize;
        if !(MIN_BUFFERS..=MAX_BUFFERS).contains(&nbuffers) {
            return Err(format!(
                "{nbuffers} buffers, outside {MIN_BUFFERS}..={MAX_BUFFERS}"
            ));
        }
        let mut shape = Vec::with_capacity(ndim);
        for i in 0..MAX_NDIM {
            let d = u64_at(offset::SHAPE + 8 * i);
            if i < ndim {
                shape.push(usize::try_from(d).map_err(|_| format!("dimension {i} is {d}"))?);
            } else if d != 0 {
                return Err(format!("shape entry {i} is {d} beyond ndim {ndim}"));
            }
        }
        let mut expected = Geometry::new(dtype, &shape, nbuffers)
            .map_err(|e| format!("shape {shape:?}: {}", e.reason()))?;
        let flags = u32_at(offset::FLAGS);
        if flags & !FLAG_WAKE_ALWAYS != 0 {
            return Err(format!("unknown flags {flags:#x}"));
        }
        expected.flags = flags;
        expected.created_unix_ns = u64_at(offset::CREATED_UNIX_NS);
        expected.lock_id = bytes[offset::LOCK_ID..offset::LOCK_ID + LOCK_ID_SIZE]
            .try_into()
            .unwrap();

        let frame_bytes = u64_at(offset::FRAME_BYTES);
        if frame_bytes != expected.frame_bytes as u64 {
            return Err(format!(
                "frame size is {frame_bytes}, expected {} for shape {shape:?}",
                expected.frame_bytes
            ));
        }
        // Where the buffers are is the creator's choice (huge pages or
        // not); that they lie after the header, aligned, a frame each and
        // inside the segment is checked.
        let (first, stride) = (u64_at(offset::FIRST_BUFFER), u64_at(offset::BUFFER_STRIDE));
        if first < HEADER_SIZE as u64 || first % ALIGN as u64 != 0 {
            return Err(format!(
                "first buffer is at {first}: not a multiple of {ALIGN} after the {HEADER_SIZE}-byte header"
            ));
        }
        if stride < frame_bytes || stride % ALIGN as u64 != 0 {
            return Err(format!(
                "buffer stride is {stride}: not a multiple of {ALIGN} holding a frame of {frame_bytes} bytes"
            ));
        }
        let total = u64_at(offset::TOTAL_SIZE);
        let end = stride
            .checked_mul(nbuffers as u64)
            .and_then(|b| b.checked_add(first));
        if end != Some(total) {
            return Err(format!(
                "total size is {total}, but the first buffer at {first} and the buffer stride {stride} \
                 for {nbuffers} buffers make {end:?}"
            ));
        }
        let (Ok(first), Ok(stride), Ok(total)) = (
            usize::try_from(first),
            usize::try_from(stride),
            usize::try_from(total),
        ) else {
            return Err(format!("total size {total} does not fit this machine"));
        };
        if total > isize::MAX as usize {
            return Err(format!("total size {total} does not fit this machine"));
        }
        expected.first_buffer = first;
        expected.buffer_stride = stride;
        expected.total_size = total;
        if object_size < expected.total_size as u64 {
            return Err(format!(
                "the object is {object_size} bytes but its header describes {} (truncated)",
                expected.total_size
            ));
        }
        Ok(expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(g: &Geometry) -> [u8; DESCRIPTOR_SIZE] {
        let mut b = [0u8; DESCRIPTOR_SIZE];
        g.write_descriptor(&mut b);
        b
    }

    #[test]
    fn what_backs_the_buffers_reads_back_as_recorded_and_nonsense_not_at_all() {
        let g = Geometry::new(Dtype::U8, &[1080, 1920, 3], 3).unwrap();
        let mut page = vec![0u8; HEADER_SIZE];
        assert_eq!(Backing::read(&page, &g), None, "not recorded");
        let b = Backing {
            page_kb: 2048,
            huge_kb: vec![6075, 0, 1024],
            frame_kb: 6075,
        };
        let bytes = b.bytes();
        page[offset::BACKING_PAGE_KB..offset::BACKING_PAGE_KB + bytes.len()]
            .copy_from_slice(&bytes);
        assert_eq!(Backing::read(&page, &g), Some(b.clone()));
        assert!(b.all_huge(0) && !b.all_huge(1) && !b.all_huge(2));
        // A page size that is no power of two, more of a buffer than its frame.
        let mut odd = page.clone();
        odd[offset::BACKING_PAGE_KB..][..4].copy_from_slice(&3000u32.to_ne_bytes());
        assert_eq!(Backing::read(&odd, &g), None);
        let mut over = page.clone();
        over[offset::BACKING_HUGE_KB + 4..][..4].copy_from_slice(&6076u32.to_ne_bytes());
        assert_eq!(Backing::read(&over, &g), None);
    }

    #[test]
    fn big_frames_get_huge_page_buffers_and_small_ones_keep_theirs() {
        const HUGE: usize = 2 << 20;
        let big = Geometry::with_huge_pages(Dtype::U8, &[1080, 1920, 3], 3, Some(HUGE)).unwrap();
        assert_eq!((big.first_buffer, big.buffer_stride), (HUGE, 3 * HUGE));
        assert_eq!(big.total_size, HUGE + 3 * 3 * HUGE);
        let mut b = [0u8; DESCRIPTOR_SIZE];
        big.write_descriptor(&mut b);
        assert_eq!(Geometry::parse(&b, big.total_size as u64), Ok(big.clone()));
        let small = Geometry::with_huge_pages(Dtype::U8, &[100, 100, 3], 2, Some(HUGE)).unwrap();
        assert_eq!(small, Geometry::new(Dtype::U8, &[100, 100, 3], 2).unwrap());
        // A stride that is no multiple of the page, or buffers past the end.
        let mut bad = b;
        bad[offset::BUFFER_STRIDE..offset::BUFFER_STRIDE + 8]
            .copy_from_slice(&(3 * HUGE as u64 + 1).to_ne_bytes());
        assert!(Geometry::parse(&bad, big.total_size as u64)
            .unwrap_err()
            .contains("buffer stride"));
        let mut bad = b;
        bad[offset::FIRST_BUFFER..offset::FIRST_BUFFER + 8]
            .copy_from_slice(&(2 * HUGE as u64).to_ne_bytes());
        assert!(Geometry::parse(&bad, u64::MAX)
            .unwrap_err()
            .contains("total size"));
    }

    #[test]
    fn buffers_are_page_aligned_after_the_header() {
        let g = Geometry::new(Dtype::U8, &[100, 100, 3], 2).unwrap();
        assert_eq!(g.len, 30_000);
        assert_eq!(g.frame_bytes, 30_000);
        assert_eq!(
            (g.buffer_offset(0), g.buffer_offset(1)),
            (8192, 8192 + 32768)
        );
        assert_eq!(g.total_size, 8192 + 2 * 32768);
        let g = Geometry::new(Dtype::F64, &[512], 5).unwrap();
        assert_eq!(
            (g.buffer_offset(0), g.buffer_offset(4)),
            (8192, 8192 + 4 * 4096)
        );
        assert_eq!(g.total_size, 8192 + 5 * 4096);
    }

    #[test]
    fn invalid_shapes_are_refused_with_their_reason() {
        assert_eq!(
            Geometry::new(Dtype::U8, &[], 2),
            Err(ShapeError::NoDimensions)
        );
        assert_eq!(
            Geometry::new(Dtype::U8, &[1; 17], 2),
            Err(ShapeError::TooManyDimensions)
        );
        assert!(Geometry::new(Dtype::U8, &[1; 16], 2).is_ok());
        assert_eq!(
            Geometry::new(Dtype::U8, &[3, 0], 2),
            Err(ShapeError::ZeroDimension)
        );
        assert_eq!(
            Geometry::new(Dtype::U8, &[usize::MAX, 2], 2),
            Err(ShapeError::TooLarge)
        );
        assert_eq!(
            Geometry::new(Dtype::U64, &[usize::MAX / 4], 2),
            Err(ShapeError::TooLarge)
        );
        // Fits in usize, but not with the header and the second buffer.
        assert_eq!(
            Geometry::new(Dtype::U8, &[isize::MAX as usize / 2 + 1], 2),
            Err(ShapeError::TooLarge)
        );
    }

    #[test]
    fn a_written_descriptor_parses_back() {
        let mut g = Geometry::new(Dtype::I16, &[7, 5, 3, 2], 2).unwrap();
        g.flags = FLAG_WAKE_ALWAYS;
        let b = descriptor(&g);
        assert_eq!(Geometry::parse(&b, g.total_size as u64), Ok(g.clone()));
        assert_eq!(Geometry::parse(&b, g.total_size as u64 + 4096), Ok(g));
    }

    #[test]
    fn a_truncated_object_is_refused() {
        let g = Geometry::new(Dtype::U8, &[100, 100, 3], 3).unwrap();
        let err = Geometry::parse(&descriptor(&g), g.total_size as u64 - 1).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn every_corrupted_field_is_refused() {
        let g = Geometry::new(Dtype::F32, &[4, 4], 2).unwrap();
        let good = descriptor(&g);
        // Offsets of each field (and a value that breaks it).
        let cases: &[(usize, &[u8], &str)] = &[
            (offset::MAGIC, b"NOTDBSHM", "magic"),
            (offset::VERSION, &1u32.to_ne_bytes(), "version"),
            (offset::HEADER_SIZE, &512u32.to_ne_bytes(), "header size"),
            (offset::DTYPE, &99u32.to_ne_bytes(), "dtype"),
            (offset::ELEM_SIZE, &8u32.to_ne_bytes(), "element size"),
            (offset::NDIM, &0u32.to_ne_bytes(), "ndim"),
            (offset::NDIM, &17u32.to_ne_bytes(), "ndim"),
            (offset::NDIM, &3u32.to_ne_bytes(), "shape"),
            (offset::NBUFFERS, &1u32.to_ne_bytes(), "buffers"),
            (offset::NBUFFERS, &17u32.to_ne_bytes(), "buffers"),
            (offset::NBUFFERS, &3u32.to_ne_bytes(), "total size"),
            (offset::SHAPE + 8, &0u64.to_ne_bytes(), "shape"),
            (offset::SHAPE + 16, &5u64.to_ne_bytes(), "beyond ndim"),
            (offset::FIRST_BUFFER, &0u64.to_ne_bytes(), "first buffer"),
            (
                offset::BUFFER_STRIDE,
                &8192u64.to_ne_bytes(),
                "buffer stride",
            ),
            (
                offset::FRAME_BYTES,
                &(1u64 << 40).to_ne_bytes(),
                "frame size",
            ),
            (offset::TOTAL_SIZE, &1u64.to_ne_bytes(), "total size"),
            (offset::INIT, &0u32.to_ne_bytes(), "not initialised"),
            (offset::FLAGS, &2u32.to_ne_bytes(), "flags"),
        ];
        for &(off, bad, what) in cases {
            let mut b = good;
            b[off..off + bad.len()].copy_from_slice(bad);
            let err = Geometry::parse(&b, u64::MAX).unwrap_err();
            assert!(
                err.contains(what),
                "corrupting {what} at {off} gave {err:?}"
            );
        }
        let mut swapped = good;
        swapped[..8].copy_from_slice(&MAGIC.swap_bytes().to_ne_bytes());
        assert!(Geometry::parse(&swapped, u64::MAX)
            .unwrap_err()
            .contains("byte order"));
    }
}

/// The validator against inputs no writer made: random bytes, a valid
/// descriptor with bits flipped, and objects of every size. Each must give
/// a clean answer: no panic, and `Ok` only for a geometry that fits the
/// object. `PROPTEST_CASES` sets the count (CI: 20,000 per property; the
/// soak in RELIABILITY.md: 1,000,000).
#[cfg(all(test, not(loom)))]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Whatever `parse` accepts is a segment that fits in the object.
    fn check(bytes: &[u8; DESCRIPTOR_SIZE], size: u64) {
        if let Ok(g) = Geometry::parse(bytes, size) {
            assert!(g.total_size as u64 <= size);
            assert!((0..g.nbuffers).all(|i| g.buffer_offset(i) + g.frame_bytes <= g.total_size));
            assert_eq!(g.len * g.dtype.size(), g.frame_bytes);
        }
    }

    /// A geometry a writer could make: up to 16 dimensions, small enough
    /// that every one is valid (no rejection).
    fn valid() -> impl Strategy<Value = Geometry> {
        (1u32..=10, 1usize..=MAX_NDIM, MIN_BUFFERS..=MAX_BUFFERS)
            .prop_flat_map(|(code, ndim, nbuffers)| {
                let most = if ndim <= 3 { 64 } else { 3 };
                (
                    Just(code),
                    prop::collection::vec(1usize..=most, ndim),
                    Just(nbuffers),
                )
            })
            .prop_map(|(code, shape, nbuffers)| {
                Geometry::new(Dtype::from_code(code).unwrap(), &shape, nbuffers).unwrap()
            })
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), DESCRIPTOR_SIZE), size in any::<u64>()) {
            check(&bytes.try_into().unwrap(), size);
        }

        #[test]
        fn flipped_bits_never_panic(g in valid(), flips in prop::collection::vec((0..DESCRIPTOR_SIZE * 8, any::<bool>()), 1..8), slack in 0u64..8192) {
            let mut bytes = [0u8; DESCRIPTOR_SIZE];
            g.write_descriptor(&mut bytes);
            for (bit, _) in &flips {
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            check(&bytes, g.total_size as u64 + slack);
        }

        #[test]
        fn truncated_objects_are_refused(g in valid(), short in 1u64..4096) {
            let mut bytes = [0u8; DESCRIPTOR_SIZE];
            g.write_descriptor(&mut bytes);
            let size = (g.total_size as u64).saturating_sub(short);
            prop_assert!(Geometry::parse(&bytes, size).is_err());
            prop_assert_eq!(Geometry::parse(&bytes, g.total_size as u64), Ok(g));
        }
    }
}
