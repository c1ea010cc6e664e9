"""The worker side of process-based executors: specs in, results out, as JSON bytes (never pickle).

``serve`` is the loop of a long-lived pool worker; ``python -m optbench.runners.worker`` runs one
trial from stdin to stdout (Dask's hard timeouts run a trial that way, so it can be killed).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from optbench.api import TrialResult, TrialSpec, TrialState

_PREPARED: set[tuple[tuple[str, ...], int | None]] = set()
# A trial with a time budget is killed (TIMEOUT) once it has run this many times its budget plus the
# grace: the evaluator refuses every call after the budget, so only an optimizer that does not call
# it (or swallows the refusal) runs on; the grace covers what is not timed (building the problem,
# the untimed warm-up that imports an optimizer's library, the final evaluation).
HARD_LIMIT_FACTOR = 3.0
HARD_LIMIT_GRACE = 10.0  # seconds
READY = b"ready"  # a pool worker's first message: started up, trials may be timed from now (results are JSON)
TrialFunction = Callable[[TrialSpec], TrialResult]  # what an executor maps over specs


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while a child process is started (it inherits that), where signals can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def prepare(plugins: Sequence[str], threads: int | None) -> None:
    """Load the coordinator's plugins and bound torch's threads, once per process."""
    key = (tuple(plugins), threads)
    if key in _PREPARED:
        return
    if threads:
        import torch

        torch.set_num_threads(threads)
    if plugins:  # the coordinator's full list (environment included): a remote worker has no such environment
        from optbench.plugins import load_plugin

        for spec in plugins:
            load_plugin(spec)
    _PREPARED.add(key)


def encode(result: TrialResult) -> bytes:
    return json.dumps(result.to_json()).encode()


def decode(data: bytes | str) -> TrialResult:
    return TrialResult.from_json(json.loads(data))


def run_encoded(spec_json: str) -> bytes:
    from optbench.runners.trial import run_trial

    return encode(run_trial(TrialSpec.from_json(json.loads(spec_json))))


def serve(conn: Any, plugins: Sequence[str], threads: int | None, *, inherited: Sequence[Any] = ()) -> None:
    """Run trials sent over ``conn`` until it closes.

    Ctrl-C reaches every process of the terminal's foreground group; the coordinator alone
    decides what an interrupt means (it saves what finished and stops its workers), so a worker
    ignores SIGINT rather than printing a KeyboardInterrupt traceback of its own.

    Args:
        inherited: the coordinator's connections a forked worker holds copies of, closed here
            first. A forked worker also drops the coordinator's SIGTERM handler (SIGTERM ends a
            worker) and writes through stdout and stderr objects of its own (the coordinator's
            progress thread may have held their locks when it forked).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if inherited:
        for other in inherited:
            other.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 -- the process's streams, for its lifetime
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        except OSError:  # a stream that is closed stays the inherited object
            pass
    prepare(plugins, threads)
    try:
        conn.send_bytes(READY)
    except OSError:
        return
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        result = run_encoded(data.decode())
        try:
            conn.send_bytes(result)
        except OSError:  # the coordinator is gone (killed, or stopped while this trial ran): nobody to tell
            return


def hard_limit(spec: TrialSpec, trial_timeout: float | None) -> tuple[float, str] | None:
    """Seconds ``spec``'s trial may run before its process is killed, and the reason recorded then.

    ``--trial-timeout`` when given; else, for a trial with a time budget, :data:`HARD_LIMIT_FACTOR`
    times the budget plus :data:`HARD_LIMIT_GRACE`; else ``None`` (no limit).
    """
    if trial_timeout is not None:
        return trial_timeout, f"killed after the trial timeout of {trial_timeout:g} s"
    budget = spec.budget.seconds
    if budget is None:
        return None
    limit = HARD_LIMIT_FACTOR * budget + HARD_LIMIT_GRACE
    return limit, (f"killed after {limit:g} s ({HARD_LIMIT_FACTOR:g} × its time budget of {budget:g} s + "
                   f"{HARD_LIMIT_GRACE:g} s): the optimizer did not return when its budget ran out")


def lost(spec: TrialSpec, state: TrialState, reason: str) -> TrialResult:
    """The result of a trial whose process was killed or died: no values, the reason."""
    return TrialResult(spec=spec, state=state, reason=reason)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one trial from stdin; a Ctrl-C ends it quietly (exit 130), its task reports it."""
    args = list(sys.argv[1:] if argv is None else argv)
    threads = int(os.environ.get("OPTBENCH_WORKER_THREADS", "0")) or None
    try:
        prepare(args, threads)
        sys.stdout.buffer.write(run_encoded(sys.stdin.read()))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
