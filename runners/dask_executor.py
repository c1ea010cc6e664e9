"""Trials on a Dask cluster: an existing scheduler (``--scheduler tcp://host:port``) or a LocalCluster.

Install with ``pip install optbench[dask]``. Each trial is one task whose input and output are
JSON strings. A worker that dies while running a trial makes the scheduler run it again elsewhere,
at most ``retries`` more times (Dask's ``distributed.scheduler.allowed-failures``); after that the
trial is recorded as CRASHED and the others go on. With a hard limit (a trial timeout, or the
multiple of a time budget that :func:`~optbench.runners.worker.hard_limit` states) a task runs its
trial in a child process (``python -m optbench.runners.worker``) that is killed at the deadline: TIMEOUT.

When the cluster has had no worker for :data:`NO_WORKER_TIMEOUT` seconds (every worker lost, or
none ever joined the scheduler), :class:`WorkersLostError` is raised: the campaign gives back its claims
and stops, rather than waiting forever. ``OPTBENCH_DASK_WORKER_TIMEOUT`` sets that wait (seconds).
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from optbench.api import ConfigError, OptbenchError, TrialResult, TrialSpec, TrialState
from optbench.runners.worker import (
    TrialFunction,
    decode,
    encode,
    hard_limit,
    lost,
    prepare,
    run_encoded,
    sigint_ignored,
)

NO_WORKER_TIMEOUT = 60.0  # seconds a campaign waits while its cluster has no worker at all
WORKER_TIMEOUT_ENV = "OPTBENCH_DASK_WORKER_TIMEOUT"
_LOOK_EVERY = 1.0  # seconds between looks at the cluster's workers while no trial finishes


class WorkersLostError(OptbenchError):
    """The Dask cluster had no worker for the stated time; the campaign stops (its claims given back)."""

    resumable = True  # every result saved so far is kept; rerunning with workers resumes


@contextmanager
def sigterm_deferred() -> Iterator[list[int]]:
    """Hold SIGTERM back for the block (in the main thread, where handlers can be set): the list it gives
    holds the signal when one came, for the caller to act on once the block is done."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def worker_timeout() -> float:
    """:data:`NO_WORKER_TIMEOUT`, or ``$OPTBENCH_DASK_WORKER_TIMEOUT`` (a positive number of seconds)."""
    text = os.environ.get(WORKER_TIMEOUT_ENV)
    if text is None:
        return NO_WORKER_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise ConfigError(f"{WORKER_TIMEOUT_ENV} must be a positive number of seconds, got {text!r}")
    return value


def dask_trial(spec_json: str, plugins: Sequence[str], limit: tuple[float, str] | None) -> str:
    """The task: run one trial on a Dask worker and return its result as JSON.

    Args:
        limit: the trial's hard limit and the reason recorded when it is killed there
            (:func:`~optbench.runners.worker.hard_limit`), or ``None``: run it in the worker itself.
    """
    if limit is None:
        prepare(plugins, 1)
        return run_encoded(spec_json).decode()
    env = {**os.environ, "OPTBENCH_WORKER_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "optbench.runners.worker", *plugins], input=spec_json,
                              capture_output=True, text=True, timeout=limit[0], env=env, check=False)
    except subprocess.TimeoutExpired:
        spec = TrialSpec.from_json(json.loads(spec_json))
        return encode(lost(spec, TrialState.TIMEOUT, limit[1])).decode()
    if done.returncode != 0:
        spec = TrialSpec.from_json(json.loads(spec_json))
        tail = (done.stderr.strip().splitlines() or [""])[-1]
        return encode(lost(spec, TrialState.CRASHED, f"trial process exited with {done.returncode}: {tail}")).decode()
    return done.stdout


def ignore_sigint() -> None:
    """Ignore SIGINT in this process, where it can be set (the main thread)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sigint_plugin() -> object:
    """A worker plugin that makes every local worker, including restarted ones, ignore SIGINT."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreSigint(WorkerPlugin):
        name = "optbench-ignore-sigint"

        def setup(self, worker: object) -> None:
            ignore_sigint()

    return IgnoreSigint()


class DaskExecutor:
    """Submits every trial to Dask and yields results as they complete."""

    def __init__(self, *, scheduler: str | None = None, workers: int = 2, trial_timeout: float | None = None,
                 retries: int = 2, plugins: Sequence[str] = ()) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("the Dask executor needs dask[distributed]: pip install 'optbench[dask]'") from None
        # An interrupt that lands inside distributed's sync() can make its cancel callback raise NameError, which
        # tornado logs as a traceback after our one line; event-loop callback errors of a cluster being shut down
        # are not the user's, so they stay out of the terminal (set after the import: distributed configures them)
        logging.getLogger("tornado.application").setLevel(logging.CRITICAL)
        self.trial_timeout = trial_timeout
        self.plugins = tuple(plugins)
        self.worker_timeout = worker_timeout()  # a bad value is refused before anything starts
        self._scheduler = scheduler
        # a worker holds one trial at a time (trials are long): none waits behind a slow one, and a
        # worker's death counts against the trial it was running only
        dask.config.set({"distributed.scheduler.allowed-failures": retries,
                         "distributed.scheduler.worker-saturation": 1.0})
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout="10s")
            except (OSError, ValueError) as exc:  # refused, timed out, or an address Dask cannot parse
                raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        else:
            # the local workers share the terminal's process group: a Ctrl-C is the coordinator's to
            # handle, so they ignore SIGINT (inherited at start, and set again in each restarted worker)
            # a SIGTERM while the cluster starts waits until it has started (seconds), then stops it cleanly:
            # interrupting distributed mid-start leaves workers starting and tracebacks from them and its exit hook
            with sigterm_deferred() as received:
                with sigint_ignored(), warnings.catch_warnings():
                    # without a dashboard the scheduler still serves HTTP (health checks) on :8787, and moves to
                    # another port with a warning on stderr when a second campaign on the machine holds it
                    warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
                    self._cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                                 dashboard_address=None, silence_logs=40)
                self._client = Client(self._cluster)
                self._client.register_plugin(_sigint_plugin())
            if received:
                self.close()
                raise KeyboardInterrupt

    def map(self, fn: TrialFunction, specs: Iterable[TrialSpec]) -> Iterator[TrialResult]:
        """Submit trials as the cluster has room for them (a campaign claims a trial when it is taken from
        ``specs``), a few more than it has threads so that no worker idles; yield results as they complete."""
        from distributed import wait
        from distributed.scheduler import KilledWorker

        batch = uuid.uuid4().hex[:8]
        window = max(4, 2 * sum(self._client.nthreads().values()))
        pending = iter(specs)
        futures: dict = {}

        def submit() -> bool:
            spec = next(pending, None)
            if spec is None:
                return False
            future = self._client.submit(dask_trial, json.dumps(spec.to_json()), self.plugins,
                                         hard_limit(spec, self.trial_timeout),
                                         key=f"optbench-{spec.key}-{batch}", pure=False)
            futures[future] = spec
            return True

        while len(futures) < window and submit():
            pass
        self._last_worker = time.monotonic()
        while futures:
            try:
                done, _ = wait(list(futures), timeout=_LOOK_EVERY, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished: long trials, or nobody left to run them
                self._look_for_workers()
                continue
            self._last_worker = time.monotonic()  # a trial finished: a worker was there
            for future in done:
                spec = futures.pop(future)
                try:
                    yield decode(future.result())
                except KilledWorker as exc:
                    yield lost(spec, TrialState.CRASHED, f"the worker running it died on every attempt ({exc})")
                except Exception as exc:  # an error inside the task outside run_trial's own handling
                    yield lost(spec, TrialState.FAILED, f"{type(exc).__name__}: {exc}")
            while len(futures) < window and submit():
                pass

    def _look_for_workers(self) -> None:
        """Raise :class:`WorkersLostError` once the cluster has had no worker for :attr:`worker_timeout` seconds."""
        try:
            workers = len(self._client.nthreads(callback_timeout=max(1.0, _LOOK_EVERY)))
        except Exception:  # the scheduler does not answer either: no worker can be reached
            workers = 0
        now = time.monotonic()
        if workers:
            self._last_worker = now
        elif now - self._last_worker > self.worker_timeout:
            where = self._scheduler or "the local cluster"
            raise WorkersLostError(f"no Dask worker for {self.worker_timeout:g} s on {where} (every worker was lost or "
                              f"none joined); start workers and run the same command again to resume "
                              f"({WORKER_TIMEOUT_ENV} sets the wait)")

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
