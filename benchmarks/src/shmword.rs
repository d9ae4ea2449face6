//! A 32-bit word in a POSIX shared-memory object, with `FUTEX_WAKE` and
//! `FUTEX_WAIT` on it: the raw futex ping between two processes, which is the
//! floor for any blocking wake-up on this machine.

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

pub struct SharedWord {
    word: *const AtomicU32,
    name: CString,
    owner: bool,
}

impl SharedWord {
    pub fn create(name: &str) -> SharedWord {
        SharedWord::map(name, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, true)
    }

    pub fn open(name: &str) -> SharedWord {
        SharedWord::map(name, libc::O_RDWR, false)
    }

    fn map(name: &str, flags: libc::c_int, owner: bool) -> SharedWord {
        let name = CString::new(format!("/{name}")).expect("name without NUL");
        // SAFETY: plain libc calls on a NUL-terminated name and a descriptor
        // owned here; each result is checked. A new object is zero-filled.
        let word = unsafe {
            let fd = libc::shm_open(name.as_ptr(), flags, 0o600);
            assert!(fd >= 0, "shm_open: {}", std::io::Error::last_os_error());
            if owner {
                assert_eq!(libc::ftruncate(fd, 4096), 0, "ftruncate");
            }
            let map = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            libc::close(fd);
            assert_ne!(map, libc::MAP_FAILED, "mmap");
            map as *const AtomicU32
        };
        SharedWord { word, name, owner }
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: the page stays mapped until drop; AtomicU32 has the layout
        // of a u32, and the page is aligned.
        unsafe { &*self.word }
    }

    /// Stores `value` and wakes every waiter.
    pub fn publish(&self, value: u32) {
        // Release: a woken reader that loads `value` also sees what was
        // written before it (nothing here, but it is what a real ping needs).
        self.word().store(value, Ordering::Release);
        // SAFETY: FUTEX_WAKE on a word of a live shared mapping.
        unsafe { libc::syscall(libc::SYS_futex, self.word, libc::FUTEX_WAKE, i32::MAX) };
    }

    /// Sleeps until the word holds `value`; panics after `deadline`.
    pub fn wait_for(&self, value: u32, deadline: Instant) {
        // A bounded sleep, so that the deadline is checked.
        let tick = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        loop {
            // Acquire: pairs with the Release store in `publish`.
            let seen = self.word().load(Ordering::Acquire);
            if seen == value {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the futex word never reached {value}"
            );
            // SAFETY: FUTEX_WAIT on a word of a live shared mapping, with a
            // timeout that lives across the call; it returns at once if the
            // word no longer holds `seen`.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word,
                    libc::FUTEX_WAIT,
                    seen,
                    &tick as *const libc::timespec,
                )
            };
        }
    }
}

impl Drop for SharedWord {
    fn drop(&mut self) {
        // SAFETY: unmaps the page mapped in `map`, not used after this.
        unsafe {
            libc::munmap(self.word as *mut libc::c_void, 4096);
            if self.owner {
                libc::shm_unlink(self.name.as_ptr());
            }
        }
    }
}
