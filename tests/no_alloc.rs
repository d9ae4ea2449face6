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
