"""Machine-readable summaries: one row per (problem, optimizer, device, dtype) as JSON, CSV or Markdown.

``device`` is the device alone and ``dtype`` the chosen precision (empty: the problem's own); the
Markdown table, written for people, shows both in its device column as the terminal does (``cpu float32``).
Every number comes from the :class:`~optbench.analysis.Comparison`; JSON goes through
:mod:`optbench.report.jsonout` with non-finite numbers as strings (``"inf"``), as this format always wrote them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from optbench.analysis.stats import Cell, notes, table_order
from optbench.api import TrialState
from optbench.report import morewild
from optbench.report.jsonout import dumps, to_jsonable

if TYPE_CHECKING:
    from optbench.analysis.comparison import Comparison

COLUMNS = (
    "problem", "problem_id", "optimizer", "device", "dtype", "trials", "with_result", "failed", "skipped",
    "optimal_value", "target", "score", "median", "q1", "q3", "min", "max", "mean", "mean_ci_low",
    "mean_ci_high", "nonfinite", "successes", "success_rate", "ert_evaluations", "ert_seconds",
    "blind_search_evaluations", "median_seconds", "median_evaluations", "test_metric_median", "best",
    "tied_with_best", "outlier_seeds", "instance_optima",
)


Key = tuple[str, str, str]  # (problem, lane, optimizer)


def cell_rows(cells: Sequence[Cell], tied: Collection[Key], best: Collection[Key]) -> list[dict]:
    """Every statistic of every cell, flat, in :data:`COLUMNS` order; non-finite numbers as strings (``"inf"``)."""
    rows = []
    for c in cells:
        score = c.score
        key = (c.problem, c.device, c.optimizer)
        row = {
            "problem": c.problem, "problem_id": c.pooled_id, "optimizer": c.optimizer, "device": c.bare_device,
            "dtype": c.dtype or None,
            "trials": sum(c.states.values()), "with_result": c.with_result,
            "failed": sum(n for st, n in c.states.items() if TrialState(st).is_failure),
            "skipped": c.states.get("skipped", 0),
            # pooled instances with their own optima have no one optimum: see instance_optima
            "optimal_value": c.shared_optimum, "target": c.target,
            "score": "gap" if c.gap is not None else "value",
            "median": score.median if score else None, "q1": score.q1 if score else None,
            "q3": score.q3 if score else None, "min": score.minimum if score else None,
            "max": score.maximum if score else None, "mean": score.mean if score else None,
            "mean_ci_low": score.ci[0] if score and score.ci else None,
            "mean_ci_high": score.ci[1] if score and score.ci else None,
            "nonfinite": score.nonfinite if score else 0,
            "successes": c.successes if c.gap is not None else None,
            "success_rate": c.successes / c.with_result if c.gap is not None and c.with_result else None,
            "ert_evaluations": c.ert_evaluations, "ert_seconds": c.ert_seconds,
            "blind_search_evaluations": c.blind_search_evaluations,
            "median_seconds": c.seconds.median if c.seconds else None,
            "median_evaluations": c.evaluations.median if c.evaluations else None,
            "test_metric_median": c.test_metric.median if c.test_metric else None,
            "best": key in best, "tied_with_best": key in tied,
            "outlier_seeds": " ".join(map(str, c.outlier_seeds)),
            "instance_optima": " ".join(f"{i}:{'unknown' if v is None else repr(v)}" for i, v in c.instance_optima),
        }
        rows.append({k: to_jsonable(row[k], nonfinite="string") for k in COLUMNS})
    return rows


def lane_of(row: dict) -> str:
    """The cell's lane (:attr:`optbench.api.TrialSpec.lane`) from a row's device and dtype: ``cpu float32``."""
    return f"{row['device']} {row['dtype']}" if row.get("dtype") else row["device"]


def to_json(rows: Sequence[dict], more_wild: dict[str, Any] | None = None,
            tuning: dict[str, Any] | None = None) -> str:
    """The ``optbench.summary/1`` document: the rows, the Moré–Wild profiles under ``more_wild`` and what
    tuning found under ``tuning`` (``optbench.tuning/1``), each when given."""
    document: dict[str, Any] = {"format": "optbench.summary/1", "cells": list(rows)}
    if more_wild is not None:
        document["more_wild"] = more_wild
    if tuning is not None:
        document["tuning"] = tuning
    return dumps(document, nonfinite="string", indent=2)


def to_csv(rows: Sequence[dict], columns: Sequence[str] = COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def _md(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace("|", "\\|")


MARKDOWN_COLUMNS = ("problem", "optimizer", "device", "median", "q1", "q3", "mean", "mean_ci_low", "mean_ci_high",
                    "success_rate", "ert_evaluations", "median_seconds", "test_metric_median", "tied_with_best",
                    "notes")


def row_notes(cell: Cell) -> str:
    """What the terminal table marks in a row: failures, non-finite values, results below the optimum."""
    score = cell.score
    failed = sum(n for st, n in cell.states.items() if TrialState(st).is_failure)
    parts = [f"{failed} failed" if failed else "",
             f"{score.nonfinite} non-finite" if score is not None and score.nonfinite else "",
             f"{cell.below_optimum} below optimum" if cell.below_optimum else ""]
    return "; ".join(p for p in parts if p)


def to_markdown(rows: Sequence[dict], notes: Sequence[tuple[str, str]] = ()) -> str:
    """A Markdown table of ``rows`` in the order given, then one bullet per ``(problem, note)``."""
    head = "| " + " | ".join(MARKDOWN_COLUMNS) + " |\n|" + "---|" * len(MARKDOWN_COLUMNS) + "\n"
    body = "".join("| " + " | ".join(_md(r.get(k)) for k in MARKDOWN_COLUMNS) + " |\n" for r in rows)
    tail = "".join(f"- {_md(problem)}: {_md(note)}\n" for problem, note in notes)
    return head + body + ("\nNotes:\n\n" + tail if tail else "")


def markdown_summary(analysis: Comparison) -> str:
    """The Markdown summary as the terminal shows it: problems in the order they first appear, each
    one's rows best first (the table's order), and the notes the terminal prints under each table."""
    tied, best = analysis.tied, analysis.best_keys
    rows: list[dict] = []
    lines: list[tuple[str, str]] = []
    for problem, group in analysis.by_problem.items():
        ordered = table_order(group)
        rows += [{**row, "device": cell.device, "notes": row_notes(cell)}
                 for cell, row in zip(ordered, cell_rows(ordered, tied, best), strict=True)]
        lines += [(problem, line) for line in notes(group, show_device=analysis.show_device)]
    return to_markdown(rows, lines)


def wide_rows(analysis: Comparison) -> tuple[list[dict], list[str]]:
    """The :func:`cell_rows` of every cell with the Moré–Wild columns per cell (runs solved and ERT at
    each tau, ``None`` where the cell has no trace), and the column names in order."""
    values = morewild.cell_values(analysis.cell_solved, analysis.taus)
    extra = morewild.cell_columns(analysis.taus)
    rows = cell_rows(analysis.cells, analysis.tied, analysis.best_keys)
    wide = [{**row, **{k: to_jsonable(values.get((row["problem"], lane_of(row), row["optimizer"]), {}).get(k),
                                      nonfinite="string") for k in extra}} for row in rows]
    if analysis.tuning is None:
        return wide, [*COLUMNS, *extra]
    # a tuned row carries its ruleset, selection and the cost of its tuning (none for an untuned row)
    tuned = {(c.problem, c.lane, f"{c.optimizer} [{c.ruleset}]"): c for c in analysis.tuning.cells}
    for row in wide:
        cell = tuned.get((row["problem"], lane_of(row), row["optimizer"]))
        row.update({"ruleset": cell.ruleset if cell else "", "selected": None if cell is None else
                    dumps(cell.selected, sort_keys=True), **{k: getattr(cell, k, None) for k in TUNING_COLUMNS[2:]}})
    return wide, [*COLUMNS, *extra, *TUNING_COLUMNS]


TUNING_COLUMNS = ("ruleset", "selected", "tuning_evaluations", "tuning_gradient_evaluations", "tuning_seconds")


FORMATS = ("json", "csv", "markdown")


def summary(analysis: Comparison, fmt: str) -> str:
    """The summary of ``analysis`` in ``fmt``: ``json`` (the rows with their Moré–Wild columns and the
    profiles under ``more_wild``), ``csv`` (the same rows) or ``markdown`` (each problem's rows best first,
    with the terminal's notes, then the Moré–Wild section); see :mod:`optbench.report.morewild`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown summary format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "markdown":  # for people: each problem's rows best first, with the terminal's notes
        section = morewild.markdown(analysis.more_wild)
        text = markdown_summary(analysis) + ("\n" + section if section else "")
        if analysis.tuning is not None:
            from optbench.report.tuning import markdown

            text += "\n" + markdown(analysis.tuning)
        return text
    rows, columns = wide_rows(analysis)
    if fmt == "json":
        tuning = None if analysis.tuning is None else to_jsonable(analysis.tuning.to_json(), nonfinite="string")
        return to_json(rows, morewild.profiles_json(analysis.more_wild), tuning)
    return to_csv(rows, columns)
