//! The bridge's benchmark (BENCHMARKS.md, "Across machines: the Zenoh
//! bridge"): frames from a local segment through `dbshm-bridge publish`
//! and `subscribe` processes into another segment, on loopback, against
//! the same frames over a plain TCP socket between two processes.
//!
//! - **Latency**, lockstep: this process writes a frame into the source
//!   segment and waits (`wait_into`) until it is in the subscriber's
//!   segment; over TCP it sends the frame to a child process, which reads
//!   all of it and answers with its CLOCK_MONOTONIC at the last byte. Both
//!   one-way, on one clock. The two alternate in rounds.
//! - **Sustained**: 1080p at 60 fps for a while, every frame counted at the
//!   far end, both bridges' resident memory sampled each second.
//! - **Flat out**: frames per second reaching the far segment with the
//!   writer as fast as it can.
//!
//! `cargo run --release -p dbshm-bridge --bin bridge-bench -- [--quick]`
//! (scripts/bench-bridge.sh); prints markdown.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dbshm::{DoubleBufferedSharedMemory, Options};
use dbshm_testkit::stats::{median, quantile, sorted};

type Shm = DoubleBufferedSharedMemory<u8>;

const BRIDGE: &str = "dbshm-bridge";

struct Settings {
    rounds: usize,
    frames_per_round: usize,
    sustained: Duration,
    flat_out: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("tcp-receiver") {
        return tcp_receiver(&args[1], args[2].parse().unwrap());
    }
    let settings = if args.iter().any(|a| a == "--quick") {
        Settings {
            rounds: 3,
            frames_per_round: 20,
            sustained: Duration::from_secs(10),
            flat_out: Duration::from_secs(3),
        }
    } else {
        Settings {
            rounds: 5,
            frames_per_round: 60,
            sustained: Duration::from_secs(60),
            flat_out: Duration::from_secs(5),
        }
    };
    let bridge = std::env::current_exe().unwrap().with_file_name(BRIDGE);
    let mut out = String::from("### Across machines: the Zenoh bridge, on loopback\n\n");
    out += &format!(
        "Lockstep, {} interleaved rounds of {} frames per size and path, 20 ms between frames: \
         from the write into the source segment to the frame in the subscriber's segment \
         (this process waiting in `wait_into`), against a TCP socket between two processes \
         (from the first byte sent to the receiver's clock at the last byte read).\n\n\
         | frame | bridge p50 | bridge p99 | TCP p50 | TCP p99 | bridge p50 / TCP p50 |\n\
         |---|---|---|---|---|---|\n",
        settings.rounds, settings.frames_per_round
    );
    for (label, shape) in [
        ("100x100x3 u8", vec![100, 100, 3]),
        ("1920x1080x3 u8", vec![1080, 1920, 3]),
    ] {
        let (bridge_us, tcp_us) = latency(&bridge, &shape, &settings);
        let (b, t) = (sorted(&bridge_us), sorted(&tcp_us));
        out += &format!(
            "| {label} | {} | {} | {} | {} | {:.2}x |\n",
            us(median(&b)),
            us(quantile(&b, 0.99)),
            us(median(&t)),
            us(quantile(&t, 0.99)),
            median(&b) / median(&t)
        );
        eprintln!("bridge-bench: latency {label} done");
    }
    out += &sustained(&bridge, &settings);
    out += &flat_out(&bridge, &settings);
    print!("{out}");
}

fn us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

fn monotonic_ns() -> u64 {
    dbshm::monotonic_ns()
}

/// A segment of this benchmark, removed when dropped.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        Name(format!("dbshm-bench-bridge-{tag}-{}", std::process::id()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = dbshm::unlink(&self.0);
    }
}

/// A bridge process, asked to stop (SIGTERM) and reaped when dropped.
struct Bridge(Child);

impl Bridge {
    fn start(bridge: &std::path::Path, args: &[&str]) -> Bridge {
        let child = Command::new(bridge)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbshm-bridge (build it first: cargo build --release -p dbshm-bridge)");
        Bridge(child)
    }

    fn rss_kb(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // SAFETY: kill takes a pid and a signal number, no pointers.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A source segment, a publishing and a subscribing bridge, and the far
/// segment opened once the first frame got there.
struct Crossing {
    src: Shm,
    far: Shm,
    _bridges: (Bridge, Bridge),
    _names: (Name, Name),
}

fn path(bridge: &std::path::Path, tag: &str, shape: &[usize]) -> Crossing {
    let (a, b) = (
        Name::new(&format!("{tag}-src")),
        Name::new(&format!("{tag}-far")),
    );
    let src = Options::new().create::<u8>(&a.0, shape).unwrap();
    let port = free_port();
    let (listen, key) = (format!("tcp/127.0.0.1:{port}"), format!("bench/{}", a.0));
    let publisher = Bridge::start(
        bridge,
        &["publish", &a.0, "--key", &key, "--listen", &listen],
    );
    let subscriber = Bridge::start(
        bridge,
        &["subscribe", &key, "--name", &b.0, "--connect", &listen],
    );
    // Frames until the far segment exists and has one.
    let start = Instant::now();
    let far = loop {
        src.write_slice(&vec![1; src.len()]).unwrap();
        if let Ok(far) = Shm::open_readonly(&b.0) {
            if far.latest_seq() > 0 {
                break far;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no frame crossed the bridge in 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    Crossing {
        src,
        far,
        _bridges: (publisher, subscriber),
        _names: (a, b),
    }
}

/// One-way times in µs of the bridge and of TCP, interleaved by round.
fn latency(bridge: &std::path::Path, shape: &[usize], s: &Settings) -> (Vec<f64>, Vec<f64>) {
    let path = path(bridge, "lat", shape);
    let len = path.src.len();
    let mut out = vec![0u8; len];
    // The TCP receiver.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut receiver = Command::new(std::env::current_exe().unwrap())
        .args(["tcp-receiver", &port, &len.to_string()])
        .spawn()
        .unwrap();
    let (mut tcp, _) = listener.accept().unwrap();
    tcp.set_nodelay(true).unwrap();
    let frame = vec![7u8; len];
    let (mut bridge_us, mut tcp_us) = (Vec::new(), Vec::new());
    for round in 0..s.rounds {
        for which in [round % 2, 1 - round % 2] {
            for i in 0..s.frames_per_round {
                std::thread::sleep(Duration::from_millis(20));
                if which == 0 {
                    let after = path.far.latest_seq();
                    let t0 = monotonic_ns();
                    path.src.write_slice(&vec![(i % 250) as u8; len]).unwrap();
                    path.far
                        .wait_into(after, Duration::from_secs(5), &mut out)
                        .unwrap();
                    bridge_us.push((monotonic_ns() - t0) as f64 / 1e3);
                } else {
                    let t0 = monotonic_ns();
                    tcp.write_all(&frame).unwrap();
                    let mut stamp = [0u8; 8];
                    tcp.read_exact(&mut stamp).unwrap();
                    tcp_us.push((u64::from_le_bytes(stamp) - t0) as f64 / 1e3);
                }
            }
        }
    }
    drop(tcp);
    let _ = receiver.wait();
    (bridge_us, tcp_us)
}

/// Child `tcp-receiver PORT LEN`: reads frames of LEN bytes, answering each
/// with its clock at the last byte.
fn tcp_receiver(port: &str, len: usize) {
    let mut tcp = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut frame = vec![0u8; len];
    while tcp.read_exact(&mut frame).is_ok() {
        let stamp = monotonic_ns().to_le_bytes();
        if tcp.write_all(&stamp).is_err() {
            break;
        }
    }
}

fn sustained(bridge: &std::path::Path, s: &Settings) -> String {
    let path = path(bridge, "60fps", &[1080, 1920, 3]);
    let len = path.src.len();
    // The frames written to open the path have arrived.
    std::thread::sleep(Duration::from_millis(500));
    let first_far = path.far.latest_seq();
    let mut written = 0u64;
    let mut rss: Vec<(u64, u64)> = Vec::new();
    let start = Instant::now();
    let mut next = Instant::now();
    let mut last_sample = Instant::now();
    let frame = vec![3u8; len];
    while start.elapsed() < s.sustained {
        path.src.write_slice(&frame).unwrap();
        written += 1;
        next += Duration::from_micros(16_667);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if last_sample.elapsed() >= Duration::from_secs(1) {
            rss.push((path._bridges.0.rss_kb(), path._bridges.1.rss_kb()));
            last_sample = Instant::now();
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let got = path.far.latest_seq() - first_far;
    let secs = start.elapsed().as_secs_f64() - 0.5;
    let (p, q): (Vec<u64>, Vec<u64>) = rss.iter().copied().unzip();
    let range = |v: &[u64]| {
        format!(
            "{:.1} / {:.1} / {:.1} MiB",
            *v.first().unwrap_or(&0) as f64 / 1024.0,
            *v.iter().max().unwrap_or(&0) as f64 / 1024.0,
            *v.last().unwrap_or(&0) as f64 / 1024.0
        )
    };
    eprintln!("bridge-bench: sustained done");
    format!(
        "\n1920x1080x3 u8 at 60 fps for {} s: {written} frames written ({:.1} fps), {got} reached the \
         far segment, {} lost. Resident memory, first / most / last of the samples taken each second: \
         publishing bridge {}, subscribing bridge {}.\n",
        s.sustained.as_secs(),
        written as f64 / secs,
        written.saturating_sub(got),
        range(&p),
        range(&q)
    )
}

fn flat_out(bridge: &std::path::Path, s: &Settings) -> String {
    let mut out = format!(
        "\nFlat out for {} s each (the writer as fast as it can; the bridge takes the newest frame \
         each time and drops the rest):\n\n| frame | written per s | reached the far segment per s | MB/s across |\n|---|---|---|---|\n",
        s.flat_out.as_secs()
    );
    for (label, shape) in [
        ("100x100x3 u8", vec![100, 100, 3]),
        ("1920x1080x3 u8", vec![1080, 1920, 3]),
    ] {
        let path = path(bridge, "flat", &shape);
        let frame = vec![5u8; path.src.len()];
        std::thread::sleep(Duration::from_millis(500));
        let (first_src, first_far) = (path.src.latest_seq(), path.far.latest_seq());
        let start = Instant::now();
        while start.elapsed() < s.flat_out {
            path.src.write_slice(&frame).unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let written = path.src.latest_seq() - first_src;
        let got = path.far.latest_seq() - first_far;
        out += &format!(
            "| {label} | {:.0} | {:.0} | {:.0} |\n",
            written as f64 / secs,
            got as f64 / secs,
            got as f64 * frame.len() as f64 / secs / 1e6
        );
    }
    eprintln!("bridge-bench: flat out done");
    out
}
