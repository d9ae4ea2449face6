//! Huge pages against small ones: `write` and `read_into` of segments in
//! /dev/shm and in the huge-page directories given (a tmpfs mounted
//! `huge=always`, hugetlbfs), each against a memcpy of the same bytes into
//! one heap destination, all interleaved in the same rounds (see
//! `inproc::interleave`), ratios taken within a round.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use dbshm::{DoubleBufferedSharedMemory, Options};

use crate::frames::{Frame, FRAMES};
use crate::inproc::{interleave, Contender};
use crate::stats::{median, ratio, time};
use crate::Settings;

/// 30 KB, 1080p and 4K (33 MB).
fn frames() -> [&'static Frame; 3] {
    [&FRAMES[0], &FRAMES[2], &FRAMES[3]]
}

/// The section of the report: `dirs` are (label, directory) pairs of
/// huge-page directories besides /dev/shm.
pub fn report(settings: &Settings, dirs: &[(&'static str, PathBuf)]) -> String {
    let mut places: Vec<(&str, PathBuf)> = vec![("/dev/shm", PathBuf::from("/dev/shm"))];
    places.extend(dirs.iter().cloned());
    let mut s = format!(
        "### Huge pages\n\n\
         `write` and `read_into` of a two-buffer segment in each directory, \
         against a memcpy of the same bytes into one heap destination, all \
         interleaved in the same {} rounds; medians of the rounds' ratios, \
         with the interquartile range. `write_with(memcpy)` fills the back \
         buffer with glibc's memcpy instead of dbshm's copy loop, to tell the \
         pages' share from the loop's. The pages column is what `dbshm info` \
         says backs the buffers.\n\n\
         | frame | memcpy | directory | pages | write / memcpy | write_with(memcpy) / memcpy | read_into / memcpy |\n\
         |---|---|---|---|---|---|---|\n",
        settings.rounds
    );
    if dirs.is_empty() {
        s = s.replace(
            "in each directory",
            "in /dev/shm only (no huge-page directory was given: \
             `scripts/bench.sh` mounts them when run as root)",
        );
    }
    for frame in frames()
        .into_iter()
        .filter(|f| f.bytes() <= settings.max_bytes)
    {
        s += &measure(frame, &places, settings);
    }
    s + "\n"
}

fn measure(frame: &Frame, places: &[(&str, PathBuf)], settings: &Settings) -> String {
    let bytes = frame.bytes();
    let src: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let segments: Vec<DoubleBufferedSharedMemory<u8>> = places
        .iter()
        .map(|(_, dir)| {
            let shm = Options::new()
                .dir(dir)
                .unlink_on_drop(true)
                .create::<u8>(&crate::unique_name("pages"), [bytes])
                .unwrap_or_else(|e| panic!("create a segment in {}: {e}", dir.display()));
            shm.write_slice(&src).expect("a first frame");
            shm
        })
        .collect();
    let mut one = src.clone();
    let mut outs: Vec<Vec<u8>> = places.iter().map(|_| src.clone()).collect();
    let mut contenders: Vec<Contender> =
        vec![("memcpy", Box::new(|| one.copy_from_slice(black_box(&src))))];
    for (shm, out) in segments.iter().zip(outs.iter_mut()) {
        let src = &src;
        contenders.push((
            "write",
            Box::new(move || {
                shm.write_slice(black_box(src)).unwrap();
            }),
        ));
        contenders.push((
            "write_with(memcpy)",
            Box::new(move || {
                shm.write_with(|mut back| {
                    back.as_slice_mut().unwrap().copy_from_slice(black_box(src))
                })
                .unwrap();
            }),
        ));
        contenders.push((
            "read_into",
            Box::new(move || {
                shm.read_into(black_box(out)).unwrap();
            }),
        ));
    }
    let t = interleave(&mut contenders, settings);
    // What was timed wrote whole frames: each way of writing once more,
    // then read back.
    for (i, (shm, (_, dir))) in segments.iter().zip(places).enumerate() {
        for (what, write) in &mut contenders[1 + 3 * i..3 + 3 * i] {
            write();
            let mut back = vec![0u8; bytes];
            shm.read_into(&mut back).expect("read the last frame");
            assert!(
                back == src,
                "{what} in {} wrote a wrong frame",
                dir.display()
            );
        }
    }
    let r = |a: &[f64]| ratio(&a.iter().zip(&t[0]).map(|(a, b)| a / b).collect::<Vec<_>>());
    let mut rows = String::new();
    for (i, ((label, dir), shm)) in places.iter().zip(&segments).enumerate() {
        rows += &format!(
            "| {} | {} | {label} | {} | {} | {} | {} |\n",
            frame.label,
            time(median(&t[0])),
            pages(dir, shm.name()),
            r(&t[1 + 3 * i]),
            r(&t[2 + 3 * i]),
            r(&t[3 + 3 * i]),
        );
    }
    rows
}

/// What the segment's header says backs its buffers.
fn pages(dir: &Path, name: &str) -> String {
    let Ok(Some(b)) = dbshm::inspect_in(dir, name).map(|i| i.backing) else {
        return "not recorded".into();
    };
    let huge: u32 = b.huge_kb.iter().sum();
    let all = b.frame_kb * b.huge_kb.len() as u32;
    match huge {
        0 => format!("{} kB", b.page_kb),
        _ => format!("{huge} of {all} kB on {} kB", b.page_kb),
    }
}
