"""The SQLite results store: one row per trial, keyed by the spec key, written as trials finish.

Contract:

* WAL journal (``synchronous=NORMAL``); every write is one short ``BEGIN IMMEDIATE`` transaction.
* Only an empty database or an optbench store is opened: anything else (somebody's contacts, a
  store from a newer optbench) is refused before a byte of it is written.
* ``save`` is idempotent on the trial key (a result delivered twice is one row).
* Specs and results are JSON (non-finite floats round-trip as ``NaN``/``Infinity``); no pickle.
* The schema version lives in ``PRAGMA user_version``; a store from a newer schema is refused,
  an older one is migrated in place.
* Reopening the same file resumes: :meth:`Store.done_keys` tells what need not run again.
* Coordinators *claim* the trials they are about to run (state RUNNING, owner ``host:pid``) in
  one transaction, so two campaigns on one store never run the same trial; a claim whose owner
  process is gone (killed, crashed) is stale and claimed again. The coordinator is the only
  writer of its trials; workers return results to it. A campaign claims one trial at a time, as
  it has room to run it, and waits for the ones another campaign holds: ``claim(..., since=t)``
  and :meth:`Store.finished_since` tell results saved by anyone after the campaign's start ``t``
  from older ones (a claim leaves ``updated_at`` alone, so a claim given back is not a result).
* Faults (:mod:`optbench.store.health`): a damaged file is refused before anything is written
  (``PRAGMA quick_check``); a store whose files vanish or are replaced while it is open is noticed
  before every write and by :meth:`Store.check`, and never written to again; a full disk or an I/O
  error rolls the transaction back. Each is a :class:`~optbench.store.health.StoreError`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from optbench.api import ConfigError, TrialResult, TrialSpec, TrialState
from optbench.store.health import (
    Identity,
    StoreError,
    damaged,
    is_damage,
    lost,
    quick_check,
    refuse_foreign,
    write_fault,
)
from optbench.store.owners import current_owner, owner_alive
from optbench.store.paths import check_store_path

SCHEMA_VERSION = 3
_LOCK_TIMEOUT = 30.0  # seconds a writer waits for another campaign's transaction
DONE_STATES = (TrialState.COMPLETE.value, TrialState.SKIPPED.value)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    problem TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    seed INTEGER NOT NULL,
    instance INTEGER NOT NULL,
    device TEXT NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    result TEXT,
    updated_at REAL NOT NULL,
    owner TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    command TEXT NOT NULL,
    keys TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS analyses (
    run_id INTEGER PRIMARY KEY,
    study TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


class Store:
    """A results store in one SQLite file.

    Args:
        path: the database file; its folder is created on first write.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_store_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the folder of the store {self.path}: {exc.strerror}") from None
        self._lost: StoreError | None = None
        self.saved = 0  # results this object saved (what a lost store takes with it)
        self._db, version = self._open()
        self._identity = Identity(self.path)
        if version < SCHEMA_VERSION:
            with self._write():  # another process may have migrated it since we looked: look again
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version == 1:  # v1 -> v2: claims (the owner of a RUNNING trial)
                    self._db.execute("ALTER TABLE trials ADD COLUMN owner TEXT")
                # v2 -> v3: the analyses table (a study's derived results), created below
                if version < SCHEMA_VERSION:
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _open(self) -> tuple[sqlite3.Connection, int]:
        """Connect, switch to WAL and read the schema version.

        Switching a new file to WAL takes an exclusive lock for which SQLite does not wait (its
        busy handler is not called), so campaigns that open one new store at the same moment get
        "database is locked"; that is retried here for as long as the write timeout.
        """
        delay, deadline = 0.005, time.monotonic() + _LOCK_TIMEOUT
        while True:
            db = sqlite3.connect(self.path, timeout=_LOCK_TIMEOUT, isolation_level=None)
            try:
                db.execute("BEGIN")  # one snapshot: another campaign may be creating the tables right now
                try:
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    refuse_foreign(self.path, db, version, schema=SCHEMA_VERSION)  # before anything is written to it
                    if version:  # an existing store: sound, before the first write (a new file has no pages)
                        quick_check(self.path, db)
                finally:
                    db.execute("COMMIT")
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                # in WAL mode a commit without fsync is still atomic and never corrupts the file; a power
                # cut may lose the last few trials, which a rerun runs again (a claim and a save per trial
                # cost 8 ms each with fsync on this project's busy 2-core machine, 0.5 ms without)
                db.execute("PRAGMA synchronous=NORMAL")
                return db, db.execute("PRAGMA user_version").fetchone()[0]
            except ConfigError:
                db.close()
                raise
            except sqlite3.OperationalError as exc:
                db.close()
                if "locked" not in str(exc):
                    if "full" in str(exc):
                        raise write_fault(self.path, exc, lock_timeout=_LOCK_TIMEOUT) from None
                    raise ConfigError(f"{self.path} is not an optbench store ({exc})") from None
                if time.monotonic() > deadline:
                    raise ConfigError(f"{self.path} stayed locked by another process for "
                                      f"{_LOCK_TIMEOUT:.0f} s; try again when it is done") from None
                time.sleep(delay)
                delay = min(2 * delay, 0.25)
            except sqlite3.DatabaseError as exc:
                db.close()
                if is_damage(exc) and self.path.stat().st_size > 0:
                    raise damaged(self.path, str(exc)) from None
                raise ConfigError(f"{self.path} is not an optbench store ({exc})") from None

    def close(self) -> None:
        with contextlib.suppress(StoreError):  # kept for check(): the last connection's close removes -wal, -shm
            self.check()
        self._identity.closed()
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self) -> None:
        """Raise :class:`~optbench.store.health.StoreError` when the store's files vanished or were replaced
        since it was opened (also after :meth:`close`: it only looks at the paths)."""
        if self._lost is None:
            what = self._identity.changed()
            if what is not None:
                self._lost = lost(self.path, what, db=self._db, saved=self.saved)
        if self._lost is not None:
            raise self._lost

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction, into the file this store opened and nowhere else."""
        self.check()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT may already have rolled back
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise write_fault(self.path, exc, lock_timeout=_LOCK_TIMEOUT) from None

    # ------------------------------------------------------------------ trials
    def save(self, result: TrialResult) -> None:
        """Insert or replace the row of ``result``'s trial (idempotent on the key)."""
        with self._write():
            self._insert(result)
        self.saved += 1

    def _insert(self, result: TrialResult) -> None:
        """The write of :meth:`save`, inside the caller's transaction."""
        spec = result.spec
        row = (spec.key, spec.problem_label, spec.optimizer_label, spec.seed, spec.instance, spec.device,
               str(result.state), spec.canonical, json.dumps(result.to_json(), sort_keys=True), time.time())
        self._db.execute(
            "INSERT INTO trials (key, problem, optimizer, seed, instance, device, state, spec, result,"
            " updated_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
            " ON CONFLICT(key) DO UPDATE SET state = excluded.state, result = excluded.result,"
            " updated_at = excluded.updated_at, owner = NULL",
            row,
        )

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` whose trials finished for good (COMPLETE or SKIPPED)."""
        return {r[0] for r in self._select("SELECT key FROM trials WHERE key IN ({}) AND state IN (?, ?)",
                                           list(keys), *DONE_STATES)}

    def _select(self, sql: str, keys: Sequence[str], *params: object) -> Iterator[tuple]:
        """The rows of ``sql`` (``{}`` stands for the ``?`` of the keys) over ``keys``, 500 at a time."""
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            yield from self._db.execute(sql.format(",".join("?" * len(chunk))), (*chunk, *params))

    # ------------------------------------------------------------------ claims
    def _rows(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None, float]]:
        """``key -> (state, owner, updated_at)`` of the stored rows among ``keys``."""
        return {r[0]: (r[1], r[2], r[3])
                for r in self._select("SELECT key, state, owner, updated_at FROM trials WHERE key IN ({})", keys)}

    @staticmethod
    def _open_to(row: tuple[str, str | None, float] | None, *, me: str, rerun: bool, since: float | None) -> bool:
        """Whether a trial in this stored state may be claimed by ``me``."""
        if row is None:
            return True
        state, holder, updated = row
        if state == TrialState.RUNNING.value:  # held: only a dead or absent owner gives it up
            return holder in (None, me) or not owner_alive(holder)
        if since is not None and updated >= since:  # finished by someone during this campaign
            return False
        return rerun or state not in DONE_STATES

    def claimable(self, specs: Sequence[TrialSpec], *, rerun: bool = False, since: float | None = None,
                  owner: str | None = None) -> list[TrialSpec]:
        """The specs :meth:`claim` would take now (a read; another process may claim them first)."""
        me = owner or current_owner()
        rows = self._rows([s.key for s in specs])
        return [s for s in dict.fromkeys(specs) if self._open_to(rows.get(s.key), me=me, rerun=rerun, since=since)]

    def claim(self, specs: Sequence[TrialSpec], *, rerun: bool = False, owner: str | None = None,
              since: float | None = None, saving: Sequence[TrialResult] = ()) -> list[TrialSpec]:
        """Mark the trials this process will run as RUNNING, in one transaction, and return them.

        Skipped: trials finished for good (unless ``rerun``), trials another live process has
        claimed, and trials finished at or after ``since`` (by a campaign running beside the
        caller's). Claims of dead processes (a killed campaign) are taken over.

        ``saving``: results to :meth:`save` first, in the same transaction (a campaign saves its last
        result with its next claim: one commit a trial instead of two). They are saved once this returns,
        whatever was claimed; when it raises, neither they nor the claims are written.
        """
        me = owner or current_owner()
        now = time.time()
        claimed: list[TrialSpec] = []
        with self._write():
            for result in saving:
                self._insert(result)
            rows = self._rows([s.key for s in specs])
            for spec in dict.fromkeys(specs):
                if not self._open_to(rows.get(spec.key), me=me, rerun=rerun, since=since):
                    continue
                self._db.execute(
                    "INSERT INTO trials (key, problem, optimizer, seed, instance, device, state, spec, result,"
                    " updated_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)"
                    # updated_at keeps the time of the stored result, if any: a claim given back
                    # (release) must not look like a result saved during a running campaign
                    " ON CONFLICT(key) DO UPDATE SET state = excluded.state, owner = excluded.owner",
                    (spec.key, spec.problem_label, spec.optimizer_label, spec.seed, spec.instance, spec.device,
                     TrialState.RUNNING.value, spec.canonical, now, me),
                )
                claimed.append(spec)
        self.saved += len(saving)
        return claimed

    def finished_since(self, keys: Sequence[str], *, since: float) -> list[TrialResult]:
        """Results among ``keys`` saved at or after ``since`` (by this process or another)."""
        return [TrialResult.from_json(json.loads(r[0])) for r in self._select(
            "SELECT result FROM trials WHERE key IN ({}) AND state != ? AND result IS NOT NULL AND updated_at >= ?",
            keys, TrialState.RUNNING.value, since)]

    def release(self, keys: Iterable[str], *, owner: str | None = None) -> None:
        """Give back claims that did not finish (Ctrl-C): back to the last result, or gone."""
        me = owner or current_owner()
        keys = list(keys)
        if not keys:
            return
        with self._write():
            for key in keys:
                row = self._db.execute("SELECT result FROM trials WHERE key = ? AND state = ? AND owner = ?",
                                       (key, TrialState.RUNNING.value, me)).fetchone()
                if row is None:
                    continue
                if row[0] is None:
                    self._db.execute("DELETE FROM trials WHERE key = ?", (key,))
                else:
                    previous = json.loads(row[0])["state"]
                    self._db.execute("UPDATE trials SET state = ?, owner = NULL WHERE key = ?", (previous, key))

    def running_elsewhere(self, keys: Iterable[str]) -> int:
        """How many of ``keys`` another live process is running now."""
        me = current_owner()
        count = 0
        for key in keys:
            row = self._db.execute("SELECT owner FROM trials WHERE key = ? AND state = ?",
                                   (key, TrialState.RUNNING.value)).fetchone()
            count += row is not None and row[0] != me and owner_alive(row[0])
        return count

    def pending(self, specs: Sequence[TrialSpec], *, rerun: bool = False) -> list[TrialSpec]:
        """The specs that still have to run (all of them with ``rerun``)."""
        if rerun:
            return list(specs)
        done = self.done_keys(s.key for s in specs)
        return [s for s in specs if s.key not in done]

    def results(self, keys: Iterable[str] | None = None) -> list[TrialResult]:
        """Stored results, for ``keys`` (in that order) or all of them."""
        if keys is None:
            rows = self._db.execute("SELECT result FROM trials WHERE result IS NOT NULL ORDER BY rowid")
            return [TrialResult.from_json(json.loads(r[0])) for r in rows]
        wanted = list(keys)
        found = {k: TrialResult.from_json(json.loads(r))
                 for k, r in self._select("SELECT key, result FROM trials WHERE key IN ({}) AND result IS NOT NULL",
                                          wanted)}
        return [found[k] for k in wanted if k in found]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM trials").fetchone()[0])

    # ------------------------------------------------------------------ runs
    def add_run(self, command: str, specs: Sequence[TrialSpec]) -> int:
        """Record a campaign (the command and its trial keys); returns the run id."""
        with self._write():
            cursor = self._db.execute(
                "INSERT INTO runs (created_at, command, keys) VALUES (?, ?, ?)",
                (time.time(), command, json.dumps([s.key for s in specs])),
            )
        return int(cursor.lastrowid or 0)

    def extend_run(self, run_id: int, specs: Sequence[TrialSpec]) -> None:
        """Add trials decided while the run went on (a tuned configuration's evaluation) to its keys."""
        with self._write():
            row = self._db.execute("SELECT keys FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise ConfigError(f"no run {run_id} in {self.path}")
            keys = list(json.loads(row[0]))
            keys += [key for key in dict.fromkeys(s.key for s in specs) if key not in set(keys)]
            self._db.execute("UPDATE runs SET keys = ? WHERE id = ?", (json.dumps(keys), run_id))

    def run(self, run_id: int | None = None) -> tuple[int, list[str]]:
        """``(id, trial keys)`` of a run, the latest when ``run_id`` is ``None``."""
        if run_id is None:
            row = self._db.execute("SELECT id, keys FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        else:
            row = self._db.execute("SELECT id, keys FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            known = [str(r[0]) for r in self._db.execute("SELECT id FROM runs ORDER BY id")]
            which = "no run" if run_id is None else f"no run {run_id}"
            hint = f"runs: {', '.join(known[-10:])}" if known else "run `optbench compare` first"
            raise ConfigError(f"{which} in {self.path}; {hint}")
        return int(row[0]), list(json.loads(row[1]))

    def run_keys(self, run_id: int | None = None) -> list[str]:
        """Trial keys of a run (the latest when ``run_id`` is ``None``)."""
        return self.run(run_id)[1]

    # ------------------------------------------------------------------ analyses
    def save_analysis(self, run_id: int, study: str, payload: dict) -> None:
        """Store a study's derived results for a run (JSON; replaces an earlier analysis of it)."""
        text = json.dumps(payload, sort_keys=True)
        with self._write():
            self._db.execute(
                "INSERT INTO analyses (run_id, study, payload, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(run_id) DO UPDATE SET study = excluded.study, payload = excluded.payload,"
                " created_at = excluded.created_at",
                (run_id, study, text, time.time()),
            )

    def analysis(self, run_id: int) -> tuple[str, dict] | None:
        """``(study name, payload)`` stored for a run, or ``None`` for a plain campaign."""
        row = self._db.execute("SELECT study, payload FROM analyses WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

