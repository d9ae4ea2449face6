//! Behaviour across real processes. This binary runs the tests, and re-runs
//! itself as each child process they need (a writer, a reader, a racer): with
//! `DBSHM_TEST_CHILD` set, its first argument names the child's role.
//!
//! Each child role is a function beside the test that spawns it, listed in
//! `main`. Children report on stdout as JSON lines; the parent asserts.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Failed;
use common::{
    check, check_tally, copy_and_verify, emit, fill, fork_and_run, is_frame, json, root_or_skip,
    Proc, TestSegment,
};
use dbshm::layout::{offset, LATEST_BUFFERS};
use dbshm::ndarray::{ArrayD, IxDyn};
use dbshm::{DbShmError, DoubleBufferedSharedMemory};

fn main() {
    let trials = common::trials![
        seed_snippet_works_between_two_processes,
        readers_never_see_torn_frames_from_a_writer_process,
        readers_never_see_torn_1080p_frames,
        readers_never_see_torn_frames_written_with_streaming_stores,
        unvalidated_copies_are_torn_so_the_checker_works,
        new_from_racing_processes_creates_once,
        create_from_racing_processes_succeeds_once,
        second_writer_process_is_refused_until_the_first_dies,
        forked_child_of_a_writer_does_not_inherit_the_role,
        another_user_cannot_open_a_default_segment,
        a_group_member_reads_and_waits_on_a_0640_segment_but_cannot_write,
        killed_writer_leaves_whole_frames_and_a_successor_takes_over,
        wait_is_woken_by_another_process_and_times_out,
    ];
    let roles = common::roles![
        seed,
        writer,
        reader,
        unvalidated_reader,
        racer,
        hold,
        fork_writer,
        publish_after,
        as_user,
    ];
    common::run_tests_or_child(&roles, trials);
}

// ------------------------------------------------------------- helpers

/// A number among a child's arguments.
fn num(arg: &str) -> u64 {
    arg.parse().expect("numeric argument")
}

fn deadline(millis: u64) -> Option<Instant> {
    (millis > 0).then(|| Instant::now() + Duration::from_millis(millis))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// ------------------------------------------------ tests, each beside its children

/// Child `seed NAME`: the seed's README snippet, verbatim but for the name.
fn seed(args: &[String]) {
    use dbshm::ndarray::{ArrayD, IxDyn};
    use dbshm::DoubleBufferedSharedMemory;
    let run = || -> Result<usize, DbShmError> {
        let dbshm = DoubleBufferedSharedMemory::<u8>::new(&args[0], (100, 100, 3))?;
        let array = ArrayD::<u8>::zeros(IxDyn(&[100, 100, 3]));
        dbshm.write(&array)?; // writes the back buffer, then publishes it
        let read_array = dbshm.read()?; // copy of the latest complete frame, as ArrayD<u8>
        let memory_size = dbshm.get_memory_size(); // total bytes of the shared segment
        assert_eq!(read_array, array);
        Ok(memory_size)
    };
    emit(&json!({ "memory_size": run().unwrap() }));
}

fn seed_snippet_works_between_two_processes() -> Result<(), Failed> {
    let seg = TestSegment::new("seed");
    // A first process runs the snippet and exits; the segment stays.
    let report = Proc::spawn(&["seed", seg.name()]).report()?;
    // This process runs the same snippet's `new` and sees the frame published.
    let dbshm = DoubleBufferedSharedMemory::<u8>::new(seg.name(), (100, 100, 3))?;
    check(dbshm.latest_seq() == 1, || {
        format!("latest_seq {}", dbshm.latest_seq())
    })?;
    check(
        report.count("memory_size") as usize == dbshm.get_memory_size(),
        || format!("{report:?}"),
    )?;
    // And the other way: this process writes, a second run of the child sees it.
    let ones = ArrayD::<u8>::from_elem(IxDyn(&[100, 100, 3]), 1);
    dbshm.write(&ones)?;
    let reader = DoubleBufferedSharedMemory::<u8>::open(seg.name())?;
    check(reader.read()? == ones, || "frame differs".into())?;
    Ok(())
}

/// Child `writer NAME MILLIS [copy]`: writes pattern frames as fast as it
/// can for MILLIS (forever if 0), each in place, or with `copy` from a buffer
/// of its own through `write_slice`; reports `started` after the first.
fn writer(args: &[String]) {
    let shm = DoubleBufferedSharedMemory::<u8>::open(&args[0]).unwrap();
    let until = deadline(num(&args[1]));
    let mut own = vec![
        0u8;
        if args.get(2).is_some_and(|a| a == "copy") {
            shm.len()
        } else {
            0
        }
    ];
    let mut written = 0u64;
    while until.is_none_or(|t| Instant::now() < t) {
        // The writer role makes `latest + 1` the number of the next frame.
        let seq = shm.latest_seq() + 1;
        let info = if own.is_empty() {
            shm.write_with(|mut back| fill(seq, back.as_slice_mut().unwrap()))
        } else {
            fill(seq, &mut own);
            shm.write_slice(&own)
        }
        .unwrap();
        assert_eq!(info.seq, seq);
        if written == 0 {
            emit(&json!({ "started": true, "first": seq }));
        }
        written += 1;
    }
    emit(&json!({ "written": written }));
}

/// Child `reader NAME MILLIS`: reads as fast as it can, verifying every frame.
fn reader(args: &[String]) {
    let shm = DoubleBufferedSharedMemory::<u8>::open_readonly(&args[0]).unwrap();
    let until = deadline(num(&args[1])).unwrap();
    emit(&copy_and_verify(&shm, until));
    emit(&json!({ "retries": shm.retries() }));
}

/// A writer process and two verifying readers for `millis`; `how` is how the
/// writer writes: "in_place" (`write_with`) or "copy" (`write_slice`).
fn torn_frame_run(
    tag: &str,
    shape: &[usize],
    how: &str,
    millis: u64,
    min_reads: u64,
) -> Result<(), Failed> {
    let seg = TestSegment::new(tag);
    let _shm = DoubleBufferedSharedMemory::<u8>::create(seg.name(), shape)?;
    // The floors, scaled to this machine's speed (emulated, it fills frames
    // far slower; a real board may be faster or slower than the machine
    // the floors were set on): a tenth of the frames the writer's work
    // alone would make in the run's time, at most the floors given.
    let pace = frames_in(shape.iter().product(), millis);
    let (min_written, min_reads) = ((pace / 10).clamp(10, 100), (pace / 10).clamp(10, min_reads));
    let ms = millis.to_string();
    let readers = [
        Proc::spawn(&["reader", seg.name(), &ms]),
        Proc::spawn(&["reader", seg.name(), &ms]),
    ];
    let writer = Proc::spawn(&["writer", seg.name(), &ms, how]);
    let written = writer.report()?.count("written");
    let mut total_reads = 0;
    for reader in readers {
        let r = reader.report()?;
        eprintln!("{tag}: written={written} (floors {min_written} and {min_reads} reads) {r:?}");
        check_tally(&r, 10, &format!("{r:?}"))?;
        total_reads += r.count("reads");
    }
    check(written >= min_written, || {
        format!("writer wrote only {written} (floor {min_written}: pace {pace})")
    })?;
    check(total_reads >= min_reads, || {
        format!("only {total_reads} reads (floor {min_reads}: pace {pace})")
    })
}

/// How many frames of `bytes` bytes this process fills and copies, as the
/// writer child does each frame (`fill`, then `copy_from_slice`, which is
/// `memcpy`), in `millis`, from 200 ms of them: the pace of the writer's
/// own work on this machine, emulated or not.
fn frames_in(bytes: usize, millis: u64) -> u64 {
    let mut frame = vec![0u8; bytes];
    let mut dst = vec![0u8; bytes];
    let (start, mut frames) = (Instant::now(), 0u64);
    while start.elapsed() < Duration::from_millis(200) {
        fill(frames, &mut frame);
        dst.copy_from_slice(std::hint::black_box(&frame));
        std::hint::black_box(&mut dst);
        frames += 1;
    }
    frames * millis * 1000 / start.elapsed().as_micros().max(1) as u64
}

fn readers_never_see_torn_frames_from_a_writer_process() -> Result<(), Failed> {
    torn_frame_run("torn-small", &[100, 100, 3], "in_place", 1500, 5_000)
}

fn readers_never_see_torn_1080p_frames() -> Result<(), Failed> {
    torn_frame_run("torn-1080p", &[1080, 1920, 3], "copy", 1500, 200)
}

fn readers_never_see_torn_frames_written_with_streaming_stores() -> Result<(), Failed> {
    // Over 8 MiB, the size from which the writer's copy uses non-temporal
    // stores, and not a multiple of 64 bytes, so the copy's ordinary tail
    // runs too.
    let shape = [1025, 2049, 4];
    let bytes: usize = shape.iter().product();
    assert!(bytes > 8 << 20 && bytes % 64 != 0);
    torn_frame_run("torn-stream", &shape, "copy", 1500, 50)
}

/// Child `unvalidated_reader NAME MILLIS`: copies the latest buffer as the
/// layout documents it but skips the seqlock, to show the checker catches
/// what that lets through.
fn unvalidated_reader(args: &[String]) {
    use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
    let fd = rustix::shm::open(
        format!("/{}", &args[0]).as_str(),
        rustix::shm::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let size = rustix::fs::fstat(&fd).unwrap().st_size as usize;
    // SAFETY: a fresh read-only shared mapping of the whole object.
    let base = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            size,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED,
            &fd,
            0,
        )
    }
    .unwrap() as *const u8;
    // SAFETY: offsets from the layout table, inside the mapping;
    // atomics may view any aligned shared memory.
    let word = |off: usize| unsafe { &*(base.add(off) as *const AtomicU64) };
    let frame_bytes = word(offset::FRAME_BYTES).load(Ordering::Relaxed) as usize;
    let until = deadline(num(&args[1])).unwrap();
    let mut frame = vec![0u8; frame_bytes];
    let (mut reads, mut torn) = (0u64, 0u64);
    while Instant::now() < until {
        let latest = word(offset::LATEST).load(Ordering::Acquire);
        let (n, i) = (latest / LATEST_BUFFERS, latest % LATEST_BUFFERS);
        let buffer = (word(offset::FIRST_BUFFER).load(Ordering::Relaxed)
            + i * word(offset::BUFFER_STRIDE).load(Ordering::Relaxed))
            as usize;
        for (i, x) in frame.iter_mut().enumerate() {
            // SAFETY: inside the buffer, which lies inside the mapping.
            *x = unsafe { &*(base.add(buffer + i) as *const AtomicU8) }.load(Ordering::Relaxed);
        }
        reads += 1;
        torn += u64::from(!is_frame(n, &frame));
    }
    emit(&json!({ "reads": reads, "torn": torn }));
}

fn unvalidated_copies_are_torn_so_the_checker_works() -> Result<(), Failed> {
    // The control for the three tests above: the same writer, a reader without
    // the seqlock's validation. If this saw no torn frame, their zero would
    // prove nothing.
    let seg = TestSegment::new("control");
    let _shm = DoubleBufferedSharedMemory::<u8>::create(seg.name(), (100, 100, 3))?;
    let reader = Proc::spawn(&["unvalidated_reader", seg.name(), "1500"]);
    let writer = Proc::spawn(&["writer", seg.name(), "1500"]);
    writer.report()?;
    let r = reader.report()?;
    eprintln!("control: {r:?}");
    check(r.count("torn") > 0, || {
        format!("the checker caught no torn frame: {r:?}")
    })
}

/// Child `racer new|create NAME START_NS`: all racers call at the same instant.
fn racer(args: &[String]) {
    let start = num(&args[2]);
    while now_ns() < start {
        std::hint::spin_loop();
    }
    let result = match args[0].as_str() {
        "new" => DoubleBufferedSharedMemory::<u16>::new(&args[1], (64, 64)),
        _ => DoubleBufferedSharedMemory::<u16>::create(&args[1], (64, 64)),
    };
    match result {
        Ok(shm) => emit(&json!({ "result": "ok", "shape": shm.shape() })),
        Err(DbShmError::AlreadyExists { .. }) => emit(&json!({ "result": "exists" })),
        Err(e) => emit(&json!({ "result": format!("error({e})") })),
    }
}

fn race(mode: &str) -> Result<(TestSegment, Vec<String>), Failed> {
    let seg = TestSegment::new(&format!("race-{mode}"));
    let start = (now_ns() + 300_000_000).to_string();
    let racers: Vec<Proc> = (0..6)
        .map(|_| Proc::spawn(&["racer", mode, seg.name(), &start]))
        .collect();
    let mut results = Vec::new();
    for racer in racers {
        results.push(
            racer
                .report()?
                .text("result")
                .unwrap_or("<missing>")
                .to_owned(),
        );
    }
    Ok((seg, results))
}

fn new_from_racing_processes_creates_once() -> Result<(), Failed> {
    let (seg, results) = race("new")?;
    check(results.iter().all(|r| r == "ok"), || format!("{results:?}"))?;
    let shm = DoubleBufferedSharedMemory::<u16>::open(seg.name())?;
    check(shm.shape() == [64, 64], || format!("{:?}", shm.shape()))
}

fn create_from_racing_processes_succeeds_once() -> Result<(), Failed> {
    let (_seg, results) = race("create")?;
    let ok = results.iter().filter(|r| *r == "ok").count();
    let exists = results.iter().filter(|r| *r == "exists").count();
    check(ok == 1 && exists == 5, || format!("{results:?}"))
}

/// Child `hold NAME`: takes the writer role, says so, and sleeps until killed.
fn hold(args: &[String]) {
    let shm = DoubleBufferedSharedMemory::<u8>::open(&args[0]).unwrap();
    shm.write_with(|mut back| back.fill(1)).unwrap();
    emit(&json!({ "holding": true }));
    std::thread::sleep(Duration::from_secs(60));
}

fn second_writer_process_is_refused_until_the_first_dies() -> Result<(), Failed> {
    let seg = TestSegment::new("busy");
    let shm = DoubleBufferedSharedMemory::<u8>::create(seg.name(), [16])?;
    let mut holder = Proc::spawn(&["hold", seg.name()]);
    holder.expect("holding")?;
    match shm.write_with(|mut back| back.fill(2)) {
        Err(DbShmError::WriterBusy { pid, .. }) => check(pid == holder.pid(), || {
            format!("busy names pid {pid}, holder is {}", holder.pid())
        })?,
        other => return Err(format!("expected WriterBusy, got {other:?}").into()),
    }
    check(shm.latest_seq() == 1, || {
        "the refused write published".into()
    })?;
    holder.kill();
    let info = shm.write_with(|mut back| back.fill(2))?;
    check(info.seq == 2, || format!("{info:?}"))?;
    check(shm.read()?.iter().all(|&x| x == 2), || {
        "frame 2 is not the successor's".into()
    })
}

/// Child `fork_writer NAME`: takes the writer role, forks, and has the
/// forked copy try to write too; reports `child` and `parent`.
fn fork_writer(args: &[String]) {
    let shm = DoubleBufferedSharedMemory::<u8>::open(&args[0]).unwrap();
    shm.write_with(|mut back| back.fill(1)).unwrap();
    fork_and_run(|| {
        let verdict = match shm.write_with(|mut back| back.fill(2)) {
            Err(DbShmError::WriterBusy { .. }) => "busy",
            Ok(_) => "wrote",
            Err(_) => "error",
        };
        emit(&json!({ "child": verdict }));
        0
    });
    let ok = shm.write_with(|mut back| back.fill(3)).is_ok();
    emit(&json!({ "parent": if ok { "wrote" } else { "refused" } }));
}

fn forked_child_of_a_writer_does_not_inherit_the_role() -> Result<(), Failed> {
    // flock belongs to the open file description, which fork shares: a lock
    // on the handle's own descriptor would let the child write beside its
    // parent and tear frames.
    let seg = TestSegment::new("fork");
    let _shm = DoubleBufferedSharedMemory::<u8>::create(seg.name(), [16])?;
    let r = Proc::spawn(&["fork_writer", seg.name()]).report()?;
    check(r.text("child") == Some("busy"), || format!("{r:?}"))?;
    check(r.text("parent") == Some("wrote"), || format!("{r:?}"))
}

fn killed_writer_leaves_whole_frames_and_a_successor_takes_over() -> Result<(), Failed> {
    let seg = TestSegment::new("kill");
    let shm = DoubleBufferedSharedMemory::<u8>::create(seg.name(), (1080, 1920, 3))?;
    let reader = Proc::spawn(&["reader", seg.name(), "4000"]);
    let mut rng = now_ns() | 1;
    eprintln!("killed_writer: seed {rng}");
    let mut last_first = 0;
    let kills = 12;
    for _ in 0..kills {
        let mut writer = Proc::spawn(&["writer", seg.name(), "0"]);
        // `started` proves this writer took over from the one killed before.
        last_first = writer.expect("started")?.count("first");
        // xorshift: kill at a random instant 5..45 ms into the write loop.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(5 + rng % 40));
        writer.kill();
    }
    let r = reader.report()?;
    eprintln!(
        "killed_writer: {kills} kills, last writer started at frame {last_first}, reader {r:?}"
    );
    check_tally(&r, 1, &format!("{r:?}"))?;
    // The reader attached before the first writer and kept its handle: it saw
    // the frames of the last one.
    check(r.count("max_seq") >= last_first, || {
        format!("reader missed the last writer: {r:?}")
    })?;
    // And what the dead writers left is a whole frame.
    let mut frame = vec![0u8; shm.len()];
    let info = shm.read_into(&mut frame)?;
    check(is_frame(info.seq, &frame), || {
        format!("final frame {} is torn", info.seq)
    })
}

/// Child `publish_after NAME DELAY_MS COUNT`: sleeps, then publishes COUNT
/// frames DELAY_MS apart.
fn publish_after(args: &[String]) {
    let shm = DoubleBufferedSharedMemory::<u8>::open(&args[0]).unwrap();
    for _ in 0..num(&args[2]) {
        std::thread::sleep(Duration::from_millis(num(&args[1])));
        let seq = shm.latest_seq() + 1;
        shm.write_with(|mut back| fill(seq, back.as_slice_mut().unwrap()))
            .unwrap();
    }
}

fn wait_is_woken_by_another_process_and_times_out() -> Result<(), Failed> {
    let seg = TestSegment::new("wait");
    let shm = DoubleBufferedSharedMemory::<u8>::create(seg.name(), [1000])?;
    let readonly = DoubleBufferedSharedMemory::<u8>::open_readonly(seg.name())?;
    let publisher = Proc::spawn(&["publish_after", seg.name(), "300", "2"]);
    let start = Instant::now();
    let (frame, info) = shm.wait(0, Duration::from_secs(20))?;
    let first = start.elapsed();
    check(
        info.seq == 1 && is_frame(1, frame.as_slice().unwrap()),
        || format!("{info:?}"),
    )?;
    check(first >= Duration::from_millis(250), || {
        format!("woke after {first:?}, before the publish")
    })?;
    // Woken by the publish itself, not by a periodic re-check (1 s): a writer
    // that skipped the wake would fail this.
    let latency = Duration::from_nanos(dbshm::monotonic_ns() - info.timestamp_ns);
    check(latency < Duration::from_millis(200), || {
        format!("woke {latency:?} after the publish")
    })?;
    // A read-only handle waits too.
    let mut out = vec![0u8; 1000];
    let info = readonly.wait_into(1, Duration::from_secs(20), &mut out)?;
    let ro_latency = Duration::from_nanos(dbshm::monotonic_ns() - info.timestamp_ns);
    check(info.seq == 2 && is_frame(2, &out), || format!("{info:?}"))?;
    check(ro_latency < Duration::from_millis(200), || {
        format!("read-only waiter woke {ro_latency:?} after the publish")
    })?;
    publisher.report()?;
    eprintln!("wait: woken {latency:?} after the publish; read-only waiter {ro_latency:?}");

    let start = Instant::now();
    match shm.wait(2, Duration::from_millis(200)) {
        Err(DbShmError::Timeout { after_seq: 2, .. }) => {}
        other => return Err(format!("expected a timeout, got {other:?}").into()),
    }
    let waited = start.elapsed();
    check(waited >= Duration::from_millis(200), || {
        format!("timed out after only {waited:?}")
    })
}

/// Child `as_user GID NAME`: becomes user nobody (65534) with supplementary
/// group GID, then tries every kind of access and reports each.
fn as_user(args: &[String]) {
    let gid: libc::gid_t = args[0].parse().unwrap();
    // SAFETY: plain system calls in a single-threaded child; the
    // order (groups, gid, then uid) drops root last.
    unsafe {
        assert_eq!(libc::setgroups(1, &gid), 0);
        assert_eq!(libc::setgid(65534), 0);
        assert_eq!(libc::setuid(65534), 0);
    }
    let verdict = |r: Result<(), DbShmError>| match r {
        Ok(()) => "ok",
        Err(DbShmError::PermissionDenied { .. }) => "denied",
        Err(DbShmError::ReadOnly { .. }) => "readonly",
        Err(_) => "error",
    };
    let rw = verdict(DoubleBufferedSharedMemory::<u8>::open(&args[1]).map(drop));
    match DoubleBufferedSharedMemory::<u8>::open_readonly(&args[1]) {
        Err(e) => emit(&json!({ "open_rw": rw, "open_ro": verdict(Err(e)) })),
        Ok(shm) => {
            let read = verdict(shm.read().map(drop));
            // The parent publishes once it reads `waiting`.
            emit(&json!({ "open_rw": rw, "open_ro": "ok", "read": read, "waiting": true }));
            let wait = verdict(shm.wait(0, Duration::from_secs(10)).map(drop));
            let write = verdict(shm.write_with(|mut b| b.fill(9)).map(drop));
            emit(&json!({ "wait": wait, "write": write }));
        }
    }
}

fn another_user_cannot_open_a_default_segment() -> Result<(), Failed> {
    if !root_or_skip("another_user_cannot_open_a_default_segment") {
        return Ok(());
    }
    let seg = TestSegment::new("perm-default");
    let _shm = DoubleBufferedSharedMemory::<u8>::create(seg.name(), [16])?; // mode 0600
    let r = Proc::spawn(&["as_user", "4242", seg.name()]).report()?;
    check(r.text("open_rw") == Some("denied"), || format!("{r:?}"))?;
    check(r.text("open_ro") == Some("denied"), || format!("{r:?}"))
}

fn a_group_member_reads_and_waits_on_a_0640_segment_but_cannot_write() -> Result<(), Failed> {
    let test = "a_group_member_reads_and_waits_on_a_0640_segment_but_cannot_write";
    if !root_or_skip(test) {
        return Ok(());
    }
    let seg = TestSegment::new("perm-group");
    let shm = dbshm::Options::new()
        .mode(0o640)
        .create::<u8>(seg.name(), [16])?;
    std::os::unix::fs::chown(format!("/dev/shm/{}", seg.name()), None, Some(4242))?;
    let mut child = Proc::spawn(&["as_user", "4242", seg.name()]);
    let first = child.expect("waiting")?;
    // The member can only read, so it cannot count itself as a waiter: the
    // segment's mode made the writer wake at every publish instead.
    std::thread::sleep(Duration::from_millis(100));
    shm.write_with(|mut b| b.fill(1))?;
    let mut r = child.report()?;
    r.extend(first);
    eprintln!("{test}: {r:?}");
    for (key, want) in [
        ("open_rw", "denied"),
        ("open_ro", "ok"),
        ("read", "ok"),
        ("wait", "ok"),
        ("write", "readonly"),
    ] {
        check(r.text(key) == Some(want), || format!("{key}: {r:?}"))?;
    }
    check(shm.read()?.iter().all(|&x| x == 1), || {
        "the read-only member changed the frame".into()
    })
}
