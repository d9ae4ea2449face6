//! Ctrl-C and `kill`: the demo stops its processes and removes its segment
//! instead of dying with them in place.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

/// A flag that SIGINT and SIGTERM set instead of ending the demo, which
/// looks at it between two looks at its processes. (A SIGKILL, which no
/// process can handle, the children see by their parent-death signal.)
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("demo: cannot handle signal {signal}: {e}"))?;
    }
    Ok(stop)
}
