"""The one campaign loop of the command line: a store, a progress bar, and Ctrl-C, SIGTERM and faults kept safe.

``compare``, ``study`` and ``check`` all run their trials through :func:`run_trials`; what each does
before (building specs) and after (rendering) is its own.

* Ctrl-C and SIGTERM stop the campaign the same way: the trials in flight are abandoned (their
  workers killed at once), their claims given back, and the command says how many trials are stored
  and exits with :data:`INTERRUPTED` (130, for either signal: one code tells every script "stopped,
  what finished is stored, rerun to resume", whichever signal a scheduler or a person sent; and
  ``optbench check`` returns the same constant). 143 would say "killed by SIGTERM", which the
  command was not: it ended itself after cleaning up.
* A fault while the trials run (the store's disk full, the store deleted, every Dask worker lost)
  is one line on stderr and exit code :data:`FAULT` (1), after the same clean-up; before any trial
  runs the same faults are refusals (exit code 2, from the command's own checks).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from optbench.api import TrialResult, TrialSpec

INTERRUPTED = 130  # the shell's code for a command stopped by SIGINT (SIGTERM gets it too: see above)
FAULT = 1  # a fault while trials ran: what finished is kept (or, for a lost store, said to be gone)


@dataclass(frozen=True)
class Outcome:
    """What one campaign did: the trials run by this process, or ``interrupted`` with how many are stored."""

    ran: list[TrialResult]
    interrupted: bool = False
    stored: int = 0


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (sent by ``timeout``, systemd, batch schedulers) stops the campaign as Ctrl-C does.

    Only in the main thread, where Python lets a handler be set; elsewhere SIGTERM keeps its default.
    The first SIGTERM interrupts; more of them (a scheduler that repeats itself) are ignored while
    the campaign gives back its claims and ends its workers, which takes well under a second.
    """
    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_trials(specs: Sequence[TrialSpec], store: Any, *, executor: Any, rerun: bool, quiet: bool, todo: int,
               label: str = "trials", describe: Callable[[TrialResult], str] | None = None,
               run: Callable[[Callable[[TrialResult], None]], list[TrialResult]] | None = None) -> Outcome:
    """Run what ``store`` lacks of ``specs`` with a progress bar on stderr; Ctrl-C or SIGTERM keeps what finished.

    Args:
        todo: the number of trials still to run (the bar's total; no bar when 0).
        label: the bar's description, replaced by ``describe(result)`` as trials finish when given.
        run: runs the campaign given the bar's callback (default: :func:`~optbench.campaign.run.run_campaign`
            of ``specs``); a campaign in phases (tuning) passes its own.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optbench.campaign.run import run_campaign
    from optbench.cli.common import stderr

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=stderr(), disable=quiet or todo == 0, transient=True)
    task = progress.add_task(label, total=todo)

    def advance(result: TrialResult) -> None:
        if describe is None:
            progress.update(task, advance=1)
        else:
            progress.update(task, advance=1, description=describe(result))

    try:
        with sigterm_as_interrupt(), progress:
            if run is None:
                ran = run_campaign(specs, store, executor=executor, rerun=rerun, on_result=advance)
            else:
                ran = run(advance)
    except KeyboardInterrupt:
        return Outcome([], interrupted=True, stored=len(store.done_keys(s.key for s in specs)))
    except Exception as exc:
        if not _is_fault(exc):
            raise
        fail(exc, store=store, specs=specs)
    return Outcome(ran)


def _is_fault(exc: BaseException) -> bool:
    from optbench.runners.dask_executor import WorkersLostError
    from optbench.store.health import StoreError

    return isinstance(exc, StoreError | WorkersLostError)


def fail(exc: Exception, *, store: Any, specs: Sequence[TrialSpec]) -> None:
    """Report a fault that stopped a campaign in one line on stderr and exit with :data:`FAULT`.

    When the store keeps what finished (a full disk, lost workers), the line says how much of it.
    """
    from optbench.cli.common import stderr
    from optbench.cli.messages import one_line

    line = f"optbench: error: {exc}"
    if getattr(exc, "resumable", False):
        try:
            stored = len(store.done_keys(s.key for s in specs))
            line += f" ({stored} of {len(specs)} trials are stored in {store.path})"
        except Exception:  # the count is a courtesy; the fault is the message
            pass
    stderr().print(one_line(line), markup=False, soft_wrap=True)
    raise SystemExit(FAULT)


def check_kept(store: Any, specs: Sequence[TrialSpec] = ()) -> None:
    """Before a command says "results in STORE": the store is still the file the campaign wrote
    (not deleted or replaced since), or the fault is reported as :func:`fail` does."""
    from optbench.store.health import StoreError

    try:
        store.check()
    except StoreError as exc:
        fail(exc, store=store, specs=specs)


def interrupted_line(outcome: Outcome, total: int, store: str, *, noun: str = "trials") -> str:
    return (f"interrupted: {outcome.stored} of {total} {noun} are stored in {store}; "
            "run the same command again to resume")
