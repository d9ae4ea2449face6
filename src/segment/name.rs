//! Segment names, and the names of dbshm's own files beside the segments.
//!
//! A segment `NAME` is the file `/dev/shm/NAME`. Beside it dbshm keeps one
//! file of its own per segment, named by a random id in the segment's header:
//! its lock file, `.dbshm-lock-<id>`, which guards the writer role (see
//! `writer`). A segment is built under a private name, `.dbshm-new-` and
//! another random id (not the lock file's, which anyone sees appear), and
//! renamed into place once complete. Names starting with `.dbshm-` are
//! therefore not segment names.

use crate::layout::LOCK_ID_SIZE;
use crate::{DbShmError, Result};

/// Longest name, in bytes: a file name is at most NAME_MAX (255) bytes, and
/// `shm_open` users name the segment `/NAME`.
///
/// A segment name is 1 to `MAX_NAME_LEN` bytes without '/', NUL, other C0
/// control characters or DEL, is not `.` or `..`, and does not start with
/// `.dbshm-` (dbshm's own files); anything else is
/// [`DbShmError::InvalidName`](crate::DbShmError::InvalidName).
pub const MAX_NAME_LEN: usize = 254;

/// Start of the names of dbshm's own files, which no segment may have.
const OWN_PREFIX: &str = ".dbshm-";
const LOCK_PREFIX: &str = ".dbshm-lock-";
const NEW_PREFIX: &str = ".dbshm-new-";

/// Checks a segment name: 1 to [`MAX_NAME_LEN`] bytes, no '/', no control
/// character (C0 or DEL), not `.` or `..`, not one of dbshm's own files.
pub(crate) fn check(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("a name must not be empty")
    } else if name.contains('/') {
        Some("a name must not contain '/'")
    } else if name.contains('\0') {
        Some("a name must not contain a NUL byte")
    } else if name.bytes().any(|b| b < 0x20 || b == 0x7f) {
        Some("a name must not contain control characters")
    } else if name.len() > MAX_NAME_LEN {
        Some("a name is at most 254 bytes")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not names")
    } else if name.starts_with(OWN_PREFIX) {
        Some("names starting with '.dbshm-' are dbshm's own files")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(DbShmError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The random id in a segment's header that names its own files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId(pub(crate) [u8; LOCK_ID_SIZE]);

impl FileId {
    /// A fresh id from the kernel's random source.
    pub(crate) fn random(name: &str) -> Result<FileId> {
        let mut id = [0u8; LOCK_ID_SIZE];
        let mut filled = 0;
        while filled < id.len() {
            filled +=
                rustix::rand::getrandom(&mut id[filled..], rustix::rand::GetRandomFlags::empty())
                    .map_err(|e| DbShmError::os(name, "draw a random id", e))?;
        }
        Ok(FileId(id))
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The segment's lock file.
    pub(crate) fn lock_name(&self) -> String {
        format!("{LOCK_PREFIX}{}", self.hex())
    }

    /// The private name a segment is built under.
    pub(crate) fn new_name(&self) -> String {
        format!("{NEW_PREFIX}{}", self.hex())
    }
}

/// What a file name in the directory is to dbshm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Possibly a segment.
    Segment,
    /// A lock file, `.dbshm-lock-<id>`.
    Lock,
    /// A segment under construction, `.dbshm-new-<id>`.
    New,
    /// Another file of dbshm's own, or nothing dbshm would make.
    Other,
}

/// Sorts a name found on disk.
pub(crate) fn kind(file_name: &str) -> Kind {
    let is_id = |s: &str| s.len() == 2 * LOCK_ID_SIZE && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(id) = file_name.strip_prefix(LOCK_PREFIX) {
        return if is_id(id) { Kind::Lock } else { Kind::Other };
    }
    if let Some(id) = file_name.strip_prefix(NEW_PREFIX) {
        return if is_id(id) { Kind::New } else { Kind::Other };
    }
    if file_name.starts_with(OWN_PREFIX) {
        return Kind::Other;
    }
    Kind::Segment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_own_prefixes_are_not_names() {
        for bad in [
            "a\x1bb",
            "a\nb",
            "tab\t",
            "del\x7f",
            ".dbshm-lock-00",
            ".dbshm-x",
        ] {
            assert!(
                matches!(check(bad), Err(DbShmError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        for good in ["camera", ".hidden", "ümlaut", "a b", &"x".repeat(254)] {
            assert!(check(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn own_files_are_told_from_segments() {
        let id = FileId([0xab; LOCK_ID_SIZE]);
        assert_eq!(kind(&id.lock_name()), Kind::Lock);
        assert_eq!(kind(&id.new_name()), Kind::New);
        assert_eq!(kind(".dbshm-lock-zz"), Kind::Other);
        assert_eq!(kind("camera"), Kind::Segment);
        assert_ne!(FileId::random("t").unwrap(), FileId::random("t").unwrap());
    }
}
