//! In-process timings of one frame, with criterion: write, `read_into` and
//! `read()` next to a plain memcpy of the same bytes (the physical limit of a
//! copying design), and the design dbshm replaced (a process-local `Mutex`
//! and bincode into a shared mapping). Run `cargo bench -p dbshm`; after
//! criterion's own report it prints the medians and ratios as a table.
//!
//! Two memcpy baselines: into one destination, and into two destinations in
//! turn, which is what any double-buffered writer does. Once the source and
//! two frames no longer fit in the faster caches the second costs more: that
//! part of a write's cost belongs to double buffering, not to dbshm.
//!
//! Criterion runs the contenders one after another, so machine noise between
//! them shows in the ratios. `scripts/bench.sh` runs the interleaved
//! comparison, cross-process and against other transports, in `benchmarks/`.

#[path = "support/old_design.rs"]
mod old_design;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use dbshm::ndarray::{Array, ArrayD, Dimension, IxDyn};
use dbshm::{Element, Options};
use num_traits::FromPrimitive;
use old_design::OldDesign;
use serde::{de::DeserializeOwned, Serialize};

const FRAMES: [(&str, &[usize]); 5] = [
    ("100x100x3_u8", &[100, 100, 3]),
    ("640x480x3_u8", &[480, 640, 3]),
    ("1920x1080x3_u8", &[1080, 1920, 3]),
    ("3840x2160x4_u8", &[2160, 3840, 4]),
    ("512x512_f32", &[512, 512]),
];
const CONTENDERS: [&str; 7] = [
    "memcpy",
    "memcpy_alternating",
    "write",
    "read_into",
    "read",
    "old_write",
    "old_read",
];

fn bench_frame<T>(c: &mut Criterion, label: &str, shape: &[usize])
where
    T: Element + FromPrimitive + Serialize + DeserializeOwned,
{
    let name = format!("dbshm-bench-{}-{label}", std::process::id());
    // Unlinked on drop, so also when a benchmark panics.
    let shm = Options::new()
        .unlink_on_drop(true)
        .create::<T>(&name, shape)
        .unwrap();
    let len = shm.len();
    let frame: ArrayD<T> = Array::from_shape_fn(IxDyn(shape), |d| {
        T::from_usize((0..d.ndim()).map(|i| d[i]).sum::<usize>() % 251).unwrap()
    });
    let src = frame.as_slice().unwrap().to_vec();
    let mut dst = [src.clone(), src.clone()];
    let mut out = src.clone();
    let old = OldDesign::create(&format!("{name}-old"), &frame);
    old.write(&frame);

    let mut group = c.benchmark_group(label);
    group.throughput(Throughput::Bytes((len * size_of::<T>()) as u64));
    if len * size_of::<T>() > 1 << 20 {
        group
            .sample_size(20)
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
    group.bench_function(BenchmarkId::from_parameter("old_write"), |b| {
        b.iter(|| old.write(black_box(&frame)))
    });
    group.bench_function(BenchmarkId::from_parameter("old_read"), |b| {
        b.iter(|| old.read::<T>())
    });
    group.finish();
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
    for (label, shape) in FRAMES {
        if label.ends_with("f32") {
            bench_frame::<f32>(&mut c, label, shape);
        } else {
            bench_frame::<u8>(&mut c, label, shape);
        }
    }
    c.final_summary();

    println!(
        "\n| frame | memcpy | write / memcpy | write / memcpy into 2 in turn \
         | read_into / memcpy | read() / memcpy | old write / write | old read / read() |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (label, _) in FRAMES {
        let t: Vec<Option<f64>> = CONTENDERS.iter().map(|id| median_ns(label, id)).collect();
        let ratio = |v: Option<f64>, base: Option<f64>| match (v, base) {
            (Some(v), Some(b)) => format!("{:.2}x", v / b),
            _ => "-".into(),
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            t[0].map_or("-".into(), |ns| format!("{:.2} µs", ns / 1000.0)),
            ratio(t[2], t[0]),
            ratio(t[2], t[1]),
            ratio(t[3], t[0]),
            ratio(t[4], t[0]),
            ratio(t[5], t[2]),
            ratio(t[6], t[4]),
        );
    }
}
