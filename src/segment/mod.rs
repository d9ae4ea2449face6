//! The OS objects of a segment: the segment file in its directory
//! (/dev/shm unless another is chosen) and its lock file beside it; creating, opening, mapping and removing them; and who is alive.
//!
//! Everything that can fail here fails with a [`DbShmError`] naming the
//! segment; nothing here knows the protocol.

mod backing;
mod create;
pub(crate) mod liveness;
mod mapping;
pub(crate) mod name;
pub(crate) mod open;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::AtomicU32;

use rustix::fs;

use crate::layout::{Geometry, Header, PinPage, HEADER_SIZE};
use crate::{DbShmError, Result};
use mapping::Mapping;
use name::FileId;
use open::{Birth, Identity, Object, Pages};

pub use name::MAX_NAME_LEN;

/// One open, mapped segment object.
pub(crate) struct Segment {
    /// Its open file description carries the presence mark for the life
    /// of the handle; also what the writer asks about pin records' marks.
    fd: OwnedFd,
    /// The directory it was opened in, checked then: its lock file, and a
    /// new open of it, are found through this descriptor.
    dir: OwnedFd,
    map: Mapping,
    writable: bool,
    /// For a read-only handle whose user may write: the header page mapped
    /// writable, to count itself among the waiters (see `notify`).
    waiter_map: Option<Mapping>,
    identity: Identity,
    /// The object's owner, and its mode when opened.
    uid: u32,
    gid: u32,
    mode: u32,
    lock_id: FileId,
}

impl Segment {
    /// Opens an existing segment and maps it whole. Whatever the name names
    /// that is not a complete segment of this version is `Incompatible`, and
    /// left as it is.
    pub(crate) fn open(place: &Path, name: &str, writable: bool) -> Result<(Segment, Geometry)> {
        name::check(name)?;
        let dir = open::dir(place, name)?;
        let object = Object::open(&dir, name, name, writable)?;
        let (geometry, _) = object.header(name)?;
        let pages = Pages::of(&object.fd);
        // A mapping past the end of a hugetlbfs file's last whole page
        // faults (SIGBUS) where it is touched: such a file is no segment a
        // creator made, which sizes its files in whole pages.
        if let Pages::Hugetlb(page) = pages {
            if object.stat.st_size as u64 % page as u64 != 0 {
                return Err(DbShmError::Incompatible {
                    name: name.to_owned(),
                    reason: format!(
                        "on hugetlbfs its size {} is not a whole number of its {page}-byte pages",
                        object.stat.st_size
                    ),
                });
            }
        }
        let map = Mapping::new(name, &object.fd, geometry.total_size, writable, pages)?;
        map.advise_huge(&geometry);
        let waiter_map = if writable {
            None
        } else {
            waiter_mapping(&dir, name, object.identity())
        };
        let segment = Segment::attach(dir, object, map, writable, waiter_map, &geometry);
        Ok((segment, geometry))
    }

    fn attach(
        dir: OwnedFd,
        object: Object,
        map: Mapping,
        writable: bool,
        waiter_map: Option<Mapping>,
        geometry: &Geometry,
    ) -> Segment {
        // A shared mark never conflicts with another shared one; only a
        // user who may write could block it (with an exclusive lock), and
        // would only make `rm` think the segment unused.
        let _ = liveness::try_take(&object.fd, liveness::PRESENCE, false);
        Segment {
            identity: object.identity(),
            uid: object.stat.st_uid,
            gid: object.stat.st_gid,
            mode: object.stat.st_mode & 0o7777,
            fd: object.fd,
            dir,
            map,
            writable,
            waiter_map,
            lock_id: FileId(geometry.lock_id),
        }
    }

    /// The mapped header.
    pub(crate) fn header(&self) -> &Header {
        self.map.header()
    }

    /// Start of the mapping.
    pub(crate) fn base(&self) -> *mut u8 {
        self.map.base()
    }

    /// Bytes mapped.
    pub(crate) fn size(&self) -> usize {
        self.map.size()
    }

    /// The pin records, for reading them.
    pub(crate) fn pin_page(&self) -> &PinPage {
        self.map.pin_page()
    }

    /// The pin records through a mapping this handle may write, if any: a
    /// read-only handle's user who may write the segment pins through the
    /// header mapped writable (as it counts itself among the waiters).
    pub(crate) fn pin_page_writable(&self) -> Option<&PinPage> {
        if self.writable {
            Some(self.map.pin_page())
        } else {
            self.waiter_map.as_ref().map(Mapping::pin_page)
        }
    }

    /// A descriptor of this very object, for the lock that marks a pin
    /// record owned: a new open file description, read-write (an exclusive
    /// lock needs one), so the lock dies with it; `NotFound` if the name no
    /// longer leads to the object, `PermissionDenied` if the user may not write.
    pub(crate) fn reopen_writable(&self, name: &str) -> Result<OwnedFd> {
        self.reopen_as(name, true)
    }

    /// The descriptor this handle holds the object by (to ask about marks).
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The waiter count this handle may write, if any.
    pub(crate) fn waiters(&self) -> Option<&AtomicU32> {
        if self.writable {
            Some(&self.header().waiters)
        } else {
            self.waiter_map.as_ref().map(|m| &m.header().waiters)
        }
    }

    /// Leaves the segment's mappings in place when it is dropped, for a
    /// thread that still reads them (see `Events::stop`).
    pub(crate) fn keep_mapped(&mut self) {
        self.map.keep();
        if let Some(map) = &mut self.waiter_map {
            map.keep();
        }
    }

    /// Whether the mapping may be written.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// Opens the segment's lock file read-write, for the writer role. It
    /// must be a regular file of the segment's owner, open to no class of
    /// users the segment does not let write nor to another group, and say
    /// it belongs to this segment (see `open::Birth`).
    pub(crate) fn open_lock_file(&self, name: &str) -> Result<OwnedFd> {
        let file = self.lock_id.lock_name();
        let lock = match Object::open(&self.dir, name, &file, true) {
            Err(DbShmError::NotFound { .. }) => {
                return Err(DbShmError::Incompatible {
                    name: name.to_owned(),
                    reason: format!("its lock file {file} is missing (the segment was removed?)"),
                })
            }
            Err(DbShmError::PermissionDenied { .. }) => {
                return Err(DbShmError::PermissionDenied {
                    name: name.to_owned(),
                    operation: "open the segment's lock file (its owner, group or mode differ from the segment's?)",
                })
            }
            other => other?,
        };
        let mode = lock.stat.st_mode & 0o7777;
        let allowed = lock_mode(self.mode);
        let problem = if lock.stat.st_uid != self.uid {
            Some(format!(
                "belongs to uid {}, the segment to uid {}",
                lock.stat.st_uid, self.uid
            ))
        } else if mode & !allowed != 0 {
            Some(format!(
                "has mode {mode:04o}, but the segment's mode {:04o} lets only {allowed:04o} write",
                self.mode
            ))
        } else if mode & 0o070 != 0 && lock.stat.st_gid != self.gid {
            Some(format!(
                "is open to group {}, the segment to group {}",
                lock.stat.st_gid, self.gid
            ))
        } else if !Birth::read(&lock.fd).is_some_and(|says| Some(says) == Birth::of(&self.fd)) {
            Some("belongs to another segment".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(DbShmError::Incompatible {
                name: name.to_owned(),
                reason: format!(
                    "its lock file {file} {problem}, so it cannot guard the writer role"
                ),
            });
        }
        Ok(lock.fd)
    }

    /// A new open file description of this very object, read-only;
    /// `NotFound` if the name no longer leads to it.
    pub(crate) fn reopen(&self, name: &str) -> Result<OwnedFd> {
        self.reopen_as(name, false)
    }

    fn reopen_as(&self, name: &str, writable: bool) -> Result<OwnedFd> {
        match Object::open(&self.dir, name, name, writable)? {
            object if object.identity() == self.identity => Ok(object.fd),
            _ => Err(DbShmError::NotFound {
                name: name.to_owned(),
            }),
        }
    }

    /// Refuses the segment if it lets in more users than `requested`, a
    /// mode the caller asked for: another owner, a permission bit beyond
    /// `requested`, or group bits for a group other than the caller's.
    pub(crate) fn check_exposure(&self, name: &str, requested: u32) -> Result<()> {
        let reason = if self.uid != rustix::process::geteuid().as_raw() {
            Some("it belongs to another user")
        } else if self.mode & !requested != 0 {
            Some("its mode allows more")
        } else if self.mode & 0o070 != 0 && self.gid != rustix::process::getegid().as_raw() {
            Some("its group is not this process's")
        } else {
            None
        };
        match reason {
            None => Ok(()),
            Some(reason) => Err(DbShmError::ModeTooOpen {
                name: name.to_owned(),
                mode: self.mode,
                uid: self.uid,
                gid: self.gid,
                requested,
                reason,
            }),
        }
    }

    /// Removes the name if it still names this object, and the lock file.
    pub(crate) fn unlink(&self, name: &str) -> Result<()> {
        unlink_object(
            &self.dir,
            name,
            self.identity,
            self.uid,
            self.lock_id,
            Birth::of(&self.fd),
        )
    }
}

/// Removes the segment `name`: [`DbShmError::Incompatible`] (and nothing
/// removed) if the name does not name a dbshm segment.
pub(crate) fn unlink(place: &Path, name: &str) -> Result<()> {
    name::check(name)?;
    let dir = open::dir(place, name)?;
    let object = Object::open(&dir, name, name, false)?;
    let (geometry, _) = object.header(name)?;
    unlink_object(
        &dir,
        name,
        object.identity(),
        object.stat.st_uid,
        FileId(geometry.lock_id),
        Birth::of(&object.fd),
    )
}

/// Unlinks `file` in `dir` if it still names `identity` (checked right
/// before the unlink: Linux cannot unlink by descriptor; in a sticky
/// directory such as /dev/shm, or one only its owner may write, only the
/// owner or root can put another object under the name in between), then
/// the lock file, if it is the owner's.
pub(crate) fn unlink_object(
    dir: &OwnedFd,
    file: &str,
    identity: Identity,
    uid: u32,
    lock_id: FileId,
    birth: Option<Birth>,
) -> Result<()> {
    if !open::still_names(dir, file, identity) {
        return Err(DbShmError::NotFound {
            name: file.to_owned(),
        });
    }
    fs::unlinkat(dir, file, fs::AtFlags::empty())
        .map_err(|e| DbShmError::os(file, "unlink the segment", e))?;
    // The lock file, if it is the one this segment made: the header may
    // name another segment's (anyone who may write the header can).
    let lock = lock_id.lock_name();
    if let Ok(object) = Object::open(dir, file, &lock, false) {
        if object.stat.st_uid == uid
            && birth.is_some()
            && Birth::read(&object.fd) == birth
            && open::still_names(dir, &lock, object.identity())
        {
            let _ = fs::unlinkat(dir, lock.as_str(), fs::AtFlags::empty());
        }
    }
    Ok(())
}

/// The mode of a segment's lock file: read and write for exactly the classes
/// of users the segment's `mode` lets write.
pub(crate) fn lock_mode(mode: u32) -> u32 {
    let write = mode & 0o222;
    write | write << 1
}

/// The header page mapped writable through a second descriptor, if the user
/// may open the segment read-write and it is still the same object.
fn waiter_mapping(dir: &OwnedFd, name: &str, identity: Identity) -> Option<Mapping> {
    let rw = Object::open(dir, name, name, true).ok()?;
    if rw.identity() != identity {
        return None; // unlinked and recreated in between
    }
    Mapping::new(name, &rw.fd, HEADER_SIZE, true, Pages::sizing(&rw.fd)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_file_admits_exactly_the_classes_that_may_write() {
        assert_eq!(lock_mode(0o600), 0o600);
        assert_eq!(lock_mode(0o640), 0o600);
        assert_eq!(lock_mode(0o644), 0o600);
        assert_eq!(lock_mode(0o660), 0o660);
        assert_eq!(lock_mode(0o666), 0o666);
        assert_eq!(lock_mode(0o662), 0o666);
        assert_eq!(lock_mode(0o642), 0o606);
    }
}
