//! The OS object: create, open, size, map, lock, unlink, permissions.
//!
//! Everything that can fail here fails with a [`DbShmError`] naming the
//! segment; nothing here knows the protocol.

use std::ffi::c_void;
use std::os::fd::OwnedFd;
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

/// Longest name, in bytes: `shm_open` takes a path of at most NAME_MAX
/// (255) bytes, and the path is the name behind a '/'.
pub const MAX_NAME_LEN: usize = 254;

/// How long an opener waits for a creator that is still initialising.
const INIT_WAIT: Duration = Duration::from_secs(1);

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
    /// Possibly a creator still at work; the reason if it never finishes.
    NotReady(String),
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
        let result = Segment::initialise(name, fd, geometry, mode);
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
        map.header().init.store(INIT_READY, Ordering::Release);
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
        let fd = shm::open(path.as_str(), flags, Mode::empty())
            .map_err(|e| DbShmError::os(name, "open the segment", e))?;
        let started = Instant::now();
        let geometry = loop {
            match Segment::probe(name, &fd)? {
                Probe::Ready(geometry) => break geometry,
                Probe::NotReady(reason) if started.elapsed() > INIT_WAIT => {
                    return Err(DbShmError::Incompatible {
                        name: name.to_owned(),
                        reason: format!("{reason} after {:?}", started.elapsed()),
                    })
                }
                Probe::NotReady(_) => thread::sleep(Duration::from_millis(2)),
            }
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

    fn probe(name: &str, fd: &OwnedFd) -> Result<Probe> {
        let incompatible = |reason: String| DbShmError::Incompatible {
            name: name.to_owned(),
            reason,
        };
        let size = object_size(name, fd)?;
        if size == 0 {
            return Ok(Probe::NotReady(
                "the object is still empty: its creator never sized it".into(),
            ));
        }
        if size < HEADER_SIZE as u64 {
            return Err(incompatible(format!(
                "the object is {size} bytes, smaller than a dbshm header ({HEADER_SIZE})"
            )));
        }
        let header = Mapping::new(name, fd, HEADER_SIZE, false)?;
        // Acquire: pairs with the creator's Release store of INIT_READY, so
        // the descriptor copied next is the one it wrote.
        let ready = header.header().init.load(Ordering::Acquire) == INIT_READY;
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
        Ok(Probe::NotReady(
            "the header is not initialised: its creator died or is not dbshm".into(),
        ))
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

    /// Takes the writer lock without waiting: `Ok(false)` when another open
    /// description holds it. The kernel drops it when this descriptor closes,
    /// including when the process dies.
    pub(crate) fn try_lock_writer(&self, name: &str) -> Result<bool> {
        match fs::flock(&self.fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(Errno::WOULDBLOCK) => Ok(false),
            Err(e) => Err(DbShmError::os(name, "lock the segment for writing", e)),
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
