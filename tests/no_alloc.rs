//! `read_into`, `read_into_array`, `wait_into` and `write` of a contiguous
//! array allocate nothing: a counting global allocator proves it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use common::TestSegment;
use dbshm::ndarray::Array;
use dbshm::DoubleBufferedSharedMemory;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the count is a thread-local Cell,
// which allocates nothing itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_hot_paths_allocate_nothing() {
    let seg = TestSegment::new("no-alloc");
    let shm = DoubleBufferedSharedMemory::<f32>::new(seg.name(), (48, 64)).unwrap();
    let frame = Array::from_elem((48, 64), 1.5f32);
    let mut out = vec![0f32; shm.len()];
    let mut array = Array::<f32, _>::zeros((48, 64));
    shm.write(&frame).unwrap(); // takes the writer role once
    let n = allocations_in(|| {
        for _ in 0..100 {
            shm.write(&frame).unwrap();
            shm.write_with(|mut back| back.fill(2.0)).unwrap();
            shm.read_into(&mut out).unwrap();
            shm.read_into_array(&mut array).unwrap();
            shm.wait_into(0, Duration::ZERO, &mut out).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations in 500 hot-path calls");
    // The counter counts: the allocating read is seen.
    assert!(allocations_in(|| drop(shm.read().unwrap())) > 0);
}

/// The same through the C ABI: a successful C call formats no message and
/// allocates nothing (messages are built only on the failure path).
#[cfg(feature = "capi")]
#[test]
fn successful_c_calls_allocate_nothing() {
    use dbshm::capi::*;
    let seg = TestSegment::new("no-alloc-c");
    let name = std::ffi::CString::new(seg.name()).unwrap();
    let shape = [64usize];
    let mut h: *mut dbshm_u8 = std::ptr::null_mut();
    let frame = [7u8; 64];
    let mut out = [0u8; 64];
    let mut info = dbshm_frame_info::default();
    // SAFETY: valid C strings, arrays and out-pointers, as the header asks;
    // the handle is freed below and not used after.
    unsafe {
        assert_eq!(
            dbshm_u8_create(name.as_ptr(), shape.as_ptr(), 1, &mut h),
            dbshm_status::DBSHM_OK
        );
        assert_eq!(
            dbshm_u8_write(h, frame.as_ptr(), 64),
            dbshm_status::DBSHM_OK
        ); // takes the role
        let n = allocations_in(|| {
            for _ in 0..100 {
                assert_eq!(
                    dbshm_u8_write(h, frame.as_ptr(), 64),
                    dbshm_status::DBSHM_OK
                );
                assert_eq!(
                    dbshm_u8_read(h, out.as_mut_ptr(), 64, &mut info),
                    dbshm_status::DBSHM_OK
                );
                assert_eq!(
                    dbshm_u8_wait(h, 0, 0, out.as_mut_ptr(), 64, &mut info),
                    dbshm_status::DBSHM_OK
                );
                assert_eq!(dbshm_u8_latest_seq(h), info.seq);
            }
        });
        assert_eq!(n, 0, "{n} allocations in 400 successful C calls");
        // The counter counts: a failing call builds its message.
        assert!(
            allocations_in(|| {
                assert_ne!(
                    dbshm_u8_write(h, std::ptr::null(), 64),
                    dbshm_status::DBSHM_OK
                );
            }) > 0
        );
        dbshm_u8_free(h);
    }
}
