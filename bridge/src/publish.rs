//! `publish`: follows local segments and puts every new frame on a Zenoh
//! key. One thread per segment waits for its frames (in the kernel, no
//! polling), copies each into a buffer of its own and hands that buffer to
//! Zenoh without another copy. Congestion control is Drop: a frame that
//! cannot go out because the link is busy is dropped, never queued, so a
//! slow network costs old frames, not memory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbshm::{DbShmError, DoubleBufferedSharedMemory, Element, Options};
use zenoh::bytes::ZBytes;
use zenoh::qos::{CongestionControl, Priority};
use zenoh::{Session, Wait};

use crate::stats::{Stats, Status};
use crate::wire::Meta;

/// One segment and the key its frames go to.
pub struct Route {
    pub name: String,
    pub key: String,
}

/// Publishes every route until `stop` is set; an error ends all of them.
pub fn run(
    session: &Session,
    routes: &[Route],
    dir: Option<PathBuf>,
    status: &Status,
    stop: &Arc<AtomicBool>,
) -> Result<(), String> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = routes
            .iter()
            .map(|route| {
                let stats = status.add(&route.name, &route.key);
                let dir = dir.clone();
                scope.spawn(move || {
                    let result = follow(session, route, dir, &stats, stop);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        // Every thread joined, the first error kept.
        let mut first = Ok(());
        for thread in threads {
            let result = thread
                .join()
                .unwrap_or_else(|_| Err("a publishing thread panicked".into()));
            first = first.and(result);
        }
        first
    })
}

/// How long a wait lasts before the stop flag is looked at again.
const TICK: Duration = Duration::from_millis(100);

fn follow(
    session: &Session,
    route: &Route,
    dir: Option<PathBuf>,
    stats: &Stats,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut options = Options::new();
    if let Some(dir) = dir {
        options = options.dir(dir);
    }
    // The segment may not exist yet (its writer starts later), or may be
    // replaced by a new one under its name: look again every tick, saying
    // so once, and follow whichever segment the name names.
    let mut said = false;
    while !stop.load(Ordering::Relaxed) {
        let info = match options.inspect(&route.name) {
            Ok(info) => info,
            Err(DbShmError::NotFound { .. }) => {
                if !said {
                    eprintln!("dbshm-bridge: waiting for segment {:?}", route.name);
                    said = true;
                }
                std::thread::sleep(TICK);
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        said = false;
        let followed = dbshm::with_element_type!(
            info.dtype,
            follow_typed(session, route, &options, info.created_unix_ns, stats, stop)
        );
        match followed {
            Err(Gone::Replaced) => eprintln!(
                "dbshm-bridge: segment {:?} was replaced: following the new one",
                route.name
            ),
            Err(Gone::Removed) | Ok(()) => {}
            Err(Gone::Failed(e)) => return Err(e),
        }
    }
    Ok(())
}

/// Why a segment stopped being followed.
enum Gone {
    /// Its name now names another segment.
    Replaced,
    /// It disappeared, or changed type, between being found and being opened.
    Removed,
    Failed(String),
}

/// The frame's bytes as a buffer Zenoh can own: no copy from `Vec<T>` to
/// bytes.
struct Frame<T>(Vec<T>);

impl<T: bytemuck::Pod> AsRef<[u8]> for Frame<T> {
    fn as_ref(&self) -> &[u8] {
        bytemuck::cast_slice(&self.0)
    }
}

/// Follows the segment created at `created` until `stop`, or until its
/// name names another one.
fn follow_typed<T: Element + bytemuck::Pod>(
    session: &Session,
    route: &Route,
    options: &Options,
    created: u64,
    stats: &Stats,
    stop: &AtomicBool,
) -> Result<(), Gone> {
    let shm: DoubleBufferedSharedMemory<T> = match options.open_readonly(&route.name) {
        Ok(shm) => shm,
        Err(DbShmError::NotFound { .. } | DbShmError::TypeMismatch { .. }) => {
            return Err(Gone::Removed)
        }
        Err(e) => return Err(Gone::Failed(e.to_string())),
    };
    let publisher = session
        .declare_publisher(route.key.clone())
        .congestion_control(CongestionControl::Drop)
        .priority(Priority::Data)
        .wait()
        .map_err(|e| Gone::Failed(format!("declare a publisher on {:?}: {e}", route.key)))?;
    let shape = shm.shape().to_vec();
    // The latest frame goes out first, so that a subscriber has one at once.
    let mut after = shm.latest_seq().saturating_sub(1);
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut frame = vec![T::zeroed(); shm.len()];
        let info = match shm.wait_into(after, TICK, &mut frame) {
            Ok(info) => info,
            Err(DbShmError::Timeout { .. }) => {
                // Quiet: is the name still this segment's?
                let now = options.inspect(&route.name).map(|i| i.created_unix_ns);
                if now.ok() != Some(created) {
                    return Err(Gone::Replaced);
                }
                continue;
            }
            Err(e) => return Err(Gone::Failed(e.to_string())),
        };
        stats.skipped(info.seq.saturating_sub(after + 1));
        after = info.seq;
        sent += 1;
        let meta = Meta {
            dtype: shm.dtype(),
            shape: shape.clone(),
            seq: info.seq,
            timestamp_ns: info.timestamp_ns,
            sent_unix_ns: crate::unix_ns(),
            sent,
        };
        let started = Instant::now();
        publisher
            .put(ZBytes::from(bytes::Bytes::from_owner(Frame(frame))))
            .attachment(meta.encode())
            .wait()
            .map_err(|e| Gone::Failed(format!("put a frame on {:?}: {e}", route.key)))?;
        stats.frame(
            info.seq,
            shm.len() * std::mem::size_of::<T>(),
            started.elapsed(),
        );
    }
    Ok(())
}
