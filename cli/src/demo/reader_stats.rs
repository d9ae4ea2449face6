//! A reader's running counts: frames, their rate and latencies, and those
//! torn, out of order or skipped. The demo's Rust reader keeps them for
//! itself; the parent keeps them for the C reader, from its lines.

use std::time::Instant;

use super::wire::Report;
use crate::stats::Latencies;

/// When the first and the latest frame arrived.
#[derive(Clone, Copy)]
struct Span {
    first: Instant,
    latest: Instant,
}

/// The counts of the frames a reader has read.
pub struct ReaderStats {
    span: Option<Span>,
    report: Report,
    latencies: Latencies,
    /// The newest frame seen.
    last_seq: u64,
}

impl ReaderStats {
    pub fn new() -> Self {
        ReaderStats {
            span: None,
            report: Report::default(),
            latencies: Latencies::default(),
            last_seq: 0,
        }
    }

    /// Counts frame `seq`, `whole` if it passed its check; `latency_ns` is
    /// `None` for one published before the reader began waiting.
    pub fn frame(&mut self, seq: u64, latency_ns: Option<u64>, whole: bool) {
        let now = Instant::now();
        self.span = Some(Span {
            first: self.span.map_or(now, |s| s.first),
            latest: now,
        });
        let report = &mut self.report;
        report.frames += 1;
        report.torn += u64::from(!whole);
        report.backwards += u64::from(seq < self.last_seq);
        if self.last_seq > 0 && seq > self.last_seq + 1 {
            report.skipped += seq - self.last_seq - 1;
        }
        self.last_seq = self.last_seq.max(seq);
        if let Some(ns) = latency_ns {
            self.latencies.push(ns);
        }
    }

    /// Sets the count of retries, which the handle keeps.
    pub fn set_retries(&mut self, retries: u64) {
        self.report.retries = retries;
    }

    /// The report as of now, its rate and quantiles brought up to date.
    pub fn report(&mut self) -> &Report {
        let report = &mut self.report;
        // Frames per second between the first frame and the latest.
        report.fps = match self.span {
            Some(Span { first, latest }) if report.frames > 1 => {
                (report.frames - 1) as f64 / (latest - first).as_secs_f64().max(1e-9)
            }
            _ => 0.0,
        };
        report.p50_ns = self.latencies.quantile(0.50);
        report.p99_ns = self.latencies.quantile(0.99);
        report.max_ns = self.latencies.max();
        &self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_skipped_torn_and_out_of_order_are_counted() {
        let mut stats = ReaderStats::new();
        stats.frame(1, None, true); // published before the reader waited
        stats.frame(2, Some(500), true);
        stats.frame(5, Some(700), false); // 3 and 4 skipped; torn
        stats.frame(4, Some(600), true); // older than 5
        let report = stats.report().clone();
        assert_eq!(
            (report.frames, report.skipped, report.torn, report.backwards),
            (4, 2, 1, 1)
        );
        assert_eq!((report.p50_ns, report.max_ns), (Some(600), Some(700)));
    }
}
