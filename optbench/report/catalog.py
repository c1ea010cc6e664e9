"""The listing's rows of optbench's own problems, optimizers and bridges, shipped as ``catalog.json``.

``optbench list`` reads them from here instead of importing torch and building every problem (which
loads data sets and solves optima: 8 s and 440 MB, against well under a second). Plugins are still built
when listed. ``tests/test_listing.py`` rebuilds the catalog and fails when it differs from the shipped
file; regenerate it with ``python -m optbench.report.listing``. This module only reads it (a leaf).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

CATALOG = Path(__file__).with_name("catalog.json")


@cache
def cached(group: str) -> dict[str, Any]:
    try:
        return json.loads(CATALOG.read_text(encoding="utf-8")).get(group, {})
    except (OSError, ValueError):  # no catalog (a partial install): everything is built
        return {}
