//! `dbshm record` and `dbshm play`, run as programs against a writer in
//! this test process: what a recording holds, read without dbshm's own
//! reader (the header by npyz, the records by hand, as numpy lays them
//! out); what play writes back; a recording ended by Ctrl-C, SIGKILL and a
//! full disk.

mod common;
#[allow(dead_code)] // the huge-page mounts are the library's tests'
#[path = "../../tests/common/mounts.rs"]
mod mounts;

use common::{dbshm, text, Name, Running, Scratch};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dbshm::DoubleBufferedSharedMemory;
use dbshm_testkit::frame::{fill, is_frame};
use npyz::WriterBuilder;

/// A thread writing frames of the test kit's pattern (frame `seq` is
/// `fill(seq)`) at `fps` into a new u8 segment, from before `start`
/// returns until dropped.
struct Writer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(name: &str, shape: &[usize], fps: f64) -> Writer {
        let shm = DoubleBufferedSharedMemory::<u8>::create(name, shape).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let (first, written) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut frame = vec![0u8; shm.len()];
            let every = Duration::from_secs_f64(1.0 / fps);
            let mut due = Instant::now();
            for seq in 1.. {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                fill(seq, &mut frame);
                assert_eq!(shm.write_slice(&frame).unwrap().seq, seq);
                let _ = first.send(());
                due += every;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        });
        // The segment has a frame before anyone is started on it.
        written.recv().unwrap();
        Writer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends `sig` to the child `pid`.
fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a child this test started and has not waited for,
    // so the pid is not reused.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// A recording as numpy sees it.
struct Recorded {
    seqs: Vec<u64>,
    timestamps: Vec<u64>,
    frames: Vec<Vec<u8>>,
    /// The file's length against the records its header counts.
    trailing_bytes: u64,
}

/// Reads the recording at `path` of u8 frames shaped `shape`: its header by
/// npyz, which must describe the records numpy will make of it, and the
/// records by their layout.
fn load(path: &str, shape: &[usize]) -> Recorded {
    let bytes = std::fs::read(path).unwrap();
    let mut rest = &bytes[..];
    let header = npyz::NpyHeader::from_reader(&mut rest).unwrap();
    let dims: String = shape.iter().map(|d| format!("{d},")).collect();
    assert_eq!(
        header.dtype().descr(),
        format!("[('seq', '<u8'), ('timestamp_ns', '<u8'), ('frame', '|u1', ({dims})), ]")
    );
    let [count] = header.shape() else {
        panic!("shape {:?}", header.shape())
    };
    let frame_bytes: usize = shape.iter().product();
    let record = 16 + frame_bytes;
    let data = rest.len() as u64;
    let mut recorded = Recorded {
        seqs: vec![],
        timestamps: vec![],
        frames: vec![],
        trailing_bytes: data - count * record as u64,
    };
    for r in rest.chunks_exact(record).take(*count as usize) {
        recorded
            .seqs
            .push(u64::from_le_bytes(r[..8].try_into().unwrap()));
        recorded
            .timestamps
            .push(u64::from_le_bytes(r[8..16].try_into().unwrap()));
        recorded.frames.push(r[16..].to_vec());
    }
    assert_eq!(recorded.frames.len() as u64, *count, "{path}: cut short");
    recorded
}

impl Recorded {
    /// Checks what a recorder must never get wrong, whatever it skipped:
    /// frames in order, each the writer's frame of its seq, timestamps
    /// in order. Returns the frames skipped between the first and the last.
    fn check(&self) -> u64 {
        assert!(
            self.seqs.windows(2).all(|w| w[0] < w[1]),
            "seqs not strictly increasing: {:?}",
            self.seqs
        );
        assert!(self.timestamps.windows(2).all(|w| w[0] <= w[1]));
        for (seq, frame) in self.seqs.iter().zip(&self.frames) {
            assert!(is_frame(*seq, frame), "frame {seq} is not the writer's");
        }
        match (self.seqs.first(), self.seqs.last()) {
            (Some(first), Some(last)) => last - first + 1 - self.seqs.len() as u64,
            _ => 0,
        }
    }
}

/// The number of frames the header of the recording at `path` counts now.
fn counted(path: &str) -> u64 {
    std::fs::File::open(path)
        .ok()
        .and_then(|mut f| npyz::NpyHeader::from_reader(&mut f).ok())
        .map_or(0, |h| h.shape()[0])
}

/// Waits until the header of the recording at `path` counts `frames`.
fn wait_for_count(path: &str, frames: u64) {
    let end = Instant::now() + Duration::from_secs(30);
    while counted(path) < frames {
        assert!(Instant::now() < end, "{path}: no {frames} frames in 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SHAPE: [usize; 3] = [120, 160, 3];

#[test]
fn record_keeps_each_frame_whole_and_in_order_and_play_writes_them_back() {
    let dir = Scratch::new("rec");
    let seg = Name::new("rec");
    let writer = Writer::start(&seg.0, &SHAPE, 60.0);
    let file = dir.file("run.npy");
    let mut record = Running::start(&["record", &seg.0, "-o", &file, "--frames", "120"]);
    record
        .line(Duration::from_secs(10), |l| l.starts_with("recording"))
        .unwrap();
    // A recorder that falls behind: stopped for 300 ms (18 frames), it
    // finds only the latest when it goes on, and counts the others.
    wait_for_count(&file, 10);
    signal(record.pid(), libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(300));
    signal(record.pid(), libc::SIGCONT);
    let (status, stdout, stderr) = record.exit(Duration::from_secs(60)).unwrap();
    drop(writer);
    assert!(status.success(), "{stdout}\n{stderr}");
    let recorded = load(&file, &SHAPE);
    assert_eq!(recorded.frames.len(), 120);
    assert_eq!(recorded.trailing_bytes, 0);
    let skipped = recorded.check();
    assert!(skipped >= 10, "{skipped} frames skipped while stopped");
    assert!(
        stdout.contains(&format!("120 frames of segment {:?}", seg.0))
            && stdout.contains(&format!(", {skipped} skipped,")),
        "{stdout}"
    );
    // Frame 1 was written before the recorder looked: not recorded.
    assert!(recorded.seqs[0] > 1, "{:?}", recorded.seqs);
    assert!(
        Running::start(&["record", &seg.0, "-o", &file])
            .exit(Duration::from_secs(10))
            .is_ok_and(|(status, _, stderr)| !status.success() && stderr.contains("exists")),
        "a second recording overwrote the first"
    );

    // Played back, as recorded, into a new segment: its k-th frame (seq k)
    // is recorded frame k - 1.
    let played = Name::new("played");
    let reader = read_all(played.0.clone(), 120);
    let started = Instant::now();
    let out = dbshm(&["play", &file, &played.0]);
    let took = started.elapsed();
    assert!(out.status.success(), "{:?}", text(&out));
    let seen = reader.join().unwrap();
    assert_eq!(seen.last().map(|s| s.0), Some(120), "the last frame");
    for (seq, frame) in &seen {
        assert!(
            frame == &recorded.frames[*seq as usize - 1],
            "played frame {seq} differs from the recording's"
        );
    }
    let span = Duration::from_nanos(recorded.timestamps[119] - recorded.timestamps[0]);
    assert!(
        took >= span.mul_f64(0.95),
        "played in {took:?}, recorded over {span:?}"
    );

    // Again at --fps into the same segment, which now exists: seqs 121 on.
    let started = Instant::now();
    let out = dbshm(&["play", &file, &played.0, "--fps", "200"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(started.elapsed() >= Duration::from_millis(119 * 5));
    let shm = DoubleBufferedSharedMemory::<u8>::open_readonly(&played.0).unwrap();
    let (frame, info) = shm.read_with_info().unwrap();
    assert_eq!(info.seq, 240);
    assert!(frame.as_slice().unwrap() == &recorded.frames[119][..]);
}

/// A thread that waits for segment `name` to appear and reads each new
/// frame of it until frame `last`; the frames it saw, with their seq.
fn read_all(name: String, last: u64) -> JoinHandle<Vec<(u64, Vec<u8>)>> {
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(60);
        let shm = loop {
            match DoubleBufferedSharedMemory::<u8>::open_readonly(&name) {
                Ok(shm) => break shm,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("{name} never appeared: {e}"),
            }
        };
        let mut frame = vec![0u8; shm.len()];
        let (mut seq, mut seen) = (0, Vec::new());
        while seq < last && Instant::now() < end {
            if let Ok(info) = shm.wait_into(seq, Duration::from_millis(100), &mut frame) {
                seq = info.seq;
                seen.push((seq, frame.clone()));
            }
        }
        seen
    })
}

#[test]
fn play_takes_an_array_of_frames_and_refuses_another_shape_or_type() {
    let dir = Scratch::new("play");
    let file = dir.file("frames.npy");
    let frames: Vec<u8> = (0..5 * 4 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let mut writer = npyz::WriteOptions::<u8>::new()
        .default_dtype()
        .shape(&[5, 4, 3])
        .writer(std::io::BufWriter::new(
            std::fs::File::create(&file).unwrap(),
        ))
        .begin_nd()
        .unwrap();
    writer.extend(frames.iter().copied()).unwrap();
    writer.finish().unwrap();

    let seg = Name::new("array");
    let out = dbshm(&["play", &file, &seg.0]);
    assert!(
        text(&out).1.contains("no timestamps; give --fps"),
        "{:?}",
        text(&out)
    );
    let out = dbshm(&[
        "play",
        &file,
        &seg.0,
        "--fps",
        "1000",
        "--buffers",
        "3",
        "--mode",
        "0640",
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let info = dbshm::inspect(&seg.0).unwrap();
    assert_eq!(
        (info.shape, info.buffer_offsets.len(), info.mode & 0o777),
        (vec![4, 3], 3, 0o640)
    );
    let shm = DoubleBufferedSharedMemory::<u8>::open_readonly(&seg.0).unwrap();
    let (frame, info) = shm.read_with_info().unwrap();
    assert_eq!((info.seq, frame.as_slice().unwrap()), (5, &frames[48..]));

    for (other, what) in [(Name::new("u16"), "u16"), (Name::new("shape"), "shape")] {
        if what == "u16" {
            DoubleBufferedSharedMemory::<u16>::create(&other.0, (4, 3)).unwrap();
        } else {
            DoubleBufferedSharedMemory::<u8>::create(&other.0, (3, 4)).unwrap();
        }
        let out = dbshm(&["play", &file, &other.0, "--fps", "1000"]);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{what}");
        assert!(
            stderr.contains("holds 4x3 u8 frames") && stderr.contains(&other.0),
            "{what}: {stderr}"
        );
    }
    std::fs::write(&file, b"not numpy").unwrap();
    let out = dbshm(&["play", &file, &seg.0, "--fps", "1"]);
    assert!(text(&out).1.contains("not an npy file"), "{:?}", text(&out));
}

#[test]
fn ctrl_c_ends_a_recording_with_a_loadable_file_and_sigkill_loses_no_whole_frame() {
    let dir = Scratch::new("stop");
    let seg = Name::new("stop");
    let _writer = Writer::start(&seg.0, &SHAPE, 120.0);
    for sig in [libc::SIGINT, libc::SIGKILL] {
        let file = dir.file(&format!("{sig}.npy"));
        let record = Running::start(&["record", &seg.0, "-o", &file]);
        wait_for_count(&file, 10);
        let before = counted(&file);
        signal(record.pid(), sig);
        let (status, stdout, stderr) = record.exit(Duration::from_secs(10)).unwrap();
        let recorded = load(&file, &SHAPE);
        recorded.check();
        assert!(recorded.frames.len() as u64 >= before, "{sig}");
        if sig == libc::SIGINT {
            assert!(status.success(), "{stdout}\n{stderr}");
            assert_eq!(recorded.trailing_bytes, 0);
            let line = format!("{} frames of segment", recorded.frames.len());
            assert!(stdout.contains(&line), "{stdout}");
        }
    }
}

#[test]
fn recording_into_a_full_tmpfs_fails_clearly_and_leaves_a_loadable_file() {
    let mount = match mounts::Mount::tmpfs("full", "1m") {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("skipped: {why} (the test needs root)");
            return;
        }
    };
    let seg = Name::new("full");
    // 102,016 bytes a record: ten fit in 1 MiB, the eleventh does not.
    let shape = [200, 170, 3];
    let _writer = Writer::start(&seg.0, &shape, 120.0);
    let file = mount.path().join("run.npy").display().to_string();
    let record = Running::start(&["record", &seg.0, "-o", &file, "--frames", "1000"]);
    let (status, stdout, stderr) = record.exit(Duration::from_secs(60)).unwrap();
    assert!(!status.success(), "{stdout}");
    assert!(
        stderr.contains("No space left on device")
            && stderr.contains("it holds the 10 frames written before and loads as it is"),
        "{stderr}"
    );
    let recorded = load(&file, &shape);
    assert_eq!((recorded.frames.len(), recorded.trailing_bytes), (10, 0));
    recorded.check();
}

#[test]
fn a_recording_ends_with_a_loadable_file_when_its_segment_is_removed() {
    let dir = Scratch::new("gone");
    let seg = Name::new("gone");
    let writer = Writer::start(&seg.0, &SHAPE, 120.0);
    let file = dir.file("run.npy");
    let record = Running::start(&["record", &seg.0, "-o", &file]);
    wait_for_count(&file, 5);
    dbshm::unlink(&seg.0).unwrap();
    let (status, stdout, stderr) = record.exit(Duration::from_secs(10)).unwrap();
    drop(writer);
    assert!(!status.success(), "{stdout}");
    assert!(
        stderr.contains(&format!("{} was removed", seg.0)),
        "{stderr}"
    );
    let recorded = load(&file, &SHAPE);
    assert_eq!(recorded.trailing_bytes, 0);
    recorded.check();
}

#[test]
fn play_refuses_crafted_files_with_one_line_errors() {
    let dir = Scratch::new("crafted");
    let npy = |text: &str| {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes
    };
    let nested = format!(
        "{{'descr': {}{}, 'fortran_order': False, 'shape': (1,), }}\n",
        "[".repeat(4900),
        "]".repeat(4900)
    );
    let mut claims_4_gb = b"\x93NUMPY\x02\x00".to_vec();
    claims_4_gb.extend(0xffff_fff0u32.to_le_bytes());
    let max = u64::MAX;
    let quoted = format!("['\\'', {}1{}]", "{".repeat(16), "}".repeat(16));
    let cases: [(&str, Vec<u8>, &str); 9] = [
        ("nested", npy(&nested), "nests brackets 4901 deep"),
        // Brackets after an escaped quote are brackets all the same.
        ("quoted", npy(&quoted), "nests brackets 17 deep"),
        (
            "records",
            npy("{'descr': [('seq', '<u8'), ('timestamp_ns', '<u8'), ('frame', '|u1', (2,))], 'fortran_order': False, 'shape': (3, 1), }\n"),
            "a recording has one axis",
        ),
        ("claims", claims_4_gb, "numpy refuses more than 10000"),
        (
            "huge",
            npy(&format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({max}, {max}, 3), }}\n")),
            "too large for memory",
        ),
        (
            "empty",
            npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 0, 4), }\n"),
            "have no elements",
        ),
        (
            "complex",
            npy("{'descr': '<c8', 'fortran_order': False, 'shape': (3, 4), }\n"),
            "not a recording of dbshm frames",
        ),
        (
            "fields",
            npy("{'descr': [('seq', '<u8'), ('frame', '|u1', (2,))], 'fortran_order': False, 'shape': (1,), }\n"),
            "not a recording of dbshm frames",
        ),
        ("short", b"\x93NUM".to_vec(), "not an npy file"),
    ];
    let seg = Name::new("crafted");
    for (tag, bytes, why) in cases {
        let file = dir.file(&format!("{tag}.npy"));
        std::fs::write(&file, bytes).unwrap();
        // Bounded: a parser lost in the nested brackets takes minutes.
        let (status, _, stderr) = Running::start(&["play", &file, &seg.0, "--fps", "1"])
            .exit(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!(status.code(), Some(1), "{tag}: {stderr}");
        assert!(
            stderr.contains(why) && stderr.contains(&file) && stderr.lines().count() == 1,
            "{tag}: {stderr}"
        );
    }
    assert!(dbshm::inspect(&seg.0).is_err(), "a segment was made");
}

/// Writes a recording of u8 frames by hand, as numpy would lay it out:
/// `(seq, timestamp_ns, frame)` records after a header padded to 64 bytes.
fn write_recording(path: &str, shape: &[usize], records: &[(u64, u64, Vec<u8>)]) {
    let dims: String = shape.iter().map(|d| format!("{d}, ")).collect();
    let mut text = format!(
        "{{'descr': [('seq', '<u8'), ('timestamp_ns', '<u8'), ('frame', '|u1', ({dims}))], \
         'fortran_order': False, 'shape': ({}, ), }}",
        records.len()
    );
    while (10 + text.len() + 1) % 64 != 0 {
        text.push(' ');
    }
    text.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((text.len() as u16).to_le_bytes());
    bytes.extend(text.as_bytes());
    for (seq, ts, frame) in records {
        bytes.extend(seq.to_le_bytes());
        bytes.extend(ts.to_le_bytes());
        bytes.extend(frame);
    }
    std::fs::write(path, bytes).unwrap();
}

/// Each frame a thread saw of segment `name`, with its publish time, until
/// `stop` is set (the segment must exist).
fn publish_times(name: &str, stop: Arc<AtomicBool>) -> JoinHandle<Vec<(u64, u64)>> {
    let shm = DoubleBufferedSharedMemory::<u8>::open_readonly(name).unwrap();
    std::thread::spawn(move || {
        let mut frame = vec![0u8; shm.len()];
        let (mut seq, mut seen) = (0, Vec::new());
        while !stop.load(Ordering::Relaxed) {
            if let Ok(info) = shm.wait_into(seq, Duration::from_millis(50), &mut frame) {
                seq = info.seq;
                seen.push((seq, info.timestamp_ns));
            }
        }
        seen
    })
}

#[test]
fn play_keeps_the_recorded_pace_across_loops_and_after_a_stall() {
    let dir = Scratch::new("pace");
    // Three frames 100 ms apart, looped: every frame 100 ms after the last,
    // the first of a pass too.
    let file = dir.file("three.npy");
    let ms = 1_000_000;
    let records: Vec<_> = (0..3u64)
        .map(|k| (k + 1, 5_000 * ms + k * 100 * ms, vec![k as u8; 4]))
        .collect();
    write_recording(&file, &[4], &records);
    let seg = Name::new("pace");
    DoubleBufferedSharedMemory::<u8>::create(&seg.0, [4]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = publish_times(&seg.0, Arc::clone(&stop));
    let play = Running::start(&["play", &file, &seg.0, "--loop"]);
    std::thread::sleep(Duration::from_millis(1100));
    signal(play.pid(), libc::SIGINT);
    let (status, stdout, stderr) = play.exit(Duration::from_secs(10)).unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(status.success(), "{stdout}\n{stderr}");
    let seen = reader.join().unwrap();
    // Between two frames seen, 100 ms for each frame written, less what a
    // late wake-up of the first took (a frame the reader missed counts too).
    assert!(seen.len() >= 6 && seen.last().unwrap().0 >= 8, "{seen:?}");
    for w in seen.windows(2) {
        let (frames, gap) = (w[1].0 - w[0].0, (w[1].1 - w[0].1) / ms);
        assert!(
            gap >= 100 * frames - 15,
            "frames {w:?}: {frames} in {gap} ms"
        );
    }

    // One frame has no interval to loop at.
    let one = dir.file("one.npy");
    write_recording(&one, &[4], &records[..1]);
    let out = dbshm(&["play", &one, &seg.0, "--loop"]);
    assert!(
        text(&out).1.contains("no interval to loop at; give --fps"),
        "{:?}",
        text(&out)
    );

    // Stopped for 600 ms at 20 fps, it goes on at 20 fps: not the 12 frames
    // it missed in a burst.
    let many = dir.file("many.npy");
    let frames: Vec<_> = (0..200u64)
        .map(|k| (k + 1, k * 50 * ms, vec![k as u8; 4]))
        .collect();
    write_recording(&many, &[4], &frames);
    let stalled = Name::new("stalled");
    let play = Running::start(&["play", &many, &stalled.0]);
    let end = Instant::now() + Duration::from_secs(20);
    let shm = loop {
        match DoubleBufferedSharedMemory::<u8>::open_readonly(&stalled.0) {
            Ok(shm) if shm.latest_seq() >= 3 => break shm,
            _ if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
            other => panic!("play did not start: {:?}", other.map(|s| s.latest_seq())),
        }
    };
    signal(play.pid(), libc::SIGSTOP);
    let before = shm.latest_seq();
    std::thread::sleep(Duration::from_millis(600));
    signal(play.pid(), libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(150));
    let after = shm.latest_seq();
    assert!(
        after - before <= 6,
        "{} frames in the 150 ms after the stall",
        after - before
    );
    drop(play);
}

#[test]
fn a_recording_and_a_snapshot_are_as_private_as_their_segment() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("private");
    let seg = Name::new("private");
    // Mode 0600, the default: the owner's alone.
    let _writer = Writer::start(&seg.0, &[4, 4], 100.0);
    let (recording, snapshot) = (dir.file("r.npy"), dir.file("s.png"));
    // With the umask most users have, which leaves files readable by all.
    let run = |args: &[&str]| {
        use std::os::unix::process::CommandExt;
        let mut command = common::command();
        // SAFETY: umask is async-signal-safe, and touches nothing but the
        // child's own file mode mask.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            })
        };
        let out = command.args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {:?}", text(&out));
    };
    run(&["record", &seg.0, "-o", &recording, "--frames", "2"]);
    run(&["snapshot", &seg.0, "-o", &snapshot]);
    for file in [recording, snapshot] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}
