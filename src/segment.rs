//! The OS object: create, open, size, map, lock, unlink, permissions.
//!
//! Everything that can fail here fails with a [`DbShmError`] naming the
//! segment; nothing here knows the protocol.

use std::ffi::c_void;
use std::mem::offset_of;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rustix::fs::{self, FallocateFlags, FlockOperation, Mode};
use rustix::io::Errno;
use rustix::mm::{self, MapFlags, ProtFlags};
use rustix::shm;

use crate::copy::copy_racy;
use crate::layout::{Geometry, Header, DESCRIPTOR_SIZE, HEADER_SIZE, INIT_READY, MAGIC};
use crate::{DbShmError, Result};

/// Where Linux keeps POSIX shared-memory objects.
pub(crate) const SHM_DIR: &str = "/dev/shm";

/// Longest name, in bytes: `shm_open` takes a path of at most NAME_MAX
/// (255) bytes, and the path is the name behind a '/'.
pub const MAX_NAME_LEN: usize = 254;

/// How long an opener waits for a header to be initialised when nobody
/// holds the creator's lock: a live creator takes it right after creating
/// the object, so after this long its creator is taken for dead.
const INIT_WAIT: Duration = Duration::from_secs(1);

/// Attempts at the writer lock before `WriterBusy` (see `try_lock_writer`).
const WRITER_LOCK_TRIES: u32 = 5;

/// How long an opener waits for a creator that is alive and still
/// initialising (reserving memory for a very large segment, say).
const CREATOR_WAIT: Duration = Duration::from_secs(10);

/// Checks a segment name and returns the path `shm_open` takes.
pub(crate) fn shm_path(name: &str) -> Result<String> {
    let reason = if name.is_empty() {
        Some("a name must not be empty")
    } else if name.contains('/') {
        Some("a name must not contain '/'")
    } else if name.contains('\0') {
        Some("a name must not contain a NUL byte")
    } else if name.len() > MAX_NAME_LEN {
        Some("a name is at most 254 bytes")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not names")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(DbShmError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(format!("/{name}")),
    }
}

/// Removes the name; handles that are open keep their mapping.
pub(crate) fn unlink(name: &str) -> Result<()> {
    let path = shm_path(name)?;
    shm::unlink(path.as_str()).map_err(|e| DbShmError::os(name, "unlink the segment", e))
}

/// A shared mapping, unmapped on drop.
struct Mapping {
    base: NonNull<u8>,
    size: usize,
}

impl Mapping {
    fn new(name: &str, fd: &OwnedFd, size: usize, writable: bool) -> Result<Mapping> {
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a fresh shared mapping placed by the kernel aliases no Rust
        // object; `size` is non-zero and the callers checked the object holds it.
        let ptr = unsafe { mm::mmap(std::ptr::null_mut(), size, prot, MapFlags::SHARED, fd, 0) }
            .map_err(|e| DbShmError::os(name, "map the segment", e))?;
        let base = NonNull::new(ptr.cast::<u8>()).expect("mmap never returns NULL on success");
        Ok(Mapping { base, size })
    }

    fn header(&self) -> &Header {
        // SAFETY: every mapping holds at least HEADER_SIZE bytes at page
        // alignment, Header fits in it, and every bit pattern is valid for its
        // integer and atomic fields; the fields other processes change are atomics.
        unsafe { &*self.base.as_ptr().cast::<Header>() }
    }

    /// The header's `init` word, reached without a reference to the rest of
    /// a header that a creator may still be writing.
    fn init(&self) -> &AtomicU32 {
        // SAFETY: `init` lies inside the mapping, 4-aligned (the mapping is
        // page-aligned), and is only ever accessed atomically.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset_of!(Header, init)).cast()) }
    }

    fn descriptor_bytes(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut bytes = [0u8; DESCRIPTOR_SIZE];
        // SAFETY: the mapping holds at least HEADER_SIZE bytes; a concurrent
        // creator or a rogue process may be writing them, which `copy_racy`
        // tolerates and `Geometry::parse` checks.
        unsafe { copy_racy(self.base.as_ptr(), bytes.as_mut_ptr(), DESCRIPTOR_SIZE) };
        bytes
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base` and `size` are a mapping made by `Mapping::new`, and
        // no reference into it outlives `self`.
        unsafe {
            let _ = mm::munmap(self.base.as_ptr().cast::<c_void>(), self.size);
        }
    }
}

/// What an opener finds in an object's header.
enum Probe {
    Ready(Geometry),
    /// Possibly a creator still at work: the reason if it never finishes,
    /// and whether nothing at all was written (what a dead creator leaves).
    NotReady {
        reason: String,
        blank: bool,
    },
}

/// One open, mapped segment object.
pub(crate) struct Segment {
    fd: OwnedFd,
    map: Mapping,
    writable: bool,
    /// For a read-only handle whose user may write: the header page mapped
    /// writable, to count itself among the waiters (see `notify`).
    waiter_map: Option<Mapping>,
}

// SAFETY: the mapping is owned by this value and lives until drop; all access
// to the shared bytes goes through atomics or `copy_racy`, which may be used
// from any thread.
unsafe impl Send for Segment {}
// SAFETY: as above; `&Segment` hands out only shared references to atomics
// and raw pointers whose uses are justified where they are dereferenced.
unsafe impl Sync for Segment {}

impl Segment {
    /// Creates a new object exclusively, reserves its memory and writes the
    /// header; `init` is set last. Nothing is left behind on failure.
    pub(crate) fn create(name: &str, geometry: &Geometry, mode: u32) -> Result<Segment> {
        let path = shm_path(name)?;
        let fd = shm::open(
            path.as_str(),
            shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| DbShmError::os(name, "create the segment", e))?;
        // From here on the name is ours: remove it if anything below fails.
        // The lock tells openers a creator is at work until `init` is set;
        // if this process dies first, the kernel drops it and they know.
        let result = fs::flock(&fd, FlockOperation::LockExclusive)
            .map_err(|e| DbShmError::os(name, "lock the new segment", e))
            .and_then(|()| Segment::initialise(name, fd, geometry, mode));
        if result.is_err() {
            let _ = shm::unlink(path.as_str());
        }
        result
    }

    fn initialise(name: &str, fd: OwnedFd, geometry: &Geometry, mode: u32) -> Result<Segment> {
        // shm_open applied the umask; the caller asked for this exact mode.
        fs::fchmod(&fd, Mode::from_raw_mode(mode))
            .map_err(|e| DbShmError::os(name, "set the segment's mode", e))?;
        let size = geometry.total_size;
        fs::ftruncate(&fd, size as u64).map_err(|e| DbShmError::os(name, "size the segment", e))?;
        // Reserve every page now: on a full /dev/shm this fails here with
        // ENOSPC instead of a SIGBUS on some later write.
        match fs::fallocate(&fd, FallocateFlags::empty(), 0, size as u64) {
            Ok(()) | Err(Errno::OPNOTSUPP) => {}
            Err(Errno::NOSPC) => {
                return Err(DbShmError::Os {
                    name: name.to_owned(),
                    operation: "reserve memory for the segment",
                    source: std::io::Error::new(
                        std::io::ErrorKind::StorageFull,
                        format!("no space left in /dev/shm for {size} bytes"),
                    ),
                })
            }
            Err(e) => return Err(DbShmError::os(name, "reserve memory for the segment", e)),
        }
        let map = Mapping::new(name, &fd, size, true)?;
        let mut descriptor = [0u8; DESCRIPTOR_SIZE];
        geometry.write_descriptor(&mut descriptor);
        // SAFETY: the mapping is at least HEADER_SIZE bytes; openers read the
        // descriptor only after seeing `init` set below.
        unsafe { copy_racy(descriptor.as_ptr(), map.base.as_ptr(), DESCRIPTOR_SIZE) };
        // Release: an opener that reads INIT_READY with Acquire also sees the
        // descriptor written above. The atomics start as ftruncate's zeroes.
        map.init().store(INIT_READY, Ordering::Release);
        // Initialised: openers no longer need to know this creator is alive.
        fs::flock(&fd, FlockOperation::Unlock)
            .map_err(|e| DbShmError::os(name, "unlock the segment", e))?;
        Ok(Segment {
            fd,
            map,
            writable: true,
            waiter_map: None,
        })
    }

    /// Opens an existing object and maps it whole, once its header is
    /// initialised and describes no more bytes than the object has.
    pub(crate) fn open(name: &str, writable: bool) -> Result<(Segment, Geometry)> {
        let path = shm_path(name)?;
        let flags = if writable {
            shm::OFlags::RDWR
        } else {
            shm::OFlags::RDONLY
        };
        regular_file(name)?;
        let fd = shm::open(path.as_str(), flags, Mode::empty())
            .map_err(|e| DbShmError::os(name, "open the segment", e))?;
        let started = Instant::now();
        let geometry = loop {
            let (reason, blank) = match Segment::probe(name, &fd)? {
                Probe::Ready(geometry) => break geometry,
                Probe::NotReady { reason, blank } => (reason, blank),
            };
            let waited = started.elapsed();
            if creator_at_work(&fd) {
                if waited > CREATOR_WAIT {
                    return Err(DbShmError::Incompatible {
                        name: name.to_owned(),
                        reason: format!("{reason} after {waited:?}, though its creator is alive"),
                    });
                }
            } else if waited > INIT_WAIT {
                if blank {
                    // Its creator died between creating and initialising it:
                    // remove the husk so that the name is usable again.
                    remove_if_same(&path, &fd);
                    return Err(DbShmError::NotFound {
                        name: name.to_owned(),
                    });
                }
                return Err(DbShmError::Incompatible {
                    name: name.to_owned(),
                    reason: format!("{reason} after {waited:?}"),
                });
            }
            thread::sleep(Duration::from_millis(2));
        };
        let map = Mapping::new(name, &fd, geometry.total_size, writable)?;
        let waiter_map = if writable {
            None
        } else {
            waiter_mapping(name, &path, &fd)
        };
        Ok((
            Segment {
                fd,
                map,
                writable,
                waiter_map,
            },
            geometry,
        ))
    }

    /// Opens an existing object read-only as it is now: no waiting for a
    /// creator, no removal of what a dead one left. For looking, not using.
    pub(crate) fn open_as_is(name: &str) -> Result<(Segment, Geometry)> {
        let path = shm_path(name)?;
        regular_file(name)?;
        let fd = shm::open(path.as_str(), shm::OFlags::RDONLY, Mode::empty())
            .map_err(|e| DbShmError::os(name, "open the segment", e))?;
        let geometry = match Segment::probe(name, &fd)? {
            Probe::Ready(geometry) => geometry,
            Probe::NotReady { reason, .. } => {
                return Err(DbShmError::Incompatible {
                    name: name.to_owned(),
                    reason,
                })
            }
        };
        let map = Mapping::new(name, &fd, geometry.total_size, false)?;
        let segment = Segment {
            fd,
            map,
            writable: false,
            waiter_map: None,
        };
        Ok((segment, geometry))
    }

    /// Whether a process holds the writer role (or is creating the object).
    pub(crate) fn writer_alive(&self) -> bool {
        creator_at_work(&self.fd)
    }

    /// The object's `fstat`.
    pub(crate) fn stat(&self, name: &str) -> Result<fs::Stat> {
        fs::fstat(&self.fd).map_err(|e| DbShmError::os(name, "stat the segment", e))
    }

    fn probe(name: &str, fd: &OwnedFd) -> Result<Probe> {
        let incompatible = |reason: String| DbShmError::Incompatible {
            name: name.to_owned(),
            reason,
        };
        let size = object_size(name, fd)?;
        if size == 0 {
            return Ok(Probe::NotReady {
                reason: "the object is still empty: its creator never sized it".into(),
                blank: true,
            });
        }
        if size < HEADER_SIZE as u64 {
            return Err(incompatible(format!(
                "the object is {size} bytes, smaller than a dbshm header ({HEADER_SIZE})"
            )));
        }
        let header = Mapping::new(name, fd, HEADER_SIZE, false)?;
        // Acquire: pairs with the creator's Release store of INIT_READY, so
        // the descriptor copied next is the one it wrote.
        let ready = header.init().load(Ordering::Acquire) == INIT_READY;
        let descriptor = header.descriptor_bytes();
        if ready {
            return Geometry::parse(&descriptor, size)
                .map(Probe::Ready)
                .map_err(incompatible);
        }
        let magic = u64::from_ne_bytes(descriptor[..8].try_into().expect("8 bytes"));
        if magic != 0 && magic != MAGIC {
            return Err(incompatible(format!(
                "bad magic {magic:#018x}: not a dbshm segment"
            )));
        }
        Ok(Probe::NotReady {
            reason: "the header is not initialised: its creator died or is not dbshm".into(),
            blank: descriptor.iter().all(|&b| b == 0),
        })
    }

    /// The mapped header.
    pub(crate) fn header(&self) -> &Header {
        self.map.header()
    }

    /// Start of the mapping.
    pub(crate) fn base(&self) -> *mut u8 {
        self.map.base.as_ptr()
    }

    /// Bytes mapped.
    pub(crate) fn size(&self) -> usize {
        self.map.size
    }

    /// The waiter count this handle may write, if any.
    pub(crate) fn waiters(&self) -> Option<&AtomicU32> {
        if self.writable {
            Some(&self.header().waiters)
        } else {
            self.waiter_map.as_ref().map(|m| &m.header().waiters)
        }
    }

    /// Whether the mapping may be written.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// Takes the writer role without waiting: `None` when another open file
    /// description holds it. The kernel drops it when the lock's descriptor
    /// closes, including when the process dies.
    ///
    /// The lock is on a descriptor of its own, a new open file description
    /// of the same object (reopened through /proc/self/fd), not on the
    /// handle's: a flock belongs to the open file description, which a
    /// forked child shares, and the child of a writer must not write too.
    pub(crate) fn try_lock_writer(&self, name: &str) -> Result<Option<WriterLock>> {
        let path = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        let fd = fs::open(
            path.as_str(),
            fs::OFlags::RDONLY | fs::OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| DbShmError::os(name, "reopen the segment for the writer lock", e))?;
        // An observer (`inspect`, an opener checking for a live creator)
        // holds a shared lock for a few microseconds; try a few times over
        // 2 ms before calling the role taken.
        for attempt in 0..WRITER_LOCK_TRIES {
            match fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    return Ok(Some(WriterLock {
                        _fd: fd,
                        pid: rustix::process::getpid(),
                        fork_marker: ForkMarker::new(),
                    }))
                }
                Err(Errno::WOULDBLOCK) if attempt + 1 < WRITER_LOCK_TRIES => {
                    thread::sleep(Duration::from_micros(500))
                }
                Err(Errno::WOULDBLOCK) => return Ok(None),
                Err(e) => return Err(DbShmError::os(name, "lock the segment for writing", e)),
            }
        }
        Ok(None)
    }
}

/// The writer role: an exclusive flock on a descriptor of its own.
pub(crate) struct WriterLock {
    _fd: OwnedFd,
    pid: rustix::process::Pid,
    fork_marker: Option<ForkMarker>,
}

impl WriterLock {
    /// False in a child forked from the process that took the role: the
    /// child inherited the descriptor, not the role. Asked at every write,
    /// so it makes no system call where the kernel can wipe a page on fork.
    pub(crate) fn held_by_this_process(&self) -> bool {
        match &self.fork_marker {
            Some(marker) => marker.still_here(),
            None => self.pid == rustix::process::getpid(),
        }
    }
}

/// A private page the kernel zeroes in a forked child (MADV_WIPEONFORK,
/// Linux 4.14): a fork detector whose reading costs one load, where
/// `getpid` costs a system call (0.1 to 0.2 µs here, a fifth of a 30 KB write).
struct ForkMarker(NonNull<AtomicU32>);

// SAFETY: the page is owned by this value and only accessed atomically.
unsafe impl Send for ForkMarker {}
// SAFETY: as above.
unsafe impl Sync for ForkMarker {}

impl ForkMarker {
    const SIZE: usize = 4096;
    const HERE: u32 = 1;

    /// `None` where the kernel cannot wipe a page on fork.
    fn new() -> Option<ForkMarker> {
        // SAFETY: a fresh private anonymous mapping aliases no Rust object.
        let ptr = unsafe {
            mm::mmap_anonymous(
                std::ptr::null_mut(),
                Self::SIZE,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .ok()?;
        let marker = ForkMarker(NonNull::new(ptr.cast())?);
        // SAFETY: the range is the mapping just made.
        unsafe { mm::madvise(ptr, Self::SIZE, mm::Advice::LinuxWipeOnFork) }.ok()?;
        // Relaxed: only this process (and its forks, which see the wiped page) reads it.
        marker.atomic().store(Self::HERE, Ordering::Relaxed);
        Some(marker)
    }

    fn atomic(&self) -> &AtomicU32 {
        // SAFETY: the page is mapped read-write for the life of `self`,
        // page-aligned, and only accessed through this atomic.
        unsafe { self.0.as_ref() }
    }

    fn still_here(&self) -> bool {
        // Relaxed: the value changes only by the kernel's wipe at fork.
        self.atomic().load(Ordering::Relaxed) == Self::HERE
    }
}

impl Drop for ForkMarker {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; no reference to it outlives self.
        let _ = unsafe { mm::munmap(self.0.as_ptr().cast(), Self::SIZE) };
    }
}

/// Whether another open file description holds the creator's lock or the
/// writer's on the object; without waiting.
fn creator_at_work(fd: &OwnedFd) -> bool {
    match fs::flock(fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = fs::flock(fd, FlockOperation::Unlock);
            false
        }
        Err(_) => true,
    }
}

/// `Incompatible` unless the name is a regular file (not followed through a
/// link): opening a FIFO someone left in /dev/shm would block forever.
fn regular_file(name: &str) -> Result<()> {
    let path = format!("{SHM_DIR}/{name}");
    match fs::statat(fs::CWD, path.as_str(), fs::AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if fs::FileType::from_raw_mode(st.st_mode) != fs::FileType::RegularFile => {
            Err(DbShmError::Incompatible {
                name: name.to_owned(),
                reason: "not a regular file (a FIFO, link, socket or directory?)".into(),
            })
        }
        // Missing, or unreadable: `shm_open` reports it properly.
        _ => Ok(()),
    }
}

/// Unlinks `path` if it still names the object `fd` is open on (and not a
/// newer object a creator made meanwhile).
fn remove_if_same(path: &str, fd: &OwnedFd) {
    let file = format!("{SHM_DIR}{path}");
    if let (Ok(a), Ok(b)) = (fs::fstat(fd), fs::stat(file.as_str())) {
        if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
            let _ = shm::unlink(path);
        }
    }
}

/// The header page mapped writable through a second descriptor, if the user
/// may open the segment read-write and the name still leads to the same object.
fn waiter_mapping(name: &str, path: &str, fd: &OwnedFd) -> Option<Mapping> {
    let rw = shm::open(path, shm::OFlags::RDWR, Mode::empty()).ok()?;
    let (a, b) = (fs::fstat(fd).ok()?, fs::fstat(&rw).ok()?);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return None; // unlinked and recreated in between
    }
    Mapping::new(name, &rw, HEADER_SIZE, true).ok()
}

fn object_size(name: &str, fd: &OwnedFd) -> Result<u64> {
    let stat = fs::fstat(fd).map_err(|e| DbShmError::os(name, "stat the segment", e))?;
    Ok(stat.st_size as u64)
}
