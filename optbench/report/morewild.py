"""Moré & Wild (2009) data and performance profiles in every output: terminal, JSON, CSV, Markdown, HTML.

The computation lives in :mod:`optbench.analysis.profiles` and is done once by
:func:`optbench.analysis.analyze` (``Comparison.more_wild``, ``Comparison.cell_solved``); this module only
renders it. Each output states the convergence test, so a reader knows what "solved" means at each tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from optbench.analysis.profiles import MORE_WILD_TAUS, MoreWildProfiles

TEST = ("a run solves a problem at tolerance τ once f ≤ f_L + τ·(f0 − f_L): f_L the known optimum (else the "
        "best value reached), f0 the median first value of all runs on the problem")


def tau_label(tau: float) -> str:
    return f"{tau:.0e}".replace("e-0", "e-").replace("e+0", "e")


def summary_rows(profiles: Sequence[MoreWildProfiles]) -> tuple[list[str], list[list[str]]]:
    """Optimizers as rows, one column per tolerance: ``solved runs (fastest on problems)``."""
    names = list(dict.fromkeys(n for p in profiles for n in p.data))
    head = ["optimizer", *(f"τ={tau_label(p.tau)}" for p in profiles)]
    rows = []
    for n in names:
        row = [n]
        for p in profiles:
            solved = p.solved_runs.get(n, 0.0)
            fastest = float(p.performance[n][0]) if n in p.performance and p.performance[n].size else 0.0
            row.append(f"{solved:.0%} ({fastest:.0%})")
        rows.append(row)
    return head, rows


LEGEND = ("share of runs that solved (problems weighted equally; the data profile's limit) and, in brackets, "
          "share of problems where the optimizer was fastest (the performance profile at 1). ")


def terminal_table(profiles: Sequence[MoreWildProfiles]) -> Any:
    """A rich group: the table of solved shares per tolerance and its legend; ``None`` without traces."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not profiles or not profiles[0].problems:
        return None
    head, rows = summary_rows(profiles)
    table = Table(title=f"Moré–Wild profiles over {profiles[0].problems} problem(s)", title_justify="left",
                  title_style="bold")
    for column in head:
        table.add_column(column, justify="left" if column == "optimizer" else "right", no_wrap=column != "optimizer")
    for row in rows:
        table.add_row(*row)
    return Group(Text(""), table, Text(LEGEND + TEST[0].upper() + TEST[1:] + ".", style="dim"))


def _curve(values: np.ndarray) -> list[float]:
    return [round(float(v), 12) for v in values]


def profiles_json(profiles: Sequence[MoreWildProfiles]) -> dict[str, Any]:
    """Every profile as step functions (right-continuous: the value holds from its alpha on)."""
    out: dict[str, Any] = {"test": TEST, "taus": [p.tau for p in profiles], "profiles": []}
    for p in profiles:
        out["profiles"].append({
            "tau": p.tau, "problems": p.problems,
            "data": {"alphas": _curve(p.data_alphas), "unit": "simplex gradients (evaluations / (dim + 1))",
                     "curves": {n: _curve(c) for n, c in p.data.items()}},
            "performance": {"alphas": _curve(p.performance_alphas), "unit": "ERT / best ERT on the problem",
                            "curves": {n: _curve(c) for n, c in p.performance.items()}},
            "solved_runs": p.solved_runs, "solved_problems": p.solved_problems,
        })
    return out


def cell_columns(taus: Sequence[float] = MORE_WILD_TAUS) -> list[str]:
    """The per-cell columns added to the CSV and JSON summaries: runs solved and ERT at each tau."""
    return [f"{kind}_tau_{tau_label(t)}" for t in taus for kind in ("solved", "ert")]


def cell_values(solved: Mapping[tuple[str, str, str], Mapping[float, tuple[int, float]]],
                taus: Sequence[float] = MORE_WILD_TAUS) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``(problem, device, optimizer)`` -> the :func:`cell_columns` values, from ``Comparison.cell_solved``
    (``(problem, optimizer, device)`` -> tau -> (runs solved, ERT)); cells without a trace have none."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for (problem, optimizer, device), per_tau in solved.items():
        row: dict[str, Any] = {}
        for tau in taus:
            solved, ert = per_tau[tau]
            row[f"solved_tau_{tau_label(tau)}"] = solved
            row[f"ert_tau_{tau_label(tau)}"] = ert
        out[(problem, device, optimizer)] = row
    return out


def markdown(profiles: Sequence[MoreWildProfiles]) -> str:
    """The Markdown section: the summary table and the test; empty without traces."""
    if not profiles or not profiles[0].problems:
        return ""
    head, rows = summary_rows(profiles)
    lines = [f"## Moré–Wild profiles ({profiles[0].problems} problems)\n",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n{LEGEND}{TEST[0].upper()}{TEST[1:]}.\n"


def figure(profiles: Sequence[MoreWildProfiles], style: Any = None) -> bytes | None:
    """Data profiles (top row) and performance profiles (bottom row), one column per tolerance."""
    from optbench.report.plots import legend_below, line_style, png, pyplot, tidy_log_axes

    if not profiles or not profiles[0].problems:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(2, len(profiles), figsize=(3.4 * len(profiles) + 1, 6.4), sharey=True, squeeze=False)
    for j, p in enumerate(profiles):
        labels = list(p.data)
        for row, (alphas, curves, xlabel) in enumerate((
                (p.data_alphas, p.data, "budget (simplex gradients)"),
                (p.performance_alphas, p.performance, "α: ERT / best ERT"))):
            ax = axes[row, j]
            finite = alphas[np.isfinite(alphas) & (alphas > 0)]
            low = float(finite.min()) if finite.size else 1.0
            high = float(finite.max()) * 2 if finite.size else 10.0
            for label, curve in curves.items():
                # start at 0 left of the first step and hold the last value to the right edge
                xs = np.concatenate([[low / 2], alphas, [high]])
                ys = np.concatenate([[0.0], curve, [curve[-1] if curve.size else 0.0]])
                keep = xs > 0
                ax.step(xs[keep], ys[keep], where="post", label=label, linewidth=1.5,
                        **line_style(style, label, labels))
            ax.set_xscale("log")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(True, alpha=0.3)
            ax.set_xlabel(xlabel, fontsize=9)
            tidy_log_axes(ax)
            if row == 0:
                ax.set_title(f"τ = {tau_label(p.tau)}", fontsize=10)
        axes[0, 0].set_ylabel("data profile\nshare of runs solved")
        axes[1, 0].set_ylabel("performance profile\nshare of problems")
    legend_below(fig, axes[1, 0])
    fig.suptitle(f"Moré–Wild profiles over {profiles[0].problems} problems (convergence test "
                 "f ≤ f_L + τ·(f0 − f_L))", fontsize=11)
    return png(fig)
