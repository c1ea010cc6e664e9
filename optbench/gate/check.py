"""A candidate run against a baseline, cell by cell (problem, optimizer, lane):

* **quality** — the final gap (or value) per seed: a one-sided Wilcoxon signed-rank test when the
  seeds pair up, a one-sided Mann–Whitney U test otherwise, Holm-corrected across all cells, *and*
  a minimum effect (the median worsens by more than ``min_effect`` relative, and by more than the
  problem's success target); a cell regresses only when both hold;
* **speed** — the ratio of median optimizer times with a bootstrap 95% interval; slower only when the
  whole interval lies above ``1 + tolerance``. Timings are compared only on the same machine
  fingerprint, unless asked to normalize by the calibration workload measured in both runs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optbench.analysis.significance import holm
from optbench.api import TrialResult
from optbench.gate.baseline import Baseline


@dataclass(frozen=True)
class CellCheck:
    """One (problem, optimizer, device) of the baseline against the candidate."""

    problem: str
    optimizer: str
    device: str  # the trials' lane: the device, with a chosen precision beside it (``cuda float32``)
    n_baseline: int
    n_candidate: int
    paired: bool
    baseline_median: float | None
    candidate_median: float | None
    p_value: float | None
    p_holm: float | None
    quality: str  # worse, better, same, missing, failing
    speed_ratio: float | None  # candidate / baseline median time (normalized when asked)
    speed_ci: tuple[float, float] | None
    speed: str  # slower, faster, same, too fast (both medians under min_time), not comparable

    @property
    def regressed(self) -> bool:
        return self.quality in ("worse", "failing", "missing") or self.speed == "slower"


def cell_key(r: TrialResult) -> tuple[str, str, str]:
    return r.spec.problem_label, r.spec.optimizer_label, r.spec.lane


def score(r: TrialResult) -> float:
    value = r.gap if r.gap is not None else r.final_value
    return math.inf if value is None or math.isnan(value) else float(value)


Seeded = dict[tuple[int, int], TrialResult]  # results by (seed, instance)


def _one_sided_p(base: Seeded, cand: Seeded) -> tuple[float, bool]:
    """p-value that the candidate's scores are larger (worse); paired by (seed, instance) when possible."""
    from scipy.stats import mannwhitneyu, wilcoxon

    common = sorted(set(base) & set(cand))
    if len(common) >= 5:
        diffs = np.array([score(cand[k]) - score(base[k]) for k in common])
        diffs = np.where(np.isnan(diffs), 0.0, diffs)
        finite = diffs[np.isfinite(diffs)]
        if np.isinf(diffs).any():  # a seed became non-finite (or recovered): rank it most extreme
            big = (np.abs(finite).max() if finite.size else 1.0) * 10 + 1
            diffs = np.where(np.isposinf(diffs), big, np.where(np.isneginf(diffs), -big, diffs))
        if not np.any(diffs):
            return 1.0, True
        return float(wilcoxon(diffs, alternative="greater", zero_method="zsplit").pvalue), True
    b = np.array([score(r) for r in base.values()])
    c = np.array([score(r) for r in cand.values()])
    if b.size < 2 or c.size < 2 or np.all(np.concatenate([b, c]) == b[0]):
        return 1.0, False
    top = np.concatenate([b, c])
    top = top[np.isfinite(top)].max(initial=0.0) + 1.0
    b, c = np.where(np.isinf(b), top, b), np.where(np.isinf(c), top, c)
    return float(mannwhitneyu(c, b, alternative="greater").pvalue), False


def _ratio_ci(base: Sequence[float], cand: Sequence[float], *, seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Median-time ratio candidate/baseline with a percentile bootstrap 95% interval."""
    b, c = np.asarray(base, dtype=np.float64), np.asarray(cand, dtype=np.float64)
    ratio = float(np.median(c) / np.median(b))
    rng = np.random.default_rng(seed)
    rb = np.median(b[rng.integers(0, b.size, (2000, b.size))], axis=1)
    rc = np.median(c[rng.integers(0, c.size, (2000, c.size))], axis=1)
    low, high = np.quantile(rc / rb, [0.025, 0.975])
    return ratio, (float(low), float(high))


def check(baseline: Baseline, candidate: Sequence[TrialResult], *, alpha: float = 0.05, min_effect: float = 0.1,
          tolerance: float = 0.1, time_scale: float | None = None, min_time: float = 0.01) -> list[CellCheck]:
    """Compare every cell of the baseline with the candidate.

    Args:
        time_scale: multiply the baseline's times by this before comparing (calibration ratio
            candidate/baseline); ``None`` means the timings are not comparable.
        min_time: cells whose median times are both below this many seconds are "too fast" to
            judge: at a millisecond, scheduling noise on a shared machine exceeds any tolerance.
    """
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(lambda: [{}, {}])  # type: ignore[arg-type]
    for side, results in ((0, baseline.results), (1, candidate)):
        for r in results:
            groups[cell_key(r)][side][(r.spec.seed, r.spec.instance)] = r
    rows: list[dict[str, Any]] = []
    for (problem, optimizer, device), (base_all, cand_all) in groups.items():
        base = {k: r for k, r in base_all.items() if r.state.has_result}
        cand = {k: r for k, r in cand_all.items() if r.state.has_result}
        if not base_all:
            continue  # new in the candidate: nothing to regress against
        row: dict[str, Any] = {"problem": problem, "optimizer": optimizer, "device": device,
                               "n_baseline": len(base), "n_candidate": len(cand), "paired": False,
                               "baseline_median": None, "candidate_median": None, "p": None}
        if not base:
            row["quality"] = "same"  # skipped or failing in the baseline too: nothing to compare
        elif not cand_all:
            row["quality"] = "missing"
        elif len(cand) < len(base) and sum(r.state.is_failure for r in cand_all.values()) > sum(
                r.state.is_failure for r in base_all.values()):
            row["quality"] = "failing"
        else:
            b_scores, c_scores = [score(r) for r in base.values()], [score(r) for r in cand.values()]
            row["baseline_median"], row["candidate_median"] = float(np.median(b_scores)), float(np.median(c_scores))
            row["p"], row["paired"] = _one_sided_p(base, cand)
            target = next(iter(base.values())).target or 0.0
            b_med, c_med = row["baseline_median"], row["candidate_median"]
            row["effect"] = c_med - b_med > max(min_effect * abs(b_med), target) or (
                math.isinf(c_med) and not math.isinf(b_med))
            row["improved"] = b_med - c_med > max(min_effect * abs(b_med), target)
        b_times = [r.seconds for r in base.values()]
        c_times = [r.seconds for r in cand.values()]
        row["speed_ratio"] = row["speed_ci"] = None
        row["speed"] = "not comparable"
        if time_scale is not None and len(b_times) >= 2 and len(c_times) >= 2 and min(b_times) > 0:
            scaled = [t * time_scale for t in b_times]
            ratio, (low, high) = _ratio_ci(scaled, c_times)
            row["speed_ratio"], row["speed_ci"] = ratio, (low, high)
            if max(np.median(scaled), np.median(c_times)) < min_time:
                row["speed"] = "too fast"
            else:
                row["speed"] = ("slower" if low > 1 + tolerance else "faster" if high < 1 / (1 + tolerance)
                                else "same")
        rows.append(row)
    tested = [r for r in rows if r["p"] is not None]
    for row, adjusted in zip(tested, holm([r["p"] for r in tested]), strict=True):
        row["p_holm"] = adjusted
        row["quality"] = ("worse" if adjusted < alpha and row["effect"]
                          else "better" if row["improved"] else "same")
    return [CellCheck(r["problem"], r["optimizer"], r["device"], r["n_baseline"], r["n_candidate"], r["paired"],
                      r["baseline_median"], r["candidate_median"], r["p"], r.get("p_holm"), r["quality"],
                      r["speed_ratio"], r["speed_ci"], r["speed"]) for r in rows]


def comparable_machines(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("cpu", "cores", "machine", "system", "torch", "gpu")
    return all(a.get(k) == b.get(k) for k in keys)
