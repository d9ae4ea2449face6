//! What the demo's own children report: one JSON line on stdout,
//! `{"kind":"status",...}` as they run and `{"kind":"final",...}` once, when
//! done. The parent reads them back; nothing else in the demo knows their
//! spelling.

use serde::{Deserialize, Serialize};

/// A child's counts so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One of those sent as the child runs.
    Status,
    /// The last, sent as the child ends.
    Final,
}

/// One line of a child's stdout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub kind: Kind,
    #[serde(flatten)]
    pub report: Report,
}

impl Message {
    /// Prints the message as one line and flushes it, so that the parent
    /// shows it now.
    pub fn emit(&self) {
        dbshm_testkit::report::emit(self);
    }

    /// The message a line holds, or `None` for a line of no report (a
    /// panic's, say).
    pub fn parse(line: &str) -> Option<Message> {
        serde_json::from_str(line.trim()).ok()
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
            let line = serde_json::to_string(&message).unwrap();
            assert_eq!(Message::parse(&line), Some(message));
        }
        assert_eq!(Message::parse(r#"{"frames": 3}"#), None);
        assert_eq!(Message::parse("thread 'main' panicked"), None);
    }
}
