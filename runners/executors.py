"""Executors run trials and yield results as each one finishes.

Only the inline executor lives here for now; a process pool and Dask implement the same
:class:`Executor` protocol, so the campaign loop does not change with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from optbench.api import TrialResult, TrialSpec

TrialFunction = Callable[[TrialSpec], TrialResult]


class Executor(Protocol):
    """Runs ``fn`` on every spec; yields results in completion order."""

    def map(self, fn: TrialFunction, specs: Iterable[TrialSpec]) -> Iterator[TrialResult]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Runs trials one after the other in this process (the default for one job)."""

    def map(self, fn: TrialFunction, specs: Iterable[TrialSpec]) -> Iterator[TrialResult]:
        for spec in specs:
            yield fn(spec)

    def close(self) -> None:
        return None
