//! Frames of the test kit's pattern written, copied and pinned by a
//! process, for the cross-language tests: the Rust side of each exchange,
//! as `ROLE TYPE NAME MILLIS`, the arguments of tests/c/frames.c. The C-ABI
//! tests (tests/capi.rs) run these as child roles of their own binary, the
//! Python package's tests through `examples/frames.rs`.

use std::time::Duration;

use dbshm::{DoubleBufferedSharedMemory, Element};
use num_traits::NumCast;

use super::{copy_and_verify, emit, fill, is_frame, json, Tally};

/// Calls `$f::<T>($args)` with `T` the element type named by `$ty`.
#[allow(unused_macros)] // each test crate uses its own subset
macro_rules! with_type {
    ($ty:expr, $f:ident $args:tt) => {{
        let ty: &str = $ty;
        let dtype = dbshm::Dtype::ALL.into_iter().find(|d| d.name() == ty);
        let dtype = dtype.unwrap_or_else(|| panic!("unknown element type {ty}"));
        dbshm::with_element_type!(dtype, $f $args)
    }};
}
#[allow(unused_imports)]
pub(crate) use with_type;

/// Pins frames for `ms` milliseconds, verifying each when pinned and again
/// before letting go (`changed`).
pub fn pin_frames<T: Element + NumCast + PartialEq>(name: &str, ms: u64) {
    let shm = DoubleBufferedSharedMemory::<T>::open_readonly(name).unwrap();
    let end = std::time::Instant::now() + Duration::from_millis(ms);
    let (mut tally, mut changed) = (Tally::default(), 0u64);
    while std::time::Instant::now() < end {
        let pinned = shm.pin().unwrap();
        let seq = pinned.info().seq;
        tally.saw(seq, is_frame(seq, pinned.as_slice()));
        changed += <u64 as From<bool>>::from(!is_frame(seq, pinned.as_slice()));
    }
    emit(&tally);
    emit(&json!({ "changed": changed }));
}

/// Writes verifiable frames for `ms` milliseconds (0: until killed); says
/// `started first=N` after its first frame.
pub fn write_frames<T: Element + NumCast>(name: &str, ms: u64) {
    let shm = DoubleBufferedSharedMemory::<T>::open(name).unwrap();
    let end = (ms > 0).then(|| std::time::Instant::now() + Duration::from_millis(ms));
    let mut written = 0u64;
    while end.is_none_or(|end| std::time::Instant::now() < end) {
        let seq = shm.latest_seq() + 1; // the writer role makes this the frame's number
        shm.write_with(|mut back| fill(seq, back.as_slice_mut().unwrap()))
            .unwrap();
        if written == 0 {
            emit(&json!({ "started": true, "first": seq }));
        }
        written += 1;
    }
    emit(&json!({ "written": written }));
}

/// Reads with `wait_into` (timeout `timeout_ms`) for `ms` milliseconds,
/// verifying every frame and timing every wait against its timeout.
pub fn wait_read_frames<T: Element + NumCast + PartialEq>(name: &str, ms: u64, timeout_ms: u64) {
    let shm = DoubleBufferedSharedMemory::<T>::open_readonly(name).unwrap();
    let end = std::time::Instant::now() + Duration::from_millis(ms);
    let timeout = Duration::from_millis(timeout_ms);
    let mut frame = vec![T::zero(); shm.len()];
    let (mut reads, mut torn, mut backwards, mut timeouts, mut overslept) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut longest = Duration::ZERO;
    let mut seq = shm.latest_seq();
    while std::time::Instant::now() < end {
        let start = std::time::Instant::now();
        let result = shm.wait_into(seq, timeout, &mut frame);
        let waited = start.elapsed();
        longest = longest.max(waited);
        // A wait may end late by scheduling, never by a dead writer or
        // reader. 600 ms: a run with 50 readers killed on 2 cores once
        // ended a 200 ms wait after 609 ms (250 failed it), and a wait that
        // sleeps a whole futex slice (1 s) past its deadline is still
        // caught.
        overslept += (waited > timeout + Duration::from_millis(600)) as u64;
        match result {
            Ok(info) => {
                reads += 1;
                torn += !is_frame(info.seq, &frame) as u64;
                backwards += (info.seq < seq) as u64;
                seq = info.seq;
            }
            Err(dbshm::DbShmError::Timeout { .. }) => timeouts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    emit(&json!({
        "reads": reads,
        "torn": torn,
        "backwards": backwards,
        "timeouts": timeouts,
        "overslept": overslept,
        "max_seq": seq,
        "longest_wait_ms": longest.as_millis() as u64,
        // Copies begun again because the writer lapped them.
        "retries": shm.retries(),
    }));
}

/// Reads as fast as it can for `ms` milliseconds, verifying every frame.
pub fn read_frames<T: Element + NumCast + PartialEq>(name: &str, ms: u64) {
    let shm = DoubleBufferedSharedMemory::<T>::open_readonly(name).unwrap();
    emit(&copy_and_verify(
        &shm,
        std::time::Instant::now() + Duration::from_millis(ms),
    ));
}
