//! Small frames from Rust: the cost of `write_slice` and `read_into` of one
//! frame of N bytes (default 64), best of 7 runs of 200,000 calls; the
//! baseline of the C ABI's cost in `benchmarks/c/small_frames.c`.
//!
//!   cargo run --release --manifest-path benchmarks/Cargo.toml --bin small_frames -- 64

use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(64, |a| a.parse().expect("a frame size in bytes"));
    let name = format!("dbshm-rsmall-{}", std::process::id());
    let shm = dbshm::Options::new()
        .unlink_on_drop(true)
        .create::<u8>(&name, [n])
        .expect("create the segment");
    let frame = vec![0u8; n];
    let mut out = vec![0u8; n];
    const CALLS: u32 = 200_000;
    let (mut write, mut read) = (f64::MAX, f64::MAX);
    for _ in 0..7 {
        let t0 = Instant::now();
        for _ in 0..CALLS {
            shm.write_slice(&frame).expect("write");
        }
        let t1 = Instant::now();
        for _ in 0..CALLS {
            shm.read_into(&mut out).expect("read");
        }
        let t2 = Instant::now();
        write = write.min((t1 - t0).as_nanos() as f64 / f64::from(CALLS));
        read = read.min((t2 - t1).as_nanos() as f64 / f64::from(CALLS));
    }
    println!("Rust {n} B: write {write:.1} ns, read {read:.1} ns");
}
