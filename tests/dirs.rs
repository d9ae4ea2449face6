//! Segments in a directory other than /dev/shm (`Options::dir`,
//! `DBSHM_DIR`): shared between processes through the environment
//! variable, frames whole under a writer flat out and after a writer is
//! killed, listed, inspected and removed there; and every directory that
//! /dev/shm's rules would refuse refused, naming the segment and the
//! directory. This binary re-runs itself as each child it needs (see
//! tests/multiprocess.rs).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::frames::{read_frames, write_frames};
use common::mounts::{free_huge_pages, huge_page_kb, smaps_kb, Mount, TestDir};
use common::{check, check_tally, emit, json, root_or_skip, Failed, Proc};
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Options};

type Shm = DoubleBufferedSharedMemory<u8>;

/// Held by the tests whose tmpfs pages the system's transparent huge page
/// policy decides, which one of them changes for its duration.
static THP_POLICY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`THP_POLICY`], also after a test that held it failed.
fn thp_policy() -> std::sync::MutexGuard<'static, ()> {
    THP_POLICY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn main() {
    let trials = common::trials![
        a_segment_in_a_chosen_directory_is_shared_through_dbshm_dir,
        frames_stay_whole_in_a_chosen_directory_and_survive_a_killed_writer,
        a_directory_others_may_write_is_refused_unless_sticky,
        a_link_a_file_or_nothing_is_refused_as_a_directory,
        a_directory_of_another_user_is_refused,
        big_frames_are_on_huge_pages_in_a_huge_page_tmpfs,
        small_frames_keep_small_pages_on_a_within_size_tmpfs,
        the_systems_force_and_deny_decide_for_every_tmpfs,
        every_page_is_huge_on_hugetlbfs_and_an_exhausted_pool_is_a_clear_error,
    ];
    let roles = common::roles![read_one, write_pattern, read_pattern];
    common::run_tests_or_child(&roles, trials);
}

fn name(tag: &str) -> String {
    format!("dbshm-test-dirs-{tag}-{}", std::process::id())
}

/// Child `read_one NAME`: opens NAME read-only where `DBSHM_DIR` says and
/// reports its latest frame's number and first element.
fn read_one(args: &[String]) {
    let r = Shm::open_readonly(&args[0]).unwrap();
    let (frame, info) = r.read_with_info().unwrap();
    emit(&json!({ "seq": info.seq, "first": frame.as_slice().unwrap()[0] }));
}

/// Child `write_pattern NAME MS`: verifiable frames for MS milliseconds.
fn write_pattern(args: &[String]) {
    write_frames::<u8>(&args[0], args[1].parse().unwrap());
}

/// Child `read_pattern NAME MS`: copies and verifies frames for MS milliseconds.
fn read_pattern(args: &[String]) {
    read_frames::<u8>(&args[0], args[1].parse().unwrap());
}

fn a_segment_in_a_chosen_directory_is_shared_through_dbshm_dir() -> Result<(), Failed> {
    let dir = TestDir::new("shared");
    let name = name("shared");
    let w = Options::new().dir(dir.path()).create::<u8>(&name, [64])?;
    w.write_slice(&[42; 64])?;
    let report = Proc::spawn_in(dir.path(), &["read_one", &name]).report()?;
    check(
        report.count("seq") == 1 && report.count("first") == 42,
        || format!("a reader through DBSHM_DIR: {report}"),
    )?;
    // Not in /dev/shm, and the lock file is beside the segment.
    check(
        matches!(
            dbshm::inspect_in(Path::new("/dev/shm"), &name),
            Err(DbShmError::NotFound { .. })
        ),
        || "the segment is also in /dev/shm".to_string(),
    )?;
    let info = dbshm::inspect_in(dir.path(), &name)?;
    let base_kb = rustix::param::page_size() as u32 / 1024;
    check(
        info.backing
            .as_ref()
            .is_some_and(|b| b.page_kb == base_kb && b.huge_kb == [0, 0]),
        || format!("in a plain directory, backing {:?}", info.backing),
    )?;
    let listed = dbshm::list_in(dir.path())?;
    check(
        info.dir == dir.path() && listed.len() == 1 && listed[0].name == name,
        || {
            format!(
                "inspect_in says {:?}, list_in found {}",
                info.dir,
                listed.len()
            )
        },
    )?;
    check(
        dir.entries() == [info.lock_file.clone(), name.clone()],
        || format!("the directory holds {:?}", dir.entries()),
    )?;
    Options::new().dir(dir.path()).unlink(&name)?;
    check(dir.entries().is_empty(), || {
        format!("unlink left {:?}", dir.entries())
    })
}

fn frames_stay_whole_in_a_chosen_directory_and_survive_a_killed_writer() -> Result<(), Failed> {
    let dir = TestDir::new("frames");
    frames_stay_whole_and_survive_a_killed_writer(dir.path(), &name("frames"))
}

/// A 1080p writer process flat out in `dir`, two verifying readers, the
/// writer killed with SIGKILL and a successor: 0 torn, nothing backwards.
fn frames_stay_whole_and_survive_a_killed_writer(dir: &Path, name: &str) -> Result<(), Failed> {
    let owner = Options::new()
        .dir(dir)
        .create::<u8>(name, [1080, 1920, 3])?;
    drop(owner);
    let mut writer = Proc::spawn_in(dir, &["write_pattern", name, "0"]);
    writer.expect("started")?;
    let readers: Vec<Proc> = (0..2)
        .map(|_| Proc::spawn_in(dir, &["read_pattern", name, "1500"]))
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    writer.kill(); // SIGKILL, at whatever point of a frame it is
    let mut successor = Proc::spawn_in(dir, &["write_pattern", name, "600"]);
    successor.expect("started")?;
    for reader in readers {
        let report = reader.report()?;
        check_tally(&report, 2, &format!("a reader in {dir:?}"))?;
    }
    let written = successor.report()?;
    check(written.count("written") > 0, || {
        format!("the successor wrote nothing: {written}")
    })?;
    Options::new().dir(dir).unlink(name)?;
    Ok(())
}

/// The `BadDirectory` error, if `result` is one, with its message.
fn refusal<T>(result: dbshm::Result<T>) -> Option<String> {
    match result {
        Err(e @ DbShmError::BadDirectory { .. }) => Some(e.to_string()),
        _ => None,
    }
}

fn a_directory_others_may_write_is_refused_unless_sticky() -> Result<(), Failed> {
    let dir = TestDir::new("open");
    let name = name("open");
    for mode in [0o777, 0o770, 0o702] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode))?;
        let message = refusal(Options::new().dir(dir.path()).create::<u8>(&name, [8]));
        let message = message.ok_or_else(|| format!("mode {mode:04o}: created"))?;
        check(
            message.contains(&name)
                && message.contains(&dir.path().display().to_string())
                && message.contains("not sticky"),
            || format!("mode {mode:04o}: {message}"),
        )?;
        check(dir.entries().is_empty(), || {
            format!("a refused create left {:?}", dir.entries())
        })?;
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))?;
    let shm = Options::new().dir(dir.path()).create::<u8>(&name, [8])?;
    // Refused for every use, not only create, once the mode changes.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
    check(
        refusal(Options::new().dir(dir.path()).open::<u8>(&name)).is_some(),
        || "an open in a world-writable directory was not refused".to_string(),
    )?;
    check(refusal(dbshm::list_in(dir.path())).is_some(), || {
        "list_in a world-writable directory was not refused".to_string()
    })?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    drop(shm);
    Options::new().dir(dir.path()).unlink(&name)?;
    Ok(())
}

fn a_link_a_file_or_nothing_is_refused_as_a_directory() -> Result<(), Failed> {
    let dir = TestDir::new("links");
    let name = name("links");
    let real = dir.path().join("real");
    std::fs::create_dir(&real)?;
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link)?;
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a directory")?;
    for (path, says) in [
        (link, "symbolic link"),
        (file, "not a directory"),
        (dir.path().join("missing"), "does not exist"),
    ] {
        let message = refusal(Options::new().dir(&path).create::<u8>(&name, [8]));
        let message = message.ok_or_else(|| format!("{path:?}: created"))?;
        check(message.contains(says), || format!("{path:?}: {message}"))?;
    }
    check(std::fs::read_dir(&real)?.next().is_none(), || {
        "a segment was made through the link".to_string()
    })
}

fn a_directory_of_another_user_is_refused() -> Result<(), Failed> {
    if !root_or_skip("a_directory_of_another_user_is_refused") {
        return Ok(());
    }
    let dir = TestDir::new("owner");
    let name = name("owner");
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs)?;
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534))?;
    let message = refusal(Options::new().dir(&theirs).create::<u8>(&name, [8]));
    let message = message.ok_or("root created a segment in nobody's directory")?;
    check(message.contains("uid 65534"), || message.clone())
}

fn big_frames_are_on_huge_pages_in_a_huge_page_tmpfs() -> Result<(), Failed> {
    if !root_or_skip("big_frames_are_on_huge_pages_in_a_huge_page_tmpfs") {
        return Ok(());
    }
    let _policy = thp_policy();
    let Some(mount) = huge_tmpfs_or_skip("huge", "always") else {
        return Ok(());
    };
    let dir = mount.path();
    let sysfs = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";
    let huge: usize = std::fs::read_to_string(sysfs)?.trim().parse()?;
    // A 1080p frame: buffers on huge-page boundaries, backed by huge pages.
    let big = name("huge-big");
    let shm = Options::new()
        .dir(dir)
        .create::<u8>(&big, [1080, 1920, 3])?;
    let info = dbshm::inspect_in(dir, &big)?;
    let offsets = info.buffer_offsets;
    check(offsets.iter().all(|o| o % huge == 0), || {
        format!("buffer offsets {offsets:?} are not multiples of {huge}")
    })?;
    recorded_all_huge(info.backing, huge, "a 1080p segment on huge=always")?;
    for i in 0..3u8 {
        shm.write_slice(&vec![i; shm.len()])?;
    }
    let (on_huge, rss) = (
        smaps_kb(&dir.join(&big), "ShmemPmdMapped"),
        smaps_kb(&dir.join(&big), "Rss"),
    );
    println!("1080p segment on huge=always: {on_huge} kB of {rss} kB mapped on huge pages");
    // Two buffers written, three whole huge pages each at least.
    check(on_huge >= 2 * 3 * (huge as u64 / 1024), || {
        format!("only {on_huge} kB of {rss} kB on huge pages")
    })?;
    // A 30 KB frame keeps the small layout (the mount may still give the
    // file huge pages: on `huge=always` every file takes them).
    let small = name("huge-small");
    let little = Options::new()
        .dir(dir)
        .create::<u8>(&small, [100, 100, 3])?;
    let offsets = dbshm::inspect_in(dir, &small)?.buffer_offsets;
    check(offsets[0] == dbshm::layout::HEADER_SIZE, || {
        format!("a 30 KB frame's buffers at {offsets:?}")
    })?;
    // Three 640x480 frames share the first huge pages: buffers 0 and 1 lie
    // in the first one, which smaps shows huge; buffer 2 straddles it.
    let vga = name("huge-vga");
    let three = Options::new()
        .dir(dir)
        .buffers(3)
        .create::<u8>(&vga, [480, 640, 3])?;
    let backing = dbshm::inspect_in(dir, &vga)?.backing;
    println!("3 x 640x480 on huge=always: {backing:?}");
    check(
        backing
            .as_ref()
            .is_some_and(|b| b.all_huge(0) && b.all_huge(1) && b.page_kb as usize * 1024 == huge),
        || format!("3 x 640x480 on huge=always: {backing:?}"),
    )?;
    drop((shm, little, three));
    for n in [&big, &small, &vga] {
        Options::new().dir(dir).unlink(n)?;
    }
    // Across processes there, and a killed writer.
    frames_stay_whole_and_survive_a_killed_writer(dir, &name("huge-frames"))
}

/// [`Mount::huge_tmpfs`], or `None` once it has said why the test skips.
fn huge_tmpfs_or_skip(tag: &str, huge: &str) -> Option<Mount> {
    Mount::huge_tmpfs(tag, huge)
        .map_err(|why| println!("skipped: {why}"))
        .ok()
}

/// Creating a 1080p segment in `mount` fails at once, saying why and
/// naming the segment, leaves nothing behind, and gives back the pages it
/// took before it found none left.
fn refused_for_want_of_huge_pages(mount: &Mount, what: &str) -> Result<(), Failed> {
    let name = name("hugetlb-refused");
    let free = free_huge_pages();
    let result = Options::new()
        .dir(mount.path())
        .create::<u8>(&name, [1080, 1920, 3]);
    let message = match result {
        Err(e @ DbShmError::Os { .. }) => e.to_string(),
        Err(e) => return Err(format!("{what}: another error: {e}").into()),
        Ok(_) => return Err(format!("{what}: created").into()),
    };
    println!("{what}: {message}");
    check(
        message.contains(&name) && message.contains("huge page pool"),
        || format!("{what}: {message}"),
    )?;
    check(mount.entries().is_empty(), || {
        format!("{what}: left {:?}", mount.entries())
    })?;
    check(free_huge_pages() == free, || {
        format!(
            "{what}: {free} free huge pages before, {} after",
            free_huge_pages()
        )
    })
}

fn every_page_is_huge_on_hugetlbfs_and_an_exhausted_pool_is_a_clear_error() -> Result<(), Failed> {
    let test = "every_page_is_huge_on_hugetlbfs_and_an_exhausted_pool_is_a_clear_error";
    if !root_or_skip(test) {
        return Ok(());
    }
    let skip = |why: String| {
        println!("skipped: {why}");
        Ok(())
    };
    // The system's pool as it is: on a machine that reserves none, empty.
    match Mount::hugetlbfs("hugetlb-empty", 0, "") {
        Err(why) => return skip(why),
        Ok(_) if free_huge_pages() > 0 => {
            println!("the system's pool has free pages: the empty pool is not tried")
        }
        Ok(mount) => refused_for_want_of_huge_pages(&mount, "the empty pool")?,
    }
    // A mount allowed one page: the lock file takes it, the segment finds none.
    let page_kb = huge_page_kb();
    match Mount::hugetlbfs("hugetlb-full", 4, &format!(",size={page_kb}k")) {
        Err(why) => return skip(why),
        Ok(mount) => refused_for_want_of_huge_pages(&mount, "a mount of one page")?,
    }
    let mount = match Mount::hugetlbfs("hugetlb", 24, "") {
        Err(why) => return skip(why),
        Ok(mount) => mount,
    };
    let dir = mount.path();
    let huge = page_kb as usize * 1024;
    // A 1080p frame: buffers on huge-page boundaries, all of it huge pages.
    let big = name("hugetlb-big");
    let shm = Options::new()
        .dir(dir)
        .create::<u8>(&big, [1080, 1920, 3])?;
    let info = dbshm::inspect_in(dir, &big)?;
    let offsets = info.buffer_offsets;
    check(offsets.iter().all(|o| o % huge == 0), || {
        format!("buffer offsets {offsets:?} are not multiples of {huge}")
    })?;
    recorded_all_huge(info.backing, huge, "a 1080p segment on hugetlbfs")?;
    for i in 0..3u8 {
        shm.write_slice(&vec![i; shm.len()])?;
    }
    // Mapped by this process alone, the kernel counts its pages private.
    let path = dir.join(&big);
    let on_huge = smaps_kb(&path, "Shared_Hugetlb") + smaps_kb(&path, "Private_Hugetlb");
    let (size, page) = (smaps_kb(&path, "Size"), smaps_kb(&path, "KernelPageSize"));
    println!("1080p segment on hugetlbfs: {on_huge} kB of {size} kB on huge pages");
    check(on_huge == size && page == page_kb, || {
        format!("{on_huge} kB of {size} kB on huge pages, pages of {page} kB")
    })?;
    // A 30 KB frame: the small layout, in one huge page.
    let small = name("hugetlb-small");
    let little = Options::new()
        .dir(dir)
        .create::<u8>(&small, [100, 100, 3])?;
    little.write_slice(&[7; 30_000])?;
    let reader = Options::new().dir(dir).open_readonly::<u8>(&small)?;
    let frame = reader.read()?;
    check(frame.as_slice().unwrap().iter().all(|&b| b == 7), || {
        "a 30 KB frame read back wrong".to_string()
    })?;
    recorded_all_huge(
        dbshm::inspect_in(dir, &small)?.backing,
        huge,
        "a 30 KB segment on hugetlbfs",
    )?;
    let size = std::fs::metadata(dir.join(&small))?.len();
    check(size == huge as u64, || {
        format!("a 30 KB segment's file is {size} bytes")
    })?;
    drop((shm, little, reader));
    // A file whose size is no whole number of pages (fallocate can make
    // one): a mapping past its last page would fault, so it is refused.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(&small))?;
    let size = file.metadata()?.len();
    rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size + 4096)?;
    let refused = Options::new().dir(dir).open_readonly::<u8>(&small);
    let message = match refused {
        Err(e @ DbShmError::Incompatible { .. }) => e.to_string(),
        other => {
            return Err(format!("a file of {} bytes: {:?}", size + 4096, other.map(|_| ())).into())
        }
    };
    println!("a hugetlbfs file of {} bytes: {message}", size + 4096);
    check(message.contains("not a whole number"), || message.clone())?;
    drop(file);
    for n in [&big, &small] {
        Options::new().dir(dir).unlink(n)?;
    }
    frames_stay_whole_and_survive_a_killed_writer(dir, &name("hugetlb-frames"))?;
    check(mount.entries().is_empty(), || {
        format!("left {:?}", mount.entries())
    })
}

/// Whether the segment's header says its creator found every buffer on
/// huge pages of `huge` bytes.
fn recorded_all_huge(
    backing: Option<dbshm::layout::Backing>,
    huge: usize,
    what: &str,
) -> Result<(), Failed> {
    println!("{what}: {backing:?}");
    check(
        backing.as_ref().is_some_and(|b| {
            b.page_kb as usize * 1024 == huge && (0..b.huge_kb.len()).all(|i| b.all_huge(i))
        }),
        || format!("{what}: recorded {backing:?}"),
    )
}

fn small_frames_keep_small_pages_on_a_within_size_tmpfs() -> Result<(), Failed> {
    if !root_or_skip("small_frames_keep_small_pages_on_a_within_size_tmpfs") {
        return Ok(());
    }
    let _policy = thp_policy();
    let Some(mount) = huge_tmpfs_or_skip("within", "within_size") else {
        return Ok(());
    };
    let dir = mount.path();
    let huge: usize = huge_page_kb() as usize * 1024;
    let (small, big) = (name("within-small"), name("within-big"));
    let little = Options::new()
        .dir(dir)
        .create::<u8>(&small, [100, 100, 3])?;
    let shm = Options::new()
        .dir(dir)
        .create::<u8>(&big, [1080, 1920, 3])?;
    little.write_slice(&[1; 30_000])?;
    // A 30 KB segment: small pages, by its record and by smaps, and no
    // more memory than its size (72 kB).
    let info = dbshm::inspect_in(dir, &small)?;
    let path = dir.join(&small);
    let (on_huge, rss) = (smaps_kb(&path, "ShmemPmdMapped"), smaps_kb(&path, "Rss"));
    println!(
        "30 KB segment on huge=within_size: {:?}; {on_huge} of {rss} kB huge",
        info.backing
    );
    check(
        info.backing
            .as_ref()
            .is_some_and(|b| b.huge_kb.iter().all(|&kb| kb == 0))
            && on_huge == 0
            && rss * 1024 <= info.total_size as u64,
        || {
            format!(
                "a 30 KB segment: {:?}, {on_huge} of {rss} kB huge",
                info.backing
            )
        },
    )?;
    // A 1080p one there: huge pages.
    recorded_all_huge(
        dbshm::inspect_in(dir, &big)?.backing,
        huge,
        "1080p on huge=within_size",
    )?;
    drop((little, shm));
    for n in [&small, &big] {
        Options::new().dir(dir).unlink(n)?;
    }
    Ok(())
}

/// The system's transparent huge page policy for every tmpfs, set for a
/// test and set back when dropped.
struct ShmemPolicy(String);

const SHMEM_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";

impl ShmemPolicy {
    fn set(policy: &str) -> Result<ShmemPolicy, String> {
        let now = std::fs::read_to_string(SHMEM_ENABLED).map_err(|e| e.to_string())?;
        let before = now
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[')?.strip_suffix(']'))
            .ok_or(format!("{SHMEM_ENABLED} says {now:?}"))?
            .to_owned();
        std::fs::write(SHMEM_ENABLED, policy).map_err(|e| format!("{SHMEM_ENABLED}: {e}"))?;
        Ok(ShmemPolicy(before))
    }
}

impl Drop for ShmemPolicy {
    fn drop(&mut self) {
        let _ = std::fs::write(SHMEM_ENABLED, &self.0);
    }
}

/// Where `shmem_enabled` is `force`, a tmpfs mounted without `huge=` (as
/// /dev/shm is) gives huge pages, and a 1080p segment gets huge-page
/// buffers there; where it is `deny`, a `huge=always` mount gives none, and
/// the segment keeps the small layout.
fn the_systems_force_and_deny_decide_for_every_tmpfs() -> Result<(), Failed> {
    if !root_or_skip("the_systems_force_and_deny_decide_for_every_tmpfs") {
        return Ok(());
    }
    let _policy = thp_policy();
    let huge = huge_page_kb() as usize * 1024;
    for (policy, mount_huge, on_huge) in [("force", "never", true), ("deny", "always", false)] {
        let (mount, _policy) = match Mount::huge_tmpfs(&format!("policy-{policy}"), mount_huge)
            .and_then(|m| Ok((m, ShmemPolicy::set(policy)?)))
        {
            Ok(both) => both,
            Err(why) => {
                println!("skipped: {why}");
                return Ok(());
            }
        };
        let name = name(&format!("policy-{policy}"));
        let shm = Options::new()
            .dir(mount.path())
            .create::<u8>(&name, [1080, 1920, 3])?;
        let info = dbshm::inspect_in(mount.path(), &name)?;
        let what = format!("shmem_enabled {policy}, mount huge={mount_huge}");
        println!(
            "{what}: buffers at {:?}, {:?}",
            info.buffer_offsets, info.backing
        );
        if on_huge {
            check(info.buffer_offsets[0] == huge, || {
                format!("{what}: buffers at {:?}", info.buffer_offsets)
            })?;
            recorded_all_huge(info.backing, huge, &what)?;
        } else {
            check(
                info.buffer_offsets[0] == dbshm::layout::HEADER_SIZE
                    && info
                        .backing
                        .is_some_and(|b| b.huge_kb.iter().all(|&kb| kb == 0)),
                || format!("{what}: buffers at {:?}", info.buffer_offsets),
            )?;
        }
        drop(shm);
        Options::new().dir(mount.path()).unlink(&name)?;
    }
    Ok(())
}
