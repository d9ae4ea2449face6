//! Ctrl-C and `kill`: the demo stops its processes and removes its segment,
//! and `record` and `play` finish their file and segment, instead of dying
//! in place.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

/// A flag that SIGINT and SIGTERM set instead of ending the process, which
/// looks at it between two steps of its work. A second one ends the
/// process at once, as the first would have without the flag: Ctrl-C twice
/// stops a recorder stuck on a hung file system. (A SIGKILL, which no
/// process can handle, the demo's children see by their parent-death
/// signal.)
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so run first: it sees the flag as the signals
        // before this one left it.
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(stop)
}
