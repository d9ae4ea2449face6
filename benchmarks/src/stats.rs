//! Medians and percentiles of measured samples.

/// The `q`-quantile (0.0..=1.0) of `samples`, interpolated linearly between
/// the two nearest ranks of a sorted copy (so the median of an even count is
/// the mean of the middle two).
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    assert!(!samples.is_empty(), "no samples");
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub fn median(samples: &[f64]) -> f64 {
    quantile(samples, 0.5)
}

/// A time in nanoseconds as µs or ms, with three significant figures.
pub fn time(ns: f64) -> String {
    match ns {
        ns if ns >= 10e6 => format!("{:.1} ms", ns / 1e6),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 100e3 => format!("{:.0} µs", ns / 1e3),
        ns if ns >= 10e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{:.2} µs", ns / 1e3),
    }
}

/// The median of `ratios` with their interquartile range, as `1.23x (1.1-1.3)`.
pub fn ratio(ratios: &[f64]) -> String {
    format!(
        "{:.2}x ({:.2}-{:.2})",
        median(ratios),
        quantile(ratios, 0.25),
        quantile(ratios, 0.75)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_set() {
        let s = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(median(&s), 3.0);
        assert_eq!(quantile(&s, 0.0), 1.0);
        assert_eq!(quantile(&s, 1.0), 5.0);
        assert_eq!(quantile(&s, 0.25), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(quantile(&[0.0, 10.0], 0.99), 9.9);
    }
}
