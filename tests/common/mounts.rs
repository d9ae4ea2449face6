//! Directories for segments and files outside /dev/shm: a test's own
//! directory, and, as root, filesystems mounted on one: a small tmpfs to
//! fill, huge-page ones (a tmpfs mounted `huge=always`, hugetlbfs with pages
//! reserved for it). Each is unmounted, removed and its reservation given
//! back when dropped, also when the test fails. Where this process may not
//! mount or reserve, an error says why.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory of this test alone (mode 0700), removed with what is in it
/// when dropped.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        let path =
            std::env::temp_dir().join(format!("dbshm-test-dir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create the test directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The names in it, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A filesystem mounted on a [`TestDir`], unmounted when dropped (before
/// the directory goes).
pub struct Mount {
    dir: TestDir,
    /// hugetlb pages reserved for it, given back after the unmount.
    pool: Option<Pool>,
}

impl Mount {
    /// A plain tmpfs of `size` (as mount(8) takes it: `1m`), for a full disk.
    pub fn tmpfs(tag: &str, size: &str) -> Result<Mount, String> {
        Mount::new(tag, "tmpfs", &format!("size={size},mode=0700"), None)
    }

    /// A tmpfs mounted `huge=HUGE` (`always`, `within_size`).
    pub fn huge_tmpfs(tag: &str, huge: &str) -> Result<Mount, String> {
        let options = format!("huge={huge},size=256m,mode=0700");
        Mount::new(tag, "tmpfs", &options, None)
    }

    /// hugetlbfs with `pages` more huge pages reserved in the system's pool
    /// (none: the pool as it is) and the mount's `options` besides its mode.
    pub fn hugetlbfs(tag: &str, pages: u64, options: &str) -> Result<Mount, String> {
        let pool = match pages {
            0 => None,
            n => Some(Pool::reserve(n)?),
        };
        let options = format!("mode=0700{options}");
        Mount::new(tag, "hugetlbfs", &options, pool)
    }

    fn new(tag: &str, kind: &str, options: &str, pool: Option<Pool>) -> Result<Mount, String> {
        let dir = TestDir::new(tag);
        let out = Command::new("mount")
            .args(["-t", kind, "-o", options, kind])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "mount -t {kind} -o {options} failed: {}",
                why.trim()
            ));
        }
        Ok(Mount { dir, pool })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn entries(&self) -> Vec<String> {
        self.dir.entries()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
        drop(self.pool.take());
    }
}

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

/// Huge pages of the default size added to the system's pool
/// (`vm.nr_hugepages`), the pool set back to its size before when dropped.
struct Pool {
    before: u64,
}

impl Pool {
    fn reserve(pages: u64) -> Result<Pool, String> {
        let read = || -> Result<u64, String> {
            let s = std::fs::read_to_string(NR_HUGEPAGES).map_err(|e| e.to_string())?;
            s.trim().parse().map_err(|e| format!("{NR_HUGEPAGES}: {e}"))
        };
        let before = read()?;
        std::fs::write(NR_HUGEPAGES, (before + pages).to_string())
            .map_err(|e| format!("cannot reserve huge pages in {NR_HUGEPAGES}: {e}"))?;
        let pool = Pool { before };
        // The kernel gives fewer where memory is too fragmented.
        let now = read()?;
        if now < before + pages {
            return Err(format!(
                "the kernel reserved {} of {pages} huge pages asked for",
                now - before
            ));
        }
        Ok(pool)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = std::fs::write(NR_HUGEPAGES, self.before.to_string());
    }
}

/// Free huge pages of the default size in the system's pool, from
/// /proc/meminfo.
pub fn free_huge_pages() -> u64 {
    meminfo("HugePages_Free:")
}

/// The default huge page size in kB, from /proc/meminfo.
pub fn huge_page_kb() -> u64 {
    meminfo("Hugepagesize:")
}

fn meminfo(field: &str) -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Kilobytes of `field` (`ShmemPmdMapped`, `Shared_Hugetlb`, `Rss`) in this
/// process's mappings of `path`, from /proc/self/smaps.
pub fn smaps_kb(path: &Path, field: &str) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let (mut ours, mut kb) = (false, 0);
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        // A mapping's first line: "start-end perms offset dev inode path".
        if first.contains('-') && first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            ours = line.ends_with(&*path.to_string_lossy());
        } else if ours && first == format!("{field}:") {
            let n = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok());
            kb += n.unwrap_or(0);
        }
    }
    kb
}
