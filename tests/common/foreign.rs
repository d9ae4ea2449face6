//! A file a test puts in /dev/shm by hand, not a segment: shared by the
//! library's and the command's tests (`#[path]`).

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A regular file in /dev/shm, removed on drop with `remove_file` if it is
/// still the file made; if a library call put a segment in its place, that
/// is removed with `dbshm::unlink`.
pub struct Foreign {
    pub name: String,
    pub path: PathBuf,
    pub ino: u64,
}

impl Foreign {
    /// The file `name`, of `size` bytes, holding `chunks` at their offsets.
    pub fn create(name: String, size: u64, chunks: &[(u64, &[u8])]) -> Foreign {
        let path = Path::new("/dev/shm").join(&name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        file.set_len(size).unwrap();
        for (offset, bytes) in chunks {
            file.write_all_at(bytes, *offset).unwrap();
        }
        let ino = file.metadata().unwrap().ino();
        Foreign { name, path, ino }
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.ino() == self.ino => {
                let _ = std::fs::remove_file(&self.path);
            }
            Ok(_) => {
                let _ = dbshm::unlink(&self.name);
            }
            Err(_) => {}
        }
    }
}
