//! The writer's cost at 1080p with a pin held, on its own: writes into a
//! two-buffer segment, and into two three-buffer segments of which one has
//! a pin held all along (on `x` or `y`, the first argument), interleaved
//! with a memcpy alternating between two destinations; median of 41 rounds
//! of 20 calls each. The `compare` harness's row runs the same writes among
//! many other contenders.
//!
//!   cargo run --release --manifest-path benchmarks/Cargo.toml --bin pinned_write -- y

use std::hint::black_box;
use std::time::Instant;

use dbshm::{ndarray::ArrayD, DoubleBufferedSharedMemory, Options};

const SHAPE: [usize; 3] = [1080, 1920, 3];
const ROUNDS: usize = 41;
const CALLS: u32 = 20;

fn segment(tag: &str, buffers: usize) -> DoubleBufferedSharedMemory<u8> {
    let name = format!("dbshm-pinw-{tag}-{}", std::process::id());
    Options::new()
        .buffers(buffers)
        .unlink_on_drop(true)
        .create::<u8>(&name, SHAPE)
        .expect("create a segment")
}

fn main() {
    let pin_on_x = std::env::args().nth(1).as_deref() == Some("x");
    let len: usize = SHAPE.iter().product();
    let frame = ArrayD::from_shape_fn(SHAPE.to_vec(), |d| ((d[0] + d[1] + d[2]) % 251) as u8);
    let src = frame.as_slice().expect("standard layout");
    let (two_buffers, x, y) = (segment("z", 2), segment("x", 3), segment("y", 3));
    for s in [&two_buffers, &x, &y] {
        s.write(&frame).expect("a first frame");
    }
    let pinned = if pin_on_x { &x } else { &y };
    let holder = DoubleBufferedSharedMemory::<u8>::open_readonly(pinned.name())
        .expect("open the pinned segment");
    let _pin = holder.pin().expect("pin a frame for the whole run");
    let mut dst = [vec![0u8; len], vec![0u8; len]];
    let mut turn = 0;
    let names = [
        "memcpy, 2 in turn",
        "write, 2 buffers",
        "write x",
        "write y",
    ];
    let mut times = vec![Vec::with_capacity(ROUNDS); names.len()];
    for _ in 0..ROUNDS {
        for (c, t) in times.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..CALLS {
                match c {
                    0 => {
                        turn ^= 1;
                        black_box(&mut dst[turn]).copy_from_slice(black_box(src));
                    }
                    1 => drop(two_buffers.write(black_box(&frame)).expect("write")),
                    2 => drop(x.write(black_box(&frame)).expect("write")),
                    _ => drop(y.write(black_box(&frame)).expect("write")),
                }
            }
            t.push(start.elapsed().as_secs_f64() / f64::from(CALLS));
        }
    }
    let median = |t: &mut Vec<f64>| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    let medians: Vec<f64> = times.iter_mut().map(median).collect();
    println!("pin held on {}", if pin_on_x { "x" } else { "y" });
    for (name, m) in names.iter().zip(&medians) {
        println!(
            "{name:18} {:7.1} µs  {:.2}x the two-buffer write",
            m * 1e6,
            m / medians[1]
        );
    }
}
