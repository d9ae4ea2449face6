//! What the bridge reports: for each route, frames and bytes, the rate,
//! frames skipped or lost, and on the subscribing side the remote frame's
//! number and the latency from the publisher's send to the local write
//! (from the two machines' wall clocks, so only as good as their sync).
//! Once a second, as a status line on stderr, or with `--json` as one JSON
//! object per route on stdout.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::wire::Meta;

/// The routes' counters, reported together.
#[derive(Default)]
pub struct Status {
    routes: Mutex<Vec<Arc<Stats>>>,
}

/// One route's counters.
pub struct Stats {
    name: String,
    key: String,
    inner: Mutex<Counts>,
}

#[derive(Default, Clone)]
struct Counts {
    frames: u64,
    bytes: u64,
    /// Local frames the publisher never saw (it was busy with an earlier one).
    skipped: u64,
    /// Frames the subscriber never got (dropped on the way).
    lost: u64,
    /// Frames refused as malformed.
    bad: u64,
    last_seq: u64,
    remote_seq: u64,
    remote_timestamp_ns: u64,
    /// Send to local write, µs, of the frames since the last report.
    latencies_us: Vec<f64>,
    /// Time in `put`, µs, of the frames since the last report.
    put_us: Vec<f64>,
}

impl Status {
    pub fn add(&self, name: &str, key: &str) -> Arc<Stats> {
        let stats = Arc::new(Stats {
            name: name.to_owned(),
            key: key.to_owned(),
            inner: Mutex::default(),
        });
        self.routes.lock().unwrap().push(stats.clone());
        stats
    }

    /// Reports every `period` until `stop`, then once more.
    pub fn report_until(&self, period: Duration, json: bool, stop: &std::sync::atomic::AtomicBool) {
        let mut before: Vec<(u64, u64)> = Vec::new();
        let mut last = Instant::now();
        loop {
            let done = stop.load(std::sync::atomic::Ordering::Relaxed);
            if !done {
                std::thread::sleep(Duration::from_millis(50));
                if last.elapsed() < period {
                    continue;
                }
            }
            let secs = last.elapsed().as_secs_f64();
            last = Instant::now();
            let routes = self.routes.lock().unwrap().clone();
            before.resize(routes.len(), (0, 0));
            for (route, prev) in routes.iter().zip(before.iter_mut()) {
                // Copied and cleared under the lock, printed after: a
                // stalled stdout must not hold up the frames.
                let mut c = {
                    let mut counts = route.lock();
                    let copy = counts.clone();
                    counts.latencies_us.clear();
                    counts.put_us.clear();
                    copy
                };
                let fps = (c.frames - prev.0) as f64 / secs;
                let mbps = (c.bytes - prev.1) as f64 / secs / 1e6;
                *prev = (c.frames, c.bytes);
                let p = |v: &mut Vec<f64>, q: f64| quantile(v, q);
                let (lat50, lat99) = (p(&mut c.latencies_us, 0.5), p(&mut c.latencies_us, 0.99));
                let put50 = p(&mut c.put_us, 0.5);
                // A reader that went away (EPIPE) ends the reports, not the bridge.
                let written = if json {
                    let line = json!({
                        "name": route.name, "key": route.key,
                        "frames": c.frames, "bytes": c.bytes, "fps": fps, "mb_per_s": mbps,
                        "skipped": c.skipped, "lost": c.lost, "bad": c.bad,
                        "seq": c.last_seq, "remote_seq": c.remote_seq,
                        "remote_timestamp_ns": c.remote_timestamp_ns,
                        "latency_p50_us": lat50, "latency_p99_us": lat99,
                        "put_p50_us": put50,
                    });
                    writeln!(std::io::stdout(), "{line}")
                } else {
                    let lat = lat50.map_or(String::new(), |l| {
                        format!(", latency p50 {l:.0} µs p99 {:.0} µs", lat99.unwrap_or(l))
                    });
                    writeln!(
                        std::io::stderr(),
                        "{} <-> {}: {} frames, {fps:.1} fps, {mbps:.1} MB/s, {} skipped, {} lost, {} bad{lat}",
                        route.name, route.key, c.frames, c.skipped, c.lost, c.bad
                    )
                };
                if written.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
        }
    }
}

impl Stats {
    /// The counts, also after a thread panicked holding them.
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A frame put on the key, after `put` took `took`.
    pub fn frame(&self, seq: u64, bytes: usize, took: Duration) {
        let mut c = self.lock();
        c.frames += 1;
        c.bytes += bytes as u64;
        c.last_seq = seq;
        c.put_us.push(took.as_secs_f64() * 1e6);
    }

    pub fn skipped(&self, n: u64) {
        let mut c = self.lock();
        c.skipped = c.skipped.saturating_add(n);
    }

    /// A frame written locally, `lost` frames after the one before it.
    pub fn received(&self, meta: &Meta, lost: u64, bytes: usize) {
        let latency_ns = crate::unix_ns().saturating_sub(meta.sent_unix_ns);
        let mut c = self.lock();
        c.frames += 1;
        c.bytes += bytes as u64;
        c.lost = c.lost.saturating_add(lost);
        c.remote_seq = meta.seq;
        c.remote_timestamp_ns = meta.timestamp_ns;
        c.latencies_us.push(latency_ns as f64 / 1e3);
    }

    /// A frame refused: counted, and said the first time and whenever the
    /// count reaches a power of two.
    pub fn bad(&self, why: &str) {
        let mut c = self.lock();
        c.bad += 1;
        if c.bad == 1 || c.bad.is_power_of_two() {
            eprintln!("dbshm-bridge: {why} ({} so far)", c.bad);
        }
    }

    /// The local frame number written last.
    pub fn wrote(&self, seq: u64) {
        self.lock().last_seq = seq;
    }
}

/// The nearest-rank quantile (the test kit's), `None` of nothing.
fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    (!v.is_empty()).then(|| dbshm_testkit::stats::quantile(&dbshm_testkit::stats::sorted(v), q))
}
