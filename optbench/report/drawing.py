"""Drawing a report's figures side by side: matplotlib renders one figure on one core, so processes.

``savefig`` is most of what ``optbench report`` spends (eight figures of a 360-trial store: 4 of 5.3 s, most of it
matplotlib laying out log-axis ticks), and the Agg renderer holds the GIL, so threads would not help. A
:class:`Drawings` batch collects the figure functions with their arguments and draws them at once: in worker
processes forked from this one (they inherit the data and the imported matplotlib, so nothing is pickled but the
PNG bytes coming back), one per CPU up to :data:`MOST_WORKERS`; in this process where forking is not safe or
not worth it (one CPU, fewer than :data:`LEAST_JOBS` figures, no ``fork`` start method, other Python threads
running, whose locks a forked child could inherit held, or ``OPTBENCH_REPORT_WORKERS=1``). The PNGs are the
same bytes either way: each figure is drawn by the same code from the same data.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

MOST_WORKERS = 4
LEAST_JOBS = 3
ENV = "OPTBENCH_REPORT_WORKERS"

_JOBS: list[tuple[Callable[..., bytes | None], tuple[Any, ...], dict[str, Any]]] = []  # read by forked workers


def _worker() -> None:
    """A drawing worker ends on the pool's SIGTERM at once (not as the command's own SIGTERM handler would, with a
    KeyboardInterrupt) and leaves Ctrl-C to the command, which ends the pool."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _draw(index: int) -> bytes | None:
    fn, args, kwargs = _JOBS[index]
    return fn(*args, **kwargs)


def workers_for(jobs: int) -> int:
    """How many processes draw ``jobs`` figures: 1 means in this process."""
    wanted = os.environ.get(ENV, "").strip()
    most = int(wanted) if wanted.isdigit() and int(wanted) > 0 else min(MOST_WORKERS, os.cpu_count() or 1)
    if (jobs < LEAST_JOBS or most < 2 or "fork" not in multiprocessing.get_all_start_methods()
            or threading.active_count() > 1 or multiprocessing.current_process().daemon):
        return 1
    return min(most, jobs)


class Drawings:
    """Figure functions to call, each returning PNG bytes (or ``None``: nothing to draw); :meth:`draw` calls them."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., bytes | None], tuple[Any, ...], dict[str, Any]]] = []

    def add(self, fn: Callable[..., bytes | None], *args: Any, **kwargs: Any) -> int:
        """Queue ``fn(*args, **kwargs)``; the index of its PNG in :meth:`draw`'s list."""
        self.jobs.append((fn, args, kwargs))
        return len(self.jobs) - 1

    def draw(self) -> list[bytes | None]:
        """Every queued figure's PNG, in the order added."""
        workers = workers_for(len(self.jobs))
        if workers == 1:
            return [fn(*args, **kwargs) for fn, args, kwargs in self.jobs]
        global _JOBS
        _JOBS = self.jobs
        try:
            with multiprocessing.get_context("fork").Pool(workers, initializer=_worker) as pool:
                return pool.map(_draw, range(len(self.jobs)), chunksize=1)
        finally:
            _JOBS = []
