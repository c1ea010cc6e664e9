"""The series the dashboard's plots draw, read from one :class:`~optbench.analysis.Comparison`.

Nothing here is a statistic of its own: the ECDFs, the Dolan–Moré and the Moré–Wild profiles and the
per-seed scores are the analysis's arrays as they are; the convergence bands are the median and
quartiles over seeds of the best-so-far gap on a log grid, drawn as the HTML report draws them
(:func:`optbench.report.plots.convergence_figure`). Non-finite numbers become ``None`` (JSON ``null``),
which Plotly leaves out of a curve.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.analysis.profiles import Runs
from optbench.report.morewild import profiles_json

if TYPE_CHECKING:
    from optbench.analysis.comparison import Comparison

GRID_POINTS = 120  # points of a convergence curve on each axis


def _list(values: Any) -> list[float | None]:
    return [float(v) if math.isfinite(float(v)) else None for v in np.asarray(values, dtype=float).ravel()]


def _label(optimizer: str, device: str, several: bool) -> str:
    return f"{optimizer}@{device}" if several else optimizer


def _best_so_far(runs: Runs, axis: str, grid: np.ndarray) -> np.ndarray:
    """Best-so-far gap of every run on ``grid`` (rows: runs); NaN before a run's first point."""
    out = np.full((len(runs.results), grid.size), math.nan)
    for i, r in enumerate(runs.results):
        xs = np.array([p.evaluations if axis == "evaluations" else p.seconds for p in r.trace])
        ys = np.array([p.best - runs.reference for p in r.trace])
        index = np.searchsorted(xs, grid, side="right") - 1
        out[i] = np.where(index >= 0, ys[np.clip(index, 0, None)], math.nan)
    return out


def convergence(groups: Sequence[Runs], *, several: bool) -> dict[str, Any]:
    """Median best-so-far gap with its IQR band per optimizer, against evaluations and against seconds."""
    out: dict[str, Any] = {}
    for axis in ("evaluations", "seconds"):
        xs = [p.evaluations if axis == "evaluations" else p.seconds for g in groups for r in g.results for p in r.trace]
        positive = [x for x in xs if x > 0]
        curves = []
        if positive:
            grid = np.logspace(math.log10(min(positive)), math.log10(max(positive)), GRID_POINTS)
            for g in groups:
                ends = [r.trace[-1].evaluations if axis == "evaluations" else r.trace[-1].seconds for r in g.results]
                end = max(ends)
                gx = np.append(grid[grid < end], end) if end > 0 else grid
                values = _best_so_far(g, axis, gx)
                with warnings.catch_warnings():  # columns before any run's first point are all NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    q1, med, q3 = np.nanquantile(np.where(np.isfinite(values), values, np.nan), [0.25, 0.5, 0.75],
                                                 axis=0)
                curves.append({"name": _label(g.optimizer, g.device, several), "x": _list(gx), "median": _list(med),
                               "q1": _list(q1), "q3": _list(q3), "runs": len(g.results)})
        out[axis] = curves
    return out


def seed_boxes(analysis: Comparison, problem: str) -> list[dict[str, Any]]:
    """Each cell's final score per seed (the analysis's samples, in seed order)."""
    several = analysis.show_device
    return [{"name": _label(c.optimizer, c.device, several), "values": _list(c.samples), "seeds": list(c.seeds),
             "instances": list(c.instances), "score": "gap" if c.gap is not None else "value"}
            for c in analysis.by_problem[problem] if c.samples]


def _steps(grid: np.ndarray, curves: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"x": _list(grid), "curves": {name: _list(curve) for name, curve in curves.items()}}


def plots(analysis: Comparison) -> dict[str, Any]:
    """Every plot of a run: per problem (convergence, seed boxes), then across problems."""
    several = analysis.show_device
    per_problem: dict[str, Any] = {}
    for problem in analysis.by_problem:
        groups = [g for g in analysis.runs if g.problem == problem]
        per_problem[problem] = {"convergence": convergence(groups, several=several) if groups else None,
                                "seeds": seed_boxes(analysis, problem),
                                "target": next((c.target for c in analysis.by_problem[problem]
                                                if c.target and c.optimal_value is not None), None)}
    by_evals, by_seconds = analysis.ecdfs
    perf_evals, perf_seconds = analysis.performance
    return {
        "problems": per_problem,
        "ecdf": {"evaluations": _steps(by_evals.grid, by_evals.curves),
                 "seconds": _steps(by_seconds.grid, by_seconds.curves)},
        "performance": {"evaluations": {**_steps(perf_evals.taus, perf_evals.curves), "problems": perf_evals.problems},
                        "seconds": {**_steps(perf_seconds.taus, perf_seconds.curves),
                                    "problems": perf_seconds.problems}},
        "more_wild": profiles_json(analysis.more_wild),
    }
