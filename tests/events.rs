//! `event_fd` across processes: readiness after each new frame and its
//! acknowledgement, no lost frame under a writer flat out, a dead writer
//! waking nobody, a forked child's watcher of its own, and nothing leaked
//! after 10,000 handles. This binary re-runs itself as each child it needs
//! (see tests/multiprocess.rs).

mod common;

use std::os::fd::{BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use common::{check, emit, fork_and_run, json, Failed, Proc, TestSegment};
use dbshm::{DoubleBufferedSharedMemory, Options};
use rustix::event::{poll, PollFd, PollFlags};

type Shm = DoubleBufferedSharedMemory<u8>;

fn main() {
    let trials = common::trials![
        the_descriptor_is_readable_after_each_frame_until_read,
        no_frame_is_lost_under_a_writer_flat_out,
        a_dead_writer_wakes_nobody_and_a_new_one_does,
        a_forked_child_gets_a_watcher_of_its_own,
        no_thread_or_descriptor_is_left_after_10000_handles,
    ];
    let roles = common::roles![
        write_frames,
        write_one_and_hang,
        forked_watcher,
        cycle_handles
    ];
    common::run_tests_or_child(&roles, trials);
}

/// Whether `fd` becomes readable within `ms` milliseconds.
fn readable(fd: RawFd, ms: i32) -> bool {
    // SAFETY: the caller's handle keeps the descriptor open.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = rustix::time::Timespec {
        tv_sec: i64::from(ms / 1000),
        tv_nsec: i64::from(ms % 1000) * 1_000_000,
    };
    matches!(poll(&mut fds, Some(&timeout)), Ok(1))
}

/// Reads the descriptor: the frames announced since the last read.
fn acknowledge(fd: RawFd) -> u64 {
    let mut count = [0u8; 8];
    // SAFETY: as in `readable`.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    match rustix::io::read(fd, &mut count) {
        Ok(8) => u64::from_ne_bytes(count),
        _ => 0, // EAGAIN: nothing announced
    }
}

fn segment(seg: &TestSegment) -> Result<Shm, Failed> {
    Ok(Options::new().create::<u8>(seg.name(), [64])?)
}

/// Child `write_frames NAME COUNT PERIOD_MS`: writes COUNT frames,
/// PERIOD_MS apart (0: flat out); reports `written` and the last `seq`.
fn write_frames(args: &[String]) {
    let w = Shm::open(&args[0]).unwrap();
    let (count, period): (u64, u64) = (args[1].parse().unwrap(), args[2].parse().unwrap());
    let mut seq = 0;
    for _ in 0..count {
        seq = w.write_slice(&[7; 64]).unwrap().seq;
        std::thread::sleep(Duration::from_millis(period));
    }
    emit(&json!({ "written": count, "seq": seq }));
}

/// Child `write_one_and_hang NAME`: writes one frame, says so, and sleeps
/// until killed.
fn write_one_and_hang(args: &[String]) {
    let w = Shm::open(&args[0]).unwrap();
    let seq = w.write_slice(&[1; 64]).unwrap().seq;
    emit(&json!({ "wrote": seq }));
    std::thread::sleep(Duration::from_secs(60));
}

fn the_descriptor_is_readable_after_each_frame_until_read() -> Result<(), Failed> {
    let seg = TestSegment::new("events-ready");
    let _owner = segment(&seg)?;
    let r = Shm::open_readonly(seg.name())?;
    let fd = r.event_fd()?;
    check(r.event_fd()? == fd, || {
        "a second call gave another descriptor".to_string()
    })?;
    check(!readable(fd, 200), || {
        "readable before any frame".to_string()
    })?;
    for n in 1..=3u64 {
        let writer = Proc::spawn(&["write_frames", seg.name(), "1", "0"]);
        writer.report()?;
        check(readable(fd, 5000), || format!("frame {n} not announced"))?;
        let count = acknowledge(fd);
        check(count >= 1, || format!("frame {n}: read {count}"))?;
        check(r.latest_seq() == n, || {
            format!("latest {} after frame {n}", r.latest_seq())
        })?;
        // Level-triggered: once read, quiet until the next frame.
        check(!readable(fd, 100), || {
            format!("still readable after reading frame {n}")
        })?;
        check(r.acknowledge_events()? == 0, || {
            "acknowledge_events found more after the read".to_string()
        })?;
    }
    Ok(())
}

fn no_frame_is_lost_under_a_writer_flat_out() -> Result<(), Failed> {
    let seg = TestSegment::new("events-flat-out");
    let _owner = segment(&seg)?;
    let r = Shm::open_readonly(seg.name())?;
    let fd = r.event_fd()?;
    let writer = Proc::spawn(&["write_frames", seg.name(), "200000", "0"]);
    // Each readiness: read it, then look at the latest frame. Every frame
    // is either seen or counted as skipped (latest-value semantics); a
    // poll that waits 5 s while frames keep coming is a stall.
    let (mut seen, mut wakes, mut last) = (0u64, 0u64, 0u64);
    let report = loop {
        if !readable(fd, 5000) {
            break None;
        }
        wakes += 1;
        acknowledge(fd);
        let latest = r.latest_seq();
        if latest > last {
            seen += 1;
            last = latest;
        }
        if latest == 200_000 {
            break Some(latest);
        }
    };
    let written = writer.report()?;
    let final_seq = written.count("seq");
    println!(
        "{seen} distinct frames seen in {wakes} wakes, {} skipped, of {final_seq}",
        final_seq - seen
    );
    check(report == Some(final_seq), || {
        format!("the descriptor went quiet at frame {last} of {final_seq}")
    })
}

fn a_dead_writer_wakes_nobody_and_a_new_one_does() -> Result<(), Failed> {
    let seg = TestSegment::new("events-dead");
    let _owner = segment(&seg)?;
    let r = Shm::open_readonly(seg.name())?;
    let fd = r.event_fd()?;
    let mut writer = Proc::spawn(&["write_one_and_hang", seg.name()]);
    writer.expect("wrote")?;
    check(readable(fd, 5000), || {
        "the frame was not announced".to_string()
    })?;
    check(r.acknowledge_events()? == 1, || {
        "one frame, but not one announcement".to_string()
    })?;
    writer.kill();
    check(!readable(fd, 300), || {
        "the writer's death was announced as a frame".to_string()
    })?;
    Proc::spawn(&["write_frames", seg.name(), "1", "0"]).report()?;
    check(readable(fd, 5000), || {
        "a new writer's frame was not announced".to_string()
    })
}

/// Child `forked_watcher NAME`: asks for a descriptor, forks, and in the
/// forked child asks again; the child says `ready`, and reports whether
/// the test's next frame is announced to it (`woken`). Reports `child`
/// (the forked child's exit status) itself.
fn forked_watcher(args: &[String]) {
    let r = Shm::open_readonly(&args[0]).unwrap();
    let parents = r.event_fd().unwrap();
    let status = fork_and_run(|| {
        let own = r.event_fd().unwrap();
        let before = r.latest_seq();
        emit(&json!({ "ready": true, "same_fd": own == parents }));
        let woken = readable(own, 10_000) && r.latest_seq() > before;
        emit(&json!({ "woken": woken }));
        0
    });
    emit(&json!({ "child": status }));
}

fn a_forked_child_gets_a_watcher_of_its_own() -> Result<(), Failed> {
    let seg = TestSegment::new("events-fork");
    let w = segment(&seg)?;
    let mut child = Proc::spawn(&["forked_watcher", seg.name()]);
    child.expect("ready")?;
    std::thread::sleep(Duration::from_millis(50));
    w.write_slice(&[3; 64])?;
    let report = child.report()?;
    check(
        report.get("woken") == Some(&json!(true)) && report.count("child") == 0,
        || format!("a forked child's own descriptor: {report}"),
    )
}

/// Entries of a directory of /proc/self (its threads, its descriptors).
fn entries(dir: &str) -> usize {
    std::fs::read_dir(format!("/proc/self/{dir}")).map_or(0, |d| d.count())
}

/// Child `cycle_handles NAME COUNT`: opens COUNT handles in turn, each with
/// a watcher, and drops them; reports this process's threads and
/// descriptors before and after (counted alone: in a test binary's own
/// process, the other tests' threads would blur them).
fn cycle_handles(args: &[String]) {
    let count: u32 = args[1].parse().unwrap();
    let one = Shm::open_readonly(&args[0]).unwrap();
    one.event_fd().unwrap();
    drop(one);
    let (threads, fds) = (entries("task"), entries("fd"));
    let start = Instant::now();
    for _ in 0..count {
        let r = Shm::open_readonly(&args[0]).unwrap();
        r.event_fd().unwrap();
    }
    emit(&json!({
        "threads": threads, "threads_after": entries("task"),
        "fds": fds, "fds_after": entries("fd"),
        "seconds": start.elapsed().as_secs_f64(),
    }));
}

fn no_thread_or_descriptor_is_left_after_10000_handles() -> Result<(), Failed> {
    let seg = TestSegment::new("events-leak");
    let _owner = segment(&seg)?;
    let report = Proc::spawn(&["cycle_handles", seg.name(), "10000"]).report()?;
    println!("10,000 handles with a watcher each: {report}");
    check(
        report.count("threads_after") == report.count("threads")
            && report.count("fds_after") == report.count("fds"),
        || format!("leaked: {report}"),
    )
}
