//! Share an n-dimensional numeric array between processes through POSIX
//! shared memory, double-buffered: one writer publishes frames while any
//! number of readers, in any process, copy out the latest complete one.
//!
//! ```
//! use dbshm::ndarray::{ArrayD, IxDyn};
//! use dbshm::DoubleBufferedSharedMemory;
//! # let my_shared_buffer = format!("dbshm-doc-{}", std::process::id());
//! # let my_shared_buffer = my_shared_buffer.as_str();
//!
//! let dbshm = DoubleBufferedSharedMemory::<u8>::new(my_shared_buffer, (100, 100, 3))?;
//! let array = ArrayD::<u8>::zeros(IxDyn(&[100, 100, 3]));
//! dbshm.write(&array)?; // writes the back buffer, then publishes it
//! let read_array = dbshm.read()?; // copy of the latest complete frame
//! let memory_size = dbshm.get_memory_size(); // total bytes of the shared segment
//! assert_eq!(read_array, array);
//! assert_eq!(memory_size, 8192 + 2 * 32768);
//! # dbshm::unlink(my_shared_buffer)?;
//! # Ok::<(), dbshm::DbShmError>(())
//! ```
//!
//! A reader in another process waits for each new frame:
//!
//! ```no_run
//! use std::time::Duration;
//! use dbshm::DoubleBufferedSharedMemory;
//!
//! let camera = DoubleBufferedSharedMemory::<u8>::open("camera")?;
//! let mut frame = vec![0u8; camera.len()];
//! let mut seq = camera.latest_seq();
//! loop {
//!     let info = camera.wait_into(seq, Duration::from_secs(1), &mut frame)?;
//!     let age_us = (dbshm::monotonic_ns() - info.timestamp_ns) / 1000;
//!     println!("frame {} is {age_us} µs old", info.seq);
//!     seq = info.seq;
//! }
//! # Ok::<(), dbshm::DbShmError>(())
//! ```
//!
//! In async code, a task awaits each new frame, under any executor; the
//! runtime's timeout bounds the wait:
//!
//! ```no_run
//! use std::{sync::Arc, time::Duration};
//! use dbshm::DoubleBufferedSharedMemory;
//!
//! async fn follow(camera: Arc<DoubleBufferedSharedMemory<u8>>) -> dbshm::Result<()> {
//!     let mut frame = vec![0u8; camera.len()];
//!     let mut seq = camera.latest_seq();
//!     loop {
//!         let next = camera.wait_into_async(seq, &mut frame);
//!         match tokio::time::timeout(Duration::from_secs(1), next).await {
//!             Ok(info) => seq = info?.seq, // the newest frame is in `frame`
//!             Err(_) => eprintln!("no frame for 1 s"),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> dbshm::Result<()> {
//! let camera = Arc::new(DoubleBufferedSharedMemory::<u8>::open_readonly("camera")?);
//! tokio::spawn(follow(camera)).await.expect("the task")?;
//! # Ok(())
//! # }
//! ```
//!
//! The guarantees: a reader never gets a torn frame; the writer never waits
//! for readers; a process killed at any instant neither corrupts the segment
//! nor blocks anyone; every bad input is a [`DbShmError`] naming the segment.
//! The layout of a segment, for readers in other languages, is in [`layout`].

#![deny(missing_docs)]

// Under `--cfg loom` only the protocol is built, on loom's atomics, for the
// model check in `model.rs`; the rest maps real shared memory.
#[cfg(not(loom))]
mod buffer;
#[cfg(all(feature = "capi", not(loom)))]
pub mod capi;
#[cfg(not(loom))]
mod copy;
mod element;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod events;
#[cfg(not(loom))]
mod fork;
#[cfg(not(loom))]
mod inspect;
pub mod layout;
#[cfg(loom)]
mod model;
#[cfg(not(loom))]
mod notify;
#[cfg(not(loom))]
mod pin;
mod protocol;
#[cfg(not(loom))]
mod segment;
mod sync;
mod wakers;
#[cfg(not(loom))]
mod writer;

pub use ndarray;

#[cfg(not(loom))]
pub use buffer::{monotonic_ns, DoubleBufferedSharedMemory, Options, OwnedPinned, Pinned};
pub use element::{Dtype, Element};
#[cfg(not(loom))]
pub use error::{DbShmError, Result};
#[cfg(not(loom))]
pub use inspect::{
    default_dir, inspect, inspect_in, list, list_in, remove_leftovers, remove_leftovers_in,
    PinInfo, SegmentInfo, SlotInfo,
};
pub use protocol::FrameInfo;
#[cfg(not(loom))]
pub use segment::{open::DIR_ENV, MAX_NAME_LEN};

#[cfg(not(loom))]
/// Removes the segment's name and its lock file. Handles already open keep
/// working; the memory is freed when the last one is dropped.
/// [`DbShmError::NotFound`] if nothing has that name, and
/// [`DbShmError::Incompatible`], removing nothing, if what has it is not a
/// dbshm segment. In the default directory: `$DBSHM_DIR`, or /dev/shm
/// ([`Options::unlink`] for another).
pub fn unlink(name: &str) -> Result<()> {
    Options::new().unlink(name)
}
