//! The words the demo's own children report in: a line on stdout
//! `status k=v ...` as they run and `final k=v ...` once, when done. The
//! parent reads them back; nothing else in the demo knows their spelling.
//! Self-contained: a report is plain numbers.

use std::fmt;

/// A child's counts so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub frames: u64,
    pub fps: f64,
    /// Latency quantiles and maximum, in nanoseconds; `None` before any.
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub max_ns: Option<u64>,
    pub retries: u64,
    /// Frames that failed their check.
    pub torn: u64,
    /// Frames older than one seen before.
    pub backwards: u64,
    /// Frames published that this reader never saw.
    pub skipped: u64,
}

/// Which report a line is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// One of those sent as the child runs.
    Status,
    /// The last, sent as the child ends.
    Final,
}

/// One line of a child's stdout.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub report: Report,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::Final => "final",
        }
    }
}

impl fmt::Display for Message {
    /// The line, as a child prints it; a quantity not yet known is 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        write!(
            f,
            "{} frames={} fps={:.1} p50_ns={} p99_ns={} max_ns={} retries={} torn={} backwards={} skipped={}",
            self.kind.word(),
            r.frames,
            r.fps,
            r.p50_ns.unwrap_or(0),
            r.p99_ns.unwrap_or(0),
            r.max_ns.unwrap_or(0),
            r.retries,
            r.torn,
            r.backwards,
            r.skipped
        )
    }
}

impl Message {
    /// The message a line holds, or `None` for a line of no report. A word
    /// missing or unreadable counts as 0, and a latency of 0 as unknown.
    pub fn parse(line: &str) -> Option<Message> {
        let (kind, words) = line.split_once(' ')?;
        let kind = [Kind::Status, Kind::Final]
            .into_iter()
            .find(|k| k.word() == kind)?;
        let mut report = Report::default();
        for (k, v) in words.split_whitespace().filter_map(|w| w.split_once('=')) {
            let n = v.parse::<u64>().ok();
            match k {
                "frames" => report.frames = n.unwrap_or(0),
                "fps" => report.fps = v.parse().unwrap_or(0.0),
                "p50_ns" => report.p50_ns = n.filter(|&n| n > 0),
                "p99_ns" => report.p99_ns = n.filter(|&n| n > 0),
                "max_ns" => report.max_ns = n.filter(|&n| n > 0),
                "retries" => report.retries = n.unwrap_or(0),
                "torn" => report.torn = n.unwrap_or(0),
                "backwards" => report.backwards = n.unwrap_or(0),
                "skipped" => report.skipped = n.unwrap_or(0),
                _ => {}
            }
        }
        Some(Message { kind, report })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_it_was_printed() {
        let report = Report {
            frames: 12,
            fps: 59.5,
            p50_ns: Some(4100),
            p99_ns: Some(90_000),
            max_ns: None,
            retries: 1,
            torn: 2,
            backwards: 3,
            skipped: 4,
        };
        for kind in [Kind::Status, Kind::Final] {
            let message = Message {
                kind,
                report: report.clone(),
            };
            assert_eq!(Message::parse(&message.to_string()), Some(message));
        }
        assert_eq!(
            Message::parse("final frames=3").map(|m| (m.kind, m.report.frames)),
            Some((Kind::Final, 3))
        );
        assert_eq!(Message::parse("frames=3"), None);
        assert_eq!(Message::parse("thread 'main' panicked"), None);
    }
}
