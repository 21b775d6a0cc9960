//! Order statistics of timing samples.

/// The `p`-th percentile (0 to 100) of `sorted`, interpolating linearly between the two
/// nearest ranks (numpy's default method, and what `python/process_start.py` uses).
///
/// `sorted` must be sorted in ascending order. Returns `None` when it is empty or when
/// `p` is outside 0..=100.
///
/// ```
/// use bench_harness::stats::percentile;
/// let s = [1.0, 2.0, 3.0, 4.0];
/// assert_eq!(percentile(&s, 50.0), Some(2.5));
/// assert_eq!(percentile(&s, 100.0), Some(4.0));
/// ```
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    debug_assert!(
        sorted.windows(2).all(|w| w[0] <= w[1]),
        "samples must be sorted"
    );
    let rank = (sorted.len() - 1) as f64 * p / 100.0;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// The median of `sorted` (ascending): the middle value, or the mean of the two middle
/// values. `None` when empty.
///
/// ```
/// use bench_harness::stats::median;
/// assert_eq!(median(&[1.0, 5.0, 9.0]), Some(5.0));
/// assert_eq!(median(&[]), None);
/// ```
pub fn median(sorted: &[f64]) -> Option<f64> {
    percentile(sorted, 50.0)
}

/// A summary of a set of samples, all in the samples' unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// The smallest.
    pub min: f64,
    /// The median.
    pub median: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The arithmetic mean.
    pub mean: f64,
    /// The largest.
    pub max: f64,
}

impl Summary {
    /// Summarizes `samples` (in any order). `None` when there are none or one is NaN.
    ///
    /// ```
    /// use bench_harness::stats::Summary;
    /// let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
    /// assert_eq!((s.n, s.min, s.median, s.max), (3, 1.0, 2.0, 3.0));
    /// ```
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.iter().any(|x| x.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            n: sorted.len(),
            min: *sorted.first()?,
            median: median(&sorted)?,
            p90: percentile(&sorted, 90.0)?,
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            max: *sorted.last()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[1.0, 2.0, 3.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile(range(1, 11), [0, 10, 25, 50, 90, 100])
        // -> [1.0, 1.9, 3.25, 5.5, 9.1, 10.0]
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        for (p, want) in [
            (0.0, 1.0),
            (10.0, 1.9),
            (25.0, 3.25),
            (50.0, 5.5),
            (90.0, 9.1),
            (100.0, 10.0),
        ] {
            let got = percentile(&s, p).unwrap();
            assert!(close(got, want), "p{p}: got {got}, want {want}");
        }
    }

    #[test]
    fn percentile_of_one_sample_is_that_sample() {
        for p in [0.0, 37.5, 90.0, 100.0] {
            assert_eq!(percentile(&[4.5], p), Some(4.5));
        }
    }

    #[test]
    fn percentile_out_of_range_is_none() {
        assert_eq!(percentile(&[1.0, 2.0], -1.0), None);
        assert_eq!(percentile(&[1.0, 2.0], 100.5), None);
    }

    #[test]
    fn summary_sorts_unsorted_samples() {
        // 20 samples: 1..=19 shuffled plus an outlier of 1000.
        let mut v: Vec<f64> = (1..=19).rev().map(f64::from).collect();
        v.insert(7, 1000.0);
        let s = Summary::of(&v).unwrap();
        assert_eq!(s.n, 20);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 1000.0);
        assert!(close(s.median, 10.5));
        // rank 0.9 * 19 = 17.1 between the 18th (18.0) and 19th (19.0) values.
        assert!(close(s.p90, 18.1));
        assert!(close(s.mean, (190.0 + 1000.0) / 20.0));
    }

    #[test]
    fn summary_of_nothing_or_nan_is_none() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }
}
