//! The design dbshm replaced, kept only as a benchmark baseline: a
//! process-local `Mutex` around a shared mapping, the array serialized into it
//! with bincode 1.x and deserialized out of it. The lock protects nothing
//! across processes, and every element goes through serde one at a time.
//!
//! Used by `benches/frame_copy.rs` and by the comparison harness in
//! `benchmarks/`, so both measure the same code.

use std::ffi::CString;
use std::sync::{Mutex, MutexGuard};

use dbshm::ndarray::ArrayD;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One serialized frame in a POSIX shared-memory mapping of its own.
pub struct OldDesign {
    lock: Mutex<()>,
    map: *mut u8,
    len: usize,
    name: CString,
}

impl OldDesign {
    /// Creates `/name` sized for `frame` serialized.
    pub fn create<T: Serialize>(name: &str, frame: &ArrayD<T>) -> OldDesign {
        let len = bincode::serialized_size(frame).expect("serialized size") as usize;
        let name = CString::new(format!("/{name}")).expect("name without NUL");
        // SAFETY: plain libc calls on a NUL-terminated name and a descriptor
        // this function owns; every result is checked before use.
        let map = unsafe {
            let fd = libc::shm_open(
                name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
                0o600,
            );
            assert!(fd >= 0, "shm_open: {}", std::io::Error::last_os_error());
            assert_eq!(libc::ftruncate(fd, len as libc::off_t), 0, "ftruncate");
            let map = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            libc::close(fd);
            assert_ne!(map, libc::MAP_FAILED, "mmap");
            map.cast::<u8>()
        };
        OldDesign {
            lock: Mutex::new(()),
            map,
            len,
            name,
        }
    }

    /// The mapping, borrowed for as long as the guard of `lock` that the
    /// caller passes; `write` and `read`, the only callers, pass their own.
    fn bytes<'a>(&'a self, _held: &'a mut MutexGuard<'_, ()>) -> &'a mut [u8] {
        // SAFETY: `map` is a live read-write mapping of `len` bytes until drop.
        // The only callers hold `lock` and keep the slice no longer than the
        // guard, so no two slices of it are alive at once.
        unsafe { std::slice::from_raw_parts_mut(self.map, self.len) }
    }

    /// Locks, then serializes `frame` into the mapping.
    pub fn write<T: Serialize>(&self, frame: &ArrayD<T>) {
        let mut held = self.lock.lock().unwrap();
        bincode::serialize_into(self.bytes(&mut held), frame).expect("serialize");
    }

    /// Locks, then deserializes a new array out of the mapping.
    pub fn read<T: DeserializeOwned>(&self) -> ArrayD<T> {
        let mut held = self.lock.lock().unwrap();
        bincode::deserialize(self.bytes(&mut held)).expect("deserialize")
    }
}

impl Drop for OldDesign {
    fn drop(&mut self) {
        // SAFETY: the mapping and name were made by `create` and are not used
        // after this.
        unsafe {
            libc::munmap(self.map.cast(), self.len);
            libc::shm_unlink(self.name.as_ptr());
        }
    }
}
