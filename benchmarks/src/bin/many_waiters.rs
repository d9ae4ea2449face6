//! One watcher thread per handle, or one per segment? Many async waiters on
//! one segment, two ways: N handles with one task each (N watcher threads,
//! what dbshm does), and one handle with N tasks (one watcher waking N
//! wakers, what a watcher per segment would do). A writer thread publishes
//! a 64-byte frame, sleeps 200 µs, and the next; every task awaits each
//! frame with `wait_into_async` in one current-thread tokio runtime. The
//! time runs from the publish to the last task holding the frame, and the
//! process's CPU time per frame covers the writer, the watchers and the
//! tasks (the writer naps, checking every 50 µs that all tasks have it). The two ways alternate, 5 rounds of 2,000 frames each; medians.
//!
//!   cargo run --release --manifest-path benchmarks/Cargo.toml --bin many_waiters

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbshm::{monotonic_ns, DoubleBufferedSharedMemory, Options};
use dbshm_testkit::stats;

type Shm = DoubleBufferedSharedMemory<u8>;

const FRAMES: u64 = 2_000;
const ROUNDS: usize = 5;
const GAP: Duration = Duration::from_micros(200);

/// What each frame's tasks have recorded: how many hold it, and the latest
/// time one of them got it.
struct Frames {
    holding: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
}

fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `waiters` tasks, on `handles` handles (1, or one per task); returns the
/// latencies (publish to the last task) and the CPU time per frame.
fn run(waiters: usize, one_handle: bool) -> (Vec<f64>, f64) {
    let name = format!(
        "dbshm-bench-many-{}-{waiters}-{one_handle}",
        std::process::id()
    );
    let writer = Options::new()
        .unlink_on_drop(true)
        .create::<u8>(&name, [64])
        .expect("create the segment");
    let handles: Vec<Arc<Shm>> = (0..if one_handle { 1 } else { waiters })
        .map(|_| Arc::new(Shm::open_readonly(&name).expect("open")))
        .collect();
    let frames = Arc::new(Frames {
        holding: (0..=FRAMES).map(|_| AtomicU64::new(0)).collect(),
        last_ns: (0..=FRAMES).map(|_| AtomicU64::new(0)).collect(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let readers = {
        let frames = Arc::clone(&frames);
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let tasks: Vec<_> = (0..waiters)
                    .map(|i| {
                        let shm = Arc::clone(&handles[i % handles.len()]);
                        let frames = Arc::clone(&frames);
                        tokio::spawn(async move {
                            let mut out = [0u8; 64];
                            let mut seq = 0;
                            while seq < FRAMES {
                                let info = shm.wait_into_async(seq, &mut out).await.expect("wait");
                                let now = monotonic_ns();
                                seq = info.seq;
                                frames.last_ns[seq as usize].fetch_max(now, Ordering::Relaxed);
                                frames.holding[seq as usize].fetch_add(1, Ordering::Release);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("a task");
                }
            })
        })
    };
    // Every task waiting before the first frame.
    std::thread::sleep(Duration::from_millis(100));
    let mut latencies = Vec::with_capacity(FRAMES as usize);
    let cpu0 = process_cpu_ns();
    for seq in 1..=FRAMES {
        std::thread::sleep(GAP);
        let t0 = monotonic_ns();
        writer.write_slice(&[seq as u8; 64]).expect("write");
        let deadline = Instant::now() + Duration::from_secs(10);
        while frames.holding[seq as usize].load(Ordering::Acquire) < waiters as u64 {
            assert!(
                Instant::now() < deadline,
                "frame {seq} did not reach every task"
            );
            // Napping, not spinning: a spinning writer would take the CPU
            // the watchers and the tasks need (the latency is theirs to
            // record, not the writer's to see).
            std::thread::sleep(Duration::from_micros(50));
        }
        latencies.push(frames.last_ns[seq as usize].load(Ordering::Relaxed) as f64 - t0 as f64);
    }
    let cpu = (process_cpu_ns() - cpu0) as f64 / FRAMES as f64;
    readers.join().expect("the readers");
    (latencies, cpu)
}

/// The test kit's nearest-rank quantile, as the `compare` harness reports.
fn quantile(samples: &[f64], q: f64) -> f64 {
    stats::quantile(&stats::sorted(samples), q)
}

fn main() {
    println!("| waiters | N handles, 1 task each: p50 | p99 | CPU/frame | 1 handle, N tasks: p50 | p99 | CPU/frame | p50 ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    for waiters in [1, 4, 16, 64] {
        let (mut many, mut one) = (Vec::new(), Vec::new());
        let (mut many_cpu, mut one_cpu) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (l, c) = run(waiters, false);
            many.extend(l);
            many_cpu.push(c);
            let (l, c) = run(waiters, true);
            one.extend(l);
            one_cpu.push(c);
        }
        let us = |ns: f64| format!("{:.1} µs", ns / 1000.0);
        println!(
            "| {waiters} | {} | {} | {} | {} | {} | {} | {:.2}x |",
            us(quantile(&many, 0.5)),
            us(quantile(&many, 0.99)),
            us(quantile(&many_cpu, 0.5)),
            us(quantile(&one, 0.5)),
            us(quantile(&one, 0.99)),
            us(quantile(&one_cpu, 0.5)),
            quantile(&many, 0.5) / quantile(&one, 0.5),
        );
    }
    println!("\n{ROUNDS} rounds of {FRAMES} frames per row and way, alternating; medians.");
}
