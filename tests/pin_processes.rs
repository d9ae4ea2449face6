//! Pinned reads across real processes: views that never change under a
//! writer running flat out, pinners killed at random instants, a pinner's
//! forked child, and a second user. This binary re-runs itself as each
//! child it needs (see tests/multiprocess.rs); each child role sits beside
//! the test that spawns it. `DBSHM_SOAK=1` runs the soak sizes
//! (RELIABILITY.md).

mod common;

use std::time::{Duration, Instant};

use common::{
    check, check_tally, copy_and_verify, emit, fill, fork_and_run, is_frame, json, root_or_skip,
    Failed, Proc, TestSegment,
};
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Options};

type Shm = DoubleBufferedSharedMemory<u8>;

fn main() {
    let trials = common::trials![
        pinned_views_never_change_under_a_writer_flat_out,
        a_killed_pinner_loses_its_pin_and_the_next_write_succeeds,
        a_pinners_forked_child_does_not_keep_its_parents_pin,
        a_user_who_may_only_read_copies_but_cannot_pin,
        a_child_forked_while_another_thread_pins_can_pin,
        a_forked_childs_copy_of_a_handle_removes_nothing,
    ];
    let roles = common::roles![
        flat_out,
        pinner,
        copier,
        hold_pin,
        pin_as_user,
        fork_while_pinning,
        fork_and_drop,
    ];
    common::run_tests_or_child(&roles, trials);
}

fn soak() -> bool {
    std::env::var("DBSHM_SOAK").is_ok_and(|v| v == "1")
}

fn millis(arg: &str) -> Duration {
    Duration::from_millis(arg.parse().expect("milliseconds"))
}

/// Publishes frame `latest + 1` of the pattern.
fn publish(w: &Shm) -> Result<u64, DbShmError> {
    let seq = w.latest_seq() + 1;
    w.write_with(|mut back| fill(seq, back.as_slice_mut().unwrap()))
        .map(|info| info.seq)
}

// ------------------------------------------------------------ stress

/// Child `flat_out NAME MILLIS`: publishes as fast as it can.
fn flat_out(args: &[String]) {
    let w = Shm::open(&args[0]).unwrap();
    let end = Instant::now() + millis(&args[1]);
    let (mut written, mut dropped) = (0u64, 0u64);
    while Instant::now() < end {
        match publish(&w) {
            Ok(_) => written += 1,
            Err(DbShmError::AllBuffersPinned { .. }) => dropped += 1,
            Err(e) => panic!("{e}"),
        }
    }
    emit(&json!({ "written": written, "dropped": dropped }));
}

/// Child `pinner NAME MILLIS SEED`: pins the latest frame again and again,
/// holds each for a random time up to about two of the writer's frames,
/// and checks the view when it pins and again before it lets go.
fn pinner(args: &[String]) {
    let r = Shm::open_readonly(&args[0]).unwrap();
    let end = Instant::now() + millis(&args[1]);
    let mut rng: u64 = args[2].parse::<u64>().unwrap() | 1;
    let (mut pins, mut torn, mut changed) = (0u64, 0u64, 0u64);
    while Instant::now() < end {
        let p = r.pin().unwrap();
        let seq = p.info().seq;
        torn += u64::from(!is_frame(seq, p.as_slice()));
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let hold = Instant::now() + Duration::from_micros(rng % 2000);
        while Instant::now() < hold {
            std::hint::spin_loop();
        }
        changed += u64::from(!is_frame(seq, p.as_slice()));
        pins += 1;
    }
    emit(&json!({ "pins": pins, "torn": torn, "changed": changed }));
}

/// Child `copier NAME MILLIS`: copies frames out and verifies each.
fn copier(args: &[String]) {
    let r = Shm::open_readonly(&args[0]).unwrap();
    emit(&copy_and_verify(&r, Instant::now() + millis(&args[1])));
}

fn pinned_views_never_change_under_a_writer_flat_out() -> Result<(), Failed> {
    let seg = TestSegment::new("pin-stress");
    // Four buffers: the latest, one for each pinner, and one to write.
    drop(
        Options::new()
            .buffers(4)
            .create::<u8>(seg.name(), (480, 640, 3))?,
    );
    let ms = if soak() { "1100000" } else { "3000" };
    let writer = Proc::spawn(&["flat_out", seg.name(), ms]);
    let pinners: Vec<Proc> = ["1", "2"]
        .map(|seed| Proc::spawn(&["pinner", seg.name(), ms, seed]))
        .into();
    let copier = Proc::spawn(&["copier", seg.name(), ms]);
    let w = writer.report()?;
    let c = copier.report()?;
    let mut pins = 0;
    for p in pinners {
        let p = p.report()?;
        eprintln!("pinner: {p:?}");
        check(p.count("torn") == 0, || {
            format!("torn pinned frames: {p:?}")
        })?;
        check(p.count("changed") == 0, || {
            format!("pinned views changed: {p:?}")
        })?;
        pins += p.count("pins");
    }
    eprintln!("writer: {w:?}, copier: {c:?}, {pins} pins");
    check_tally(&c, 2, &format!("{c:?}"))?;
    // Never more pinned than the rule allows: the writer never dropped.
    check(w.count("dropped") == 0, || format!("writes dropped: {w:?}"))?;
    check(w.count("written") > 0 && pins > 0, || {
        format!("nothing happened: {w:?}, {pins} pins")
    })
}

// ------------------------------------------------------ killed pinners

/// Child `hold_pin NAME [fork]`: pins the latest frame and holds it; with
/// `fork`, first forks a child that sleeps holding copies of everything.
fn hold_pin(args: &[String]) {
    let r = Shm::open_readonly(&args[0]).unwrap();
    let p = r.pin().unwrap();
    let mut child = 0;
    if args.get(1).is_some_and(|a| a == "fork") {
        // The child says when it runs: by then its atfork handler has closed
        // its copy of the pin record's descriptor. (Before, it shares it: the
        // instant the README's known limits name, which this test is not
        // about.)
        let (ready_r, ready_w) = std::os::unix::net::UnixStream::pair().unwrap();
        // SAFETY: this child process is single-threaded, so the forked copy
        // may run Rust code; it only writes a byte and sleeps, and leaves
        // with _exit.
        match unsafe { libc::fork() } {
            0 => {
                use std::io::Write;
                (&ready_w).write_all(b"!").unwrap();
                std::thread::sleep(Duration::from_secs(60));
                // SAFETY: ends the forked child without unwinding.
                unsafe { libc::_exit(0) };
            }
            -1 => panic!("fork failed"),
            pid => {
                use std::io::Read;
                drop(ready_w);
                (&ready_r).read_exact(&mut [0u8]).unwrap();
                child = pid;
            }
        }
    }
    emit(&json!({ "pinned": p.info().seq, "child": child }));
    hold_while_the_test_lives();
}

/// Returns once the test that spawned this child is gone (it kills its
/// children when done; this is for a test that died first). A fixed sleep
/// would end the hold under a soak that runs longer.
fn hold_while_the_test_lives() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    // SAFETY: as above.
    while unsafe { libc::getppid() } == parent {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A segment of three buffers with frame 1, and a pinner process holding
/// it for the whole test, so that the next pinner takes the last buffer
/// the writer has to spare.
fn one_buffer_to_spare(tag: &str) -> Result<(TestSegment, Shm, Proc), Failed> {
    let seg = TestSegment::new(tag);
    let w = Options::new()
        .buffers(3)
        .create::<u8>(seg.name(), (120, 160))?;
    publish(&w)?;
    let mut steady = Proc::spawn(&["hold_pin", seg.name()]);
    steady.expect("pinned")?;
    Ok((seg, w, steady))
}

/// With the last spare buffer pinned: a frame into the one buffer no pin
/// holds, then a write that must be dropped.
fn fill_the_last_buffer(w: &Shm) -> Result<(), Failed> {
    publish(w)?;
    match publish(w) {
        Err(DbShmError::AllBuffersPinned { .. }) => Ok(()),
        other => Err(format!("with every other buffer pinned, a write gave {other:?}").into()),
    }
}

fn a_killed_pinner_loses_its_pin_and_the_next_write_succeeds() -> Result<(), Failed> {
    let (seg, w, _steady) = one_buffer_to_spare("pin-kill")?;
    let kills = if soak() { 10_000 } else { 200 };
    for i in 0..kills {
        publish(&w)?; // a frame of its own for the next pinner
        let mut doomed = Proc::spawn(&["hold_pin", seg.name()]);
        doomed.expect("pinned")?;
        fill_the_last_buffer(&w).map_err(|e| format!("kill {i}: {e:?}"))?;
        // SIGKILL, and reaped; the very next write finds the dead pinner's
        // record and takes its buffer.
        doomed.kill();
        if i == 0 {
            // What `dbshm info` shows: the steady pinner alive, the dead one not.
            let pins = dbshm::inspect(seg.name())?.pins;
            let alive: Vec<bool> = pins.iter().map(|p| p.owner_alive).collect();
            check(alive == [true, false], || {
                format!("inspect after the kill shows {pins:?}")
            })?;
        }
        publish(&w).map_err(|e| format!("kill {i}: the write after the pinner died: {e}"))?;
    }
    check(w.dropped_writes() == kills, || {
        format!(
            "{} writes dropped, expected one per kill",
            w.dropped_writes()
        )
    })
}

fn a_pinners_forked_child_does_not_keep_its_parents_pin() -> Result<(), Failed> {
    let (seg, w, _steady) = one_buffer_to_spare("pin-fork")?;
    publish(&w)?; // a frame of its own for the pinner that forks
    let mut parent = Proc::spawn(&["hold_pin", seg.name(), "fork"]);
    let child = parent.expect("pinned")?.count("child") as libc::pid_t;
    struct Reap(libc::pid_t);
    impl Drop for Reap {
        fn drop(&mut self) {
            // SAFETY: kills the grandchild this test made; it is not our
            // child, so init reaps it.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
    let _reap = Reap(child);
    fill_the_last_buffer(&w)?;
    parent.kill();
    // The forked child lives on with copies of its parent's descriptors,
    // but not of the pin record's mark: the pin died with the parent.
    publish(&w)
        .map(drop)
        .map_err(|e| format!("the parent's pin outlived it in its child: {e}").into())
}

// ------------------------------------------------------- another user

/// Child `pin_as_user NAME`: as uid and gid 65534, opens the segment
/// read-only, then pins and copies.
fn pin_as_user(args: &[String]) {
    // SAFETY: plain system calls in a single-threaded child; the order
    // (groups, gid, then uid) drops root last.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setgid(65534), 0);
        assert_eq!(libc::setuid(65534), 0);
    }
    let r = Shm::open_readonly(&args[0]).unwrap();
    let pin = match r.pin() {
        Ok(p) => format!("ok {}", p.info().seq),
        Err(DbShmError::PermissionDenied { .. }) => "denied".into(),
        Err(e) => format!("error {e}"),
    };
    let read = match r.read_with_info() {
        Ok((frame, info)) if is_frame(info.seq, frame.as_slice().unwrap()) => "ok",
        Ok(_) => "torn",
        Err(_) => "error",
    };
    emit(&json!({ "pin": pin, "read": read }));
}

fn a_user_who_may_only_read_copies_but_cannot_pin() -> Result<(), Failed> {
    if !root_or_skip("a_user_who_may_only_read_copies_but_cannot_pin") {
        return Ok(());
    }
    for (mode, pin) in [(0o644, "denied"), (0o666, "ok 1")] {
        let seg = TestSegment::new("pin-user");
        let w = Options::new()
            .buffers(3)
            .mode(mode)
            .create::<u8>(seg.name(), [4096])?;
        publish(&w)?;
        let r = Proc::spawn(&["pin_as_user", seg.name()]).report()?;
        check(
            r.text("pin") == Some(pin) && r.text("read") == Some("ok"),
            || format!("mode {mode:o}: {r:?}"),
        )?;
    }
    Ok(())
}

// ------------------------------------------------------------------ forks

/// Child `fork_while_pinning NAME FORKS`: a thread pins and lets go through
/// one handle as fast as it can while this thread forks FORKS children,
/// each of which pins through that same handle, with 10 s to do it (then
/// SIGALRM ends it). Reports `ok`, `hung` and `failed`.
fn fork_while_pinning(args: &[String]) {
    let r = std::sync::Arc::new(Shm::open_readonly(&args[0]).unwrap());
    let forks: u32 = args[1].parse().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner = {
        let (r, stop) = (r.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                drop(r.pin().unwrap());
            }
        })
    };
    let (mut ok, mut hung, mut failed) = (0u32, 0u32, 0u32);
    for _ in 0..forks {
        let status = fork_and_run(|| {
            // SAFETY: arms this child's alarm; its default action ends it.
            unsafe { libc::alarm(10) };
            match r.pin() {
                Ok(p) if is_frame(p.info().seq, p.as_slice()) => 0,
                _ => 1,
            }
        });
        match status {
            0 => ok += 1,
            s if s == 128 + libc::SIGALRM => hung += 1,
            _ => failed += 1,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spinner.join().unwrap();
    emit(&json!({ "ok": ok, "hung": hung, "failed": failed }));
}

fn a_child_forked_while_another_thread_pins_can_pin() -> Result<(), Failed> {
    let seg = TestSegment::new("pin-fork-thread");
    let w = Options::new()
        .buffers(3)
        .create::<u8>(seg.name(), (16, 16))?;
    publish(&w)?;
    let forks = 100;
    let report = Proc::spawn(&["fork_while_pinning", seg.name(), &forks.to_string()]).report()?;
    // With the handle's pin count behind a std Mutex, children forked while
    // the other thread held it hung in their first pin.
    check(report.count("ok") == forks, || {
        format!("children forked while another thread pinned: {report}")
    })
}

/// Child `fork_and_drop NAME`: creates the segment with `unlink_on_drop`,
/// forks a child that drops its copy of the handle and exits, then reports
/// whether the name survived the child (`after_child`) and this handle's
/// own drop (`after_drop`).
fn fork_and_drop(args: &[String]) {
    let shm = Options::new()
        .unlink_on_drop(true)
        .create::<u8>(&args[0], [8])
        .unwrap();
    let mut shm = Some(shm);
    let status = fork_and_run(|| {
        drop(shm.take()); // the child's copy
        0
    });
    let after_child = dbshm::inspect(&args[0]).is_ok();
    drop(shm);
    let after_drop = dbshm::inspect(&args[0]).is_ok();
    emit(&json!({ "status": status, "after_child": after_child, "after_drop": after_drop }));
}

fn a_forked_childs_copy_of_a_handle_removes_nothing() -> Result<(), Failed> {
    let seg = TestSegment::new("fork-unlink");
    let report = Proc::spawn(&["fork_and_drop", seg.name()]).report()?;
    check(
        report.count("status") == 0
            && report.get("after_child") == Some(&json!(true))
            && report.get("after_drop") == Some(&json!(false)),
        || format!("with unlink_on_drop, a forked child's drop: {report}"),
    )
}
