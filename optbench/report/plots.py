"""Figures for the report, drawn with matplotlib's Agg backend and returned as PNG bytes.

Every optimizer keeps one color and one line style in all the figures of a report (see
:func:`styles`), so a curve can be followed from the overview to each problem, and curves that
coincide (two optimizers solving the same problems equally fast) stay distinguishable.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from optbench.analysis.profiles import Ecdf, PerformanceProfile, Runs
from optbench.analysis.stats import Cell

DPI = 110
# matplotlib's tab10: ten colors that stay apart; the line style changes too, so that an
# optimizer is still told apart where curves coincide or colors repeat (more than ten)
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf")
LINESTYLES = ("-", "--", "-.", ":")
TARGET_STYLE = {"color": "0.35", "linestyle": (0, (1, 2)), "linewidth": 1.1}

Styles = Mapping[str, Mapping[str, Any]]


def styles(labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A color and a line style per label, in order; no two of the first 40 labels share both."""
    out: dict[str, dict[str, Any]] = {}
    for i, label in enumerate(dict.fromkeys(labels)):
        out[label] = {"color": COLORS[i % len(COLORS)],
                      "linestyle": LINESTYLES[(i + i // len(COLORS)) % len(LINESTYLES)]}
    return out


def line_style(given: Styles | None, label: str, fallback: Sequence[str]) -> dict[str, Any]:
    """``label``'s color and line style: from ``given`` (the report's :func:`styles`), else by its place in
    ``fallback``."""
    if given and label in given:
        return dict(given[label])
    return styles([*(given or {}), *fallback]).get(label, {"color": COLORS[0], "linestyle": "-"})


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: matplotlib stays out of ``--help``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any) -> bytes:
    """The PNG bytes of ``fig`` (tight bounding box, :data:`DPI`); the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()


def _compact_log_labels() -> Any:
    """Log-axis tick labels as plain numbers between 0.001 and 10⁴ (``0.02``, ``30``), powers of ten beyond.

    matplotlib's default writes ``2×10⁻²`` at the minor ticks 2, 3, 4 and 6 of an axis spanning
    about a decade, and those labels overlap; these are shorter, at 2 and 5 only.
    """
    from matplotlib.ticker import LogFormatterSciNotation

    class Compact(LogFormatterSciNotation):
        def set_locs(self, locs: Any = None) -> None:
            super().set_locs(locs)
            # about a decade on the axis: matplotlib labels 2, 3, 4 and 6 (where 3 and 4 touch); 2 and 5 suffice
            if self._sublabels is not None and 1 < len(self._sublabels) < 10:
                self._sublabels = {1.0, 2.0, 5.0, 10.0}

        def __call__(self, x: float, pos: int | None = None) -> str:
            label = super().__call__(x, pos)
            if label and x != 0 and 1e-3 <= abs(x) < 1e4:
                return f"{x:g}"
            return label

    return Compact(labelOnlyBase=False)


def tidy_log_axes(ax: Any) -> None:
    """Short tick labels on the log and symlog axes of ``ax`` (see :func:`_compact_log_labels`)."""
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() in ("log", "symlog"):
            axis.set_major_formatter(_compact_log_labels())
            if axis.get_scale() == "log":
                axis.set_minor_formatter(_compact_log_labels())


def _y_scale(ax: Any, values: np.ndarray) -> str:
    """Log where positive values span a decade or more, symlog where zeros come with many decades, else linear.

    A gap of exactly zero (a solved discrete problem) cannot go on a log axis; with few decades of
    positive gaps a linear axis labels them all, where symlog would label only 0 and 1.
    """
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    scale = "linear"
    if positive.size:
        spread = float(positive.max() / positive.min())
        if positive.size == finite.size:
            scale = "log" if spread >= 10 else "linear"
        elif spread >= 1e3:
            scale = "symlog"
    if scale == "symlog":
        ax.set_yscale("symlog", linthresh=float(positive.min()))
    elif scale == "log":
        ax.set_yscale("log")
    elif finite.size and finite.min() == 0:  # zero gaps: no empty negative half; all zero still shows a scale
        top = float(finite.max()) or 1.0
        ax.set_ylim(-0.05 * top, max(ax.get_ylim()[1], top * 1.05))
    return scale


def _best_so_far(runs: Runs, axis: str, grid: np.ndarray) -> np.ndarray:
    """Best-so-far gap of every run on ``grid`` (rows: runs); NaN before a run's first point."""
    out = np.full((len(runs.results), grid.size), math.nan)
    for i, r in enumerate(runs.results):
        if not r.trace:
            continue
        xs = np.array([p.evaluations if axis == "evaluations" else p.seconds for p in r.trace])
        ys = np.array([p.best - runs.reference for p in r.trace])
        index = np.searchsorted(xs, grid, side="right") - 1
        out[i] = np.where(index >= 0, ys[np.clip(index, 0, None)], math.nan)
    return out


def _run_end(runs: Runs, axis: str) -> float:
    """Where the longest run of the group ended on ``axis``."""
    ends = [r.trace[-1].evaluations if axis == "evaluations" else r.trace[-1].seconds
            for r in runs.results if r.trace]
    return float(max(ends)) if ends else math.nan


def legend_below(fig: Any, ax: Any) -> None:
    """One legend under both panels, so it never hides a curve; rows of at most five, balanced."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    rows = math.ceil(len(labels) / 5)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=math.ceil(len(labels) / rows),
               fontsize=8.5, frameon=False, handlelength=3.2)


def group_label(runs: Runs, several_devices: bool) -> str:
    return f"{runs.optimizer}@{runs.device}" if several_devices else runs.optimizer


def convergence(groups: Sequence[Runs], title: str, style: Styles | None = None) -> bytes:
    """The PNG of :func:`convergence_figure`."""
    return png(convergence_figure(groups, title, style))


def convergence_figure(groups: Sequence[Runs], title: str, style: Styles | None = None) -> Any:
    """Median best-so-far gap with its IQR band over seeds, against evaluations and against seconds.

    A curve ends (●) where the last run of its optimizer ended. Gaps far below the success target
    are drawn at target/100; the target is drawn where it is near the curves and named otherwise.
    """
    plt = pyplot()
    several_devices = len({g.device for g in groups}) > 1
    labels = [group_label(g, several_devices) for g in groups]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    first = groups[0].results[0]
    target = first.target if first.optimal_value is not None and first.target else None
    # gaps far below the success target (a closed form at 1e-18, or -1e-18 from rounding) would squash the rest
    floor = target * 1e-2 if target else None
    drawn: list[np.ndarray] = []
    floored = False
    for ax, axis in zip(axes, ("evaluations", "seconds"), strict=True):
        xs = [p.evaluations if axis == "evaluations" else p.seconds for g in groups for r in g.results for p in r.trace]
        positive = [x for x in xs if x > 0]
        ax.set_xlabel(axis)
        ax.grid(True, which="major", alpha=0.3)
        if not positive:
            ax.text(0.5, 0.5, f"no {axis} recorded", ha="center", va="center", transform=ax.transAxes, color="0.4")
            continue
        grid = np.logspace(math.log10(min(positive)), math.log10(max(positive)), 200)
        for g, label in zip(groups, labels, strict=True):
            end = _run_end(g, axis)
            # the curve stops where the runs stopped: lstsq's one evaluation is a point, not a line to the end
            gx = np.append(grid[grid < end], end) if math.isfinite(end) and end > 0 else grid
            curves = _best_so_far(g, axis, gx)
            if floor is not None:
                floored |= bool((curves < floor).any())
                curves = np.where(curves < floor, floor, curves)
            with warnings.catch_warnings():  # all-NaN columns (before any run's first point) are expected
                warnings.simplefilter("ignore", RuntimeWarning)
                q1, med, q3 = np.nanquantile(np.where(np.isfinite(curves), curves, np.nan), [0.25, 0.5, 0.75], axis=0)
            look = line_style(style, label, labels)
            ax.plot(gx, med, label=label, linewidth=1.6, **look)
            ax.fill_between(gx, q1, q3, color=look["color"], alpha=0.15, linewidth=0)
            shown = np.flatnonzero(np.isfinite(med))
            if shown.size:
                ax.plot(gx[shown[-1]], med[shown[-1]], marker="o", markersize=4.5, color=look["color"], linestyle="")
            drawn += [q1, med, q3]
        ax.set_xscale("log")
    values = np.concatenate(drawn) if drawn else np.array([])
    notes = []
    if target is not None:
        lowest = values[np.isfinite(values)].min() if np.isfinite(values).any() else math.inf
        if lowest <= target * 100:  # near the curves: a line; otherwise it would squash them into a sliver
            for ax in axes:
                ax.axhline(target, **TARGET_STYLE, label=f"success target (gap ≤ {target:.0e})")
        else:
            notes.append(f"success target gap ≤ {target:.0e}: far below every curve, not drawn")
        if floored:
            notes.append(f"gaps below {floor:.0e} drawn at {floor:.0e}")
    _y_scale(axes[0], values)
    for ax in axes:
        tidy_log_axes(ax)
    axes[0].set_ylabel("best-so-far gap (median, IQR band)")
    notes.append("● where the runs ended")
    axes[0].set_title("  ·  ".join(notes), fontsize=8, color="0.3", loc="left")
    legend_below(fig, axes[0])
    fig.suptitle(title, fontsize=11)
    return fig


def seed_spread(cells: Sequence[Cell], title: str, style: Styles | None = None) -> bytes:
    """The PNG of :func:`seed_spread_figure`."""
    return png(seed_spread_figure(cells, title, style))


def seed_spread_figure(cells: Sequence[Cell], title: str, style: Styles | None = None) -> Any:
    """Final score per seed: a box per optimizer with every seed as a dot in the optimizer's color."""
    plt = pyplot()
    shown = [c for c in cells if c.samples]
    several_devices = len({c.device for c in cells}) > 1
    labels = [f"{c.optimizer}@{c.device}" if several_devices else c.optimizer for c in shown]
    uses_gap = bool(shown) and shown[0].gap is not None
    first = shown[0] if shown else None
    floor = (first.target * 1e-2 if uses_gap and first is not None and first.optimal_value is not None
             and first.target else None)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(shown) + 2), 3.8))
    data = [np.where(np.isfinite(np.asarray(c.samples, dtype=float)), c.samples, np.nan) for c in shown]
    if floor is not None:  # as in the convergence plot: a closed form's 1e-18 would squash every other box
        data = [np.where(d < floor, floor, d) for d in data]
    ax.boxplot([d[np.isfinite(d)] for d in data], widths=0.5, showfliers=False,
               medianprops={"color": "black", "linewidth": 1.4})
    rng = np.random.default_rng(0)
    for i, (d, label) in enumerate(zip(data, labels, strict=True), start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=16, alpha=0.8, zorder=3,
                   color=line_style(style, label, labels)["color"])
    ax.set_xticks(range(1, len(shown) + 1), labels, rotation=20, ha="right", fontsize=8)
    if data:
        _y_scale(ax, np.concatenate(data))
    tidy_log_axes(ax)
    ax.set_ylabel("final gap" if uses_gap else "final value")
    note = f"\ngaps below {floor:.0e} drawn at {floor:.0e}" if floor is not None and any(
        (np.asarray(c.samples, dtype=float) < floor).any() for c in shown) else ""
    ax.set_title(title + note, fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def ecdfs(by_evals: Ecdf, by_seconds: Ecdf, style: Styles | None = None) -> bytes:
    """Runtime ECDFs over all (problem, target) pairs, against evaluations and seconds."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, ecdf in zip(axes, (by_evals, by_seconds), strict=True):
        labels = list(ecdf.curves)
        for label, curve in ecdf.curves.items():
            ax.step(ecdf.grid, curve, where="post", label=label, linewidth=1.6, **line_style(style, label, labels))
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(ecdf.axis)
        ax.grid(True, alpha=0.3)
        tidy_log_axes(ax)
    axes[0].set_ylabel("share of (problem, target) pairs hit")
    legend_below(fig, axes[0])
    fig.suptitle("Runtime ECDFs (data profiles), problems weighted equally", fontsize=11)
    return png(fig)


def performance_profile(by_evals: PerformanceProfile, by_seconds: PerformanceProfile,
                        style: Styles | None = None) -> bytes:
    """Dolan–Moré profiles of the expected running time to each problem's target."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, profile in zip(axes, (by_evals, by_seconds), strict=True):
        labels = list(profile.curves)
        for label, curve in profile.curves.items():
            ax.step(profile.taus, curve, where="post", label=label, linewidth=1.6, **line_style(style, label, labels))
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"τ: ERT ({profile.axis}) / best ERT on the problem")
        ax.grid(True, alpha=0.3)
        tidy_log_axes(ax)
    axes[0].set_ylabel(f"share of problems\n(of {by_evals.problems} solved by some optimizer)")
    legend_below(fig, axes[0])
    fig.suptitle("Performance profiles (Dolan–Moré) over time to target", fontsize=11)
    return png(fig)
