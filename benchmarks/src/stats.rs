//! Medians and percentiles of measured samples, and how the report shows them.

use dbshm_testkit::stats;

/// The nearest-rank `q`-quantile (0.0..=1.0) of `samples`: the test kit's
/// definition (`dbshm_testkit::stats::quantile`, hdrhistogram's
/// `value_at_quantile`), on a sorted copy; always one of the samples.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    stats::quantile(&stats::sorted(samples), q)
}

/// The median of `samples`: for an even count, the mean of the middle two.
pub fn median(samples: &[f64]) -> f64 {
    stats::median(&stats::sorted(samples))
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
    fn quantiles_of_an_unsorted_set_are_nearest_rank_samples() {
        let s = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(median(&s), 3.0);
        assert_eq!(quantile(&s, 0.0), 1.0);
        assert_eq!(quantile(&s, 1.0), 5.0);
        assert_eq!(quantile(&s, 0.25), 2.0);
        assert_eq!(quantile(&s, 0.5), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        // A sample, not 9.9 between the two.
        assert_eq!(quantile(&[10.0, 0.0], 0.99), 10.0);
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(quantile(&hundred, 0.99), 99.0);
    }

    #[test]
    fn the_ratio_shows_the_median_and_the_quartiles() {
        assert_eq!(ratio(&[1.0, 2.0, 3.0, 4.0]), "2.50x (1.00-3.00)");
    }
}
