//! Write and read of one frame next to a plain memcpy of the same bytes,
//! which is the physical limit of a copying design. Run `cargo bench`; after
//! criterion's own report it prints the medians and the ratios as a table.
//!
//! Two memcpy baselines: into one destination, and into two destinations in
//! turn, which is what any double-buffered writer does. Once the source and
//! two frames no longer fit in the faster caches the second costs more (at
//! 6 MB about 1.18 times the first on the development machine): that part of
//! a write's cost belongs to double buffering, not to this implementation.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use dbshm::ndarray::{Array, IxDyn};
use dbshm::DoubleBufferedSharedMemory;

const SHAPES: [(&str, [usize; 3]); 2] = [
    ("100x100x3", [100, 100, 3]),
    ("1920x1080x3", [1080, 1920, 3]),
];
const CONTENDERS: [&str; 5] = ["memcpy", "memcpy_alternating", "write", "read_into", "read"];

fn bench(c: &mut Criterion) {
    for (label, shape) in SHAPES {
        let name = format!("dbshm-bench-{}-{label}", std::process::id());
        let shm = DoubleBufferedSharedMemory::<u8>::create(&name, shape).unwrap();
        let len = shm.len();
        let frame = Array::from_shape_fn(IxDyn(&shape), |d| (d[0] + d[1] + d[2]) as u8);
        let src = vec![1u8; len];
        let mut dst = [vec![0u8; len], vec![0u8; len]];
        let mut out = vec![0u8; len];

        let mut group = c.benchmark_group(label);
        group.throughput(Throughput::Bytes(len as u64));
        if len > 1 << 20 {
            group
                .sample_size(30)
                .measurement_time(Duration::from_secs(4));
        }
        group.bench_function(BenchmarkId::from_parameter("memcpy"), |b| {
            b.iter(|| dst[0].copy_from_slice(black_box(&src)))
        });
        let mut turn = 0;
        group.bench_function(BenchmarkId::from_parameter("memcpy_alternating"), |b| {
            b.iter(|| {
                turn ^= 1;
                dst[turn].copy_from_slice(black_box(&src))
            })
        });
        group.bench_function(BenchmarkId::from_parameter("write"), |b| {
            b.iter(|| shm.write(black_box(&frame)).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("read_into"), |b| {
            b.iter(|| shm.read_into(black_box(&mut out)).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("read"), |b| {
            b.iter(|| shm.read().unwrap())
        });
        group.finish();
        dbshm::unlink(&name).unwrap();
    }
}

/// Criterion's median estimate for one benchmark, in nanoseconds.
fn median_ns(group: &str, id: &str) -> Option<f64> {
    let path = format!("{}/criterion/{group}/{id}/new/estimates.json", target_dir());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into())
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();

    println!(
        "\n| frame | memcpy | memcpy, 2 destinations in turn | write | read_into | read() \
         | write / memcpy | write / memcpy in turn | read_into / memcpy |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, _) in SHAPES {
        let t: Vec<Option<f64>> = CONTENDERS.iter().map(|id| median_ns(label, id)).collect();
        let us = |v: Option<f64>| v.map_or("-".into(), |ns| format!("{:.2} µs", ns / 1000.0));
        let ratio = |v: Option<f64>, base: Option<f64>| match (v, base) {
            (Some(v), Some(b)) => format!("{:.2}x", v / b),
            _ => "-".into(),
        };
        println!(
            "| {label} u8 | {} | {} | {} | {} | {} | {} | {} | {} |",
            us(t[0]),
            us(t[1]),
            us(t[2]),
            us(t[3]),
            us(t[4]),
            ratio(t[2], t[0]),
            ratio(t[2], t[1]),
            ratio(t[3], t[0]),
        );
    }
}
