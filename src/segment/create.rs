//! Creating a segment: built whole under a private name, then renamed into
//! place with `RENAME_NOREPLACE`, so that the segment's name only ever
//! names a complete segment. There is no half-initialised state for an
//! opener to wait for or to clean up, and nothing under the name is ever
//! touched: a name already taken is `AlreadyExists`.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{self, FallocateFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::backing;
use super::mapping::{self, Mapping};
use super::name::{self, FileId};
use super::open::{self, Birth, Identity, Object, Pages, BIRTH_SIZE};
use super::{liveness, lock_mode, Segment};
use crate::layout::{offset, Geometry, DESCRIPTOR_SIZE};
use crate::{DbShmError, Result};

/// The least a mode must grant: the owner reads and writes (the creator
/// itself is the first writer, and only readable segments can be listed).
const OWNER_RW: u32 = 0o600;

impl Segment {
    /// Creates the segment `name` with `mode` (not filtered by the umask).
    /// Nothing is left behind on failure.
    pub(crate) fn create(
        place: &Path,
        name: &str,
        geometry: &Geometry,
        mode: u32,
    ) -> Result<(Segment, Geometry)> {
        name::check(name)?;
        if mode & OWNER_RW != OWNER_RW {
            return Err(DbShmError::InvalidMode {
                name: name.to_owned(),
                mode,
                reason: "the owner must be able to read and write (0600)",
            });
        }
        let dir = open::dir(place, name)?;
        let pages = Pages::of(&dir);
        // Buffers on huge-page boundaries where the directory's filesystem
        // can back them with huge pages.
        let geometry =
            &geometry
                .placed_for(pages.huge())
                .map_err(|e| DbShmError::InvalidShape {
                    name: name.to_owned(),
                    shape: geometry.shape.clone(),
                    reason: e.reason(),
                })?;
        // Fresh ids again if `remove_leftovers` took the lock file between
        // its creation and its marking: only a cleaner racing this very
        // instant gets there.
        for _ in 0..ATTEMPTS {
            let id = FileId::random(name)?;
            let Some(lock) = Own::lock_file(&dir, name, id, lock_mode(mode))? else {
                continue;
            };
            let mut geometry = geometry.clone();
            geometry.lock_id = id.0;
            geometry.created_unix_ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            // A name of its own, not derived from the lock file's (which anyone
            // can see appear): nobody can take it first.
            let new = Own::create(&dir, name, FileId::random(name)?.new_name(), mode)?;
            // Marked present from the start (the handle keeps the mark), so
            // that `rm --stale` leaves it alone before its header is written.
            let _ = liveness::try_take(new.fd(), liveness::PRESENCE, false);
            let map = build(place, pages, name, new.fd(), &geometry)?;
            bind(place, pages, name, lock.fd(), new.fd())?;
            let stat =
                fs::fstat(new.fd()).map_err(|e| DbShmError::os(name, "stat the segment", e))?;
            match fs::renameat_with(&dir, new.file.as_str(), &dir, name, RenameFlags::NOREPLACE) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    return Err(DbShmError::AlreadyExists {
                        name: name.to_owned(),
                    })
                }
                Err(e) => return Err(DbShmError::os(name, "give the new segment its name", e)),
            }
            let fd = new.keep();
            // Let go explicitly: closing alone would keep the mark while a
            // child another thread is forking or spawning has a copy of the
            // descriptor.
            let _ = liveness::release(lock.keep(), liveness::CREATING);
            let segment = Segment::attach(dir, Object { fd, stat }, map, true, None, &geometry);
            return Ok((segment, geometry));
        }
        Err(DbShmError::Os {
            name: name.to_owned(),
            operation: "create the segment's lock file",
            source: std::io::Error::other(format!(
                "a concurrent `rm --stale` took it {ATTEMPTS} times in a row"
            )),
        })
    }
}

/// Tries at a lock file before giving up: each is lost only to a cleaner
/// that takes it in the instant between its creation and its marking.
const ATTEMPTS: usize = 8;

/// Sizes the new segment `fd`, reserves its memory, maps it and writes its
/// header: the descriptor, and what backs its buffers once faulted in.
fn build(
    place: &Path,
    pages: Pages,
    name: &str,
    fd: &OwnedFd,
    geometry: &Geometry,
) -> Result<Mapping> {
    let size = geometry.total_size;
    resize(pages, name, fd, size, Part::Segment)?;
    let map = Mapping::new(name, fd, size, true, pages)?;
    // On a transparent huge page tmpfs the buffers are advised, then
    // faulted in through the mapping, before the memory is reserved:
    // `fallocate` has no mapping to be advised through, so on a mount of
    // `huge=advise` it would reserve small pages.
    if matches!(pages, Pages::Transparent(_)) {
        map.advise_huge(geometry);
        let buffers = geometry.first_buffer..geometry.total_size;
        let _ = map.populate(buffers.start, buffers.len());
    }
    reserve(place, pages, name, fd, size, Part::Segment)?;
    let mut descriptor = [0u8; DESCRIPTOR_SIZE];
    geometry.write_descriptor(&mut descriptor);
    // SAFETY: the file is this process's own and not named yet, and nothing
    // refers into the mapping yet.
    unsafe { map.fill(0, &descriptor) };
    // The protocol's atomics start as ftruncate's zeroes.
    if let Some(backing) = backing::measure(&map, geometry) {
        // SAFETY: as above.
        unsafe { map.fill(offset::BACKING_PAGE_KB, &backing.bytes()) };
    }
    Ok(map)
}

/// Writes into the lock file which segment it belongs to (see [`Birth`]): a
/// user who may write one segment can point its header at another's lock
/// file, but not change what that lock file says.
fn bind(place: &Path, pages: Pages, name: &str, lock: &OwnedFd, segment: &OwnedFd) -> Result<()> {
    let birth = Birth::of(segment).ok_or_else(|| DbShmError::Os {
        name: name.to_owned(),
        operation: "stat the new segment",
        source: std::io::Error::other("statx failed on its own descriptor"),
    })?;
    resize(pages, name, lock, BIRTH_SIZE, Part::LockFile)?;
    reserve(place, pages, name, lock, BIRTH_SIZE, Part::LockFile)?;
    mapping::write_new(name, lock, &birth.0, pages)
}

/// Sizes a file this process just made to `size` bytes, rounded up to what
/// the filesystem sizes files by (`pages`).
fn resize(pages: Pages, name: &str, fd: &OwnedFd, size: usize, part: Part) -> Result<()> {
    let too_large = || DbShmError::Os {
        name: name.to_owned(),
        operation: "size the segment",
        source: std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("{} of {size} bytes", part.what()),
        ),
    };
    let rounded = pages.round(size).ok_or_else(too_large)? as u64;
    fs::ftruncate(fd, rounded).map_err(|e| DbShmError::os(name, "size the segment", e))
}

/// Which of a segment's files a step is on, for its errors.
#[derive(Clone, Copy)]
enum Part {
    Segment,
    LockFile,
}

impl Part {
    /// The file, in a message.
    fn what(self) -> &'static str {
        match self {
            Part::Segment => "the segment",
            Part::LockFile => "its lock file",
        }
    }
}

/// Reserves the memory of a file [`resize`]d to `size`: on a full filesystem
/// or an exhausted huge page pool this fails here, never with a SIGBUS at
/// some later write.
fn reserve(
    place: &Path,
    pages: Pages,
    name: &str,
    fd: &OwnedFd,
    size: usize,
    part: Part,
) -> Result<()> {
    let rounded = pages.round(size).unwrap_or(size) as u64;
    let what = part.what();
    let operation = match part {
        Part::Segment => "reserve memory for the segment",
        Part::LockFile => "reserve memory for the segment's lock file",
    };
    loop {
        match fs::fallocate(fd, FallocateFlags::empty(), 0, rounded) {
            Ok(()) | Err(Errno::OPNOTSUPP) => return Ok(()),
            // hugetlbfs gives up clearing its pages when a signal comes.
            Err(Errno::INTR) => continue,
            Err(Errno::NOSPC) => {
                let why = match pages {
                    Pages::Hugetlb(page) => {
                        let n = rounded.div_ceil(page as u64);
                        format!(
                            "the huge page pool of {} cannot give the {n} page{} of {} kB {what} \
                             needs (reserve more with `sysctl vm.nr_hugepages`, mount it with a \
                             larger size=, or raise the hugetlb cgroup limit)",
                            place.display(),
                            if n == 1 { "" } else { "s" },
                            page / 1024
                        )
                    }
                    _ => format!(
                        "no space left in {} for {what} ({rounded} bytes)",
                        place.display()
                    ),
                };
                return Err(DbShmError::Os {
                    name: name.to_owned(),
                    operation,
                    source: std::io::Error::new(std::io::ErrorKind::StorageFull, why),
                });
            }
            Err(e) => return Err(DbShmError::os(name, operation, e)),
        }
    }
}

/// A file this process created exclusively, unlinked on drop unless kept:
/// the only files dbshm ever removes without being asked.
struct Own<'a> {
    dir: &'a OwnedFd,
    file: String,
    /// `None` once kept.
    fd: Option<OwnedFd>,
}

impl<'a> Own<'a> {
    fn create(dir: &'a OwnedFd, name: &str, file: String, mode: u32) -> Result<Own<'a>> {
        let flags = OFlags::CREATE
            | OFlags::EXCL
            | OFlags::RDWR
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC;
        let fd = match fs::openat(dir, file.as_str(), flags, Mode::from_raw_mode(mode)) {
            Ok(fd) => fd,
            // Not the segment's name taken (that is the rename's answer):
            // these names are random, so someone made this one on purpose.
            Err(Errno::EXIST) => {
                return Err(DbShmError::Os {
                    name: name.to_owned(),
                    operation: "create the segment's files",
                    source: std::io::Error::other(format!("{file} exists already")),
                })
            }
            Err(e) => return Err(DbShmError::os(name, "create the segment's files", e)),
        };
        let own = Own {
            dir,
            file,
            fd: Some(fd),
        };
        // openat applied the umask; the caller asked for this exact mode.
        fs::fchmod(own.fd(), Mode::from_raw_mode(mode))
            .map_err(|e| DbShmError::os(name, "set the segment's mode", e))?;
        Ok(own)
    }

    /// The lock file of a new segment, created and marked `CREATING`: `None`
    /// if `remove_leftovers` took it between the two (it then removes it).
    fn lock_file(dir: &'a OwnedFd, name: &str, id: FileId, mode: u32) -> Result<Option<Own<'a>>> {
        let lock = Own::create(dir, name, id.lock_name(), mode)?;
        let taken = liveness::try_take(lock.fd(), liveness::CREATING, true)
            .map_err(|e| DbShmError::os(name, "lock the new segment's lock file", e))?;
        // Taken after a cleaner unlinked it: marked, but not under its name.
        let identity = fs::fstat(lock.fd()).map(|st| Identity::of(&st));
        let named = identity.is_ok_and(|i| open::still_names(dir, &lock.file, i));
        Ok((taken && named).then_some(lock))
    }

    fn fd(&self) -> &OwnedFd {
        self.fd.as_ref().expect("not kept yet")
    }

    /// The file stays; its descriptor is the caller's.
    fn keep(mut self) -> OwnedFd {
        self.fd.take().expect("kept once")
    }
}

impl Drop for Own<'_> {
    fn drop(&mut self) {
        if self.fd.is_some() {
            let _ = fs::unlinkat(self.dir, self.file.as_str(), fs::AtFlags::empty());
        }
    }
}
