"""Property-based tests (Hypothesis) of the parts every verdict rests on, each against a straightforward
reference: the ``name(key=value)`` parser and the comma-split of a list, the suite loader, COCO's ERT, Holm's
correction, average ranks and the Mann–Whitney U test. The profile in ``conftest.py`` makes the examples the
same on every run (derandomized) and drops timing deadlines."""

from __future__ import annotations

import json
import keyword
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbench.analysis.ranks import average_ranks, mann_whitney_p
from optbench.analysis.significance import holm
from optbench.analysis.stats import expected_running_time
from optbench.api import format_call
from optbench.params import parse_call, split_top_level

names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
keys = names.filter(lambda k: not keyword.iskeyword(k) and k not in ("true", "false", "null", "none"))
scalars = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
                    st.booleans(), st.none(), st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)),
                                                      max_size=12))
values = st.one_of(scalars, st.tuples(st.integers(-99, 99), st.integers(-99, 99)))
calls = st.tuples(names, st.dictionaries(keys, values, max_size=4))


@given(calls)
def test_a_formatted_call_parses_back_to_itself(call):
    name, params = call
    text = format_call(name, tuple(params.items()))
    assert parse_call(text) == (name, params)


@given(st.lists(calls, min_size=1, max_size=4))
def test_a_comma_separated_list_of_calls_splits_into_those_calls(items):
    texts = [format_call(name, tuple(params.items())) for name, params in items]
    assert split_top_level(", ".join(texts)) == texts


def _toml(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(seeds=st.one_of(st.integers(1, 50), st.lists(st.integers(0, 10**6), min_size=1, max_size=5, unique=True)),
       instances=st.lists(st.integers(0, 100), min_size=1, max_size=3, unique=True),
       budget=st.integers(1, 10**6), problems=st.lists(names, min_size=1, max_size=3),
       optimizers=st.lists(names, min_size=1, max_size=3), description=st.text(max_size=30))
def test_the_suite_loader_reads_back_what_a_file_says(tmp_path, seeds, instances, budget, problems, optimizers,
                                                      description):
    from optbench.problems.suites import load_suite

    path = tmp_path / "s.toml"
    path.write_text("\n".join(f"{k} = {_toml(v)}" for k, v in {
        "description": description, "seeds": seeds, "instances": instances, "budget": budget,
        "problems": problems, "optimizers": optimizers}.items()) + "\n", encoding="utf-8")
    suite = load_suite(str(path))
    assert suite.seeds == (tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds))
    assert suite.instances == tuple(instances) and suite.budget == budget and suite.time_budget is None
    assert suite.problems == tuple(problems) and suite.optimizers == tuple(optimizers)
    assert suite.description == description


runs = st.lists(st.tuples(st.floats(1, 1e6), st.one_of(st.none(), st.floats(0, 1))), min_size=1, max_size=30)


@given(runs)
def test_ert_is_the_mean_cost_of_the_successes_plus_the_failures_spread_over_them(sample):
    costs = [c for c, _ in sample]
    hits = [None if h is None else h * c for c, h in sample]  # a hit is at most what the run spent
    ok = [h for h in hits if h is not None]
    failed = [c for c, h in zip(costs, hits, strict=True) if h is None]
    ert = expected_running_time(costs, hits)
    if not ok:
        assert ert == math.inf
        return
    # COCO's restart view: each success costs its own hit time, each failure is paid by the successes
    reference = np.mean(ok) + (len(failed) / len(ok)) * (np.mean(failed) if failed else 0.0)
    assert ert == pytest.approx(reference, rel=1e-12)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_holm_equals_its_definition(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    reference = [0.0] * m
    for rank, i in enumerate(order):  # max over the step-down sequence up to this rank, capped at 1
        reference[i] = min(1.0, max((m - j) * p[order[j]] for j in range(rank + 1)))
    assert holm(p) == pytest.approx(reference, rel=1e-12, abs=1e-15)


samples = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=25)
tied = st.lists(st.integers(0, 4).map(float), min_size=2, max_size=25)


@given(st.one_of(samples, tied))
def test_average_ranks_sum_to_the_triangle_and_order_like_the_values(values):
    ranks = average_ranks(values)
    n = len(values)
    assert ranks.sum() == pytest.approx(n * (n + 1) / 2)
    for i in range(n):
        for j in range(n):
            assert (values[i] < values[j]) == (ranks[i] < ranks[j])


@given(st.one_of(st.tuples(samples, samples), st.tuples(tied, tied)))
def test_mann_whitney_equals_scipy(pair):
    from scipy.stats import mannwhitneyu

    x, y = pair
    if len(set(x) | set(y)) == 1:
        return  # every value equal: SciPy's p is 1 (z = -inf); optbench's wrapper returns 1 before testing
    assert mann_whitney_p(x, y) == pytest.approx(float(mannwhitneyu(x, y, alternative="two-sided").pvalue),
                                                 rel=1e-11, abs=1e-300)
