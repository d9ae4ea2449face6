//! Pinned reads within one process: what a pin sees, what the writer does
//! meanwhile, and the limits. The multi-process proofs are in
//! tests/multiprocess.rs.

mod common;

use std::time::{Duration, Instant};

use common::{fill, is_frame, TestSegment};
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Options};

type Shm<T> = DoubleBufferedSharedMemory<T>;

const SHAPE: (usize, usize) = (48, 64);

fn segment(seg: &TestSegment, buffers: usize) -> Shm<u8> {
    Options::new()
        .buffers(buffers)
        .create(seg.name(), SHAPE)
        .unwrap()
}

/// Publishes frame `latest + 1` of the pattern; its number.
fn publish(w: &Shm<u8>) -> Result<u64, DbShmError> {
    let seq = w.latest_seq() + 1;
    w.write_with(|mut back| fill(seq, back.as_slice_mut().unwrap()))
        .map(|info| info.seq)
}

#[test]
fn two_buffers_are_too_few_to_pin_and_the_error_says_what_to_do() {
    let seg = TestSegment::new("pin-two");
    let w = segment(&seg, 2);
    let message = match w.pin() {
        Err(e @ DbShmError::TooFewBuffers { buffers: 2, .. }) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(
        message.contains(seg.name()) && message.contains("Options::buffers(3)"),
        "{message}"
    );
    assert!(matches!(
        w.wait_pin(0, Duration::ZERO),
        Err(DbShmError::TooFewBuffers { .. })
    ));
    // Copies work as ever.
    publish(&w).unwrap();
    assert!(is_frame(1, w.read().unwrap().as_slice().unwrap()));
}

#[test]
fn a_pinned_frame_stays_put_while_the_writer_goes_on() {
    let seg = TestSegment::new("pin-stays");
    let w = segment(&seg, 3);
    let r = Shm::<u8>::open_readonly(seg.name()).unwrap();
    publish(&w).unwrap();
    let pinned = r.pin().unwrap();
    assert_eq!(pinned.info().seq, 1);
    assert_eq!(pinned.shape(), &[48, 64]);
    assert!(is_frame(1, pinned.as_slice()));
    // Two buffers left for the writer: it never waits, never drops.
    for seq in 2..=50 {
        assert_eq!(publish(&w).unwrap(), seq);
        assert!(is_frame(seq, r.read().unwrap().as_slice().unwrap()));
    }
    assert!(
        is_frame(1, pinned.as_slice()),
        "the pinned frame changed under its pin"
    );
    assert_eq!(w.dropped_writes(), 0);
    drop(pinned);
    assert_eq!(r.pin().unwrap().info().seq, 50);
}

#[test]
fn with_every_buffer_but_the_latest_pinned_a_write_is_dropped_until_one_is_let_go() {
    let seg = TestSegment::new("pin-full");
    let w = segment(&seg, 3);
    let (a, b) = (
        Shm::<u8>::open_readonly(seg.name()).unwrap(),
        Shm::<u8>::open_readonly(seg.name()).unwrap(),
    );
    publish(&w).unwrap();
    let pin_a = a.pin().unwrap(); // frame 1
    publish(&w).unwrap();
    let pin_b = b.pin().unwrap(); // frame 2
    publish(&w).unwrap(); // frame 3 in the third buffer: now the latest
    let mut touched = false;
    match w.write_with(|_| touched = true) {
        Err(e @ DbShmError::AllBuffersPinned { buffers: 3, .. }) => {
            assert!(e.to_string().contains(seg.name()), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!touched, "a dropped write ran its closure");
    assert_eq!(w.dropped_writes(), 1);
    assert_eq!(w.latest_seq(), 3, "a dropped write published");
    assert!(is_frame(1, pin_a.as_slice()) && is_frame(2, pin_b.as_slice()));
    drop(pin_a);
    assert_eq!(publish(&w).unwrap(), 4, "the write after a release failed");
    assert!(is_frame(2, pin_b.as_slice()));
    // A handle that goes away gives its pins back too.
    std::mem::forget(pin_b);
    drop(b);
    assert_eq!(publish(&w).unwrap(), 5);
    assert_eq!(publish(&w).unwrap(), 6);
    assert_eq!(w.dropped_writes(), 1);
}

#[test]
fn pins_of_one_frame_share_its_buffer_and_the_limit_counts_buffers() {
    let seg = TestSegment::new("pin-limit");
    let w = segment(&seg, 4);
    let r = Options::new()
        .max_pins(1)
        .open_readonly::<u8>(seg.name())
        .unwrap();
    publish(&w).unwrap();
    let (first, second) = (r.pin().unwrap(), r.pin().unwrap());
    assert_eq!((first.info().seq, second.info().seq), (1, 1));
    publish(&w).unwrap();
    match r.pin() {
        Err(e @ DbShmError::PinLimit { limit: 1, .. }) => {
            assert!(e.to_string().contains("Options::max_pins"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    drop(first);
    // The second pin still holds frame 1's buffer.
    assert!(matches!(r.pin(), Err(DbShmError::PinLimit { .. })));
    for _ in 0..20 {
        publish(&w).unwrap();
    }
    assert!(is_frame(1, second.as_slice()));
    drop(second);
    assert_eq!(r.pin().unwrap().info().seq, 22);
    // Two at once with a limit of two.
    let two = Options::new().max_pins(2).open::<u8>(seg.name()).unwrap();
    let p = two.pin().unwrap();
    publish(&w).unwrap();
    let q = two.pin().unwrap();
    assert_eq!((p.info().seq, q.info().seq), (22, 23));
}

#[test]
fn threads_pin_through_one_handle() {
    let seg = TestSegment::new("pin-threads");
    let w = segment(&seg, 3);
    publish(&w).unwrap();
    let r = Options::new()
        .max_pins(1)
        .open_readonly::<u8>(seg.name())
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1000 {
                    let p = r.pin().unwrap();
                    assert!(is_frame(p.info().seq, p.as_slice()));
                }
            });
        }
    });
    // Every pin was let go: the writer has both other buffers.
    publish(&w).unwrap();
    publish(&w).unwrap();
    assert_eq!(w.dropped_writes(), 0);
}

#[test]
fn wait_pin_pins_the_next_frame_or_times_out() {
    let seg = TestSegment::new("pin-wait");
    let w = segment(&seg, 3);
    let r = Shm::<u8>::open_readonly(seg.name()).unwrap();
    let start = Instant::now();
    assert!(matches!(
        r.wait_pin(0, Duration::from_millis(50)),
        Err(DbShmError::Timeout { .. })
    ));
    assert!(start.elapsed() >= Duration::from_millis(50));
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            publish(&w).unwrap();
        });
        let p = r.wait_pin(0, Duration::from_secs(10)).unwrap();
        assert_eq!(p.info().seq, 1);
        assert!(is_frame(1, p.as_slice()));
    });
}

#[test]
fn a_writer_may_pin_its_own_frames() {
    let seg = TestSegment::new("pin-own");
    let w = segment(&seg, 3);
    publish(&w).unwrap();
    let mine = w.pin().unwrap();
    for _ in 0..10 {
        publish(&w).unwrap();
    }
    assert!(is_frame(1, mine.as_slice()));
}

#[test]
fn sixteen_buffers_carry_fourteen_pins_and_the_writer_goes_on() {
    let seg = TestSegment::new("pin-sixteen");
    let w = segment(&seg, 16);
    let readers: Vec<Shm<u8>> = (0..15)
        .map(|_| Shm::<u8>::open_readonly(seg.name()).unwrap())
        .collect();
    let mut pins = Vec::new();
    for r in &readers[..14] {
        publish(&w).unwrap();
        pins.push(r.pin().unwrap());
    }
    // Fourteen buffers held, two to write in: the writer never drops.
    for _ in 0..20 {
        publish(&w).unwrap();
    }
    assert_eq!(w.dropped_writes(), 0);
    for (k, p) in pins.iter().enumerate() {
        assert_eq!(p.info().seq, k as u64 + 1);
        assert!(is_frame(k as u64 + 1, p.as_slice()), "pin {k} changed");
    }
    // A fifteenth pin breaks the rule (pins + 2 buffers): after one more
    // frame into the last free buffer, writes are dropped.
    let fifteenth = readers[14].pin().unwrap();
    publish(&w).unwrap();
    assert!(matches!(
        publish(&w),
        Err(DbShmError::AllBuffersPinned { buffers: 16, .. })
    ));
    drop(fifteenth);
    publish(&w).unwrap();
}

#[test]
fn an_owned_pin_keeps_its_frame_and_mapping_after_the_handle_is_dropped() {
    fn send_and_share<S: Send + Sync + 'static>(_: &S) {}
    let seg = TestSegment::new("pin-owned");
    let w = segment(&seg, 3);
    publish(&w).unwrap();
    let r = std::sync::Arc::new(Shm::<u8>::open_readonly(seg.name()).unwrap());
    let pinned = r.pin_owned().unwrap();
    send_and_share(&pinned);
    drop(r); // the guard's Arc keeps the handle and its mapping
    let pinned = std::thread::spawn(move || {
        for _ in 0..5 {
            publish(&w).unwrap(); // into the two other buffers, never the pinned one
        }
        assert_eq!(w.dropped_writes(), 0);
        (pinned, w)
    });
    let (pinned, w) = pinned.join().unwrap();
    assert_eq!(pinned.info().seq, 1);
    assert!(is_frame(1, pinned.as_slice()));
    assert!(is_frame(1, pinned.view().as_slice().unwrap()));
    // Its pin is let go with the guard: with another handle holding frame
    // 6, frame 7 takes the last free buffer and frame 8 is dropped, until
    // the guard goes.
    let others: Vec<_> = (0..2)
        .map(|_| std::sync::Arc::new(Shm::<u8>::open_readonly(seg.name()).unwrap()))
        .collect();
    let held = others[0].pin_owned().unwrap();
    assert_eq!(held.info().seq, 6);
    assert_eq!(publish(&w).unwrap(), 7);
    assert!(matches!(
        publish(&w),
        Err(DbShmError::AllBuffersPinned { .. })
    ));
    drop(pinned);
    assert_eq!(publish(&w).unwrap(), 8);
    let waited = others[1].wait_pin_owned(7, Duration::from_secs(5)).unwrap();
    assert_eq!(waited.info().seq, 8);
    assert!(is_frame(8, waited.as_slice()));
}
