"""Renderers of a tuning analysis (:mod:`optbench.tuning.analysis`): rich tables, Markdown and figures.

They read the :class:`~optbench.tuning.analysis.TuningAnalysis` and compute nothing themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from optbench.report.numbers import fmt_count, fmt_number, fmt_seconds


def _params(params: dict[str, Any] | None) -> str:
    if not params:
        return "defaults"
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))


def _gain(value: float | None) -> str:
    if value is None:
        return "–"
    return "∞×" if math.isinf(value) else f"{value:.3g}×"


def _curve(values: Sequence[float], marks: Sequence[int]) -> str:
    return " · ".join(f"k={k}: {fmt_number(values[k - 1])}" for k in marks if k <= len(values))


def _marks(k: int) -> list[int]:
    return sorted({1, 2, 4, 8, 16, 32, k} & set(range(1, k + 1)))


def rows(analysis: Any) -> list[list[str]]:
    """One row per tuned cell, as text: what every renderer of the tuning table shows."""
    out = []
    for cell in analysis.cells:
        out.append([cell.problem, cell.optimizer, cell.lane, cell.ruleset, _params(cell.selected),
                    fmt_number(cell.default_median), fmt_number(cell.tuned_median), _gain(cell.gain),
                    fmt_count(cell.tuning_evaluations), fmt_seconds(cell.tuning_seconds),
                    _curve(cell.expected_best, _marks(len(cell.expected_best))) or "–",
                    "–" if cell.share_within_10pct is None else f"{cell.share_within_10pct:.0%}"])
    return out


HEAD = ["problem", "optimizer", "lane", "ruleset", "selected", "median gap at defaults", "median gap tuned", "gain",
        "tuning evaluations", "tuning time", "expected best validation after k draws", "within 10% of best"]


def verdict_lines(analysis: Any) -> list[str]:
    """Sentences: where the best optimizer changes with tuning, where two curves cross, the ranks."""
    lines = []
    changed = [v for v in analysis.verdicts if v.changed]
    for v in analysis.verdicts:
        note = "changes" if v.changed else "stays"
        lines.append(f"{v.problem} ({v.lane}): the best optimizer {note}: {v.best_at_defaults} at the defaults, "
                     f"{v.best_tuned} under {analysis.ruleset}")
    lines.append(f"the verdict changes on {len(changed)} of {len(analysis.verdicts)} problems under {analysis.ruleset}")
    for c in analysis.crossings:
        lines.append(f"{c['problem']} ({c['lane']}): the expected-best curves of {c['first']} and {c['second']} "
                     f"cross at k={c['k']}")
    for which, table in analysis.ranks.items():
        ranked = ", ".join(f"{name} {rank:.2g}" for name, rank in sorted(table.items(), key=lambda item: item[1]))
        lines.append(f"mean rank over problems ({which}): {ranked}")
    return lines


def tuning_block(analysis: Any, notes: Sequence[str] = ()) -> Group:
    """The rich tables of ``optbench compare --tuning``: one row per tuned cell, then the verdicts."""
    table = Table(title=f"tuning: {analysis.ruleset} (validation on a tuning instance and seed; test never read)",
                  title_justify="left")
    for name in HEAD:
        table.add_column(name, overflow="fold")
    for row in rows(analysis):
        table.add_row(*row)
    parts: list[Any] = [table]
    parts += [Text(line) for line in verdict_lines(analysis)]
    parts += [Text(note, style="dim") for note in notes]
    return Group(*parts)


def markdown(analysis: Any) -> str:
    """The tuning table and verdicts as Markdown."""
    lines = [f"## Tuning: {analysis.ruleset}", "", "| " + " | ".join(HEAD) + " |",
             "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows(analysis)]
    lines += [""] + [f"- {line}" for line in verdict_lines(analysis)]
    return "\n".join(lines) + "\n"


def figures(analysis: Any) -> list[tuple[str, str, bytes]]:
    """``(file name, caption, PNG)``: the expected-best curves per problem, and validation score against
    each hyperparameter (sensitivity) per cell."""
    from optbench.report.plots import png, pyplot

    plt = pyplot()
    out = []
    by_problem: dict[tuple[str, str], list[Any]] = {}
    for cell in analysis.cells:
        if cell.expected_best:
            by_problem.setdefault((cell.problem, cell.lane), []).append(cell)
    for index, ((problem, lane), cells) in enumerate(sorted(by_problem.items())):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for cell in cells:
            k = range(1, len(cell.expected_best) + 1)
            ax.plot(k, cell.expected_best, marker="o", label=cell.optimizer)
            lo = [a for a, _ in cell.expected_interval]
            hi = [b for _, b in cell.expected_interval]
            ax.fill_between(k, lo, hi, alpha=0.2)
        ax.set_xlabel("tuning trials k")
        ax.set_ylabel(f"expected best {cells[0].metric}")
        if all(v > 0 for c in cells for v in c.expected_best if math.isfinite(v)) and not cells[0].higher_is_better:
            ax.set_yscale("log")
        ax.set_title(f"{problem} ({lane}): expected best after k of {analysis.ruleset}")
        ax.legend()
        out.append((f"tuning-curve-{index}.png", f"{problem}: expected best validation score after k trials "
                    "(95% bootstrap interval)", png(fig)))
    for index, cell in enumerate(analysis.cells):
        names = sorted({key for d in cell.draws for key, value in d.params.items() if isinstance(value, int | float)})
        scored = [d for d in cell.draws if d.score is not None]
        if not names or not scored:
            continue
        fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.6), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            xs = [d.params.get(name) for d in scored]
            ax.scatter(xs, [d.score for d in scored], s=14)
            if all(isinstance(x, int | float) and x > 0 for x in xs) and max(xs) > 10 * min(xs):
                ax.set_xscale("log")
            ax.set_xlabel(name)
        axes[0][0].set_ylabel(cell.metric)
        fig.suptitle(f"{cell.problem} · {cell.optimizer}: validation score against each hyperparameter")
        out.append((f"tuning-sensitivity-{index}.png", f"{cell.problem} · {cell.optimizer}: sensitivity", png(fig)))
    return out
