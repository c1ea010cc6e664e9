"""Machine-readable summaries: one row per (problem, optimizer, device) as JSON, CSV or Markdown."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from optbench.api import TrialState
from optbench.stats import Cell

COLUMNS = (
    "problem", "problem_id", "optimizer", "device", "trials", "with_result", "failed", "skipped",
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
            "problem": c.problem, "problem_id": c.problem_id, "optimizer": c.optimizer, "device": c.device,
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
                    "success_rate", "ert_evaluations", "median_seconds", "test_metric_median", "tied_with_best")


def to_markdown(rows: Sequence[dict]) -> str:
    head = "| " + " | ".join(MARKDOWN_COLUMNS) + " |\n|" + "---|" * len(MARKDOWN_COLUMNS) + "\n"
    body = "".join("| " + " | ".join(_md(r[k]) for k in MARKDOWN_COLUMNS) + " |\n" for r in rows)
    return head + body


FORMATS = {"json": to_json, "csv": to_csv, "markdown": to_markdown}


def summary(cells: Sequence[Cell], fmt: str, *, results: Sequence[Any] | None = None,
            taus: Sequence[float] | None = None) -> str:
    """The summary of ``cells`` in ``fmt`` (json, csv or markdown); with ``results`` (their traces)
    also the Moré–Wild profiles at ``taus`` (see :mod:`optbench.report.morewild`)."""
    from optbench.significance import compare_cells, tied_with_best
    from optbench.stats import best_per_problem

    tied = tied_with_best(cells, compare_cells(cells))
    best = {(c.problem, c.device, c.optimizer) for c in best_per_problem(cells).values()}
    if results is not None:
        from optbench.report.morewild import with_profiles

        return with_profiles(cell_rows(cells, tied, best), results, fmt, taus=taus)
    return FORMATS[fmt](cell_rows(cells, tied, best))
