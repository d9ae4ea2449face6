//! The Rust API within one process: shapes, layouts, element types, errors,
//! and objects under a dbshm name that are not (or no longer) segments.

mod common;

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use common::TestSegment;
use dbshm::ndarray::{arr2, Array, ArrayD, Ix3, IxDyn, ShapeBuilder};
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Dtype, Element, Options};

type Shm<T> = DoubleBufferedSharedMemory<T>;

#[test]
fn handles_are_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Shm<u8>>();
    assert::<Shm<f64>>();
}

#[test]
fn a_read_before_any_write_is_zeros_with_seq_zero() {
    let seg = TestSegment::new("zeros");
    let shm = Shm::<f32>::new(seg.name(), [4, 5]).unwrap();
    let (frame, info) = shm.read_with_info().unwrap();
    assert_eq!(frame, ArrayD::<f32>::zeros(IxDyn(&[4, 5])));
    assert_eq!((info.seq, info.timestamp_ns), (0, 0));
    assert_eq!(shm.latest_seq(), 0);
}

#[test]
fn accessors_describe_the_segment() {
    let seg = TestSegment::new("accessors");
    let shm = Shm::<i16>::new(seg.name(), (2, 3, 4)).unwrap();
    assert_eq!(shm.name(), seg.name());
    assert_eq!(shm.shape(), &[2, 3, 4]);
    assert_eq!(shm.len(), 24);
    assert_eq!(shm.dtype(), Dtype::I16);
    // Two header pages plus two page-aligned 48-byte buffers.
    assert_eq!(shm.get_memory_size(), 4 * 4096);
    assert_eq!(shm.buffers(), 2);
    assert!(!shm.is_read_only());
}

#[test]
fn every_shape_form_ndarray_takes_is_accepted() {
    let seg = TestSegment::new("shapes");
    let a = Shm::<u8>::new(seg.name(), (10, 20, 3)).unwrap();
    let b = Shm::<u8>::new(seg.name(), [10, 20, 3]).unwrap();
    let c = Shm::<u8>::new(seg.name(), &[10usize, 20, 3][..]).unwrap();
    let d = Shm::<u8>::new(seg.name(), vec![10, 20, 3]).unwrap();
    let e = Shm::<u8>::new(seg.name(), IxDyn(&[10, 20, 3])).unwrap();
    let f = Shm::<u8>::new(seg.name(), Ix3(10, 20, 3)).unwrap();
    for shm in [a, b, c, d, e, f] {
        assert_eq!(shm.shape(), &[10, 20, 3]);
    }
}

#[test]
fn frames_round_trip_with_increasing_seq_and_monotonic_timestamps() {
    let seg = TestSegment::new("roundtrip");
    let writer = Shm::<f64>::new(seg.name(), [3, 2]).unwrap();
    let reader = Shm::<f64>::open(seg.name()).unwrap();
    let before = dbshm::monotonic_ns();
    let mut last_ts = 0;
    for n in 1..=5u64 {
        let frame =
            Array::from_shape_fn((3, 2), |(i, j)| (n * 100 + i as u64 * 10 + j as u64) as f64);
        let info = writer.write(&frame).unwrap();
        assert_eq!(info.seq, n);
        let (read, read_info) = reader.read_with_info().unwrap();
        assert_eq!(read, frame.into_dyn());
        assert_eq!(read_info, info);
        assert!(info.timestamp_ns >= before && info.timestamp_ns >= last_ts);
        assert!(info.timestamp_ns <= dbshm::monotonic_ns());
        last_ts = info.timestamp_ns;
    }
}

#[test]
fn a_transposed_view_is_written_in_logical_order() {
    let seg = TestSegment::new("transposed");
    let shm = Shm::<i32>::new(seg.name(), (3, 2)).unwrap();
    let a = arr2(&[[1, 2, 3], [4, 5, 6]]);
    let t = a.t(); // shape (3, 2), not contiguous in standard order
    assert!(t.as_slice().is_none());
    shm.write(&t).unwrap();
    let mut out = vec![0; 6];
    shm.read_into(&mut out).unwrap();
    assert_eq!(out, [1, 4, 2, 5, 3, 6]);
}

#[test]
fn read_into_array_fills_any_layout() {
    let seg = TestSegment::new("into-array");
    let shm = Shm::<u16>::new(seg.name(), (2, 3)).unwrap();
    let frame = arr2(&[[1u16, 2, 3], [4, 5, 6]]);
    shm.write(&frame).unwrap();

    let mut standard = Array::<u16, _>::zeros((2, 3));
    assert_eq!(shm.read_into_array(&mut standard).unwrap().seq, 1);
    assert_eq!(standard, frame);

    let mut fortran = Array::<u16, _>::zeros((2, 3).f());
    shm.read_into_array(&mut fortran).unwrap();
    assert_eq!(fortran, frame);

    let mut big = Array::<u16, _>::zeros((4, 6));
    let mut strided = big.slice_mut(dbshm::ndarray::s![..;2, ..;2]);
    shm.read_into_array(&mut strided).unwrap();
    assert_eq!(strided, frame);
}

#[test]
fn write_with_fills_the_back_buffer_in_place() {
    let seg = TestSegment::new("write-with");
    let shm = Shm::<u8>::new(seg.name(), (2, 2)).unwrap();
    let info = shm
        .write_with(|mut back| back.assign(&arr2(&[[1, 2], [3, 4]]).into_dyn()))
        .unwrap();
    assert_eq!(info.seq, 1);
    assert_eq!(shm.read().unwrap(), arr2(&[[1, 2], [3, 4]]).into_dyn());
}

#[test]
fn a_panic_inside_write_with_publishes_nothing_and_the_next_write_works() {
    let seg = TestSegment::new("write-panic");
    let shm = Shm::<u8>::new(seg.name(), [8]).unwrap();
    shm.write(&Array::from_elem(8, 1u8)).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        shm.write_with(|mut back| {
            back.fill(9);
            panic!("producer failed mid-frame");
        })
    }));
    assert!(caught.is_err());
    assert_eq!(shm.latest_seq(), 1);
    assert!(
        shm.read().unwrap().iter().all(|&x| x == 1),
        "a half-written frame was published"
    );
    assert_eq!(shm.write(&Array::from_elem(8, 2u8)).unwrap().seq, 2);
    assert!(shm.read().unwrap().iter().all(|&x| x == 2));
}

fn round_trip<T: Element + From<u8> + PartialEq>() {
    let seg = TestSegment::new(T::DTYPE.name());
    let shm = Shm::<T>::new(seg.name(), [5]).unwrap();
    assert_eq!(shm.dtype(), T::DTYPE);
    let frame = Array::from_shape_fn(5, |i| T::from(i as u8 * 50 + 1));
    shm.write(&frame).unwrap();
    assert_eq!(
        Shm::<T>::open(seg.name()).unwrap().read().unwrap(),
        frame.into_dyn()
    );
}

#[test]
fn every_element_type_round_trips() {
    round_trip::<u8>();
    round_trip::<u16>();
    round_trip::<i16>();
    round_trip::<u32>();
    round_trip::<i32>();
    round_trip::<u64>();
    round_trip::<i64>();
    round_trip::<f32>();
    round_trip::<f64>();
    // i8 has no From<u8>.
    let seg = TestSegment::new("i8");
    let shm = Shm::<i8>::new(seg.name(), [3]).unwrap();
    shm.write(&Array::from_vec(vec![-128i8, 0, 127])).unwrap();
    assert_eq!(shm.read().unwrap().as_slice().unwrap(), &[-128, 0, 127]);
}

#[test]
fn invalid_names_are_refused_and_named() {
    let long = "x".repeat(dbshm::MAX_NAME_LEN + 1);
    for name in ["", "a/b", "/lead", "nul\0byte", ".", "..", long.as_str()] {
        match Shm::<u8>::new(name, [4]) {
            Err(e @ DbShmError::InvalidName { .. }) => {
                assert!(e.to_string().contains(&format!("{name:?}")), "{e}")
            }
            other => panic!("{name:?}: expected InvalidName, got {other:?}"),
        }
    }
    assert!(matches!(
        dbshm::unlink("a/b"),
        Err(DbShmError::InvalidName { .. })
    ));
    // The longest valid name works.
    let mut name = format!("dbshm-test-longest-{}-", std::process::id());
    name.extend(std::iter::repeat_n('y', dbshm::MAX_NAME_LEN - name.len()));
    let seg = TestSegment(name);
    assert_eq!(Shm::<u8>::new(seg.name(), [4]).unwrap().name().len(), 254);
}

#[test]
fn invalid_shapes_are_refused_and_named() {
    let seg = TestSegment::new("bad-shape");
    let cases: [&[usize]; 5] = [
        &[],
        &[1; 17],
        &[4, 0, 2],
        &[usize::MAX, 2],
        &[1 << 62, 1 << 2],
    ];
    for shape in cases {
        match Shm::<u32>::new(seg.name(), shape) {
            Err(e @ DbShmError::InvalidShape { .. }) => {
                assert!(e.to_string().contains(seg.name()), "{e}")
            }
            other => panic!("{shape:?}: expected InvalidShape, got {other:?}"),
        }
    }
    assert!(
        matches!(
            Shm::<u8>::open(seg.name()),
            Err(DbShmError::NotFound { .. })
        ),
        "a refused shape left a segment"
    );
    assert!(Shm::<u8>::new(seg.name(), &[1usize; 16][..]).is_ok());
}

#[test]
fn create_open_and_unlink_report_what_exists() {
    let seg = TestSegment::new("exists");
    let missing = Shm::<u8>::open(seg.name()).unwrap_err();
    assert!(
        matches!(missing, DbShmError::NotFound { .. }) && missing.to_string().contains(seg.name())
    );
    let _a = Shm::<u8>::create(seg.name(), [4]).unwrap();
    let again = Shm::<u8>::create(seg.name(), [4]).unwrap_err();
    assert!(
        matches!(again, DbShmError::AlreadyExists { .. }) && again.to_string().contains(seg.name())
    );
    Shm::<u8>::unlink(seg.name()).unwrap();
    assert!(matches!(
        Shm::<u8>::open(seg.name()),
        Err(DbShmError::NotFound { .. })
    ));
    assert!(matches!(
        dbshm::unlink(seg.name()),
        Err(DbShmError::NotFound { .. })
    ));
    // The unlinked segment still works for the handle that has it.
    _a.write(&Array::from_elem(4, 3u8)).unwrap();
    assert_eq!(_a.read().unwrap().sum(), 12);
}

#[test]
fn type_and_shape_mismatches_name_both_sides() {
    let seg = TestSegment::new("mismatch");
    let _shm = Shm::<u8>::new(seg.name(), (4, 4)).unwrap();
    match Shm::<f32>::open(seg.name()) {
        Err(
            e @ DbShmError::TypeMismatch {
                expected: Dtype::F32,
                found: Dtype::U8,
                ..
            },
        ) => {
            assert_eq!(
                e.to_string(),
                format!("segment {:?} holds u8 elements, not f32", seg.name())
            )
        }
        other => panic!("expected TypeMismatch, got {other:?}"),
    }
    assert!(matches!(
        Shm::<f32>::new(seg.name(), (4, 4)),
        Err(DbShmError::TypeMismatch { .. })
    ));
    match Shm::<u8>::new(seg.name(), (4, 5)) {
        Err(e @ DbShmError::ShapeMismatch { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(seg.name()) && msg.contains("[4, 5]") && msg.contains("[4, 4]"),
                "{msg}"
            )
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

#[test]
fn wrong_sizes_are_refused_and_lose_nothing() {
    let seg = TestSegment::new("sizes");
    let shm = Shm::<u8>::new(seg.name(), (2, 3)).unwrap();
    shm.write(&Array::from_elem((2, 3), 7u8)).unwrap();
    assert!(matches!(
        shm.write(&Array::from_elem((3, 2), 1u8)),
        Err(DbShmError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        shm.write(&Array::from_elem(6, 1u8)),
        Err(DbShmError::ShapeMismatch { .. })
    ));
    assert_eq!(shm.latest_seq(), 1, "a refused write published");
    let mut short = vec![0xEEu8; 5];
    let err = shm.read_into(&mut short).unwrap_err();
    assert!(
        matches!(
            err,
            DbShmError::LengthMismatch {
                expected: 6,
                found: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("a frame is 6 elements, the buffer given holds 5"),
        "{err}"
    );
    assert!(matches!(
        shm.wait_into(0, Duration::ZERO, &mut short),
        Err(DbShmError::LengthMismatch { .. })
    ));
    assert!(
        short.iter().all(|&x| x == 0xEE),
        "a refused read wrote the caller's buffer"
    );
    let mut wrong = Array::<u8, _>::zeros((3, 2));
    assert!(matches!(
        shm.read_into_array(&mut wrong),
        Err(DbShmError::ShapeMismatch { .. })
    ));
    assert!(shm.read().unwrap().iter().all(|&x| x == 7));
}

#[test]
fn a_second_handle_in_the_same_process_is_refused_the_writer_role() {
    let seg = TestSegment::new("busy-local");
    let first = Shm::<u8>::new(seg.name(), [4]).unwrap();
    let second = Shm::<u8>::open(seg.name()).unwrap();
    first.write(&Array::from_elem(4, 1u8)).unwrap();
    match second.write(&Array::from_elem(4, 2u8)) {
        Err(e @ DbShmError::WriterBusy { .. }) => {
            assert_eq!(
                e.to_string(),
                format!(
                    "segment {:?}: the writer role is taken (last taken by pid {})",
                    seg.name(),
                    std::process::id()
                )
            )
        }
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    // Reading never needs the role.
    assert_eq!(second.read().unwrap().sum(), 4);
    drop(first);
    assert_eq!(second.write(&Array::from_elem(4, 2u8)).unwrap().seq, 2);
}

#[test]
fn a_read_only_handle_reads_but_cannot_write() {
    let seg = TestSegment::new("readonly");
    let writer = Shm::<u8>::new(seg.name(), [4]).unwrap();
    writer.write(&Array::from_elem(4, 5u8)).unwrap();
    let reader = Shm::<u8>::open_readonly(seg.name()).unwrap();
    assert!(reader.is_read_only());
    assert_eq!(reader.read().unwrap().sum(), 20);
    for result in [
        reader.write(&Array::from_elem(4, 1u8)),
        reader.write_with(|mut v| v.fill(1)),
    ] {
        match result {
            Err(e @ DbShmError::ReadOnly { .. }) => assert!(e.to_string().contains(seg.name())),
            other => panic!("expected ReadOnly, got {other:?}"),
        }
    }
    assert_eq!(writer.read().unwrap().sum(), 20);
}

#[test]
fn wait_returns_at_once_when_a_newer_frame_exists_and_times_out_otherwise() {
    let seg = TestSegment::new("wait-local");
    let shm = Shm::<u8>::new(seg.name(), [4]).unwrap();
    shm.write(&Array::from_elem(4, 1u8)).unwrap();
    let (frame, info) = shm.wait(0, Duration::ZERO).unwrap();
    assert_eq!((frame.sum(), info.seq), (4, 1));
    let start = Instant::now();
    match shm.wait(1, Duration::from_millis(50)) {
        Err(e @ DbShmError::Timeout { .. }) => assert!(e.to_string().contains(seg.name())),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_millis(50));
}

#[test]
fn segments_are_created_with_the_mode_asked_for() {
    let seg = TestSegment::new("mode");
    let mode = |name: &str| {
        let fd: OwnedFd = rustix::shm::open(
            format!("/{name}").as_str(),
            rustix::shm::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        rustix::fs::fstat(&fd).unwrap().st_mode & 0o777
    };
    let _a = Shm::<u8>::new(seg.name(), [4]).unwrap();
    assert_eq!(mode(seg.name()), 0o600);
    let group = TestSegment::new("mode-group");
    // 0660 survives a umask that would strip group write.
    let _b = Options::new()
        .mode(0o660)
        .create::<u8>(group.name(), [4])
        .unwrap();
    assert_eq!(mode(group.name()), 0o660);
}

#[test]
fn unlink_on_drop_removes_the_name_and_plain_drop_keeps_it() {
    let seg = TestSegment::new("drop");
    drop(Shm::<u8>::new(seg.name(), [4]).unwrap());
    assert!(
        Shm::<u8>::open(seg.name()).is_ok(),
        "a plain drop removed the segment"
    );
    drop(
        Options::new()
            .unlink_on_drop(true)
            .open::<u8>(seg.name())
            .unwrap(),
    );
    assert!(matches!(
        Shm::<u8>::open(seg.name()),
        Err(DbShmError::NotFound { .. })
    ));
}

// ---------------------------------------------- objects that are not segments

/// Makes a raw shared-memory object of `size` bytes, its start set to `head`.
fn raw_object(name: &str, size: u64, head: &[u8]) -> OwnedFd {
    use rustix::shm::OFlags;
    let fd = rustix::shm::open(
        format!("/{name}").as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    rustix::fs::ftruncate(&fd, size).unwrap();
    rustix::io::pwrite(&fd, head, 0).unwrap();
    fd
}

fn expect_incompatible(name: &str, needle: &str) {
    for result in [
        Shm::<u8>::open(name).map(drop),
        Shm::<u8>::new(name, [4]).map(drop),
    ] {
        match result {
            Err(e @ DbShmError::Incompatible { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(name) && msg.contains(needle), "{msg}");
            }
            other => panic!("expected Incompatible ({needle}), got {other:?}"),
        }
    }
}

#[test]
fn small_and_foreign_objects_are_incompatible() {
    let seg = TestSegment::new("foreign-small");
    raw_object(seg.name(), 100, b"hello");
    expect_incompatible(seg.name(), "smaller than a dbshm header");

    let seg = TestSegment::new("foreign-garbage");
    raw_object(seg.name(), 8192, &[0xAB; 4096]);
    expect_incompatible(seg.name(), "bad magic");
}

#[test]
fn a_fifo_under_the_name_is_incompatible_not_a_hang() {
    let seg = TestSegment::new("fifo");
    let path = std::ffi::CString::new(format!("/dev/shm/{}", seg.name())).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    expect_incompatible(seg.name(), "not a regular file");
    assert!(matches!(
        dbshm::inspect(seg.name()),
        Err(DbShmError::Incompatible { .. })
    ));
}

/// The segment's object, opened for writing past the library.
fn open_to_damage(name: &str) -> OwnedFd {
    rustix::shm::open(
        format!("/{name}").as_str(),
        rustix::shm::OFlags::RDWR,
        rustix::fs::Mode::empty(),
    )
    .unwrap()
}

#[test]
fn a_truncated_segment_is_incompatible_not_a_sigbus() {
    let seg = TestSegment::new("truncated");
    drop(Shm::<u8>::new(seg.name(), (100, 100, 3)).unwrap());
    let fd = open_to_damage(seg.name());
    rustix::fs::ftruncate(&fd, dbshm::layout::HEADER_SIZE as u64 + 100).unwrap();
    expect_incompatible(seg.name(), "truncated");
}

#[test]
fn a_corrupted_header_is_incompatible() {
    let seg = TestSegment::new("corrupt");
    drop(Shm::<u8>::new(seg.name(), (100, 100, 3)).unwrap());
    let fd = open_to_damage(seg.name());
    // Put buffer 1 past the end of the object.
    let stride = dbshm::layout::offset::BUFFER_STRIDE as u64;
    rustix::io::pwrite(&fd, &(1u64 << 40).to_ne_bytes(), stride).unwrap();
    expect_incompatible(seg.name(), "buffer stride");
}

#[test]
fn a_segment_of_the_previous_layout_is_refused_saying_so() {
    let seg = TestSegment::new("layout-v3");
    drop(Shm::<u8>::new(seg.name(), [64]).unwrap());
    let fd = open_to_damage(seg.name());
    let version = dbshm::layout::offset::VERSION as u64;
    rustix::io::pwrite(&fd, &3u32.to_ne_bytes(), version).unwrap();
    expect_incompatible(seg.name(), "layout version 3");
    expect_incompatible(seg.name(), "create it again");
}

#[test]
fn a_segment_has_the_buffers_its_creator_asked_for() {
    for n in [2, 3, 16] {
        let seg = TestSegment::new("buffers");
        let writer = Options::new()
            .buffers(n)
            .create::<u32>(seg.name(), (5, 7))
            .unwrap();
        let reader = Shm::<u32>::open_readonly(seg.name()).unwrap();
        assert_eq!((writer.buffers(), reader.buffers()), (n, n));
        // Two header pages, then one page per 140-byte buffer.
        assert_eq!(writer.memory_size(), 8192 + n * 4096);
        let info = dbshm::inspect(seg.name()).unwrap();
        assert_eq!(info.slots.len(), n);
        assert_eq!(
            info.buffer_offsets,
            (0..n).map(|i| 8192 + i * 4096).collect::<Vec<_>>()
        );
        for seq in 1..=3 * n as u64 {
            assert_eq!(writer.write_slice(&[seq as u32; 35]).unwrap().seq, seq);
            let (frame, info) = reader.read_with_info().unwrap();
            assert_eq!(info.seq, seq);
            assert!(
                frame.iter().all(|&x| x == seq as u32),
                "frame {seq}: {frame:?}"
            );
        }
        assert_eq!(reader.latest_seq(), 3 * n as u64);
        // Without pins the writer keeps to two buffers (tests/pin.rs has
        // the others used): the last two frames, and zeros elsewhere.
        let last = 3 * n as u64;
        let held: Vec<u64> = dbshm::inspect(seg.name())
            .unwrap()
            .slots
            .iter()
            .map(|s| s.frame)
            .collect();
        let mut expected = vec![0; n];
        expected[..2].copy_from_slice(&[last - last % 2, last - 1 + last % 2]);
        assert_eq!(held, expected);
    }
}

#[test]
fn a_buffer_count_outside_2_to_16_is_refused_naming_the_segment() {
    let seg = TestSegment::new("bad-buffers");
    for n in [0, 1, 17, usize::MAX] {
        match Options::new().buffers(n).create::<u8>(seg.name(), [8]) {
            Err(e @ DbShmError::InvalidBufferCount { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains(seg.name()) && message.contains(&n.to_string()),
                    "{message}"
                );
            }
            other => panic!("{n} buffers: {other:?}"),
        }
        assert!(matches!(
            dbshm::inspect(seg.name()),
            Err(DbShmError::NotFound { .. })
        ));
    }
}

#[test]
fn an_opener_never_sees_a_segment_half_built() {
    // A creator builds the segment under a private name and renames it into
    // place: an opener finds nothing or a whole segment, never a husk.
    let seg = TestSegment::new("half-built");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (opened, created) = std::thread::scope(|s| {
        let opener = s.spawn(|| {
            let mut opened = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match Shm::<u8>::open_readonly(seg.name()) {
                    Ok(shm) => {
                        assert_eq!(shm.shape(), &[1024, 1024]);
                        opened += 1;
                    }
                    Err(DbShmError::NotFound { .. }) => {}
                    Err(e) => panic!("an opener saw {e}"),
                }
            }
            opened
        });
        let mut created = 0u32;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) || created < 200 {
            drop(Shm::<u8>::create(seg.name(), (1024, 1024)).unwrap());
            dbshm::unlink(seg.name()).unwrap();
            created += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (opener.join().unwrap(), created)
    });
    assert!(
        opened > 0,
        "the opener never found the segment in {created} creations"
    );
}

#[test]
fn a_half_written_header_without_a_creator_is_incompatible_and_kept() {
    // Something wrote a header but never set `init`: not ours to delete.
    let seg = TestSegment::new("half-written");
    raw_object(seg.name(), 3 * 4096, &dbshm::layout::MAGIC.to_ne_bytes());
    match Shm::<u8>::open(seg.name()) {
        Err(e @ DbShmError::Incompatible { .. }) => {
            assert!(e.to_string().contains("not initialised"), "{e}")
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert!(std::path::Path::new(&format!("/dev/shm/{}", seg.name())).exists());
}

#[test]
fn a_write_from_inside_write_with_is_refused_not_deadlocked() {
    let seg = TestSegment::new("reentrant");
    let shm = Shm::<u8>::new(seg.name(), [4]).unwrap();
    let mut inner = None;
    let info = shm
        .write_with(|mut back| {
            inner = Some(shm.write(&Array::from_elem(4, 9u8)));
            back.fill(3);
        })
        .unwrap();
    assert!(
        matches!(inner, Some(Err(DbShmError::WriterBusy { .. }))),
        "{inner:?}"
    );
    assert_eq!(info.seq, 1);
    assert!(shm.read().unwrap().iter().all(|&x| x == 3));
    // Threads sharing a handle never wait for each other either: each
    // write is published, or refused at once while another is in progress.
    let published = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    match shm.write(&Array::from_elem(4, 5u8)) {
                        Ok(_) => {
                            published.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(DbShmError::WriterBusy { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
    });
    let published = published.into_inner();
    assert!(published > 0);
    assert_eq!(shm.latest_seq(), 1 + published);
}

#[test]
fn a_segment_too_big_for_dev_shm_fails_at_create_and_leaves_nothing() {
    let seg = TestSegment::new("too-big");
    let fs = rustix::fs::statvfs("/dev/shm").unwrap();
    let capacity = fs.f_blocks * fs.f_frsize;
    // Each buffer alone is over half of /dev/shm: the reservation must fail.
    let shape = [(capacity / 2 + 1) as usize];
    match Shm::<u8>::create(seg.name(), shape) {
        Err(e @ DbShmError::Os { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(seg.name()) && msg.contains("no space left in /dev/shm"),
                "{msg}"
            );
        }
        other => panic!("expected an out-of-space error, got {other:?}"),
    }
    assert!(
        matches!(
            Shm::<u8>::open(seg.name()),
            Err(DbShmError::NotFound { .. })
        ),
        "the failed create left its object"
    );
}

#[test]
fn looking_at_a_segment_never_costs_a_writer_its_role() {
    // `inspect` (dbshm list/info) learns whether a writer is alive by asking
    // the kernel (F_OFD_GETLK), taking no lock a writer could meet.
    let seg = TestSegment::new("inspect-vs-writer");
    drop(Shm::<u8>::new(seg.name(), [64]).unwrap());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let busy = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = dbshm::inspect(seg.name());
            }
        });
        let mut busy = 0;
        for _ in 0..2000 {
            let shm = Shm::<u8>::open(seg.name()).unwrap();
            busy += matches!(
                shm.write(&Array::from_elem(64, 1u8)),
                Err(DbShmError::WriterBusy { .. })
            ) as u32;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        busy
    });
    assert_eq!(
        busy, 0,
        "{busy} of 2000 first writes were refused while an observer looked"
    );
}
