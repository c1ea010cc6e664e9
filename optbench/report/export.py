"""Machine-readable summaries: one row per (problem, optimizer, device, dtype) as JSON, CSV or Markdown.

``device`` is the device alone and ``dtype`` the chosen precision (empty: the problem's own); the
Markdown table, written for people, shows both in its device column as the terminal does (``cpu float32``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from optbench.api import TrialState
from optbench.analysis.stats import Cell

COLUMNS = (
    "problem", "problem_id", "optimizer", "device", "dtype", "trials", "with_result", "failed", "skipped",
    "optimal_value", "target", "score", "median", "q1", "q3", "min", "max", "mean", "mean_ci_low",
    "mean_ci_high", "nonfinite", "successes", "success_rate", "ert_evaluations", "ert_seconds",
    "blind_search_evaluations", "median_seconds", "median_evaluations", "test_metric_median", "best",
    "tied_with_best", "outlier_seeds",
)


def _clean(value: Any) -> Any:
    """JSON has no inf or NaN: write them as strings, as the store's readers expect."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def cell_rows(cells: Sequence[Cell], tied: set[tuple[str, str, str]], best: set[tuple[str, str, str]]) -> list[dict]:
    """Every statistic of every cell, flat, in :data:`COLUMNS` order."""
    rows = []
    for c in cells:
        score = c.score
        key = (c.problem, c.device, c.optimizer)
        row = {
            "problem": c.problem, "problem_id": c.problem_id, "optimizer": c.optimizer, "device": c.bare_device,
            "dtype": c.dtype or None,
            "trials": sum(c.states.values()), "with_result": c.with_result,
            "failed": sum(n for st, n in c.states.items() if TrialState(st).is_failure),
            "skipped": c.states.get("skipped", 0),
            "optimal_value": c.optimal_value, "target": c.target,
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
        }
        rows.append({k: _clean(row[k]) for k in COLUMNS})
    return rows


def lane_of(row: dict) -> str:
    """The cell's lane (:attr:`optbench.api.TrialSpec.lane`) from a row's device and dtype: ``cpu float32``."""
    return f"{row['device']} {row['dtype']}" if row.get("dtype") else row["device"]


def to_json(rows: Sequence[dict]) -> str:
    return json.dumps({"format": "optbench.summary/1", "cells": list(rows)}, indent=2)


def to_csv(rows: Sequence[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
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


def markdown_summary(cells: Sequence[Cell], tied: set[tuple[str, str, str]], best: set[tuple[str, str, str]]) -> str:
    """The Markdown summary as the terminal shows it: problems in the order they first appear, each
    one's rows best first (the table's order), and the notes the terminal prints under each table."""
    from optbench.analysis.stats import notes, table_order

    by_problem: dict[str, list[Cell]] = {}
    for cell in cells:
        by_problem.setdefault(cell.problem, []).append(cell)
    show_device = len({c.device for c in cells}) > 1
    rows: list[dict] = []
    lines: list[tuple[str, str]] = []
    for problem, group in by_problem.items():
        ordered = table_order(group)
        rows += [{**row, "device": cell.device, "notes": row_notes(cell)}
                 for cell, row in zip(ordered, cell_rows(ordered, tied, best), strict=True)]
        lines += [(problem, line) for line in notes(group, show_device=show_device)]
    return to_markdown(rows, lines)


FORMATS = {"json": to_json, "csv": to_csv, "markdown": to_markdown}


def summary(cells: Sequence[Cell], fmt: str, *, results: Sequence[Any] | None = None,
            taus: Sequence[float] | None = None) -> str:
    """The summary of ``cells`` in ``fmt`` (json, csv or markdown); with ``results`` (their traces)
    also the Moré–Wild profiles at ``taus`` (see :mod:`optbench.report.morewild`)."""
    from optbench.analysis.significance import compare_cells, tied_with_best
    from optbench.analysis.stats import best_per_problem

    tied = tied_with_best(cells, compare_cells(cells))
    best = {(c.problem, c.device, c.optimizer) for c in best_per_problem(cells).values()}
    if fmt == "markdown":  # for people: each problem's rows best first, with the terminal's notes
        text = markdown_summary(cells, tied, best)
        if results is None:
            return text
        from optbench.report.morewild import MORE_WILD_TAUS
        from optbench.report.morewild import markdown as more_wild

        section = more_wild(results, tuple(taus or MORE_WILD_TAUS))
        return text + ("\n" + section if section else "")
    if results is not None:
        from optbench.report.morewild import with_profiles

        return with_profiles(cell_rows(cells, tied, best), results, fmt, taus=taus)
    return FORMATS[fmt](cell_rows(cells, tied, best))
