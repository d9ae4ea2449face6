//! Seconds from the command line as spans that any `Instant` can be moved
//! by: no number a person types (1e19, inf) makes the command panic.

use std::time::Duration;

/// The longest span kept: a century. Longer ones mean the same to a person,
/// and `Instant::now()` plus a century fits the clock, where plus
/// `Duration::MAX` (or 1e19 s) overflows and panics.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `secs` as a span, at most [`FOREVER`]; an error naming `what` for a
/// negative number or NaN.
pub fn seconds(secs: f64, what: &str) -> Result<Duration, String> {
    if secs >= 0.0 {
        // Only too large a number fails here (NaN and negatives are out).
        Ok(Duration::try_from_secs_f64(secs).map_or(FOREVER, |d| d.min(FOREVER)))
    } else {
        Err(format!("{what} must be a number of seconds, not {secs}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn any_number_of_seconds_is_a_span_an_instant_can_take() {
        for secs in [1e19, 1e300, f64::INFINITY, f64::MAX] {
            let span = seconds(secs, "x").unwrap();
            assert_eq!(span, FOREVER);
            let _ = Instant::now() + span + span; // no overflow, even twice
        }
        assert_eq!(seconds(1.5, "x"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds(-0.0, "x"), Ok(Duration::ZERO));
        for bad in [-1.0, f64::NAN, f64::NEG_INFINITY] {
            assert!(seconds(bad, "--age")
                .unwrap_err()
                .starts_with("--age must be"));
        }
    }
}
