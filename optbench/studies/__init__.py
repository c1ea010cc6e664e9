"""``optbench study NAME``: experiments that answer the questions behind a comparison.

Each study is a grid of tasks (training runs, samples, timings) that run as trials of the same
runner, executors and store as ``optbench compare``, plus an analysis of their stored results.
The analysis is stored too (as a :class:`~optbench.studies.base.Payload`), so a report is redrawn
from the store without rerunning anything.

Studies are listed here by name and imported only when used.
"""

from __future__ import annotations

import importlib
import importlib.util

from optbench.studies.base import Study

STUDIES: dict[str, str] = {
    "seeds": "optbench.studies.seeds:SeedsStudy",
    "connectivity": "optbench.studies.connectivity:ConnectivityStudy",
    "lottery": "optbench.studies.lottery:LotteryStudy",
    "landscape": "optbench.studies.landscape:LandscapeStudy",
    "crossover": "optbench.studies.crossover:CrossoverStudy",
}


def study_class(name: str) -> type[Study]:
    """The study registered as ``name`` (imported now)."""
    module, _, attr = STUDIES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def available() -> dict[str, str]:
    """Studies whose module exists in this installation, name -> module path."""
    found = {}
    for name, target in STUDIES.items():
        module = target.partition(":")[0]
        if importlib.util.find_spec(module) is not None:
            found[name] = target
    return found
