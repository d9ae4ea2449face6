//! `event_fd` and the async waits across processes: readiness after each
//! new frame and its acknowledgement, no lost frame under a writer flat out
//! (a descriptor, and tokio tasks following three segments), futures under
//! `futures::executor` and tokio with their timeouts and cancellation, a
//! dead writer waking nobody, a forked child's watcher of its own, and
//! nothing leaked after 10,000 handles. This binary re-runs itself as each
//! child it needs (see tests/multiprocess.rs).

mod common;

use std::os::fd::{BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use common::{check, emit, fork_and_run, is_frame, json, Failed, Proc, TestSegment};
use dbshm::{DoubleBufferedSharedMemory, Options};
use futures::FutureExt;
use rustix::event::{poll, PollFd, PollFlags};

type Shm = DoubleBufferedSharedMemory<u8>;

fn main() {
    let trials = common::trials![
        the_descriptor_is_readable_after_each_frame_until_read,
        no_frame_is_lost_under_a_writer_flat_out,
        a_dead_writer_wakes_nobody_and_a_new_one_does,
        a_forked_child_gets_a_watcher_of_its_own,
        no_thread_or_descriptor_is_left_after_10000_handles,
        tokio_tasks_follow_three_segments_written_flat_out,
        a_future_under_futures_executor_wakes_for_a_frame_and_cancels_cleanly,
        a_tokio_timeout_bounds_an_async_wait_and_a_dead_writer_wakes_no_future,
        a_forked_child_waits_asynchronously_with_a_watcher_of_its_own,
        no_thread_or_descriptor_is_left_after_10000_async_waits,
        an_async_wait_for_a_frame_already_there_lets_other_tasks_run,
    ];
    let roles = common::roles![
        write_frames,
        write_one_and_hang,
        forked_watcher,
        cycle_handles,
        write_pattern,
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

/// Child `forked_watcher NAME HOW`: starts a watcher (HOW `fd`: asks for
/// a descriptor; `async`: a future registers), forks, and in the forked
/// child waits the same way for the test's next frame, after saying
/// `ready`; reports whether it was woken (`woken`), and `child` (the forked
/// child's exit status) itself.
fn forked_watcher(args: &[String]) {
    let r = Shm::open_readonly(&args[0]).unwrap();
    let by_fd = args[1] == "fd";
    if by_fd {
        r.event_fd().unwrap();
    } else {
        assert!(r.wait_async(0).now_or_never().is_none());
    }
    let status = fork_and_run(|| {
        let before = r.latest_seq();
        let woken = if by_fd {
            let own = r.event_fd().unwrap();
            emit(&json!({ "ready": true }));
            readable(own, 10_000) && r.latest_seq() > before
        } else {
            // Registered (its watcher started) before the test may write.
            let mut waiting = std::pin::pin!(r.wait_async(before));
            let first = waiting.as_mut().now_or_never();
            emit(&json!({ "ready": true }));
            first.is_none() && matches!(block_on_within(10, waiting), Some(Ok(_)))
        };
        emit(&json!({ "woken": woken }));
        0
    });
    emit(&json!({ "child": status }));
}

fn a_forked_child_gets_a_watcher_of_its_own() -> Result<(), Failed> {
    forked_child_is_woken("events-fork", "fd")
}

fn a_forked_child_waits_asynchronously_with_a_watcher_of_its_own() -> Result<(), Failed> {
    forked_child_is_woken("events-fork-async", "async")
}

fn forked_child_is_woken(tag: &str, how: &str) -> Result<(), Failed> {
    let seg = TestSegment::new(tag);
    let w = segment(&seg)?;
    let mut child = Proc::spawn(&["forked_watcher", seg.name(), how]);
    child.expect("ready")?;
    std::thread::sleep(Duration::from_millis(50));
    w.write_slice(&[3; 64])?;
    let report = child.report()?;
    check(
        report.get("woken") == Some(&json!(true)) && report.count("child") == 0,
        || format!("a forked child's own watcher ({how}): {report}"),
    )
}

/// Entries of a directory of /proc/self (its threads, its descriptors).
fn entries(dir: &str) -> usize {
    std::fs::read_dir(format!("/proc/self/{dir}")).map_or(0, |d| d.count())
}

/// Child `cycle_handles NAME COUNT HOW`: opens COUNT handles in turn, each
/// with a watcher, and drops them; HOW is `fd` (the handle asks for its
/// descriptor) or `async` (a future waits, registered, and is dropped).
/// Reports this process's threads and descriptors before and after
/// (counted alone: in a test binary's own process, the other tests'
/// threads would blur them).
fn cycle_handles(args: &[String]) {
    let count: u32 = args[1].parse().unwrap();
    let watch = |r: &Shm| match args[2].as_str() {
        "fd" => drop(r.event_fd().unwrap()),
        // One poll: it finds no frame, starts the watcher and registers.
        _ => assert!(r.wait_async(r.latest_seq()).now_or_never().is_none()),
    };
    // A joined thread may still be listed for a moment (under qemu-user,
    // with the other core busy, long enough to be counted): waits up to
    // 2 s for the count to come down to `threads`.
    let settle = |threads: usize| {
        let settled = Instant::now() + Duration::from_secs(2);
        while entries("task") > threads && Instant::now() < settled {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let before_any = entries("task");
    let one = Shm::open_readonly(&args[0]).unwrap();
    watch(&one);
    drop(one);
    // The first handle's watcher too, or the count before would hold it.
    settle(before_any);
    let (threads, fds) = (entries("task"), entries("fd"));
    let start = Instant::now();
    for _ in 0..count {
        let r = Shm::open_readonly(&args[0]).unwrap();
        watch(&r);
    }
    settle(threads);
    emit(&json!({
        "threads": threads, "threads_after": entries("task"),
        "fds": fds, "fds_after": entries("fd"),
        "seconds": start.elapsed().as_secs_f64(),
    }));
}

fn no_thread_or_descriptor_is_left_after_10000_handles() -> Result<(), Failed> {
    cycle_10000("events-leak", "fd")
}

fn no_thread_or_descriptor_is_left_after_10000_async_waits() -> Result<(), Failed> {
    cycle_10000("events-async-leak", "async")
}

fn cycle_10000(tag: &str, how: &str) -> Result<(), Failed> {
    let seg = TestSegment::new(tag);
    let _owner = segment(&seg)?;
    let report = Proc::spawn(&["cycle_handles", seg.name(), "10000", how]).report()?;
    println!("10,000 handles with a watcher each ({how}): {report}");
    check(
        report.count("threads_after") == report.count("threads")
            && report.count("fds_after") == report.count("fds"),
        || format!("leaked: {report}"),
    )
}

// ------------------------------------------------ async waits

/// The shape of the frames the async tests verify: 57,600 bytes.
const PATTERN_SHAPE: [usize; 3] = [120, 160, 3];

/// Child `write_pattern NAME MS`: writes frames of the test pattern flat
/// out for MS milliseconds (see `common::frames`).
fn write_pattern(args: &[String]) {
    common::frames::write_frames::<u8>(&args[0], args[1].parse().unwrap());
}

/// What a task following a segment found.
#[derive(Default, Debug)]
struct Followed {
    frames: u64,
    torn: u64,
    backwards: u64,
    last: u64,
}

/// `wait`'s output, or `None` once `limit` has passed. Unlike
/// `tokio::time::timeout`, which polls the future once more when the time
/// is up (and so would find a frame whose wake was lost), the timer is
/// looked at first.
async fn before<F: std::future::Future>(limit: Duration, wait: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        _ = tokio::time::sleep(limit) => None,
        out = wait => Some(out),
    }
}

/// Follows `shm` with `wait_into_async`, verifying every frame, until no
/// frame comes for `quiet` (the first frame may take `start`: the writer
/// processes are started after the task).
async fn follow(shm: &Shm, start: Duration, quiet: Duration) -> Result<Followed, String> {
    let mut out = vec![0u8; shm.len()];
    let mut seen = Followed::default();
    loop {
        let wait = shm.wait_into_async(seen.last, &mut out);
        let limit = if seen.frames == 0 { start } else { quiet };
        let info = match before(limit, wait).await {
            None => return Ok(seen),
            Some(got) => got.map_err(|e| e.to_string())?,
        };
        seen.frames += 1;
        seen.torn += u64::from(!is_frame(info.seq, &out));
        seen.backwards += u64::from(info.seq <= seen.last);
        seen.last = info.seq;
    }
}

fn tokio_tasks_follow_three_segments_written_flat_out() -> Result<(), Failed> {
    let segs: Vec<TestSegment> = (0..3)
        .map(|i| TestSegment::new(&format!("events-tokio-{i}")))
        .collect();
    let owners = segs
        .iter()
        .map(|seg| Options::new().create::<u8>(seg.name(), PATTERN_SHAPE))
        .collect::<Result<Vec<_>, _>>()?;
    drop(owners);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?;
    // The tasks first, each with its handle: tokio::spawn needs a future
    // that is Send and 'static, which the handle in an Arc gives.
    let tasks: Vec<_> = segs
        .iter()
        .map(|seg| {
            let shm = std::sync::Arc::new(Shm::open_readonly(seg.name()).unwrap());
            runtime.spawn(async move {
                follow(&shm, Duration::from_secs(20), Duration::from_secs(3)).await
            })
        })
        .collect();
    let writers: Vec<Proc> = segs
        .iter()
        .map(|seg| Proc::spawn(&["write_pattern", seg.name(), "1500"]))
        .collect();
    let mut written = Vec::new();
    for writer in writers {
        let report = writer.report()?;
        written.push(report.count("first") + report.count("written") - 1);
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let seen = runtime.block_on(task)??;
        println!(
            "segment {i}: {} frames seen of {}, last {}, {} torn, {} backwards",
            seen.frames, written[i], seen.last, seen.torn, seen.backwards
        );
        check(seen.torn == 0 && seen.backwards == 0, || {
            format!("segment {i}: {seen:?}")
        })?;
        check(seen.last == written[i], || {
            format!(
                "segment {i}: the task stopped at frame {} of {} (a lost wake)",
                seen.last, written[i]
            )
        })?;
    }
    Ok(())
}

/// `wait` under `futures::executor`, or `None` after `secs` seconds (a
/// thread's message is the timer), so that a lost wake fails the test
/// instead of hanging it.
fn block_on_within<F: std::future::Future>(secs: u64, wait: F) -> Option<F::Output> {
    let (alarm, rings) = futures::channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        let _ = alarm.send(());
    });
    futures::executor::block_on(async {
        futures::pin_mut!(wait);
        // The alarm first: `select` polls its first future first, and a
        // wait polled after the alarm would find a frame whose wake was lost.
        match futures::future::select(rings, wait).await {
            futures::future::Either::Left(_) => None,
            futures::future::Either::Right((out, _)) => Some(out),
        }
    })
}

fn a_future_under_futures_executor_wakes_for_a_frame_and_cancels_cleanly() -> Result<(), Failed> {
    let seg = TestSegment::new("events-executor");
    let _owner = Options::new().create::<u8>(seg.name(), PATTERN_SHAPE)?;
    let r = Shm::open_readonly(seg.name())?;
    // Cancelled: polled once (registered), then dropped; a frame later
    // finds nobody to wake and a new future still completes.
    check(r.wait_async(0).now_or_never().is_none(), || {
        "a wait completed before any frame".to_string()
    })?;
    let writer = Proc::spawn(&["write_pattern", seg.name(), "300"]);
    let woken = block_on_within(10, r.wait_async(0));
    let (frame, info) = woken.ok_or("no frame within 10 s under futures::executor")??;
    check(
        info.seq >= 1 && is_frame(info.seq, frame.as_slice().unwrap()),
        || format!("frame {} under futures::executor", info.seq),
    )?;
    let report = writer.report()?;
    let last = report.count("first") + report.count("written") - 1;
    // A wait for a frame that never comes, raced against one that is
    // already there: select drops the loser while it is registered.
    let mut out = vec![0u8; r.len()];
    let got = block_on_within(10, async {
        let never = r.wait_async(last).fuse();
        let there = r.wait_into_async(last - 1, &mut out).fuse();
        futures::pin_mut!(never, there);
        // `never` first, so that it is polled (and registers) before the
        // other completes and it is dropped.
        futures::select_biased! {
            _ = never => None,
            info = there => Some(info),
        }
    });
    let got = got.ok_or("a wait for a frame already there took 10 s")?;
    let info = got.ok_or("a wait for a frame never written completed")??;
    check(info.seq == last && is_frame(last, &out), || {
        format!("read frame {} as the last, {last}", info.seq)
    })
}

fn a_tokio_timeout_bounds_an_async_wait_and_a_dead_writer_wakes_no_future() -> Result<(), Failed> {
    let seg = TestSegment::new("events-tokio-timeout");
    let _owner = segment(&seg)?;
    let r = std::sync::Arc::new(Shm::open_readonly(seg.name())?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let start = Instant::now();
    // The timer is made inside the runtime (`block_on` of an async block).
    let timed_out = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(200), r.wait_async(0)).await
    });
    let took = start.elapsed();
    check(
        timed_out.is_err() && took >= Duration::from_millis(200),
        || format!("a wait with no frame: {timed_out:?} after {took:?}"),
    )?;
    let mut writer = Proc::spawn(&["write_one_and_hang", seg.name()]);
    writer.expect("wrote")?;
    let woken = runtime.block_on(before(Duration::from_secs(5), r.wait_async(0)));
    let (_, info) = woken.ok_or("the frame woke no future within 5 s")??;
    check(info.seq == 1, || format!("woken by frame {}", info.seq))?;
    // Waiting for frame 2 while its writer dies: the death wakes nothing,
    // and a new writer's frame completes the same future.
    let waiting = {
        let r = std::sync::Arc::clone(&r);
        runtime.spawn(async move { r.wait_async(1).await })
    };
    // The task runs (and registers) while the runtime sleeps, before the
    // kill and after it.
    let nap = |ms| runtime.block_on(async { tokio::time::sleep(Duration::from_millis(ms)).await });
    nap(100);
    writer.kill();
    nap(300);
    check(!waiting.is_finished(), || {
        "the writer's death completed a wait".to_string()
    })?;
    Proc::spawn(&["write_frames", seg.name(), "1", "0"]).report()?;
    let finished = runtime.block_on(before(Duration::from_secs(5), waiting));
    let (_, info) = finished.ok_or("the new writer's frame woke no future within 5 s")???;
    check(info.seq == 2, || {
        format!("the new writer's frame: {}", info.seq)
    })
}

/// A future that returns `Pending` once (waking its task) and then `v`.
struct YieldOnce<T>(Option<T>, bool);

impl<T: Unpin> std::future::Future for YieldOnce<T> {
    type Output = T;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        if std::mem::replace(&mut self.1, true) {
            std::task::Poll::Ready(self.0.take().expect("polled after completion"))
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

fn an_async_wait_for_a_frame_already_there_lets_other_tasks_run() -> Result<(), Failed> {
    // A follower always behind its writer finds a newer frame at every
    // wait: it must still let the other futures of its task (or executor)
    // run, or it holds them off for as long as the writer writes.
    let seg = TestSegment::new("events-yield");
    let shm = Options::new().create::<u8>(seg.name(), [4])?;
    shm.write_slice(&[1; 4])?;
    let calls = std::cell::Cell::new(0u32);
    let behind = async {
        for _ in 0..1000 {
            shm.wait_async(0).await?;
            calls.set(calls.get() + 1);
        }
        Ok::<_, dbshm::DbShmError>(())
    };
    let other = async {
        YieldOnce(Some(()), false).await;
        calls.get()
    };
    let (done, seen) = futures::executor::block_on(futures::future::join(behind, other));
    done?;
    check(seen <= 2, || {
        format!("the other future ran after {seen} waits")
    })
}
