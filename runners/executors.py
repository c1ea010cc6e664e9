"""Executors run trials and yield results as each one finishes.

* :class:`InlineExecutor`: one after the other in this process (the default for one job). With
  ``isolate_timed`` (what the command line's default is) a trial with a time budget runs in one
  worker process instead, so that the hard limit its budget implies can kill it; with
  ``--executor inline`` everything stays in this process, and a trial whose optimizer never
  returns is not stopped.
* :class:`ProcessExecutor`: ``jobs`` long-lived worker processes, started once per campaign and
  reused for every trial. Where no GPU can be in play and each worker runs torch on one thread
  (``jobs`` >= the CPU count) they are forked from this process, so they start warm: the modules the
  coordinator imported to validate the grid (torch, the problems, the optimizers) are already loaded,
  and a worker is ready in milliseconds instead of seconds of imports. Otherwise (a GPU, or several
  torch threads a worker, which a forked OpenMP runtime cannot start) they are spawned, so CUDA and
  torch's threads start clean. A trial past its hard limit (``trial_timeout``, or for a trial with a time
  budget :func:`~optbench.runners.worker.hard_limit`'s multiple of it; timed from when its worker is
  ready: start-up is not the trial's) has its worker killed and is recorded as TIMEOUT; a worker that
  dies (segfault, ``os._exit``, out of memory) fails only its trial, which
  is retried up to ``retries`` times and then recorded as CRASHED; the worker is replaced and the
  other trials go on. Closing it while trials run (Ctrl-C, SIGTERM, a fault) kills their workers
  at once: their trials are abandoned.
* :class:`optbench.runners.dask_executor.DaskExecutor`: the same over a Dask cluster.

Process-based executors always run :func:`optbench.runners.trial.run_trial`; specs and results
cross process boundaries as JSON.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Protocol

from optbench.api import ConfigError, TrialResult, TrialSpec, TrialState
from optbench.runners.devices import gpu_possible
from optbench.runners.worker import READY, TrialFunction, decode, hard_limit, lost, serve, sigint_ignored

STARTUP_GRACE = 120.0  # seconds a new worker may take to start before its trial's timeout counts


class Executor(Protocol):
    """Runs ``fn`` on every spec; yields results in completion order."""

    def map(self, fn: TrialFunction, specs: Iterable[TrialSpec]) -> Iterator[TrialResult]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Runs trials one after the other in this process (the default for one job).

    Args:
        isolate_timed: run each trial with a time budget (and ``fn`` the runner's own
            :func:`~optbench.runners.trial.run_trial`) in one worker process, started on the first
            such trial, so that its hard limit applies (see :class:`ProcessExecutor`).
        retries, plugins: that worker's, as :class:`ProcessExecutor` takes them.
    """

    # it takes the next spec only after the consumer has handled the last result, and runs nothing in between
    # (a timed trial's worker too: it is given one spec at a time), so a campaign may save a result with the
    # next claim (:func:`optbench.campaign.run.run_campaign`)
    claims_after_results = True

    def __init__(self, *, isolate_timed: bool = False, retries: int = 2, plugins: Sequence[str] = ()) -> None:
        self.isolate_timed = isolate_timed
        self.retries = retries
        self.plugins = tuple(plugins)
        self._worker: ProcessExecutor | None = None

    def map(self, fn: TrialFunction, specs: Iterable[TrialSpec]) -> Iterator[TrialResult]:
        from optbench.runners.trial import run_trial

        for spec in specs:
            if self.isolate_timed and fn is run_trial and spec.budget.seconds is not None:
                if self._worker is None:
                    self._worker = ProcessExecutor(1, retries=self.retries, plugins=self.plugins)
                yield from self._worker.map(fn, [spec])
            else:
                yield fn(spec)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


@dataclass
class _Slot:
    process: Any
    conn: Any
    spec: TrialSpec | None = None
    attempt: int = 0
    started: float = 0.0
    ready: bool = False  # the worker has started up (spawned, torch imported, plugins loaded)
    limit: tuple[float, str] | None = None  # the trial's hard limit in seconds, and the reason recorded then


def threads_per_job(jobs: int) -> int:
    """torch threads for each of ``jobs`` workers, so together they do not oversubscribe the CPU."""
    return max(1, (os.cpu_count() or 1) // jobs)


START_METHODS = ("fork", "spawn")


def start_method(jobs: int) -> str:
    """How :class:`ProcessExecutor` starts ``jobs`` workers: ``$OPTBENCH_START_METHOD`` when set, else
    ``fork`` where that is safe and ``spawn`` elsewhere.

    Forking is safe here when no CUDA device can be visible (a CUDA context does not survive a fork) and
    each worker runs torch on one thread: a forked child whose parent has used OpenMP hangs in its first
    multi-threaded region (measured: torch 2.13, libgomp), while one thread never enters one.
    """
    chosen = os.environ.get("OPTBENCH_START_METHOD", "").strip().lower()
    if chosen:
        if chosen not in START_METHODS:
            raise ConfigError(f"OPTBENCH_START_METHOD must be one of {', '.join(START_METHODS)}, got {chosen!r}")
        return chosen
    forkable = "fork" in multiprocessing.get_all_start_methods() and threads_per_job(jobs) == 1
    return "fork" if forkable and not gpu_possible() else "spawn"


class ProcessExecutor:
    """``jobs`` worker processes with per-trial timeouts and crash retries."""

    def __init__(self, jobs: int, *, trial_timeout: float | None = None, retries: int = 2,
                 plugins: Sequence[str] = ()) -> None:
        self.jobs = max(1, jobs)
        self.trial_timeout = trial_timeout
        self.retries = retries
        self.plugins = tuple(plugins)
        self.start_method = start_method(self.jobs)
        self._context = multiprocessing.get_context(self.start_method)
        self._slots: list[_Slot] = []

    def _start(self) -> _Slot:
        parent, child = self._context.Pipe()
        # a forked worker holds copies of this side's ends of every pipe; it closes them first, so that
        # closing an end here is an end of file there
        inherited = [parent, *(s.conn for s in self._slots)] if self.start_method == "fork" else []
        process = self._context.Process(target=serve, args=(child, self.plugins, threads_per_job(self.jobs)),
                                        kwargs={"inherited": inherited}, daemon=True, name="optbench-worker")
        with sigint_ignored():  # inherited: a Ctrl-C while the worker starts up is the coordinator's alone
            process.start()
        child.close()
        return _Slot(process, parent)

    def _replace(self, slot: _Slot) -> _Slot:
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join(5)
        slot.conn.close()
        fresh = self._start()
        self._slots[self._slots.index(slot)] = fresh
        return fresh

    def map(self, fn: TrialFunction, specs: Iterable[TrialSpec]) -> Iterator[TrialResult]:
        """Run ``specs``, taking each from the iterable only when a worker is free for it (a campaign
        claims a trial when it takes it); retries go first."""
        fresh = iter(specs)
        retries: deque[tuple[TrialSpec, int]] = deque()

        def following() -> tuple[TrialSpec, int] | None:
            if retries:
                return retries.popleft()
            spec = next(fresh, None)
            return None if spec is None else (spec, 1)

        exhausted = False
        while True:
            while not (exhausted and not retries) and (
                    len(self._slots) < self.jobs or any(s.spec is None for s in self._slots)):
                item = following()
                if item is None:
                    exhausted = True
                    break
                idle = next((s for s in self._slots if s.spec is None), None) or self._append()
                idle.spec, idle.attempt, idle.started = item[0], item[1], time.monotonic()
                idle.limit = hard_limit(item[0], self.trial_timeout)
                idle.conn.send_bytes(json_of(item[0]))
            busy = [s for s in self._slots if s.spec is not None]
            if not busy:
                if exhausted and not retries:
                    return
                continue
            ready = set(wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout=self._wait(busy)))
            now = time.monotonic()
            for slot in busy:
                spec = slot.spec
                assert spec is not None
                closed = False
                if slot.conn in ready or (slot.process.sentinel in ready and slot.conn.poll()):
                    try:
                        data = slot.conn.recv_bytes()
                    except (EOFError, OSError):  # the worker's end closed: it is dying or dead
                        data, closed = None, True
                    if data == READY:  # the trial's clock starts when the worker can run it
                        slot.ready, slot.started = True, time.monotonic()
                        continue
                    if data is not None:
                        slot.spec = None
                        yield decode(data)
                        continue
                if closed or slot.process.sentinel in ready or not slot.process.is_alive():
                    slot.process.join(5)  # reap it: until then its exit code reads as None
                    code = slot.process.exitcode
                    self._replace(slot)
                    if slot.attempt <= self.retries:
                        retries.appendleft((spec, slot.attempt + 1))
                    else:
                        yield lost(spec, TrialState.CRASHED,
                                   f"worker process died (exit code {code}) on each of {slot.attempt} attempts")
                elif slot.limit is not None and now - slot.started > self._limit(slot):
                    reason = slot.limit[1]
                    self._replace(slot)
                    yield lost(spec, TrialState.TIMEOUT, reason)

    def _append(self) -> _Slot:
        slot = self._start()
        self._slots.append(slot)
        return slot

    @staticmethod
    def _limit(slot: _Slot) -> float:
        """Seconds ``slot``'s trial may run: its hard limit, plus a grace while its worker starts up
        (spawning and importing torch take seconds on a loaded machine and are not the trial's)."""
        assert slot.limit is not None
        return slot.limit[0] + (0.0 if slot.ready else STARTUP_GRACE)

    def _wait(self, busy: list[_Slot]) -> float | None:
        limited = [s for s in busy if s.limit is not None]
        if not limited:
            return None
        deadline = min(s.started + self._limit(s) for s in limited)
        return max(0.0, deadline - time.monotonic()) + 0.01

    def close(self) -> None:
        """End every worker: a busy one is killed at once (its trial is abandoned: an interrupt or a
        fault), an idle one sees its pipe close and returns; any still there after 2 s is killed."""
        for slot in self._slots:
            if slot.spec is not None and slot.process.is_alive():
                slot.process.kill()
            slot.conn.close()  # the worker's recv sees EOF and returns
        deadline = time.monotonic() + 2
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(2)
        self._slots.clear()


def json_of(spec: TrialSpec) -> bytes:
    return json.dumps(spec.to_json()).encode()


def make_executor(*, jobs: int = 1, kind: str | None = None, scheduler: str | None = None,
                  trial_timeout: float | None = None, retries: int = 2, plugins: Sequence[str] = ()) -> Executor:
    """The executor a command line asks for: inline by default, processes for ``jobs > 1`` or a
    timeout (a trial can only be killed in its own process), Dask for ``kind="dask"`` or a scheduler.

    The default inline executor runs trials with a time budget in a worker process, so their hard
    limit applies; ``kind="inline"`` keeps every trial in this process."""
    if scheduler or kind == "dask":
        from optbench.runners.dask_executor import DaskExecutor

        return DaskExecutor(scheduler=scheduler, workers=jobs, trial_timeout=trial_timeout, retries=retries,
                            plugins=plugins)
    if kind == "inline":
        return InlineExecutor()
    if kind is None and jobs == 1 and trial_timeout is None:
        return InlineExecutor(isolate_timed=True, retries=retries, plugins=plugins)
    return ProcessExecutor(jobs, trial_timeout=trial_timeout, retries=retries, plugins=plugins)


