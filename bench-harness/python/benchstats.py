"""What the CPython baseline scripts share: the percentile bench-harness computes.

Imported by the scripts beside it (Python puts a script's own folder first on its path).
"""


def percentile(sorted_samples, p):
    """Linear-interpolation percentile (numpy's default), as bench-harness computes it."""
    if not sorted_samples:
        return float("nan")
    rank = (len(sorted_samples) - 1) * p / 100.0
    lo = int(rank)
    hi = min(lo + 1, len(sorted_samples) - 1)
    return sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * (rank - lo)
