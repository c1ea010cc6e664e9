"""Figures for the report, drawn with matplotlib's Agg backend and returned as PNG bytes."""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from optbench.profiles import Ecdf, PerformanceProfile, Runs
from optbench.stats import Cell

DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def _y_scale(ax: Any, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0:
        ax.set_yscale("log")
    elif finite.size and (finite > 0).any():
        ax.set_yscale("symlog", linthresh=float(finite[finite > 0].min()))


def _best_so_far(runs: Runs, axis: str, grid: np.ndarray) -> np.ndarray:
    """Best-so-far gap of every run on ``grid`` (rows: runs); NaN before a run's first point."""
    out = np.full((len(runs.results), grid.size), math.nan)
    for i, r in enumerate(runs.results):
        xs = np.array([p.evaluations if axis == "evaluations" else p.seconds for p in r.trace])
        ys = np.array([p.best - runs.reference for p in r.trace])
        index = np.searchsorted(xs, grid, side="right") - 1
        out[i] = np.where(index >= 0, ys[np.clip(index, 0, None)], math.nan)
    return out


def _legend_below(fig: Any, ax: Any) -> None:
    """One legend under both panels, so it never hides a curve."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 5),
               fontsize=8, frameon=False)


def convergence(groups: Sequence[Runs], title: str) -> bytes:
    """Median best-so-far gap with its IQR band over seeds, against evaluations and against seconds."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, axis in zip(axes, ("evaluations", "seconds"), strict=True):
        xs = [p.evaluations if axis == "evaluations" else p.seconds for g in groups for r in g.results for p in r.trace]
        positive = [x for x in xs if x > 0]
        if not positive:
            continue
        grid = np.logspace(math.log10(min(positive)), math.log10(max(positive)), 200)
        drawn = []
        first = groups[0].results[0]
        # gaps far below the success target (a closed form at 1e-18) would squash every other curve
        floor = first.target * 1e-2 if first.optimal_value is not None and first.target else None
        for g in groups:
            curves = _best_so_far(g, axis, grid)
            if floor is not None:
                curves = np.where(curves < floor, floor, curves)
            with warnings.catch_warnings():  # all-NaN columns (before any run's first point) are expected
                warnings.simplefilter("ignore", RuntimeWarning)
                q1, med, q3 = np.nanquantile(np.where(np.isfinite(curves), curves, np.nan), [0.25, 0.5, 0.75], axis=0)
            (line,) = ax.plot(grid, med, label=g.optimizer, linewidth=1.6)
            ax.fill_between(grid, q1, q3, color=line.get_color(), alpha=0.18, linewidth=0)
            drawn.append(med)
        ax.set_xscale("log")
        if drawn:
            _y_scale(ax, np.concatenate(drawn))
        ax.set_xlabel("evaluations" if axis == "evaluations" else "seconds")
        ax.set_ylabel("best-so-far gap (median, IQR band)")
        if floor is not None:
            ax.axhline(floor * 100, color="0.4", linestyle=":", linewidth=1)
            ax.set_title(f"dotted: success target; gaps below {floor:.0e} drawn at it", fontsize=8)
        ax.grid(True, which="major", alpha=0.3)
    _legend_below(fig, axes[0])
    fig.suptitle(title, fontsize=11)
    return _png(fig)


def seed_spread(cells: Sequence[Cell], title: str) -> bytes:
    """Final score per seed: a box per optimizer with every seed as a dot."""
    plt = _pyplot()
    shown = [c for c in cells if c.samples]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(shown) + 2), 3.8))
    data = [np.where(np.isfinite(np.asarray(c.samples)), c.samples, np.nan) for c in shown]
    ax.boxplot([d[np.isfinite(d)] for d in data], widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, d in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=14, alpha=0.75, zorder=3)
    ax.set_xticks(range(1, len(shown) + 1), [c.optimizer for c in shown], rotation=20, ha="right", fontsize=8)
    if data:
        _y_scale(ax, np.concatenate(data))
    ax.set_ylabel("final gap" if shown and shown[0].gap is not None else "final value")
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    return _png(fig)


def ecdfs(by_evals: Ecdf, by_seconds: Ecdf) -> bytes:
    """Runtime ECDFs over all (problem, target) pairs, against evaluations and seconds."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, ecdf in zip(axes, (by_evals, by_seconds), strict=True):
        for label, curve in ecdf.curves.items():
            ax.step(ecdf.grid, curve, where="post", label=label, linewidth=1.6)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(ecdf.axis)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("share of (problem, target) pairs hit")
    _legend_below(fig, axes[0])
    fig.suptitle("Runtime ECDFs (data profiles), problems weighted equally", fontsize=11)
    return _png(fig)


def performance_profile(by_evals: PerformanceProfile, by_seconds: PerformanceProfile) -> bytes:
    """Dolan–Moré profiles of the expected running time to each problem's target."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, profile in zip(axes, (by_evals, by_seconds), strict=True):
        for label, curve in profile.curves.items():
            ax.step(profile.taus, curve, where="post", label=label, linewidth=1.6)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"τ: ERT ({profile.axis}) / best ERT on the problem")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"share of problems (of {by_evals.problems} solved by some optimizer)")
    _legend_below(fig, axes[0])
    fig.suptitle("Performance profiles (Dolan–Moré) over time to target", fontsize=11)
    return _png(fig)
