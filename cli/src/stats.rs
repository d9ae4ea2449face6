//! Latency statistics and the formatting of numbers for people.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies in nanoseconds, counted in a histogram: recording one takes
/// constant time and memory, and a report reads its quantiles without
/// sorting (or keeping) the samples.
///
/// The range is 1 ns to [`SLOWEST`] at 3 significant digits: a value below
/// 2048 ns is kept exactly, a larger one in a bucket less than 1/1024 of it
/// wide, and what a quantile or the maximum reports is the top of its
/// bucket, so at most 0.1 % above the sample. A longer latency counts as
/// [`SLOWEST`].
#[derive(Clone)]
pub struct Latencies(Histogram<u64>);

/// The largest latency told apart from the others: a minute.
pub const SLOWEST: u64 = 60_000_000_000;

impl Default for Latencies {
    fn default() -> Self {
        // 27,648 counters (221 KB): 2048 for the exact values below 2048 ns,
        // then 1024 for each of the 25 doublings up to a minute.
        Latencies(Histogram::new_with_bounds(1, SLOWEST, 3).expect("1 <= 2 * 1 <= SLOWEST"))
    }
}

impl Latencies {
    pub fn push(&mut self, ns: u64) {
        self.0.saturating_record(ns);
    }

    /// The `q`-quantile (`q` from 0 to 1) by nearest rank: the smallest
    /// recorded value `v` such that at least `q·n` of the `n` samples are
    /// at most `v`, i.e. the ⌈q·n⌉-th smallest (the first, for `q·n` below
    /// one). This is hdrhistogram's `value_at_quantile`, and the definition
    /// the benchmark harness uses too. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        (!self.0.is_empty()).then(|| self.0.value_at_quantile(q))
    }

    pub fn max(&self) -> Option<u64> {
        (!self.0.is_empty()).then(|| self.0.max())
    }
}

/// "85 µs", "1.2 ms", "3.0 s", or "-".
pub fn duration(ns: Option<u64>) -> String {
    match ns {
        None => "-".into(),
        Some(ns) if ns < 10_000 => format!("{:.1} µs", ns as f64 / 1e3),
        Some(ns) if ns < 1_000_000 => format!("{} µs", ns / 1000),
        Some(ns) if ns < 1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        Some(ns) => format!("{:.1} s", ns as f64 / 1e9),
    }
}

/// "6.2 MB", "30.0 KB", "512 B".
pub fn bytes(n: usize) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1} GB", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} KB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

/// "3 s ago", "2 min ago", ...
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms ago", d.as_millis()),
        1..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// "1920x1080x3" for [1080, 1920, 3]: the shape as written, dimensions in order.
pub fn shape(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// A name found on disk, safe to print: in a name with control characters
/// (C0, DEL, C1) or invisible ones that reorder or hide text, those are
/// escaped as `\u{..}` and backslashes doubled, so that no name can draw a
/// row of its own, colour the terminal or pass for another. Other names,
/// which include every name dbshm accepts but these, print as they are.
pub fn printable(name: &str) -> String {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if !name.chars().any(invisible) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if invisible(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nearest rank as defined, from the samples sorted: the
    /// ⌈q·n⌉-th smallest, and at least the first.
    fn nearest_rank(samples: &[u64], q: f64) -> u64 {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn quantiles_are_the_nearest_rank_of_the_samples() {
        let mut l = Latencies::default();
        assert_eq!((l.quantile(0.5), l.max()), (None, None));
        // Below 2048 ns, where the histogram keeps every value exactly.
        let samples = [700, 100, 1000, 300, 900, 200, 500, 400, 800, 600];
        for ns in samples {
            l.push(ns);
        }
        // By hand: at least 5 of the 10 are at most 500, and only 4 at
        // most 400; 5.5 of them means 6; 9.9 means all 10.
        assert_eq!(l.quantile(0.5), Some(500));
        assert_eq!(l.quantile(0.55), Some(600));
        assert_eq!(l.quantile(0.99), Some(1000));
        assert_eq!(l.quantile(0.01), Some(100));
        assert_eq!(l.max(), Some(1000));
        for percent in 1..=100 {
            let q = f64::from(percent) / 100.0;
            assert_eq!(l.quantile(q), Some(nearest_rank(&samples, q)), "q = {q}");
        }
    }

    #[test]
    fn a_large_latency_is_reported_within_a_thousandth_and_past_a_minute_as_a_minute() {
        let mut l = Latencies::default();
        l.push(1_234_567);
        let p50 = l.quantile(0.5).unwrap();
        assert!(
            (1_234_567..=1_234_567 + 1_234_567 / 1024).contains(&p50),
            "{p50}"
        );
        l.push(u64::MAX);
        let max = l.max().unwrap();
        assert!((SLOWEST..=SLOWEST + SLOWEST / 1024).contains(&max), "{max}");
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(duration(Some(85_400)), "85 µs");
        assert_eq!(duration(Some(1_250_000)), "1.2 ms");
        assert_eq!(bytes(6_220_800), "6.2 MB");
        assert_eq!(shape(&[1080, 1920, 3]), "1080x1920x3");
        assert_eq!(age(Duration::from_secs(300)), "5 min ago");
    }

    #[test]
    fn names_are_printed_with_their_control_characters_escaped() {
        assert_eq!(printable("camera"), "camera");
        assert_eq!(
            printable("a\x1b[31mb\nc\x7f"),
            "a\\u{1b}[31mb\\u{a}c\\u{7f}"
        );
        assert_eq!(printable("x\u{202e}y\\z"), "x\\u{202e}y\\\\z");
        assert_eq!(printable("back\\slash"), "back\\slash");
    }
}
