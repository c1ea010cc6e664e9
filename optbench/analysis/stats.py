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

BOOTSTRAP_RESAMPLES = 2000
OUTLIER_IQRS = 3.0  # Tukey's "far out": beyond Q1 - 3 IQR or Q3 + 3 IQR


def bootstrap_mean_ci(values: Sequence[float], *, level: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap confidence interval of the mean; ``None`` with fewer than 3 finite values.

    Deterministic (a fixed resampling seed), so a report regenerated from the store is identical.
    """
    arr = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if arr.size < 3:
        return None
    if np.ptp(arr) == 0:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(BOOTSTRAP_RESAMPLES, arr.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


@dataclass(frozen=True)
class Spread:
    """Order statistics, mean and bootstrap CI of a sample, with how many values were not finite."""

    median: float
    q1: float
    q3: float
    n: int
    nonfinite: int = 0
    minimum: float = math.nan
    maximum: float = math.nan
    mean: float = math.nan  # of the finite values
    ci: tuple[float, float] | None = None  # 95% bootstrap CI of the mean

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        arr = np.asarray(values, dtype=np.float64)
        # NaN ranks worst: treat it as +inf for order statistics, count it separately
        finite = arr[np.isfinite(arr)]
        ordered = np.where(np.isnan(arr), np.inf, arr)
        q1, med, q3 = np.quantile(ordered, [0.25, 0.5, 0.75], method="linear")
        return cls(float(med), float(q1), float(q3), len(arr), int(arr.size - finite.size),
                   float(ordered.min()), float(ordered.max()),
                   float(finite.mean()) if finite.size else math.nan, bootstrap_mean_ci(finite.tolist()))

    def outliers(self, values: Sequence[float]) -> list[int]:
        """Indices of values far outside the IQR (beyond 3 IQR from the quartiles), non-finite included."""
        width = self.q3 - self.q1
        if not math.isfinite(width):
            return [i for i, v in enumerate(values) if not math.isfinite(v)]
        low, high = self.q1 - OUTLIER_IQRS * width, self.q3 + OUTLIER_IQRS * width
        return [i for i, v in enumerate(values) if not (low <= v <= high)]


@dataclass(frozen=True)
class Cell:
    """Summary of one optimizer on one problem on one device, over seeds and instances.

    ``device`` is the trial's :attr:`~optbench.api.TrialSpec.lane`: the device, with a chosen precision
    beside it (``cuda float32``), so float32 and float64 trials of one problem are two cells.
    """

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
    samples: tuple[float, ...] = ()  # the score of each trial with a result, in seed order
    seeds: tuple[int, ...] = ()  # their seeds (paired with ``samples``)
    instances: tuple[int, ...] = ()
    below_optimum: int = 0  # trials whose final value is below the declared optimum: optimal_value is wrong
    dtype: str = ""  # the chosen precision (TrialSpec.dtype); empty: the problem's own
    # (instance, its optimum) of every instance pooled in the cell, in instance order; each trial's gap is
    # taken against its own instance's optimum, so a header naming one instance's optimum would mislead
    instance_optima: tuple[tuple[int, float | None], ...] = ()

    @property
    def shared_optimum(self) -> float | None:
        """The optimum every pooled instance shares; ``None`` where it is unknown or differs by instance."""
        optima = {v for _, v in self.instance_optima} or {self.optimal_value}
        return optima.pop() if len(optima) == 1 else None

    @property
    def pooled_id(self) -> str:
        """:attr:`problem_id`, without its instance where several instances are pooled."""
        if len(self.instance_optima) <= 1:
            return self.problem_id
        head, _, tail = self.problem_id.rpartition("_i")
        return head if head and tail.isdigit() else self.problem_id

    @property
    def bare_device(self) -> str:
        """The device alone, without the chosen precision that :attr:`device` shows beside it."""
        return self.device.removesuffix(f" {self.dtype}") if self.dtype else self.device

    @property
    def outlier_seeds(self) -> list[int]:
        """Seeds whose score is far outside the interquartile range."""
        score = self.score
        if score is None or score.n < 4:
            return []
        return [self.seeds[i] for i in score.outliers(self.samples)]

    @property
    def score(self) -> Spread | None:
        """What ranks cells of one problem: the gap when known, else the final value."""
        return self.gap if self.gap is not None else self.value

    @property
    def order_key(self) -> tuple[float, float, float]:
        """Median score, then success rate (higher first), then mean: equal medians still order."""
        score = self.score
        mean = score.mean if score is not None and math.isfinite(score.mean) else math.inf
        rate = self.successes / self.with_result if self.with_result else 0.0
        return self.ranking_key, -rate, mean

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
        groups[(r.spec.problem_label, r.spec.optimizer_label, r.spec.lane)].append(r)
    cells = []
    for (problem, optimizer, device), trials in groups.items():
        useful = sorted((r for r in trials if r.state.has_result and r.final_value is not None),
                        key=lambda r: (r.spec.instance, r.spec.seed))
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
                # a run that ends below the declared optimum reached no real target: no hit
                ert_evaluations=expected_running_time(
                    [r.evaluations for r in useful],
                    [None if r.below_optimum else r.hit_evaluations for r in useful])
                if first.optimal_value is not None else None,
                ert_seconds=expected_running_time(
                    [r.seconds for r in useful], [None if r.below_optimum else r.hit_seconds for r in useful])
                if first.optimal_value is not None else None,
                blind_search_evaluations=first.blind_search_evaluations,
                samples=tuple(gaps if len(gaps) == len(useful) else [float(r.final_value) for r in useful]),
                seeds=tuple(r.spec.seed for r in useful),
                instances=tuple(r.spec.instance for r in useful),
                below_optimum=sum(r.below_optimum for r in useful),
                dtype=first.spec.dtype,
                instance_optima=tuple(sorted({r.spec.instance: r.optimal_value for r in trials}.items())),
            )
        )
    return cells


def notes(cells: Sequence[Cell], *, show_device: bool = False) -> list[str]:
    """What a reader must know about one problem's cells besides the numbers, one line each.

    The terminal table, the Markdown summary and the HTML report print the same lines: the
    optimizers without results (and why), outlier seeds, and a declared optimum that results beat.
    """
    lines = []
    wrong = wrong_optimum_note(cells, show_device=show_device)
    if wrong:
        lines.append(wrong)
    flagged = [(c, c.outlier_seeds) for c in cells if c.outlier_seeds]
    if flagged:
        lines.append("outlier seeds (beyond 3 IQR): " + "; ".join(
            f"{_label(c, show_device)} seed {', '.join(map(str, seeds))}" for c, seeds in flagged))
    for state, reason, names in without_result(cells, show_device=show_device):
        lines.append(f"{state}: {', '.join(names)}" + (f" ({reason})" if reason else ""))
    return lines


def wrong_optimum_note(cells: Sequence[Cell], *, show_device: bool = False) -> str | None:
    """The line saying that results beat one problem's declared optimum, or ``None`` when none did."""
    wrong = [c for c in cells if c.below_optimum]
    if not wrong:
        return None
    lowest = min((c.gap.minimum for c in wrong if c.gap is not None), default=math.nan)
    which = "; ".join(f"{_label(c, show_device)} in {c.below_optimum} of {c.with_result}" for c in wrong)
    return (f"final value below the declared optimum {wrong[0].optimal_value:.6g} by up to {-lowest:.3g} "
            f"({which}): optimal_value is wrong; those trials are not successes")


def _label(cell: Cell, show_device: bool) -> str:
    return f"{cell.optimizer}@{cell.device}" if show_device else cell.optimizer


def _without_name(reason: str, optimizer: str) -> str:
    name = optimizer.split("(", 1)[0]
    return reason[len(name) + 1 :] if reason.startswith(name + " ") else reason


def without_result(cells: Sequence[Cell], *, show_device: bool) -> list[tuple[str, str, list[str]]]:
    """Optimizers with no result on a problem as (state, reason, optimizers), one entry per state and reason.

    The optimizer's own name is cut from the front of the reason, so that one reason shared by
    several optimizers ("does not run on bits") is written once.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for cell in cells:
        if cell.with_result:
            continue
        state = max(cell.states, key=lambda s: cell.states[s])
        reason = _without_name(cell.reasons[0], cell.optimizer) if cell.reasons else ""
        groups.setdefault((state, reason), []).append(_label(cell, show_device))
    return [(state, reason, list(dict.fromkeys(names))) for (state, reason), names in groups.items()]


def table_order(cells: Sequence[Cell]) -> list[Cell]:
    """The cells with results in the order a problem's table lists them: best first.

    An optimizer's rows stay together (one per device), optimizers ordered by their best row.
    """
    shown = [c for c in cells if c.with_result]
    best_of: dict[str, tuple[float, float, float]] = {}
    for c in shown:
        best_of[c.optimizer] = min(best_of.get(c.optimizer, (math.inf, 0.0, math.inf)), c.order_key)
    devices = list(dict.fromkeys(c.device for c in cells))
    return sorted(shown, key=lambda c: (best_of[c.optimizer], c.optimizer, devices.index(c.device)))


def best_per_problem(cells: Sequence[Cell]) -> dict[tuple[str, str], Cell]:
    """The best cell per (problem, device) by median gap (or value); cells without results never win."""
    best: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        if cell.score is None or not math.isfinite(cell.ranking_key):
            continue
        key = (cell.problem, cell.device)
        if key not in best or cell.order_key < best[key].order_key:
            best[key] = cell
    return best


def speedups(cells: Sequence[Cell], *, reference: str = "cpu") -> dict[tuple[str, str, str], float]:
    """Median-time speedup of each device over ``reference`` for the same problem and optimizer.

    A cell is measured against the ``reference`` device in its own precision when there is such a cell
    (``cuda float32`` against ``cpu float32``), else against the reference in the problem's own precision
    (``cpu float32`` against ``cpu``: what the precision alone gains).
    """
    ref = {
        (c.problem, c.optimizer, c.dtype): c.seconds.median
        for c in cells
        if c.bare_device == reference and c.seconds is not None
    }
    out: dict[tuple[str, str, str], float] = {}
    for c in cells:
        if c.device == reference or c.seconds is None or not c.seconds.median > 0:
            continue
        same = None if c.bare_device == reference else ref.get((c.problem, c.optimizer, c.dtype))
        base = same or ref.get((c.problem, c.optimizer, ""))
        if base:
            out[(c.problem, c.optimizer, c.device)] = base / c.seconds.median
    return out
