//! What dbshm's tests, its demo and its benchmark harness share, each fact
//! defined once:
//!
//! - [`frame`]: the self-verifying frame pattern, so that a reader can check
//!   a whole frame against its number;
//! - [`child`]: a program that re-runs itself as its own child processes,
//!   each in a role named by its first argument;
//! - [`report`]: what children tell their parent, one JSON object a line;
//! - [`stats`]: the quantiles of measured samples.
//!
//! ```
//! use dbshm_testkit::frame;
//!
//! let mut buf = vec![0i8; 64];
//! frame::fill(7, &mut buf);
//! assert!(frame::is_frame(7, &buf));
//! assert!(!frame::is_frame(8, &buf));
//! ```

#![deny(missing_docs)]

pub mod child;
pub mod frame;
pub mod report;
pub mod stats;
