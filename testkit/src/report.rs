//! What a child tells its parent: one JSON object a line on its stdout,
//! written with [`emit`], read back with [`Report`]. A child may say
//! something early (that it is ready, which frame it started at) and the
//! rest at its end; the parent waits for a line by its key
//! ([`Report::line`]) or merges them all ([`Report::parse`]).

use std::fmt;
use std::io::Write;

use serde::Serialize;
use serde_json::{Map, Value};

pub use serde_json::json;

/// Prints `report` as one JSON line on stdout, and flushes it, so that a
/// parent waiting for the line gets it now.
///
/// # Panics
///
/// If `report` does not serialize to a JSON object, or stdout is closed.
pub fn emit(report: &impl Serialize) {
    let value = serde_json::to_value(report).expect("a report serializes");
    assert!(value.is_object(), "a report is a JSON object: {value}");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}").expect("write the report");
    out.flush().expect("flush the report");
}

/// What a child reported: the keys of its JSON lines, a later line's over
/// an earlier one's.
#[derive(Clone, Default, PartialEq)]
pub struct Report(Map<String, Value>);

impl Report {
    /// The report of one line, if it is a JSON object.
    pub fn line(line: &str) -> Option<Report> {
        match serde_json::from_str(line.trim()) {
            Ok(Value::Object(map)) => Some(Report(map)),
            _ => None,
        }
    }

    /// Every JSON line of `text`, merged; other lines are ignored (a
    /// program's own messages, a panic's).
    pub fn parse(text: &str) -> Report {
        let mut report = Report::default();
        for line in text.lines().filter_map(Report::line) {
            report.extend(line);
        }
        report
    }

    /// Adds `other`'s keys, replacing those this report has too.
    pub fn extend(&mut self, other: Report) {
        self.0.extend(other.0);
    }

    /// Whether the report has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The non-negative integer under `key`.
    ///
    /// # Panics
    ///
    /// If there is none: a child that does not report what its parent
    /// checks is a broken test.
    pub fn count(&self, key: &str) -> u64 {
        self.0
            .get(key)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("no count {key:?} in the report {self}"))
    }

    /// The number under `key`.
    ///
    /// # Panics
    ///
    /// If there is none.
    pub fn number(&self, key: &str) -> f64 {
        self.0
            .get(key)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("no number {key:?} in the report {self}"))
    }

    /// The string under `key`, or `None` (also if it is not a string), so
    /// that a parent compares it with what it expects.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The report as a typed struct.
    pub fn to<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.0.clone()))
    }
}

/// The JSON object, as the child wrote it.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Value::Object(self.0.clone()))
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_merge_and_other_text_is_ignored() {
        let text = "{\"started\":true,\"first\":3}\n\
                    thread 'main' panicked at nothing\n\
                    {\"written\":120,\"first\":4,\"how\":\"copy\",\"p50\":1.5}\n";
        let r = Report::parse(text);
        assert_eq!(r.count("written"), 120);
        assert_eq!(r.count("first"), 4);
        assert_eq!(r.text("how"), Some("copy"));
        assert_eq!(r.number("p50"), 1.5);
        assert_eq!(r.number("written"), 120.0);
        assert!(r.has("started") && !r.has("torn"));
        assert_eq!(r.text("missing"), None);
        assert_eq!(Report::line("not json"), None);
        assert_eq!(Report::line("[1, 2]"), None);
    }

    #[test]
    #[should_panic(expected = "no count \"torn\"")]
    fn a_missing_count_panics_naming_it() {
        Report::parse("{\"reads\":1}").count("torn");
    }

    #[test]
    #[should_panic(expected = "no count \"torn\"")]
    fn a_negative_or_fractional_count_is_no_count() {
        Report::parse("{\"torn\":-1}").count("torn");
    }

    #[test]
    fn a_typed_report_reads_back() {
        #[derive(serde::Deserialize)]
        struct Reader {
            reads: u64,
            torn: u64,
        }
        let r: Reader = Report::parse("{\"reads\":9,\"torn\":0,\"extra\":1}")
            .to()
            .unwrap();
        assert_eq!((r.reads, r.torn), (9, 0));
    }
}
