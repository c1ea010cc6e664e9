"""The listing's rows of optbench's own problems, optimizers and bridges, shipped as ``catalog.json``.

``optbench list`` reads them from here instead of importing torch and building every problem (which
loads data sets and solves optima: 8 s and 440 MB, against well under a second). Plugins are still built
when listed. ``tests/test_listing.py`` rebuilds the catalog and fails when it differs from the shipped
file; regenerate it with ``python -m optbench.report.catalog``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

CATALOG = Path(__file__).with_name("catalog.json")


def build() -> dict[str, dict[str, Any]]:
    """The rows of every entry optbench ships that builds here (an entry that does not, e.g. for a missing
    extra, is left out: listing builds it and shows why)."""
    from rich.text import Text

    from optbench.registry import BRIDGES, OPTIMIZERS, PROBLEMS, entries
    from optbench.report.listing import bridge_row, optimizer_row, problem_row

    out: dict[str, dict[str, Any]] = {}
    for group, row in ((PROBLEMS, problem_row), (OPTIMIZERS, optimizer_row), (BRIDGES, bridge_row)):
        table = {}
        for name, entry in entries(group).items():
            if entry.distribution != "optbench":
                continue
            cells = row(entry)
            if any(isinstance(cell, Text) for cell in cells):
                continue
            table[name] = {"value": entry.value, "cells": cells}
        out[group] = table
    return out


@cache
def cached(group: str) -> dict[str, Any]:
    try:
        return json.loads(CATALOG.read_text(encoding="utf-8")).get(group, {})
    except (OSError, ValueError):  # no catalog (a partial install): everything is built
        return {}


def main() -> int:
    CATALOG.write_text(json.dumps(build(), indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {CATALOG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
