"""optbench's rank statistics equal SciPy's: ``rankdata(method="average")`` and ``mannwhitneyu`` (two-sided,
``method="auto"``), on random samples of the sizes campaigns have (2-60 seeds), with and without ties.

The exact branch sums integer counts, so it agrees with SciPy's to the rounding of one division; the normal
branch evaluates the same formula through ``math.erfc`` instead of ``scipy.special.ndtr``, a few ulps apart.
The tolerance, 1e-12 relative, is far below any p-value's use (a 0.05 threshold after Holm) and far above both.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, rankdata

from optbench.analysis.ranks import average_ranks, mann_whitney_p


@pytest.mark.parametrize("ties", [False, True])
def test_average_ranks_equal_scipys(ties):
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        values = rng.integers(0, 5, n).astype(float) if ties else rng.standard_normal(n)
        np.testing.assert_array_equal(average_ranks(values), rankdata(values, method="average"))


@pytest.mark.parametrize("ties", [False, True])
def test_mann_whitney_equals_scipys_auto_two_sided(ties):
    rng = np.random.default_rng(2)
    sizes = [(2, 2), (3, 5), (6, 6), (8, 8), (8, 30), (9, 9), (2, 40), (30, 30), (60, 60), (1, 7)]
    for n1, n2 in sizes:
        for _ in range(30):
            shift = rng.uniform(0, 2)
            if ties:
                x, y = rng.integers(0, 4, n1).astype(float), (rng.integers(0, 4, n2) + shift // 1).astype(float)
            else:
                x, y = rng.standard_normal(n1), rng.standard_normal(n2) + shift
            ours, theirs = mann_whitney_p(x, y), float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
            assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-300), (n1, n2, x, y)


def test_the_exact_branch_reaches_the_smallest_p_value_of_complete_separation():
    # with n seeds a side the smallest two-sided exact p-value is 2 / C(2n, n)
    for n in range(2, 9):
        assert mann_whitney_p(np.arange(n), np.arange(n) + n) == pytest.approx(2 / __import__("math").comb(2 * n, n))
