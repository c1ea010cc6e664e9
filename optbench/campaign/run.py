"""Running a campaign into a store: claim what nobody holds, run it, save each result as it finishes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence

from optbench.api import TrialResult, TrialSpec
from optbench.store import Store
from optbench.store.health import StoreError

POLL_SECONDS = 0.5  # how often a campaign looks at the trials another campaign on its store is running


def run_campaign(
    specs: Sequence[TrialSpec],
    store: Store,
    *,
    executor: object | None = None,
    rerun: bool = False,
    on_result: Callable[[TrialResult], None] | None = None,
    close: bool = True,
) -> list[TrialResult]:
    """Run every trial of ``specs`` the store still lacks, sharing the work with other campaigns.

    Trials are claimed one at a time, as the executor has room for them, so two campaigns on one
    store split the work between them. Trials another live campaign has claimed are waited for
    (the store is polled); a claim whose owner died, or that its owner gave back, is taken over.
    ``on_result`` sees every trial of the campaign as it finishes, here or in the other campaign.
    With ``rerun``, results stored before this call are run again; ones stored during it are not.

    The executor is closed at the end unless ``close`` is false (a campaign in phases, such as tuning,
    reuses its workers); it is always closed when the campaign is interrupted.

    Returns the results of the trials this process ran. Interrupting (Ctrl-C) loses only the
    trials in flight: everything saved so far stays, unfinished claims are given back, and
    rerunning the campaign resumes. So does a fault while the trials run (the store's disk full,
    every Dask worker lost: :class:`~optbench.store.health.StoreError`,
    :class:`~optbench.runners.dask_executor.WorkersLostError`), which is raised once the executor is closed
    and the claims are given back; a store deleted or replaced meanwhile is never written to again,
    and is found at the latest when the campaign ends (:meth:`~optbench.store.Store.check`).
    """
    from optbench.runners.executors import InlineExecutor
    from optbench.runners.trial import run_trial

    runner = executor or InlineExecutor()
    since = time.time()  # results saved from here on, by anyone, are this campaign's
    waiting = {s.key: s for s in store.pending(list(dict.fromkeys(specs)), rerun=rerun)}
    finished: list[TrialResult] = []
    claimed: set[str] = set()

    def report(result: TrialResult) -> None:
        if on_result is not None:
            on_result(result)

    def observe() -> None:
        """Take in what other campaigns finished since the start."""
        for result in store.finished_since([k for k in waiting if k not in claimed], since=since):
            del waiting[result.key]
            report(result)

    def claims() -> Iterator[TrialSpec]:
        """Claim the next trial nobody holds, each when the executor has room for it (not all at once:
        a campaign started a moment later takes the trials this one has not reached yet)."""
        last_look = time.monotonic()
        for spec in store.claimable(list(waiting.values()), rerun=rerun, since=since):
            if time.monotonic() - last_look > POLL_SECONDS:  # the progress counts the other's trials too
                observe()
                last_look = time.monotonic()
            if spec.key in waiting and store.claim([spec], rerun=rerun, since=since):
                claimed.add(spec.key)
                yield spec

    try:
        while waiting:
            for result in runner.map(run_trial, claims()):  # type: ignore[attr-defined]
                store.save(result)
                claimed.discard(result.key)
                waiting.pop(result.key, None)
                finished.append(result)
                report(result)
            observe()
            if waiting and not store.claimable([waiting[k] for k in waiting], since=since):
                time.sleep(POLL_SECONDS)  # all held by live campaigns: wait for them to finish
        store.check()  # the results are in the file the campaign opened, which is still there
    finally:
        failing = sys.exc_info()[0] is not None
        if close or failing:
            runner.close()  # type: ignore[attr-defined]
        try:
            store.release(sorted(claimed))
        except StoreError:
            if not failing:  # else the fault in flight is the one to report (a full disk refuses this too;
                raise        # a claim left by this process is taken over once it has exited)
    return finished
