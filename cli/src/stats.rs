//! Latency statistics and the formatting of numbers for people.

use std::time::Duration;

/// Latencies in nanoseconds, kept whole for exact percentiles.
#[derive(Default, Clone)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    pub fn push(&mut self, ns: u64) {
        self.0.push(ns);
    }

    /// The `p`-th percentile (0 to 100), nearest rank; `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1])
    }

    pub fn max(&self) -> Option<u64> {
        self.0.iter().copied().max()
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

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut l = Latencies::default();
        assert_eq!(l.percentile(50.0), None);
        for ns in 1..=100 {
            l.push(ns);
        }
        assert_eq!(l.percentile(50.0), Some(50));
        assert_eq!(l.percentile(99.0), Some(99));
        assert_eq!(l.percentile(100.0), Some(100));
        assert_eq!(l.max(), Some(100));
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
