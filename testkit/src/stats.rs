//! Quantiles of measured samples, one definition for the benchmark harness
//! and the command's statistics.

/// The nearest-rank `q`-quantile (`0.0..=1.0`) of `sorted`, which must be
/// sorted ascending: the smallest sample `v` such that at least `q·n` of the
/// `n` samples are `≤ v`, that is index `⌈q·n⌉ − 1` (and index 0 for
/// `q = 0`). It is always one of the samples, never an interpolation, and is
/// what hdrhistogram's `value_at_quantile` gives (at its precision).
///
/// `q·n` is rounded to the nearest integer first when it is within 1e-9 of
/// it, so that a product such as `0.07 × 100 = 7.000000000000001` is taken
/// as the 7 it means, not as a rank of 8.
///
/// # Panics
///
/// If `sorted` is empty or `q` is not within `0.0..=1.0`.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> T {
    assert!(!sorted.is_empty(), "the quantile of no samples");
    assert!((0.0..=1.0).contains(&q), "quantile {q} is not within 0..=1");
    let exact = q * sorted.len() as f64;
    let nearest = exact.round();
    let rank = if (exact - nearest).abs() < 1e-9 {
        nearest
    } else {
        exact.ceil()
    };
    sorted[(rank as usize).clamp(1, sorted.len()) - 1]
}

/// The median of `sorted` (sorted ascending): the middle sample, and for an
/// even count the mean of the middle two. For an even count this differs
/// from `quantile(sorted, 0.5)`, which is the lower of the two.
///
/// # Panics
///
/// If `sorted` is empty.
pub fn median(sorted: &[f64]) -> f64 {
    assert!(!sorted.is_empty(), "the median of no samples");
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// `samples` sorted ascending (floats by `total_cmp`), for [`quantile`] and
/// [`median`].
pub fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 to 10: the ranks are the values, and every off-by-one (index
    /// `⌈q·n⌉` instead of `⌈q·n⌉ − 1`, `⌊q·n⌋ − 1`, `round(q·(n − 1))`, or
    /// interpolating) gives another answer for one of these.
    const TEN: [u32; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    #[test]
    fn nearest_rank_quantiles_of_one_to_ten() {
        for (q, want) in [
            (0.0, 1),
            (0.05, 1),
            (0.1, 1),
            (0.11, 2),
            (0.5, 5),
            (0.55, 6),
            (0.9, 9),
            (0.91, 10),
            (0.95, 10),
            (0.99, 10),
            (1.0, 10),
        ] {
            assert_eq!(quantile(&TEN, q), want, "q = {q}");
        }
    }

    #[test]
    fn p99_of_a_hundred_is_the_99th() {
        let hundred: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&hundred, 0.99), 99);
        assert_eq!(quantile(&hundred, 0.5), 50);
        // 0.07 × 100 is 7.000000000000001 in floating point: still rank 7.
        assert_eq!(quantile(&hundred, 0.07), 7);
        assert_eq!(quantile(&hundred, 0.29), 29);
    }

    #[test]
    fn one_sample_is_every_quantile() {
        for q in [0.0, 0.5, 0.99, 1.0] {
            assert_eq!(quantile(&[42.0], q), 42.0);
        }
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[1.0, 2.0, 3.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 10.0], 0.5), 2.0);
        assert_eq!(median(&sorted(&[10.0, 1.0, 3.0, 2.0])), 2.5);
    }

    #[test]
    #[should_panic(expected = "no samples")]
    fn no_samples_have_no_quantile() {
        quantile::<f64>(&[], 0.5);
    }
}
