//! In-process cost of one frame, the contenders interleaved: each round times
//! a batch of every contender in turn (the order rotating by round), and each
//! ratio is taken within its round, so the machine's drifting load falls on
//! all of them alike. Reported: the median of the rounds, with the
//! interquartile range.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dbshm::ndarray::{Array, ArrayD, Dimension, IxDyn};
use dbshm::{Element, Options};
use num_traits::FromPrimitive;
use serde::{de::DeserializeOwned, Serialize};

use crate::frames::Frame;
use crate::ice::IceElem;
use crate::old_design::OldDesign;
use crate::stats::{median, ratio, time};
use crate::Settings;

/// What the in-process timings need of an element type.
pub trait Elem: Element + FromPrimitive + Serialize + DeserializeOwned + IceElem {}
impl<T: Element + FromPrimitive + Serialize + DeserializeOwned + IceElem> Elem for T {}

/// Per-operation times of each contender, one entry per round.
pub struct Timings {
    pub frame: &'static str,
    pub contenders: Vec<(&'static str, Vec<f64>)>,
}

impl Timings {
    pub fn ns(&self, name: &str) -> Option<&[f64]> {
        self.contenders
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_slice())
    }

    /// Per-round ratios `a / b`, when both were measured.
    pub fn ratios(&self, a: &str, b: &str) -> Option<Vec<f64>> {
        let (a, b) = (self.ns(a)?, self.ns(b)?);
        Some(a.iter().zip(b).map(|(a, b)| a / b).collect())
    }
}

/// Untimed calls before each timed batch.
const WARM_UP: usize = 3;

pub type Contender<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Times every contender on `frame`.
pub fn measure(frame: &Frame, settings: &Settings) -> Timings {
    if frame.f32 {
        measure_typed::<f32>(frame, settings)
    } else {
        measure_typed::<u8>(frame, settings)
    }
}

fn measure_typed<T: Elem>(frame: &Frame, settings: &Settings) -> Timings {
    let name = crate::unique_name("inproc");
    let shm = Options::new()
        .unlink_on_drop(true)
        .create::<T>(&name, frame.shape)
        .expect("create the dbshm segment");
    let array: ArrayD<T> = Array::from_shape_fn(IxDyn(frame.shape), |d| {
        T::from_usize((0..d.ndim()).map(|i| d[i]).sum::<usize>() % 251).unwrap()
    });
    // Every contender copies from this one source, so that none of them
    // finds its source in a cache that another's could not.
    let src = array.as_slice().unwrap();
    let mut one = src.to_vec();
    let mut two = [src.to_vec(), src.to_vec()];
    let mut out = src.to_vec();
    let mut out2 = src.to_vec();
    let mut turn = 0;
    // Three buffers: one written and pinned over and over; one written with
    // a pin held on another of its buffers all along.
    let three = |tag: &str| {
        let shm = Options::new()
            .buffers(3)
            .unlink_on_drop(true)
            .create::<T>(&format!("{name}-{tag}"), frame.shape)
            .expect("create a three-buffer segment");
        shm.write(&array).expect("a first frame");
        shm
    };
    let (shm3, held) = (three("pin"), three("held"));
    let holder = dbshm::DoubleBufferedSharedMemory::<T>::open_readonly(held.name())
        .expect("open the held segment");
    let _pin = holder.pin().expect("pin a frame for the whole run");
    let old = OldDesign::create(&format!("{name}-old"), &array);
    old.write(&array);

    #[cfg(feature = "iceoryx2")]
    let ice = {
        let service = format!("dbshm-bench/{name}");
        let publisher =
            crate::ice::IcePub::<T>::create(&service, src.len(), 1).expect("iceoryx2 service");
        let subscriber = crate::ice::IceSub::<T>::open(&service).expect("iceoryx2 subscriber");
        publisher.connect().expect("iceoryx2 connect");
        (publisher, subscriber, src.to_vec())
    };
    let mut contenders: Vec<Contender> = vec![
        ("memcpy", Box::new(|| one.copy_from_slice(black_box(src)))),
        (
            "memcpy, 2 buffers in turn",
            Box::new(|| {
                turn ^= 1;
                two[turn].copy_from_slice(black_box(src))
            }),
        ),
        (
            "write",
            Box::new(|| {
                shm.write(black_box(&array)).unwrap();
            }),
        ),
        (
            "read_into",
            Box::new(|| {
                shm.read_into(black_box(&mut out)).unwrap();
            }),
        ),
        ("read()", Box::new(|| drop(black_box(shm.read().unwrap())))),
        (
            "pin + release",
            Box::new(|| drop(black_box(shm3.pin().unwrap()))),
        ),
        (
            "write, 3 buffers",
            Box::new(|| {
                shm3.write(black_box(&array)).unwrap();
            }),
        ),
        (
            "write, 3 buffers, one pinned",
            Box::new(|| {
                held.write(black_box(&array)).unwrap();
            }),
        ),
        (
            "dbshm write + read_into",
            Box::new(|| {
                shm.write(black_box(&array)).unwrap();
                shm.read_into(black_box(&mut out2)).unwrap();
            }),
        ),
        (
            "dbshm write + read()",
            Box::new(|| {
                shm.write(black_box(&array)).unwrap();
                drop(black_box(shm.read().unwrap()));
            }),
        ),
        (
            "old design write + read",
            Box::new(|| {
                old.write(black_box(&array));
                drop(black_box(old.read::<T>()));
            }),
        ),
    ];
    #[cfg(feature = "iceoryx2")]
    {
        let (publisher, subscriber, mut ice_out) = (&ice.0, &ice.1, ice.2.clone());
        contenders.push((
            "iceoryx2 publish + receive",
            Box::new(move || {
                publisher.send(black_box(src)).unwrap();
                assert!(
                    subscriber.receive_into(black_box(&mut ice_out)).unwrap(),
                    "iceoryx2 lost a sample"
                );
            }),
        ));
    }

    let times = interleave(&mut contenders, settings);
    Timings {
        frame: frame.label,
        contenders: contenders.iter().map(|(n, _)| *n).zip(times).collect(),
    }
}

/// Times `settings.rounds` batches of every contender, in turn, the order
/// rotating by round; returns each one's per-call times.
pub fn interleave(contenders: &mut [Contender], settings: &Settings) -> Vec<Vec<f64>> {
    let batches: Vec<usize> = contenders
        .iter_mut()
        .map(|(_, run)| batch_size(run, settings.batch))
        .collect();
    let mut times = vec![Vec::new(); contenders.len()];
    for round in 0..settings.rounds {
        for k in 0..contenders.len() {
            let i = (k + round) % contenders.len();
            // Untimed calls first: the previous contender left the caches
            // holding its own buffers, and this one's steady state is what
            // a program calling it frame after frame sees.
            for _ in 0..WARM_UP {
                (contenders[i].1)();
            }
            let start = Instant::now();
            for _ in 0..batches[i] {
                (contenders[i].1)();
            }
            times[i].push(start.elapsed().as_nanos() as f64 / batches[i] as f64);
        }
    }
    times
}

/// Frame sizes of the cache sweep, in bytes: from well inside this kind of
/// machine's caches to well outside.
const SWEEP: [usize; 8] = [
    1 << 20,
    2 << 20,
    4 << 20,
    6_220_800,
    8 << 20,
    12 << 20,
    16 << 20,
    33_177_600,
];

/// The costs of a write, by frame size: the cache footprint of a second
/// frame, dbshm's buffers and protocol, and dbshm's copy loop.
pub fn sweep(settings: &Settings) -> String {
    let mut s = String::from(
        "### A write's cost by frame size\n\n\
         A double-buffered writer touches its source and two frames; a memcpy \
         into one destination touches two. Four contenders (same interleaved \
         rounds) separate the costs: a memcpy; a memcpy into two heap buffers \
         in turn (the second frame's footprint); `write_with` filling dbshm's \
         back buffer with that same memcpy (adds dbshm's buffers and \
         protocol); and `write` (adds dbshm's own copy loop, which must be \
         opaque to the compiler because readers race with it).\n\n\
         | bytes | memcpy | memcpy 2 in turn / memcpy | write_with(memcpy) / memcpy | write / memcpy | write / write_with(memcpy) |\n\
         |---|---|---|---|---|---|\n",
    );
    for bytes in SWEEP.into_iter().filter(|&b| b <= settings.max_bytes) {
        let name = crate::unique_name("sweep");
        let shm = Options::new()
            .unlink_on_drop(true)
            .create::<u8>(&name, [bytes])
            .expect("create the dbshm segment");
        let src = vec![7u8; bytes];
        let mut one = src.clone();
        let mut two = [src.clone(), src.clone()];
        let mut turn = 0;
        let mut contenders: Vec<Contender> = vec![
            ("memcpy", Box::new(|| one.copy_from_slice(black_box(&src)))),
            (
                "in turn",
                Box::new(|| {
                    turn ^= 1;
                    two[turn].copy_from_slice(black_box(&src))
                }),
            ),
            (
                "write_with(memcpy)",
                Box::new(|| {
                    shm.write_with(|mut back| {
                        back.as_slice_mut()
                            .unwrap()
                            .copy_from_slice(black_box(&src))
                    })
                    .unwrap();
                }),
            ),
            (
                "write",
                Box::new(|| {
                    shm.write_slice(black_box(&src)).unwrap();
                }),
            ),
        ];
        let t = interleave(&mut contenders, settings);
        let r =
            |a: &[f64], b: &[f64]| ratio(&a.iter().zip(b).map(|(a, b)| a / b).collect::<Vec<_>>());
        s += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            bytes,
            time(median(&t[0])),
            r(&t[1], &t[0]),
            r(&t[2], &t[0]),
            r(&t[3], &t[0]),
            r(&t[3], &t[2])
        );
    }
    s + "\n"
}

/// How many calls of `run` make a batch of about `target` (at least one),
/// after a warm-up call.
fn batch_size(run: &mut Box<dyn FnMut() + '_>, target: Duration) -> usize {
    run();
    let start = Instant::now();
    run();
    let once = start.elapsed().max(Duration::from_nanos(1));
    (target.as_nanos() / once.as_nanos()).clamp(1, 100_000) as usize
}

/// The markdown tables of all frames' timings.
pub fn report(all: &[Timings], settings: &Settings) -> String {
    let mut s = format!(
        "### One frame in one process, against memcpy\n\n\
         Per operation; each ratio is the median of {} rounds' ratios, with the \
         interquartile range. `memcpy, 2 buffers in turn` copies into two \
         destinations alternately, as any double-buffered writer must.\n\n\
         | frame | memcpy | write / memcpy | write / memcpy 2 in turn | read_into / memcpy | read() / memcpy |\n\
         |---|---|---|---|---|---|\n",
        settings.rounds
    );
    for t in all {
        let r = |a, b| t.ratios(a, b).map_or("-".into(), |r| ratio(&r));
        s += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            t.frame,
            time(median(t.ns("memcpy").unwrap())),
            r("write", "memcpy"),
            r("write", "memcpy, 2 buffers in turn"),
            r("read_into", "memcpy"),
            r("read()", "memcpy"),
        );
    }
    s += &format!(
        "\n### Pinned reads\n\n\
         `pin + release` pins the latest frame of a three-buffer segment and lets \
         it go: no copy, so it should not grow with the frame. The writes: into \
         a segment of three buffers, and into one of three with a pin held on \
         another buffer all along, each against the two-buffer `write`. Medians \
         of {} rounds; ratios within rounds, with the interquartile range.\n\n\
         | frame | pin + release | read_into | pin / read_into | write 3 buffers / write | write 3 buffers, one pinned / write |\n\
         |---|---|---|---|---|---|\n",
        settings.rounds
    );
    for t in all {
        let cell = |name| t.ns(name).map_or("-".into(), |ns| time(median(ns)));
        let vs = |a, b| t.ratios(a, b).map_or("-".into(), |r| ratio(&r));
        s += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            t.frame,
            cell("pin + release"),
            cell("read_into"),
            vs("pin + release", "read_into"),
            vs("write, 3 buffers", "write"),
            vs("write, 3 buffers, one pinned", "write"),
        );
    }
    s += "\n### One frame from writer to reader, both copies included\n\n\
          The same frame written and read back in one process. The old design \
          (locked bincode serialization into a shared mapping, deserialization \
          into a new array) against dbshm's `write` then `read()`, which also \
          makes a new array; iceoryx2 (loan, copy in, send, receive, copy out \
          into a buffer it has) against `write` then `read_into`. Medians per \
          frame, and each ratio taken within the same rounds.\n\n\
          | frame | 2 x memcpy | dbshm write + read() | old design | old / dbshm | dbshm write + read_into | iceoryx2 | iceoryx2 / dbshm |\n\
          |---|---|---|---|---|---|---|---|\n";
    for t in all {
        let cell = |name| t.ns(name).map_or("-".into(), |ns| time(median(ns)));
        let vs = |a, b| t.ratios(a, b).map_or("-".into(), |r| ratio(&r));
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            t.frame,
            time(2.0 * median(t.ns("memcpy").unwrap())),
            cell("dbshm write + read()"),
            cell("old design write + read"),
            vs("old design write + read", "dbshm write + read()"),
            cell("dbshm write + read_into"),
            cell("iceoryx2 publish + receive"),
            vs("iceoryx2 publish + receive", "dbshm write + read_into"),
        );
    }
    s + "\n"
}
