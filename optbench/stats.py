"""Aggregation of trial results over seeds and instances.

One :class:`Cell` per (problem, optimizer, device): the spread of the final gap to the optimum
(or of the final value when the optimum is unknown), success against the problem's target,
and the median cost. Non-finite values are kept, counted and rank worst.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from optbench.api import TrialResult, TrialState


@dataclass(frozen=True)
class Spread:
    """Median and interquartile range of a sample, with how many values were not finite."""

    median: float
    q1: float
    q3: float
    n: int
    nonfinite: int = 0

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        arr = np.asarray(values, dtype=np.float64)
        # NaN ranks worst: treat it as +inf for order statistics, count it separately
        nonfinite = int((~np.isfinite(arr)).sum())
        ordered = np.where(np.isnan(arr), np.inf, arr)
        q1, med, q3 = np.quantile(ordered, [0.25, 0.5, 0.75], method="linear")
        return cls(float(med), float(q1), float(q3), len(arr), nonfinite)


@dataclass(frozen=True)
class Cell:
    """Summary of one optimizer on one problem on one device, over seeds and instances."""

    problem: str
    optimizer: str
    device: str
    problem_id: str
    states: dict[str, int]
    gap: Spread | None  # final - optimum, when the optimum is known
    value: Spread | None  # final value
    successes: int
    with_result: int
    seconds: Spread | None
    evaluations: Spread | None
    test_metric: Spread | None
    target: float | None
    optimal_value: float | None
    reasons: tuple[str, ...] = field(default=())
    ert_evaluations: float | None = None  # COCO's expected running time to the target; inf: never reached
    ert_seconds: float | None = None
    blind_search_evaluations: float | None = None

    @property
    def score(self) -> Spread | None:
        """What ranks cells of one problem: the gap when known, else the final value."""
        return self.gap if self.gap is not None else self.value

    @property
    def ranking_key(self) -> float:
        score = self.score
        if score is None or math.isnan(score.median):
            return math.inf
        return score.median


def expected_running_time(costs: Sequence[float], hits: Sequence[float | None]) -> float | None:
    """COCO's ERT: the cost of all runs (to the first hit, or all they spent) over the number of hits.

    Args:
        costs: what each run spent in total.
        hits: what each run had spent when it first reached the target, ``None`` if it never did.

    Returns:
        The ERT, ``inf`` when no run reached the target, ``None`` without runs.
    """
    if not costs:
        return None
    successes = sum(h is not None for h in hits)
    if not successes:
        return math.inf
    return sum(c if h is None else h for c, h in zip(costs, hits, strict=True)) / successes


def _first_line(reason: str | None) -> str:
    if not reason:
        return ""
    lines = [ln.strip() for ln in reason.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def summarize(results: Iterable[TrialResult]) -> list[Cell]:
    """Group results by (problem, optimizer, device) in first-seen order and summarize each."""
    groups: dict[tuple[str, str, str], list[TrialResult]] = defaultdict(list)
    for r in results:
        groups[(r.spec.problem_label, r.spec.optimizer_label, r.spec.device)].append(r)
    cells = []
    for (problem, optimizer, device), trials in groups.items():
        useful = [r for r in trials if r.state.has_result and r.final_value is not None]
        gaps = [g for r in useful if (g := r.gap) is not None]
        reasons = sorted({_first_line(r.reason) for r in trials if r.state is not TrialState.COMPLETE} - {""})
        first = trials[0]
        cells.append(
            Cell(
                problem=problem,
                optimizer=optimizer,
                device=device,
                problem_id=first.problem_id,
                states=dict(Counter(str(r.state) for r in trials)),
                gap=Spread.of(gaps) if len(gaps) == len(useful) else None,
                value=Spread.of([float(r.final_value) for r in useful if r.final_value is not None]),
                successes=sum(r.success for r in useful),
                with_result=len(useful),
                seconds=Spread.of([r.seconds for r in useful]),
                evaluations=Spread.of([r.evaluations for r in useful]),
                test_metric=Spread.of([r.test_metric for r in useful if r.test_metric is not None]),
                target=first.target,
                optimal_value=first.optimal_value,
                reasons=tuple(reasons),
                ert_evaluations=expected_running_time([r.evaluations for r in useful],
                                                      [r.hit_evaluations for r in useful])
                if first.optimal_value is not None else None,
                ert_seconds=expected_running_time([r.seconds for r in useful], [r.hit_seconds for r in useful])
                if first.optimal_value is not None else None,
                blind_search_evaluations=first.blind_search_evaluations,
            )
        )
    return cells


def best_per_problem(cells: Sequence[Cell]) -> dict[tuple[str, str], Cell]:
    """The best cell per (problem, device) by median gap (or value); cells without results never win."""
    best: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        if cell.score is None or not math.isfinite(cell.ranking_key):
            continue
        key = (cell.problem, cell.device)
        if key not in best or cell.ranking_key < best[key].ranking_key:
            best[key] = cell
    return best


def speedups(cells: Sequence[Cell], *, reference: str = "cpu") -> dict[tuple[str, str, str], float]:
    """Median-time speedup of each device over ``reference`` for the same problem and optimizer."""
    ref = {
        (c.problem, c.optimizer): c.seconds.median
        for c in cells
        if c.device == reference and c.seconds is not None
    }
    out: dict[tuple[str, str, str], float] = {}
    for c in cells:
        base = ref.get((c.problem, c.optimizer))
        if c.device != reference and c.seconds is not None and base and c.seconds.median > 0:
            out[(c.problem, c.optimizer, c.device)] = base / c.seconds.median
    return out
