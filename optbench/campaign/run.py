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
    ``on_result`` sees every trial of the campaign as it finishes, here or in the other campaign, once it is
    in the store. Run inline, a result is saved in the same commit as the next claim, before the next trial
    starts (one commit a trial instead of two); other executors save each result as it arrives.
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
    # An executor that takes its next trial only once the last result has been handled (inline: nothing runs
    # in between) lets that result be saved with the next claim, in one commit; any other saves each result
    # as it arrives, since its next claim may come only after other trials have run.
    deferred = getattr(runner, "claims_after_results", False)
    unsaved: list[TrialResult] = []  # results handled but not yet saved (only while deferred)

    def saved(*, announce: bool = True) -> None:
        """The results that waited are in the store now: no claim of theirs is left to give back, and
        ``on_result`` sees them (as it sees every result: once it is saved)."""
        done = list(unsaved)
        unsaved.clear()
        for result in done:
            claimed.discard(result.key)
        if announce:
            for result in done:
                report(result)

    def flush(*, announce: bool = True) -> None:
        """Save what waits for the next claim (there is none: the map ended, or the campaign is stopping)."""
        for result in unsaved:
            store.save(result)  # idempotent: one saved twice after a fault in between is one row
        saved(announce=announce)

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
            if spec.key not in waiting:
                continue
            taken = store.claim([spec], rerun=rerun, since=since, saving=unsaved)
            if taken:
                claimed.add(spec.key)  # before on_result sees the saved results: it may interrupt
            saved()
            if taken:
                yield spec

    try:
        while waiting:
            for result in runner.map(run_trial, claims()):  # type: ignore[attr-defined]
                waiting.pop(result.key, None)
                finished.append(result)
                if deferred:
                    unsaved.append(result)  # saved by the next claim, before the next trial starts
                else:
                    store.save(result)
                    claimed.discard(result.key)
                    report(result)
            flush()
            observe()
            if waiting and not store.claimable([waiting[k] for k in waiting], since=since):
                time.sleep(POLL_SECONDS)  # all held by live campaigns: wait for them to finish
        store.check()  # the results are in the file the campaign opened, which is still there
    finally:
        failing = sys.exc_info()[0] is not None
        if close or failing:
            runner.close()  # type: ignore[attr-defined]
        try:
            flush(announce=not failing)  # what finished is kept: a Ctrl-C before the next claim loses nothing
            store.release(sorted(claimed))
        except StoreError:
            if not failing:  # else the fault in flight is the one to report (a full disk refuses this too;
                raise        # a claim left by this process is taken over once it has exited)
    return finished
