"""The lottery study's grokking measures: the plateau/jump classifier on planted curves, the settings that
``--problem modadd`` and the defaults resolve to, and the per-seed table built from stored chains."""

from __future__ import annotations

import pytest

from optbench.studies.base import StudyOptions
from optbench.studies.lottery import grokking
from optbench.studies.lottery.analysis import summarize
from optbench.studies.lottery.study import GROK_OPTIMIZER, GROK_PROBLEM, LotteryStudy

STEPS = list(range(0, 3001, 25))
TRAIN = [min(1.0, s / 100) for s in STEPS]  # memorized (0.9) at step 90 -> recorded at 100


def _step(at: int, width: int = 0) -> list[float]:
    """Test accuracy 0.02 (near chance) until ``at``, then a linear climb to 1 over ``width`` steps."""
    return [0.02 if s < at else 1.0 if s >= at + width else 0.02 + 0.98 * (s - at) / width for s in STEPS]


def test_a_step_after_a_long_plateau_is_a_jump() -> None:
    out = grokking.classify(STEPS, TRAIN, _step(1500), threshold=0.9)
    assert out == {"m": 100, "g": 1500, "w": 25, "verdict": "plateau-then-jump"}
    steep = grokking.classify(STEPS, TRAIN, _step(1500, width=200), threshold=0.9)
    assert steep["verdict"] == "plateau-then-jump" and steep["g"] > 1500 and steep["w"] <= 200


def test_a_slow_linear_rise_is_gradual() -> None:
    linear = [min(1.0, 0.02 + s / 2000) for s in STEPS]  # rises from the first step on, 0.9 at step ~1760
    out = grokking.classify(STEPS, TRAIN, linear, threshold=0.9)
    assert out["verdict"] == "gradual" and out["g"] is not None and out["w"] > (out["g"] - out["m"]) / 3
    # a short plateau, then a climb much longer than it (on the log step axis too), is gradual
    assert grokking.classify(STEPS, TRAIN, _step(300, width=1500), threshold=0.9)["verdict"] == "gradual"
    # the same climb after a plateau eight times as long as memorizing took: on a log axis, a jump
    assert grokking.classify(STEPS, TRAIN, _step(800, width=1500), threshold=0.9)["verdict"] == "plateau-then-jump"
    # generalizing right after memorizing is no delay
    assert grokking.classify(STEPS, TRAIN, _step(150), threshold=0.9)["verdict"] == "gradual"


def test_never_reaching_the_threshold_did_not_grok() -> None:
    out = grokking.classify(STEPS, TRAIN, [0.5 * a for a in _step(1000)], threshold=0.9)
    assert out == {"m": 100, "g": None, "w": None, "verdict": "did not grok"}
    assert grokking.count([out, out]) == {"plateau-then-jump": 0, "gradual": 0, "did not grok": 2}


def _chain(test: list[float]) -> dict:
    run = {"steps": STEPS, "loss": [1.0] * len(STEPS), "train_accuracy": TRAIN, "metric": test,
           "pruned_max_abs": 0.0, "stability": None}
    level = {"round": 1, "sparsity": 0.36, "counts": {"w": [64, 100]}, "random_counts": {"w": [64, 100]},
             "ticket": run, "reinit": {**run, "metric": [0.02] * len(STEPS)}, "random": run}
    return {"steps": STEPS, "steps_per_epoch": 1, "dense": run, "rounds": [level], "metric_name": "test_accuracy",
            "higher_is_better": True}


def test_the_study_reports_m_g_w_and_the_verdict_per_seed() -> None:
    chains = {0: _chain(_step(1500)), 1: _chain(_step(1400)), 2: _chain([min(1.0, 0.02 + s / 2000) for s in STEPS])}
    data, tables, findings = summarize(chains, grokking=True, threshold=0.9)
    assert data["dense"]["shape_counts"] == {"plateau-then-jump": 2, "gradual": 1, "did not grok": 0}
    per_seed = next(t for t in tables if t.title.startswith("Plateau then jump"))
    dense_rows = [r for r in per_seed.rows if r[0] == "dense"]
    assert [r[1:] for r in dense_rows[:2]] == [[0, 100, 1500, 25, "plateau-then-jump"],
                                               [1, 100, 1400, 25, "plateau-then-jump"]]
    assert dense_rows[2][-1] == "gradual"
    assert any("plateau then a jump in 2 of 3 seeds" in f for f in findings)
    # not a grokking run: no verdicts computed, no table
    _, tables, _ = summarize(chains, grokking=False, threshold=0.9)
    assert not any(t.title.startswith("Plateau then jump") for t in tables)


def _settings(*flags: str, quick: bool = False, **extra) -> dict:
    problem = flags[0] if flags else LotteryStudy.default_problem
    options = StudyOptions(problem=problem, optimizer=LotteryStudy.default_optimizer, seeds=5, quick=quick,
                           extra=extra)
    return LotteryStudy(options)._settings()


def test_modadd_resolves_to_the_shared_grokking_setting() -> None:
    from optbench.params import parse_call

    s = _settings("modadd")
    name, params = parse_call(s["problem"])
    assert name == "modadd" and params == GROK_PROBLEM
    assert s["optimizer"] == GROK_OPTIMIZER and s["grokking"]
    # a parameter given wins over the grokking default
    assert parse_call(_settings("modadd(p=23)")["problem"])[1]["p"] == 23


@pytest.mark.parametrize("quick", [False, True])
def test_the_default_settings_are_those_the_page_states(quick: bool) -> None:
    from optbench.studies.lottery.study import PRUNE_RATE

    s = _settings(quick=quick)
    assert s["problem"] == "mnist1d" and s["prune_rate"] == PRUNE_RATE == 0.36 and s["scope"] == "global"
    assert s["target_sparsity"] == (0.6 if quick else 0.95) and s["epochs"] == (8 if quick else 20)
    assert s["rewind_step"] == 0 and s["points"] == 13 and not s["grokking"]
