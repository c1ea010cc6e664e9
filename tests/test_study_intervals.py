"""The studies' statistics, checked for the error rates they claim, by simulation (properties, not numbers)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from optbench.studies import intervals


def _coverage(make_ci, truth: float, samples: np.ndarray) -> float:
    hits = 0
    for sample in samples:
        ci = make_ci(sample.tolist())
        hits += ci is not None and ci[0] <= truth <= ci[1]
    return hits / len(samples)


@pytest.mark.parametrize("n", [8, 30])
def test_the_std_interval_covers_at_least_93_percent_at_nominal_95(n):
    rng = np.random.default_rng(n)
    samples = rng.normal(0.7, 0.02, size=(3000, n))
    assert _coverage(intervals.std_ci, 0.02, samples) >= 0.93


def test_the_old_percentile_bootstrap_of_a_std_under_covers_at_8_seeds():
    from optbench.studies.measures import bootstrap_std_ci

    samples = np.random.default_rng(1).normal(0.0, 1.0, size=(400, 8))
    assert _coverage(bootstrap_std_ci, 1.0, samples) < 0.9  # why std_ci replaced it


@pytest.mark.parametrize("n", [8, 30])
def test_the_mean_interval_covers(n):
    samples = np.random.default_rng(10 + n).normal(3.0, 1.0, size=(3000, n))
    assert _coverage(intervals.mean_ci, 3.0, samples) >= 0.93


@pytest.mark.parametrize(("n", "p"), [(5, 0.8), (30, 0.5), (30, 0.95), (8, 0.2)])
def test_the_wilson_interval_covers_a_success_rate(n, p):
    rng = np.random.default_rng(int(100 * p) + n)
    ks = rng.binomial(n, p, size=4000)
    hits = sum(lo <= p <= hi for lo, hi in (intervals.wilson(int(k), n) for k in ks))
    assert hits / len(ks) >= 0.92  # Wilson's coverage oscillates around the nominal level with n and p
    assert intervals.wilson(0, 10)[0] == 0.0 and intervals.wilson(10, 10)[1] == 1.0
    assert intervals.wilson(3, 0) is None


def test_the_binomial_standard_error_of_a_test_accuracy():
    assert intervals.binomial_se(0.9, 10_000) == pytest.approx(0.003)
    assert intervals.binomial_se(None, 100) is None


@pytest.mark.parametrize("n", [8, 30])
def test_the_outlier_rule_flags_at_most_5_percent_of_normal_samples(n):
    samples = np.random.default_rng(n + 7).normal(size=(3000, n))
    flagged = sum(bool(intervals.esd_outliers(s, list(range(n)))) for s in samples)
    assert flagged / len(samples) <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / len(samples))


def test_the_outlier_rule_finds_a_planted_outlier():
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(200):
        sample = rng.normal(size=8)
        sample[5] = 6.0
        found += intervals.esd_outliers(sample, list(range(8))) == [5]
    assert found / 200 >= 0.9
    assert intervals.esd_outliers([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], list(range(6))) == []


def _pairs(effects: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int, float]]:
    return [(a, b, float(effects[a] + effects[b] + 0.5 * rng.normal()))
            for a, b in itertools.combinations(range(effects.size), 2)]


@pytest.mark.parametrize("m", [6, 10])
def test_barrier_intervals_over_networks_cover_where_pairs_share_a_network(m):
    """Pairs (a, b) share network effects: value = e_a + e_b + noise. The jackknife over networks covers
    the true mean (0); an interval that treats the pairs as independent does not."""
    rng = np.random.default_rng(m)
    hits = naive_hits = 0
    reps = 600
    for _ in range(reps):
        pairs = _pairs(rng.normal(size=m), rng)
        _, ci = intervals.pairs_mean_ci(pairs)
        hits += ci[0] <= 0.0 <= ci[1]
        naive = intervals.mean_ci([v for _, _, v in pairs])
        naive_hits += naive[0] <= 0.0 <= naive[1]
    assert hits / reps >= 0.92
    assert naive_hits / reps < 0.85


def test_pairs_mean_ci_needs_three_networks():
    mean, ci = intervals.pairs_mean_ci([(0, 1, 0.5)])
    assert mean == 0.5 and ci is None


@pytest.mark.parametrize("n", [8, 30])
def test_the_equivalence_test_error_rates_on_planted_populations(n):
    """At a true difference of exactly -margin (B worse by the margin), "yes" comes at most alpha of the
    time; at equal means it comes about as often as the stated power; far worse gives "no"."""
    rng = np.random.default_rng(n)
    margin, sd, reps = 0.01, 0.01, 2000
    boundary = [intervals.noninferiority(rng.normal(-margin, sd, n), margin=margin)["verdict"]
                for _ in range(reps)]
    assert boundary.count("yes") / reps <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)
    equal = [intervals.noninferiority(rng.normal(0.0, sd, n), margin=margin) for _ in range(reps)]
    rate = sum(r["verdict"] == "yes" for r in equal) / reps
    power = float(np.mean([r["power"] for r in equal]))
    assert abs(rate - power) < 0.1
    far = [intervals.noninferiority(rng.normal(-5 * margin, sd, n), margin=margin)["verdict"] for _ in range(200)]
    assert far.count("no") / 200 >= 0.9
    assert intervals.noninferiority([0.0], margin=margin)["verdict"] == "cannot tell with these seeds"


def test_a_few_seeds_with_a_wide_spread_cannot_tell():
    result = intervals.noninferiority([0.02, -0.03, 0.01], margin=0.01)
    assert result["verdict"] == "cannot tell with these seeds"
    assert intervals.verdict_symbol(result) == "cannot tell"


def test_the_censored_median_is_defined_only_when_more_than_half_reached():
    assert intervals.censored_median([10, 20, None])["median"] == 20
    assert intervals.censored_median([10, None, None])["median"] is None
    assert intervals.censored_median([10, 20, None, None])["median"] is None
    out = intervals.censored_median([10, 20, 30, None])
    assert out["median"] == 25 and out["reached"] == 3 and out["n"] == 4
    assert intervals.censored_median([])["median"] is None
