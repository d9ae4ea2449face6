//! Reader scaling and memory. A writer process writes the 1080p frame as fast
//! as it can for a few seconds while 0, 1, 2, 4 or 8 reader processes each
//! wait for every new frame and copy it out (`wait_into`), checking the
//! frame's two stamps. Each process reports its counts and its resident
//! memory from /proc/self/status at the end. Then eight readers at 60 fps
//! that pin each frame (`wait_pin`) instead, against eight that copy.

use std::process::Stdio;
use std::time::{Duration, Instant};

use dbshm::{monotonic_ns, DbShmError, DoubleBufferedSharedMemory, Options};
use dbshm_testkit::report::{emit, json, Report};
use serde_json::{Map, Value};

use crate::frames::{stamp, stamps, Frame};
use crate::stats::{median, quantile, time};
use crate::Settings;

pub const READERS: [usize; 5] = [0, 1, 2, 4, 8];
/// Writer rates: as fast as it can, and a 60 fps camera.
pub const FPS: [u32; 2] = [0, 60];

/// How a scaling reader takes its frames.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Take {
    /// `wait_into`: a copy of its own, on a segment of two buffers.
    Copy,
    /// `wait_pin`: in place, on a segment of two buffers more than readers.
    Pin,
}

impl Take {
    fn arg(self) -> &'static str {
        match self {
            Take::Copy => "copy",
            Take::Pin => "pin",
        }
    }
}

/// One run's reports: the writer's and each reader's.
pub struct Run {
    pub readers: usize,
    pub fps: u32,
    pub take: Take,
    pub writer: Report,
    pub reader: Vec<Report>,
}

fn spawn(args: &[String]) -> std::process::Child {
    dbshm_testkit::child::command(&args[0])
        .args(&args[1..])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn report(child: std::process::Child) -> Report {
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "a scaling process failed: {}",
        out.status
    );
    Report::parse(&String::from_utf8_lossy(&out.stdout))
}

/// One run with `readers` readers of `frame` for `secs` seconds, the writer
/// paced at `fps` frames per second (0: as fast as it can).
pub fn run(frame: &Frame, readers: usize, secs: f64, fps: u32, take: Take) -> Run {
    let name = crate::xproc::unique_name("scale");
    let buffers = match take {
        Take::Copy => 2,
        Take::Pin => readers + 2,
    };
    let shm = Options::new()
        .buffers(buffers)
        .unlink_on_drop(true)
        .create::<u8>(&name, [frame.bytes()])
        .expect("create the dbshm segment");
    let reader_secs = format!("{}", secs + 0.5);
    let children: Vec<_> = (0..readers)
        .map(|_| {
            spawn(&[
                "scale_reader".into(),
                name.clone(),
                reader_secs.clone(),
                take.arg().into(),
            ])
        })
        .collect();
    // Let the readers map the segment and fall asleep before the writer starts.
    std::thread::sleep(Duration::from_millis(200));
    let writer = spawn(&[
        "scale_writer".into(),
        name.clone(),
        secs.to_string(),
        fps.to_string(),
    ]);
    let writer = report(writer);
    let reader = children.into_iter().map(report).collect();
    drop(shm);
    Run {
        readers,
        fps,
        take,
        writer,
        reader,
    }
}

/// Child `scale_writer <name> <secs> <fps>`: writes until `secs` have
/// passed, at `fps` frames per second or, with 0, as fast as it can.
pub fn scale_writer(args: &[String]) {
    let [name, secs, fps] = args else {
        panic!("usage: compare scale_writer <name> <secs> <fps>")
    };
    let shm = DoubleBufferedSharedMemory::<u8>::open(name).expect("open");
    let mut frame = vec![0u8; shm.len()];
    crate::frames::fill(&mut frame, 0);
    let secs = Duration::from_secs_f64(secs.parse().expect("seconds"));
    let fps: u32 = fps.parse().expect("fps");
    let mut writes = Vec::with_capacity(100_000);
    let start = Instant::now();
    let mut tries = 0u64;
    while start.elapsed() < secs {
        if fps > 0 {
            let next = start + Duration::from_secs(tries) / fps;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        tries += 1;
        stamp(&mut frame, shm.latest_seq() + 1);
        let t = Instant::now();
        match shm.write_slice(&frame) {
            Ok(_) => writes.push(t.elapsed().as_nanos() as f64),
            Err(DbShmError::AllBuffersPinned { .. }) => {}
            Err(e) => panic!("write: {e}"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    emit(&with_memory(json!({
        "frames": writes.len(),
        "secs": elapsed,
        "write_p50": median(&writes),
        "write_p99": quantile(&writes, 0.99),
        "dropped": shm.dropped_writes(),
        "segment": shm.get_memory_size(),
    })));
}

/// Child `scale_reader <name> <secs> copy|pin`: takes every new frame it
/// sees, a copy or pinned, and measures each one's latency from publish to
/// holding it, and its own CPU time.
pub fn scale_reader(args: &[String]) {
    let [name, secs, take] = args else {
        panic!("usage: compare scale_reader <name> <secs> copy|pin")
    };
    let pin = take == "pin";
    let shm = DoubleBufferedSharedMemory::<u8>::open_readonly(name).expect("open");
    let mut out = vec![0u8; shm.len()];
    let secs = Duration::from_secs_f64(secs.parse().expect("seconds"));
    let mut latencies = Vec::with_capacity(100_000);
    let start = Instant::now();
    let cpu0 = crate::xproc::thread_cpu_ns();
    let (mut last, mut torn) = (0, 0u64);
    let patience = Duration::from_millis(50);
    while start.elapsed() < secs {
        let after = last;
        let mut check = |info: dbshm::FrameInfo, frame: &[u8]| {
            let seq = info.seq;
            latencies.push(monotonic_ns().saturating_sub(info.timestamp_ns) as f64);
            let (first, end) = stamps(frame);
            if first != seq || end != seq {
                eprintln!("compare scale_reader: torn frame {seq}: stamps {first}, {end}");
                torn += 1;
            }
            last = seq;
        };
        let taken = if pin {
            shm.wait_pin(after, patience)
                .map(|p| check(p.info(), p.as_slice()))
        } else {
            shm.wait_into(after, patience, &mut out)
                .map(|info| check(info, &out))
        };
        match taken {
            Ok(()) => {}
            Err(DbShmError::Timeout { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let cpu = crate::xproc::thread_cpu_ns() - cpu0;
    let (p50, p99) = if latencies.is_empty() {
        (0.0, 0.0)
    } else {
        (median(&latencies), quantile(&latencies, 0.99))
    };
    emit(&with_memory(json!({
        "reads": latencies.len(),
        "torn": torn,
        "retries": shm.retries(),
        "latency_p50": p50,
        "latency_p99": p99,
        "cpu_ns": cpu,
    })));
}

/// The memory report of the child `idle`.
pub fn idle_memory() -> Report {
    report(spawn(&["idle".into()]))
}

/// Child `idle`: the memory of this program doing nothing, the baseline
/// for the others.
pub fn idle(_: &[String]) {
    emit(&with_memory(json!({})));
}

/// `report` with this process's `memory()` added.
fn with_memory(mut report: Value) -> Value {
    report
        .as_object_mut()
        .expect("a report is an object")
        .extend(memory());
    report
}

/// VmRSS and its parts from /proc/self/status, in kB.
fn memory() -> Map<String, Value> {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let kb: u64 = rest.trim().strip_suffix(" kB")?.parse().ok()?;
            ["VmRSS", "RssAnon", "RssFile", "RssShmem"]
                .contains(&key)
                .then(|| (key.to_string(), kb.into()))
        })
        .collect()
}

/// The scaling and memory tables.
pub fn tables(runs: &[Run], idle: &Report, settings: &Settings) -> String {
    let mut s = format!(
        "### Reader scaling, 1920x1080x3 u8\n\n\
         A writer process writes for {} s while each reader process waits for \
         every new frame (`wait_into`), copies it out and checks its stamps. \
         First as fast as the writer can, which no camera does: a reader whose \
         copy takes longer than the writer's next frame is retried, by design, \
         since the writer never waits. Then at 60 fps. {} runs per row (rows \
         run in turn): the writer's figures are medians of the runs; of the \
         readers', the share of frames is the lowest any reader got, retries \
         and torn frames (first and last 8 bytes checked) are totals over all \
         readers, and the latencies (publish to copied) are medians of the \
         readers' own. 2 cores serve all the processes.\n\n\
         | writer | readers | writer frames/s | write p50 | write p99 | frames the slowest reader got | retries per read | latency p50 | latency p99 | torn frames |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        settings.scaling_secs, settings.scaling_rounds
    );
    for fps in FPS {
        for k in READERS {
            let of: Vec<&Run> = runs
                .iter()
                .filter(|r| r.readers == k && r.fps == fps && r.take == Take::Copy)
                .collect();
            let w =
                |key: &str| median(&of.iter().map(|r| r.writer.number(key)).collect::<Vec<_>>());
            let rate = median(
                &of.iter()
                    .map(|r| r.writer.number("frames") / r.writer.number("secs"))
                    .collect::<Vec<_>>(),
            );
            let per = |f: &dyn Fn(&Run, &Report) -> f64| {
                let v: Vec<f64> = of
                    .iter()
                    .flat_map(|r| r.reader.iter().map(move |m| f(r, m)))
                    .collect();
                (!v.is_empty()).then_some(v)
            };
            let got = per(&|r, m| 100.0 * m.number("reads") / r.writer.number("frames"))
                .map(|v| v.into_iter().fold(f64::INFINITY, f64::min));
            let total = |key: &str| per(&|_, m| m.number(key)).map(|v| v.iter().sum::<f64>());
            let retries = total("retries")
                .zip(total("reads"))
                .map(|(r, n)| r / n.max(1.0));
            let torn = total("torn");
            let p50 = per(&|_, m| m.number("latency_p50")).map(|v| median(&v));
            let p99 = per(&|_, m| m.number("latency_p99")).map(|v| median(&v));
            let dash = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
            s += &format!(
                "| {} | {k} | {rate:.0} | {} | {} | {} | {} | {} | {} | {} |\n",
                if fps == 0 {
                    "flat out".to_string()
                } else {
                    format!("{fps} fps")
                },
                time(w("write_p50")),
                time(w("write_p99")),
                dash(got, &|g| format!("{g:.0}%")),
                dash(retries, &|r| format!("{r:.2}")),
                dash(p50, &time),
                dash(p99, &time),
                dash(torn, &|t| format!("{t:.0}")),
            );
        }
    }

    let one = runs
        .iter()
        .find(|r| r.readers == 1 && r.fps == 60 && r.take == Take::Copy)
        .expect("a run with one reader");
    let mib = |kb: f64| format!("{:.1} MiB", kb / 1024.0);
    let row = |who: &str, m: &Report| {
        format!(
            "| {who} | {} | {} | {} | {} |\n",
            mib(m.number("VmRSS")),
            mib(m.number("RssAnon")),
            mib(m.number("RssFile")),
            mib(m.number("RssShmem"))
        )
    };
    s += &format!(
        "\n### Memory, 1920x1080x3 u8\n\n\
         Resident memory at the end of a run with one reader at 60 fps. The \
         segment is {} (a 4 KiB header and two {}-byte buffers, page-aligned), \
         counted in RssShmem. The writer's and the reader's anonymous memory \
         each include a frame buffer of their own ({}); `idle` is this program \
         doing nothing, the baseline.\n\n\
         | process | VmRSS | RssAnon | RssFile | RssShmem |\n|---|---|---|---|---|\n",
        mib(one.writer.number("segment") / 1024.0),
        crate::frames::HD.bytes(),
        mib(crate::frames::HD.bytes() as f64 / 1024.0),
    );
    s += &row("idle", idle);
    s += &row("writer", &one.writer);
    s += &row("reader", &one.reader[0]);
    s
}

/// Readers in the pinning comparison, and the writer's rate.
pub const PINNERS: usize = 8;
pub const PIN_FPS: u32 = 60;

/// Eight readers of a 60 fps 1080p stream, pinning against copying.
pub fn pin_table(runs: &[Run], settings: &Settings) -> String {
    let mut s = format!(
        "### Eight readers at 60 fps, pinning or copying, 1920x1080x3 u8\n\n\
         A writer process at {PIN_FPS} fps for {} s, and {PINNERS} reader processes \
         that each wait for every new frame: with `wait_into` on a segment of two \
         buffers (a copy each), or with `wait_pin` on one of {} buffers (the \
         frame in place, let go after its stamps are checked). Reader CPU is \
         each reader's own CPU time per frame it took (median over readers and \
         runs), latencies publish to holding the frame; writer drops are writes \
         refused because every other buffer was pinned. {} runs each.\n\n\
         | readers take | writer frames/s | writer drops | reader CPU per frame | latency p50 | latency p99 | torn frames |\n\
         |---|---|---|---|---|---|---|\n",
        settings.scaling_secs,
        PINNERS + 2,
        settings.scaling_rounds
    );
    for take in [Take::Copy, Take::Pin] {
        let of: Vec<&Run> = runs
            .iter()
            .filter(|r| r.take == take && r.readers == PINNERS && r.fps == PIN_FPS)
            .collect();
        if of.is_empty() {
            continue;
        }
        let rate = median(
            &of.iter()
                .map(|r| r.writer.number("frames") / r.writer.number("secs"))
                .collect::<Vec<_>>(),
        );
        let drops: f64 = of.iter().map(|r| r.writer.number("dropped")).sum();
        let per = |f: &dyn Fn(&Report) -> f64| -> Vec<f64> {
            of.iter().flat_map(|r| r.reader.iter().map(f)).collect()
        };
        let cpu = median(&per(&|m| m.number("cpu_ns") / m.number("reads").max(1.0)));
        let torn: f64 = per(&|m| m.number("torn")).iter().sum();
        s += &format!(
            "| {} | {rate:.0} | {drops:.0} | {} | {} | {} | {torn:.0} |\n",
            match take {
                Take::Copy => "a copy (`wait_into`)",
                Take::Pin => "a pin (`wait_pin`)",
            },
            time(cpu),
            time(median(&per(&|m| m.number("latency_p50")))),
            time(median(&per(&|m| m.number("latency_p99")))),
        );
    }
    s + "\n"
}
