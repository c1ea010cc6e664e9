"""The one campaign loop of the command line: a store, a progress bar, and Ctrl-C or SIGTERM kept safe.

``compare``, ``study`` and ``check`` all run their trials through :func:`run_trials`; what each does
before (building specs) and after (rendering) is its own.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from optbench.api import TrialResult, TrialSpec

INTERRUPTED = 130  # the shell's code for a command stopped by SIGINT


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
    """
    def interrupt(signum: int, frame: Any) -> None:
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
    return Outcome(ran)


def interrupted_line(outcome: Outcome, total: int, store: str, *, noun: str = "trials") -> str:
    return (f"interrupted: {outcome.stored} of {total} {noun} are stored in {store}; "
            "run the same command again to resume")
