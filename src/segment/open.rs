//! Opening what a name names, by descriptor: relative to a descriptor of the
//! directory, never following a link, never blocking on a FIFO, then asking
//! the descriptor itself what it is. A path is never checked and then used.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

use crate::layout::{offset, Geometry, DESCRIPTOR_SIZE, HEADER_SIZE, LOCK_ID_SIZE, MAGIC};
use crate::{DbShmError, Result};

/// Where Linux keeps POSIX shared-memory objects: where segments live
/// unless a directory is chosen.
pub(crate) const SHM_DIR: &str = "/dev/shm";

/// The environment variable naming the directory segments live in for
/// every handle that does not choose one ([`Options::dir`](crate::Options::dir)).
pub const DIR_ENV: &str = "DBSHM_DIR";

/// The flags of every open: `O_NOFOLLOW` (a link is refused, not followed),
/// `O_NONBLOCK` (a FIFO opens at once instead of waiting for a writer, and
/// is then refused by `fstat`), `O_NOCTTY`, `O_CLOEXEC`.
const SAFE: OFlags = OFlags::NOFOLLOW
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// The directory segments live in: `chosen`, else `$DBSHM_DIR` (if set
/// and not empty), else /dev/shm.
pub(crate) fn place(chosen: Option<&Path>) -> PathBuf {
    match (chosen, std::env::var_os(DIR_ENV)) {
        (Some(dir), _) => dir.to_owned(),
        (None, Some(dir)) if !dir.is_empty() => PathBuf::from(dir),
        (None, _) => PathBuf::from(SHM_DIR),
    }
}

/// A descriptor of the directory `place`, checked through it as /dev/shm
/// would pass: a directory, not a link to one; owned by root or this user;
/// and, if other users may write it, sticky, so that none of them can
/// remove or replace a name in it that is not theirs. `name` is the
/// segment the errors name.
pub(crate) fn dir(place: &Path, name: &str) -> Result<OwnedFd> {
    let bad = |reason: String| DbShmError::BadDirectory {
        name: name.to_owned(),
        dir: place.to_owned(),
        reason,
    };
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let link = || {
        // For the message only: the open has refused it already.
        fs::statat(fs::CWD, place, fs::AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| fs::FileType::from_raw_mode(st.st_mode) == fs::FileType::Symlink)
    };
    let fd = fs::open(place, flags, Mode::empty()).map_err(|e| match e {
        // O_DIRECTORY with O_NOFOLLOW refuses a link with ENOTDIR.
        Errno::LOOP | Errno::NOTDIR if link() => {
            bad("it is a symbolic link (name the directory it leads to)".into())
        }
        Errno::NOTDIR => bad("it is not a directory".into()),
        Errno::NOENT => bad("it does not exist".into()),
        e => DbShmError::os(name, "open the segments' directory", e),
    })?;
    let st = fs::fstat(&fd).map_err(|e| DbShmError::os(name, "stat the segments' directory", e))?;
    let me = rustix::process::geteuid().as_raw();
    let mode = st.st_mode & 0o7777;
    if st.st_uid != 0 && st.st_uid != me {
        return Err(bad(format!(
            "it belongs to uid {}, neither root nor this user",
            st.st_uid
        )));
    }
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(bad(format!(
            "its mode {mode:04o} lets other users write it, and it is not sticky"
        )));
    }
    Ok(fd)
}

/// How the filesystem of a directory pages the files in it: read from the
/// kernel, never assumed (huge pages are not 2 MiB everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pages {
    /// Base pages only, as far as dbshm can tell: /dev/shm, a tmpfs
    /// mounted without `huge=`, any other filesystem.
    Small,
    /// A tmpfs mounted `huge=always`, `within_size` or `advise`: ranges of
    /// a file aligned to this size may be backed by one transparent huge
    /// page each.
    Transparent(usize),
    /// hugetlbfs: every page of every file is a huge page of this size,
    /// taken from a pool reserved beforehand (`vm.nr_hugepages`). File
    /// sizes are multiples of it, and `write` is refused: files are written
    /// through mappings.
    Hugetlb(usize),
}

const TMPFS_MAGIC: u32 = 0x0102_1994;
const HUGETLBFS_MAGIC: u32 = 0x9584_58f6;

impl Pages {
    /// The pages of the filesystem the descriptor `fd` (a directory or a
    /// file) is on.
    pub(crate) fn of(fd: &OwnedFd) -> Pages {
        match Pages::statfs(fd) {
            Some((TMPFS_MAGIC, _)) if tmpfs_gives_huge_pages(fd) == Some(true) => {
                match pmd_size() {
                    Some(size) => Pages::Transparent(size),
                    None => Pages::Small,
                }
            }
            Some((HUGETLBFS_MAGIC, page)) => Pages::Hugetlb(page),
            _ => Pages::Small,
        }
    }

    /// [`Pages::Hugetlb`] if `fd` is on hugetlbfs, else `Small`: all a
    /// mapping's size needs, without reading the mount table.
    pub(crate) fn sizing(fd: &OwnedFd) -> Pages {
        match Pages::statfs(fd) {
            Some((HUGETLBFS_MAGIC, page)) => Pages::Hugetlb(page),
            _ => Pages::Small,
        }
    }

    /// The filesystem's magic number (its low 32 bits: `f_type` is a signed
    /// type of either size, and hugetlbfs's magic has the top bit set) and
    /// block size.
    fn statfs(fd: &OwnedFd) -> Option<(u32, usize)> {
        let fs = fs::fstatfs(fd).ok()?;
        Some((fs.f_type as u32, fs.f_bsize as usize))
    }

    /// The huge page size buffers of frames at least that big are aligned
    /// to, if any.
    pub(crate) fn huge(self) -> Option<usize> {
        match self {
            Pages::Small => None,
            Pages::Transparent(size) | Pages::Hugetlb(size) => Some(size),
        }
    }

    /// `size` rounded up to what a file here can be sized and mapped by:
    /// hugetlbfs's page; 1 byte elsewhere. `None` on overflow.
    pub(crate) fn round(self, size: usize) -> Option<usize> {
        match self {
            Pages::Hugetlb(page) if page > 1 => size.checked_next_multiple_of(page),
            _ => Some(size),
        }
    }
}

/// The size of a transparent huge page, as the kernel reports it.
pub(crate) fn pmd_size() -> Option<usize> {
    let sysfs = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";
    std::fs::read_to_string(sysfs).ok()?.trim().parse().ok()
}

/// Whether the tmpfs `dir` is on gives huge pages: the system's policy for
/// every tmpfs if it is `force` or `deny`
/// (/sys/kernel/mm/transparent_hugepage/shmem_enabled; its other values
/// are for the kernel's internal mount only, not /dev/shm's), else the
/// super block options in /proc/self/mountinfo of the mount whose device
/// is `dir`'s (bind mounts of one tmpfs share them).
fn tmpfs_gives_huge_pages(dir: &OwnedFd) -> Option<bool> {
    let sysfs = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
    let policy = std::fs::read_to_string(sysfs).unwrap_or_default();
    match policy.split_whitespace().find(|w| w.starts_with('[')) {
        Some("[force]") => return Some(true),
        Some("[deny]") => return Some(false),
        _ => {}
    }
    let st = fs::fstat(dir).ok()?;
    let (major, minor) = (fs::major(st.st_dev), fs::minor(st.st_dev));
    let device = format!("{major}:{minor}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let line = mounts
        .lines()
        .find(|l| l.split(' ').nth(2) == Some(device.as_str()))?;
    // ... " - tmpfs tmpfs rw,size=...,huge=always"
    let (_, after) = line.split_once(" - ")?;
    let options = after.split(' ').nth(2)?;
    Some(
        options
            .split(',')
            .any(|o| matches!(o, "huge=always" | "huge=within_size" | "huge=advise")),
    )
}

/// Which object an open reached: the same (device, inode) is the same object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

impl Identity {
    pub(crate) fn of(stat: &fs::Stat) -> Identity {
        Identity {
            dev: stat.st_dev,
            ino: stat.st_ino,
        }
    }
}

/// What a lock file says of its segment, to tell it from any other: its
/// device, inode and birth time (native-endian u64s, and the nanoseconds as
/// a u32). The inode number alone is not enough: tmpfs without `inode64`
/// hands out 32-bit numbers that wrap, so a file made later may get the
/// number of a live one, but not also its birth time. Where the filesystem
/// keeps no birth time, those bytes are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Birth(pub(crate) [u8; BIRTH_SIZE]);

/// Bytes of a [`Birth`], the contents of a lock file.
pub(crate) const BIRTH_SIZE: usize = 28;

impl Birth {
    /// The birth of the file `fd` is open on.
    pub(crate) fn of(fd: &OwnedFd) -> Option<Birth> {
        let st = fs::statx(
            fd,
            "",
            fs::AtFlags::EMPTY_PATH,
            fs::StatxFlags::INO | fs::StatxFlags::BTIME,
        )
        .ok()?;
        let dev = (u64::from(st.stx_dev_major) << 32) | u64::from(st.stx_dev_minor);
        let born = st.stx_mask & fs::StatxFlags::BTIME.bits() != 0;
        let (sec, nsec) = if born {
            (st.stx_btime.tv_sec as u64, st.stx_btime.tv_nsec)
        } else {
            (0, 0)
        };
        let mut b = [0u8; BIRTH_SIZE];
        b[..8].copy_from_slice(&dev.to_ne_bytes());
        b[8..16].copy_from_slice(&st.stx_ino.to_ne_bytes());
        b[16..24].copy_from_slice(&sec.to_ne_bytes());
        b[24..].copy_from_slice(&nsec.to_ne_bytes());
        Some(Birth(b))
    }

    /// What the lock file `fd` says, if it says anything.
    pub(crate) fn read(fd: &OwnedFd) -> Option<Birth> {
        let mut b = [0u8; BIRTH_SIZE];
        match rustix::io::pread(fd, &mut b, 0) {
            Ok(BIRTH_SIZE) => Some(Birth(b)),
            _ => None,
        }
    }
}

/// A regular file opened by name in the directory, and its `fstat`.
pub(crate) struct Object {
    pub(crate) fd: OwnedFd,
    pub(crate) stat: fs::Stat,
}

impl Object {
    /// Opens `file` in `dir` (read-only, or read-write) and checks that it is a
    /// regular file; `name` is the segment the errors name.
    pub(crate) fn open(dir: &OwnedFd, name: &str, file: &str, writable: bool) -> Result<Object> {
        let access = if writable {
            OFlags::RDWR
        } else {
            OFlags::RDONLY
        };
        let not_regular = || DbShmError::Incompatible {
            name: name.to_owned(),
            reason: format!("{file:?} is not a regular file (a link, FIFO, socket or directory)"),
        };
        let fd = match fs::openat(dir, file, access | SAFE, Mode::empty()) {
            Ok(fd) => fd,
            // ELOOP: a symbolic link; EISDIR: a directory; ENXIO: a socket,
            // or a FIFO opened for writing.
            Err(Errno::LOOP | Errno::ISDIR | Errno::NXIO) => return Err(not_regular()),
            Err(e) => return Err(DbShmError::os(name, "open the segment", e)),
        };
        let stat = fs::fstat(&fd).map_err(|e| DbShmError::os(name, "stat the segment", e))?;
        if fs::FileType::from_raw_mode(stat.st_mode) != fs::FileType::RegularFile {
            return Err(not_regular());
        }
        Ok(Object { fd, stat })
    }

    pub(crate) fn identity(&self) -> Identity {
        Identity::of(&self.stat)
    }

    /// The header page, read with `pread`: no mapping, so an object that
    /// shrinks meanwhile gives a short read, never a SIGBUS. Checked to be a
    /// complete dbshm header describing no more bytes than the object had.
    pub(crate) fn header(&self, name: &str) -> Result<(Geometry, Box<[u8; HEADER_SIZE]>)> {
        let incompatible = |reason: String| DbShmError::Incompatible {
            name: name.to_owned(),
            reason,
        };
        let size = self.stat.st_size as u64;
        if size < HEADER_SIZE as u64 {
            return Err(incompatible(format!(
                "the object is {size} bytes, smaller than a dbshm header ({HEADER_SIZE})"
            )));
        }
        let mut page = Box::new([0u8; HEADER_SIZE]);
        let mut got = 0;
        while got < HEADER_SIZE {
            match rustix::io::pread(&self.fd, &mut page[got..], got as u64) {
                Ok(0) => {
                    return Err(incompatible(
                        "the object shrank while its header was read".into(),
                    ))
                }
                Ok(n) => got += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(DbShmError::os(name, "read the segment's header", e)),
            }
        }
        let descriptor: &[u8; DESCRIPTOR_SIZE] = page[..DESCRIPTOR_SIZE].try_into().unwrap();
        let geometry = Geometry::parse(descriptor, size).map_err(incompatible)?;
        Ok((geometry, page))
    }
}

impl Object {
    /// The lock id in the header of any dbshm segment, of this layout
    /// version or another (`lock_id` keeps its offset in every version), so
    /// that a cleaner never takes a newer version's lock file for an orphan.
    pub(crate) fn lock_id(&self) -> Option<[u8; LOCK_ID_SIZE]> {
        let at = offset::LOCK_ID;
        let mut head = [0u8; DESCRIPTOR_SIZE];
        match rustix::io::pread(&self.fd, &mut head, 0) {
            Ok(n) if n >= at + LOCK_ID_SIZE && head[..8] == MAGIC.to_ne_bytes() => {
                Some(head[at..at + LOCK_ID_SIZE].try_into().unwrap())
            }
            _ => None,
        }
    }
}

/// Whether `file` in `dir` is still the object `identity` names (not
/// following a link).
pub(crate) fn still_names(dir: &OwnedFd, file: &str, identity: Identity) -> bool {
    fs::statat(dir, file, fs::AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| Identity::of(&st) == identity)
}
