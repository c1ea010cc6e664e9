"""The SQLite store: idempotent saves, resume, JSON round trip with non-finite values, versioning."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3

import pytest

from optbench.api import Budget, ConfigError, TracePoint, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.store import SCHEMA_VERSION, Store


def spec(seed: int = 0, **kw) -> TrialSpec:
    return TrialSpec(problem="sphere", optimizer="random", budget=Budget(evaluations=10), seed=seed,
                     problem_params=freeze_params({"dim": 3}), **kw)


def test_spec_key_is_stable_and_distinguishes_fields():
    assert spec().key == spec().key
    assert len({spec().key, spec(seed=1).key, spec(device="cuda").key, spec(instance=2).key}) == 4
    assert TrialSpec.from_json(spec().to_json()) == spec()


def test_save_is_idempotent_and_round_trips_non_finite_values(tmp_path):
    path = tmp_path / "s.sqlite"
    result = TrialResult(spec=spec(), state=TrialState.COMPLETE, final_value=math.nan, optimal_value=0.0,
                         trace=(TracePoint(1.0, 0.1, math.inf), TracePoint(2.0, 0.2, -math.inf)))
    with Store(path) as store:
        store.save(result)
        store.save(result)
        assert store.count() == 1
    with Store(path) as store:  # reopening resumes
        (back,) = store.results([spec().key])
        assert math.isnan(back.final_value)
        assert back.trace[0].best == math.inf and back.trace[1].best == -math.inf
        assert back.spec == spec() and back.state is TrialState.COMPLETE


def test_pending_skips_complete_and_skipped_but_retries_failed(tmp_path):
    specs = [spec(seed=s) for s in range(4)]
    with Store(tmp_path / "s.sqlite") as store:
        store.save(TrialResult(spec=specs[0], state=TrialState.COMPLETE))
        store.save(TrialResult(spec=specs[1], state=TrialState.SKIPPED, reason="no"))
        store.save(TrialResult(spec=specs[2], state=TrialState.FAILED, reason="boom"))
        assert store.pending(specs) == specs[2:]
        assert store.pending(specs, rerun=True) == specs


def test_runs_record_their_keys(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        first = store.add_run("optbench compare", [spec(0)])
        second = store.add_run("optbench compare --seeds 2", [spec(0), spec(1)])
        assert second > first
        assert store.run_keys() == [spec(0).key, spec(1).key]
        assert store.run_keys(first) == [spec(0).key]
        with pytest.raises(ConfigError, match="no run 99"):
            store.run_keys(99)


def test_store_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError, match="newer optbench"):
        Store(path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigError, match="not an optbench store"):
        Store(path)


def test_store_uses_wal(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _open_and_save(path: str, seed: int, barrier) -> None:
    barrier.wait()  # every process opens the new file at the same moment
    with Store(path) as store:
        store.save(TrialResult(spec=spec(seed), state=TrialState.COMPLETE, final_value=float(seed)))


def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path):
    # Switching a new file to WAL is not covered by SQLite's busy timeout; racing campaigns
    # used to get "database is locked" here (12-13 of 180 opens failed before the retry).
    ctx = multiprocessing.get_context("fork")
    for attempt in range(10):
        path = str(tmp_path / f"race{attempt}.sqlite")
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open_and_save, args=(path, seed, barrier)) for seed in range(6)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert [proc.exitcode for proc in procs] == [0] * 6
        with Store(path) as store:
            assert store.count() == 6
            assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_locked_past_the_timeout_names_the_lock(tmp_path, monkeypatch):
    path = tmp_path / "held.sqlite"
    Store(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")  # so that opening must take the exclusive lock again
    db.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr("optbench.store.sqlite._LOCK_TIMEOUT", 0.2)
    try:
        with pytest.raises(ConfigError, match="stayed locked by another process"):
            Store(path)
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_a_foreign_database_is_refused_byte_for_byte_untouched(tmp_path):
    path = tmp_path / "contacts.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ada')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=r"not an optbench store \(it has contacts\)"):
        Store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.sqlite"]  # no -wal, no -shm


def test_a_store_with_an_extra_table_is_not_a_store(tmp_path):
    path = tmp_path / "mixed.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="not an optbench store"):
        Store(path)


def test_claims_made_during_a_campaign_are_told_apart_from_older_results(tmp_path):
    import time

    old, fresh, free = spec(0), spec(1), spec(2)
    with Store(tmp_path / "since.sqlite") as store:
        store.save(TrialResult(spec=old, state=TrialState.FAILED, reason="earlier"))
        time.sleep(0.01)  # the campaign starts strictly after the earlier result (a clock tick)
        since = time.time()
        # a claim given back keeps the time of the result it had: still an old result, claimable again
        assert store.claim([old], since=since) == [old]
        store.release([old.key])
        assert store.finished_since([old.key], since=since) == []
        assert store.claimable([old, free], since=since) == [old, free]
        # a trial another campaign finished after `since`: taken as this campaign's, never run again
        store.save(TrialResult(spec=fresh, state=TrialState.FAILED, reason="just now"))
        assert [r.reason for r in store.finished_since([old.key, fresh.key], since=since)] == ["just now"]
        assert store.claim([fresh], rerun=True, since=since) == []
        assert store.claimable([old, fresh, free], rerun=True, since=since) == [old, free]


# ------------------------------------------------------------------ one commit a trial, inline
def _states(path) -> list[str]:
    db = sqlite3.connect(path)  # a second connection: what another process would read
    try:
        return [row[0] for row in db.execute("SELECT state FROM trials ORDER BY seed")]
    finally:
        db.close()


def test_an_inline_campaign_saves_each_result_with_the_next_claim_before_the_next_trial_runs(tmp_path):
    from optbench.campaign.run import run_campaign

    path = tmp_path / "c.sqlite"
    specs = [spec(seed=s) for s in range(6)]
    seen: list[list[str]] = []
    with Store(path) as store:
        commits: list[str] = []
        store._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        ran = run_campaign(specs, store, on_result=lambda r: seen.append(_states(path)))
    assert [r.spec for r in ran] == specs
    # result k is reported once it is in the store; the next trial is claimed but has not finished
    for k, states in enumerate(seen):
        assert states[: k + 1] == ["complete"] * (k + 1)
        assert states[k + 1 :] == ["running"] * (k + 1 < len(specs))
    # a claim per trial, each carrying the result before it, and one commit for the last result
    assert len(commits) == len(specs) + 1
    assert _states(path) == ["complete"] * len(specs)


def test_an_interrupt_between_a_result_and_the_next_trial_keeps_every_result_and_no_claim(tmp_path):
    from optbench.campaign.run import run_campaign

    path = tmp_path / "i.sqlite"
    reported: list[str] = []

    def stop_at_the_second(result: TrialResult) -> None:
        reported.append(result.key)
        if len(reported) == 2:
            raise KeyboardInterrupt

    with Store(path) as store, pytest.raises(KeyboardInterrupt):
        run_campaign([spec(seed=s) for s in range(5)], store, on_result=stop_at_the_second)
    assert _states(path) == ["complete", "complete"]  # the third trial's claim was given back
    with Store(path) as store:  # and a rerun resumes from there
        from optbench.campaign.run import run_campaign

        assert len(run_campaign([spec(seed=s) for s in range(5)], store)) == 3
    assert _states(path) == ["complete"] * 5
