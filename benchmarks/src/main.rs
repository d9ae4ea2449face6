//! The comparison behind BENCHMARKS.md. Run by `scripts/bench.sh`, or:
//!
//!     cargo run --release --manifest-path benchmarks/Cargo.toml -- --out target/benchmarks.md
//!
//! Options (`--help`): `--quick` (fewer rounds and frames, a minute or so),
//! `--smoke` (a few frames of everything, to check the harness itself), `--out
//! FILE` (also write the markdown there), `--only
//! inproc|sweep|transfer|wake|scaling` (one section). Build without iceoryx2
//! with `--no-default-features`. It re-runs itself as its peers and scaling
//! processes, the roles in `ROLES`.
//!
//! Every contender runs interleaved with the others, round by round, and the
//! report gives medians and ratios taken within rounds. In-process timings are
//! in `inproc`, the cross-process ones in `xproc` and `scaling`.

#[path = "../../benches/support/old_design.rs"]
mod old_design;

mod frames;
#[cfg(feature = "iceoryx2")]
mod ice;
#[cfg(not(feature = "iceoryx2"))]
mod ice {
    /// Without iceoryx2 any element type will do.
    pub trait IceElem {}
    impl<T> IceElem for T {}
}
mod inproc;
mod pages;
mod scaling;
mod shmword;
mod stats;
mod xproc;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use frames::FRAMES;
use scaling::Take;
use stats::{median, quantile, time};
use xproc::{Transport, ALL};

pub use xproc::unique_name;

/// How much of everything to run.
pub struct Settings {
    /// In-process rounds, and the length of one contender's batch in a round.
    pub rounds: usize,
    pub batch: Duration,
    /// Cross-process frames per frame size, and in how many interleaved rounds.
    pub transfer_frames: [u64; 5],
    pub xproc_rounds: u64,
    /// Frames of the wake-latency test.
    pub wake_frames: u64,
    /// The writer's sleep between lockstep frames.
    pub gap: Duration,
    pub scaling_secs: f64,
    pub scaling_rounds: usize,
    /// Frames larger than this are skipped (the smoke run keeps within the
    /// 64 MB `/dev/shm` of a default container).
    pub max_bytes: usize,
}

impl Settings {
    fn full() -> Settings {
        Settings {
            rounds: 21,
            batch: Duration::from_millis(20),
            transfer_frames: [2000, 1000, 300, 60, 1000],
            xproc_rounds: 5,
            wake_frames: 10_000,
            gap: Duration::from_micros(200),
            scaling_secs: 2.0,
            scaling_rounds: 3,
            max_bytes: usize::MAX,
        }
    }

    fn quick() -> Settings {
        Settings {
            rounds: 7,
            transfer_frames: [400, 200, 60, 15, 200],
            wake_frames: 2000,
            scaling_secs: 1.0,
            scaling_rounds: 1,
            ..Settings::full()
        }
    }

    fn smoke() -> Settings {
        Settings {
            rounds: 2,
            batch: Duration::from_millis(1),
            transfer_frames: [6, 6, 4, 2, 4],
            xproc_rounds: 2,
            wake_frames: 20,
            gap: Duration::from_micros(50),
            scaling_secs: 0.3,
            scaling_rounds: 1,
            max_bytes: 8 << 20,
        }
    }
}

/// The comparison behind BENCHMARKS.md: dbshm against memcpy, its old
/// design, pipes, Unix sockets, a raw futex and iceoryx2.
#[derive(Parser)]
#[command(name = "compare")]
struct Args {
    /// Fewer rounds and frames: a minute or so.
    #[arg(long, overrides_with = "smoke")]
    quick: bool,
    /// A few frames of everything, each checked: a test of the harness itself.
    /// (Of --quick and --smoke, the last given counts.)
    #[arg(long, overrides_with = "quick")]
    smoke: bool,
    /// Also write the markdown report to FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Run one section only.
    #[arg(long, value_enum, value_name = "SECTION")]
    only: Option<Section>,
    /// A tmpfs mounted `huge=always`, for the huge-pages section.
    #[arg(long, value_name = "DIR")]
    huge_tmpfs: Option<PathBuf>,
    /// A hugetlbfs mount with pages reserved, for the huge-pages section.
    #[arg(long, value_name = "DIR")]
    hugetlbfs: Option<PathBuf>,
}

/// The sections of the report.
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Section {
    Inproc,
    Sweep,
    Transfer,
    Wake,
    Scaling,
    Pages,
}

/// What this program does as a child of itself (`dbshm_testkit::child`).
const ROLES: [dbshm_testkit::child::Role; 4] = {
    use scaling::{idle, scale_reader, scale_writer};
    use xproc::peer;
    dbshm_testkit::roles![peer, scale_writer, scale_reader, idle]
};

fn main() {
    if let Some(args) = dbshm_testkit::child::args() {
        die_with_parent();
        return dbshm_testkit::child::play(&ROLES, &args);
    }
    let args = Args::parse();
    let settings = if args.smoke {
        Settings::smoke()
    } else if args.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    let only = args.only;
    let out = args.out;

    let run = |section: Section| only.is_none_or(|o| o == section);
    let mut report = machine(&settings);
    if run(Section::Inproc) {
        eprintln!("compare: in-process timings");
        let timings: Vec<_> = FRAMES
            .iter()
            .filter(|f| f.bytes() <= settings.max_bytes)
            .map(|f| inproc::measure(f, &settings))
            .collect();
        report += &inproc::report(&timings, &settings);
    }
    if run(Section::Sweep) {
        eprintln!("compare: cache sweep");
        report += &inproc::sweep(&settings);
    }
    if run(Section::Pages) {
        eprintln!("compare: huge pages");
        let mut dirs = Vec::new();
        dirs.extend(args.huge_tmpfs.map(|d| ("tmpfs huge=always", d)));
        dirs.extend(args.hugetlbfs.map(|d| ("hugetlbfs", d)));
        report += &pages::report(&settings, &dirs);
    }
    if run(Section::Transfer) {
        eprintln!("compare: cross-process transfers");
        report += &transfers(&settings);
    }
    if run(Section::Wake) {
        eprintln!("compare: wake latency");
        report += &wake(&settings);
    }
    if run(Section::Scaling) {
        eprintln!("compare: reader scaling and memory");
        report += &scaling_section(&settings);
    }

    print!("{report}");
    if let Some(path) = out {
        std::fs::write(&path, &report).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("compare: wrote {}", path.display());
    }
}

/// Has the kernel kill this child process when the harness dies, however it
/// dies: a polling reader left behind would spin on a core for good.
fn die_with_parent() {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and no pointers.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    assert_eq!(rc, 0, "prctl(PR_SET_PDEATHSIG)");
    // The parent may have died before the call: then this process has been
    // handed to init (or a subreaper) already.
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } == 1 {
        std::process::exit(1);
    }
}

/// The machine, the toolchain and the run's sizes.
fn machine(settings: &Settings) -> String {
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "?".into())
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        // ARM kernels list no model name: their boards name themselves in
        // the device tree ("NVIDIA Jetson AGX Orin Developer Kit").
        .or_else(|| {
            let model = std::fs::read_to_string("/proc/device-tree/model").ok()?;
            Some(model.trim_end_matches('\0').to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "## Run of {}\n\n\
         - machine: {cpu}, {}, {cores} cores, Linux {}\n\
         - toolchain: {}\n\
         - dbshm commit: {}; iceoryx2: {}\n\
         - in-process: {} interleaved rounds; cross-process: {} interleaved rounds, \
         lockstep frames per size {:?}, wake test {} frames, {} µs between frames\n\n",
        run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        std::env::consts::ARCH,
        kernel.trim(),
        run("rustc", &["-V"]),
        run(
            "git",
            &[
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                "rev-parse",
                "--short",
                "HEAD"
            ]
        ),
        if cfg!(feature = "iceoryx2") {
            "0.10 (crates.io)"
        } else {
            "not built"
        },
        settings.rounds,
        settings.xproc_rounds,
        settings.transfer_frames,
        settings.wake_frames,
        settings.gap.as_micros(),
    )
}

/// Runs `transports` in lockstep with frames of `bytes`, interleaved by
/// round, and returns what each one measured.
fn interleaved(
    transports: &[Transport],
    bytes: usize,
    frames: u64,
    settings: &Settings,
) -> Vec<xproc::Measured> {
    let mut all: Vec<xproc::Measured> = transports.iter().map(|_| Default::default()).collect();
    let per_round = frames.div_ceil(settings.xproc_rounds);
    for round in 0..settings.xproc_rounds as usize {
        for k in 0..transports.len() {
            let i = (k + round) % transports.len();
            let m = xproc::lockstep(transports[i], bytes, per_round, settings.gap);
            all[i].latency.extend(m.latency);
            all[i].cpu.extend(m.cpu);
        }
    }
    all
}

/// The ratios the transfer table shows: each pair's median latencies, a / b.
const TRANSFER_RATIOS: &[(Transport, Transport)] = &[
    (Transport::Socket, Transport::DbshmWait),
    (Transport::Pipe, Transport::DbshmWait),
    (Transport::DbshmWaitPin, Transport::DbshmWait),
    #[cfg(feature = "iceoryx2")]
    (Transport::Iceoryx2, Transport::DbshmPoll),
    #[cfg(feature = "iceoryx2")]
    (Transport::DbshmPollPin, Transport::Iceoryx2InPlace),
];

/// Transports whose reader sleeps until the frame arrives, so that its CPU
/// time is the cost of the transfer alone.
const BLOCKING: &[Transport] = &[Transport::DbshmWait, Transport::Socket, Transport::Pipe];

fn transfers(settings: &Settings) -> String {
    // The event loop's readers add a hop to the wake, nothing to the copy:
    // the wake section measures them.
    let transports: Vec<Transport> = ALL
        .iter()
        .copied()
        .filter(|t| {
            !matches!(
                t,
                Transport::Futex | Transport::DbshmEpoll | Transport::DbshmAsync
            )
        })
        .collect();
    let mut latency = String::from(
        "### One frame from a writer process to a reader process\n\n\
         Lockstep: the writer publishes one frame; the time runs until the reader \
         has copied all of it into its own buffer, or, for the pinned and \
         in-place readers, holds it in place (dbshm's `wait_pin` and `pin` on a \
         three-buffer segment; iceoryx2's loaned sample). Median latency per \
         transport, and ratios of medians: the socket and the pipe against dbshm \
         with a reader blocked in `wait_into`, dbshm's `wait_pin` against its \
         `wait_into`, iceoryx2's polling subscriber against dbshm's polling \
         reader, and dbshm polling then pinning against iceoryx2 holding its \
         sample in place. Pipe and socket at their default buffer sizes.\n\n| frame |",
    );
    for t in &transports {
        latency += &format!(" {} |", t.name());
    }
    for (a, b) in TRANSFER_RATIOS {
        latency += &format!(" {} / {} |", a.name(), b.name());
    }
    latency += &format!(
        "\n|---|{}\n",
        "---|".repeat(transports.len() + TRANSFER_RATIOS.len())
    );
    let mut cpu = String::from(
        "CPU time per frame for the same transfers: the writer's send plus the \
         reader's receive (`CLOCK_THREAD_CPUTIME_ID`), medians, for the readers \
         that sleep until the frame is there (a polling reader's CPU time is all \
         the time it waits). A socket or pipe copies in chunks of its buffer \
         size, the writer's and the reader's copies overlapping on two cores; \
         dbshm's reader copies a complete frame after the writer has written \
         it.\n\n| frame |",
    );
    for t in BLOCKING {
        cpu += &format!(" {} |", t.name());
    }
    for t in &BLOCKING[1..] {
        cpu += &format!(" {} / dbshm wait |", t.name());
    }
    cpu += &format!("\n|---|{}\n", "---|".repeat(2 * BLOCKING.len() - 1));

    for (frame, &frames) in FRAMES.iter().zip(&settings.transfer_frames) {
        if frame.bytes() > settings.max_bytes {
            continue;
        }
        let measured = interleaved(&transports, frame.bytes(), frames, settings);
        let of = |t: Transport| &measured[transports.iter().position(|x| *x == t).unwrap()];
        latency += &format!("| {} |", frame.label);
        for t in &transports {
            latency += &format!(" {} |", time(median(&of(*t).latency)));
        }
        for (a, b) in TRANSFER_RATIOS {
            latency += &format!(
                " {:.2}x |",
                median(&of(*a).latency) / median(&of(*b).latency)
            );
        }
        latency += "\n";
        cpu += &format!("| {} |", frame.label);
        for t in BLOCKING {
            cpu += &format!(" {} |", time(median(&of(*t).cpu)));
        }
        for t in &BLOCKING[1..] {
            cpu += &format!(
                " {:.2}x |",
                median(&of(*t).cpu) / median(&of(BLOCKING[0]).cpu)
            );
        }
        cpu += "\n";
    }
    format!(
        "{latency}\n{cpu}\n{} frames per frame size and transport, in {} interleaved rounds.\n\n",
        settings
            .transfer_frames
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        settings.xproc_rounds
    )
}

fn wake(settings: &Settings) -> String {
    const BYTES: usize = 64;
    let transports: Vec<Transport> = [Transport::Futex, Transport::Pipe]
        .into_iter()
        .chain(
            ALL.iter()
                .copied()
                .filter(|t| !matches!(t, Transport::Futex | Transport::Pipe)),
        )
        .collect();
    let lat = interleaved(&transports, BYTES, settings.wake_frames, settings);
    let futex = median(&lat[0].latency);
    let of = |t: Transport| &lat[transports.iter().position(|x| *x == t).unwrap()].latency;
    let wait = median(of(Transport::DbshmWait));
    let mut s = format!(
        "### Wake-up latency between processes\n\n\
         Lockstep as above with a {BYTES}-byte frame, {} frames per transport; \
         the writer sleeps {} µs before each, so a blocking reader is asleep when \
         it is published. The futex ping (a shared word, `FUTEX_WAKE` and \
         `FUTEX_WAIT`, no frame) and the pipe ping are the floor for a blocking \
         wake; the polling readers never sleep. The event-loop readers (an \
         `epoll_wait` on the handle's `event_fd`; a tokio task awaiting \
         `wait_into_async`) are woken by the handle's watcher thread, which \
         the futex wakes: a second hop, which the last column sets against \
         the blocking `wait`.\n\n\
         | transport | p50 | p99 | max | p50 / futex ping p50 | p50 / dbshm wait p50 |\n\
         |---|---|---|---|---|---|\n",
        settings.wake_frames,
        settings.gap.as_micros()
    );
    for (t, m) in transports.iter().zip(&lat) {
        let l = &m.latency;
        s += &format!(
            "| {} | {} | {} | {} | {:.2}x | {:.2}x |\n",
            t.name(),
            time(median(l)),
            time(quantile(l, 0.99)),
            time(quantile(l, 1.0)),
            median(l) / futex,
            median(l) / wait
        );
    }
    s + "\n"
}

fn scaling_section(settings: &Settings) -> String {
    let mut runs = Vec::new();
    for _ in 0..settings.scaling_rounds {
        for fps in scaling::FPS {
            for k in scaling::READERS {
                runs.push(scaling::run(
                    frames::HD,
                    k,
                    settings.scaling_secs,
                    fps,
                    Take::Copy,
                ));
            }
        }
        for take in [Take::Copy, Take::Pin] {
            let (readers, fps) = (scaling::PINNERS, scaling::PIN_FPS);
            runs.push(scaling::run(
                frames::HD,
                readers,
                settings.scaling_secs,
                fps,
                take,
            ));
        }
    }
    scaling::tables(&runs, &scaling::idle_memory(), settings) + &scaling::pin_table(&runs, settings)
}
