"""The store's health: what is refused before a write, and what stops a campaign while it writes.

A store is the user's data, so every fault is named in one line and nothing is written past it:

* **damaged** (a zeroed page, random bytes, a truncated file): SQLite's ``PRAGMA quick_check`` runs
  in the read snapshot that opens the store, before anything could be written; a damaged file is
  refused and left byte-identical.
* **vanished or replaced** (the ``.sqlite``, ``-wal`` or ``-shm`` deleted, or another file put in
  their place): the identity (``st_dev``, ``st_ino``) of each file is taken when it is first seen
  and compared with the path's before every write and at the end of a campaign. SQLite keeps its
  files open, so a deleted file's inode cannot be reused by a new file while the store is open:
  a different identity is always a different file.
* **full disk**, I/O errors, a file turned read-only: the transaction is rolled back by SQLite (the
  store stays intact, every result saved so far is kept) and the fault is raised.

Every fault is a :class:`StoreError`, a :class:`~optbench.api.ConfigError`: before any work it is
a refusal (one line, exit code 2); the command line's campaign loop reports one raised while
trials run as a fault (one line, exit code 1).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from optbench.api import ConfigError

QUICK_CHECK_ROWS = 3  # problems SQLite lists before it stops looking (the first one is shown)
TABLES = {"trials", "runs", "analyses", "sqlite_sequence"}  # everything a store of any version holds
SUFFIXES = ("", "-wal", "-shm")  # the store file and the two files SQLite keeps beside it in WAL mode

# primary SQLite result codes (https://sqlite.org/rescode.html)
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


class StoreError(ConfigError):
    """The store cannot be used: damaged, vanished, replaced, or its disk full or failing.

    Attributes:
        resumable: whether the store holds every result saved so far and a rerun resumes from it
            (a full disk: yes; a deleted or damaged store: no).
    """

    def __init__(self, message: str, *, resumable: bool) -> None:
        super().__init__(message)
        self.resumable = resumable


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+: the extended code
    return None if code is None else code & 0xFF


def damaged(path: Path, problem: str) -> StoreError:
    return StoreError(f"the store {path} is damaged (SQLite: {problem}); it was left untouched: restore it from a "
                      f"copy, recover what is readable with `sqlite3 {path} .recover`, or pass another --store",
                      resumable=False)


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the file's contents are broken (rather than locked, full or unreadable)."""
    code = _code(exc)
    if code is not None:
        return code in (_CORRUPT, _NOTADB)
    return "malformed" in str(exc) or "not a database" in str(exc)


def quick_check(path: Path, db: sqlite3.Connection) -> None:
    """Raise :class:`StoreError` unless SQLite's ``quick_check`` finds the open database sound; reads only.

    ``quick_check`` reads every page and checks the structure of every b-tree (it skips only the
    comparison of indexes with their tables), so a zeroed page, random bytes over a page or a
    truncated file are found; it costs one read of the file.
    """
    try:
        rows = [r[0] for r in db.execute(f"PRAGMA quick_check({QUICK_CHECK_ROWS})")]
    except sqlite3.DatabaseError as exc:
        raise damaged(path, str(exc)) from None
    if rows != ["ok"]:
        first = " ".join(str(rows[0]).replace("*** in database main ***", "").split())
        raise damaged(path, first + (" and more" if len(rows) > 1 else ""))


def write_fault(path: Path, exc: sqlite3.Error, *, lock_timeout: float) -> StoreError:
    """The :class:`StoreError` of a write to the store at ``path`` that SQLite refused with ``exc``."""
    code, text = _code(exc), str(exc)
    if code == _FULL or "full" in text:
        return StoreError(f"the disk holding the store {path} is full ({text}); the store is intact and keeps "
                          "every result saved so far; free space and run the same command again to resume",
                          resumable=True)
    if code in (_BUSY, _LOCKED) or "locked" in text:
        return StoreError(f"the store {path} stayed locked by another process for {lock_timeout:.0f} s ({text}); "
                          "every result saved so far is kept; run the same command again when it is done",
                          resumable=True)
    if code == _READONLY or "readonly" in text:
        return StoreError(f"the store {path} can no longer be written ({text}); every result saved so far is "
                          "kept; make it writable and run the same command again to resume", resumable=True)
    if is_damage(exc):
        return damaged(path, text)
    if code in (_IOERR, _CANTOPEN) or "I/O" in text:
        return StoreError(f"writing the store {path} failed ({text}); check its disk, then run the same command "
                          "again (every result committed before is kept)", resumable=True)
    return StoreError(f"the store {path} could not be written ({text})", resumable=True)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class Identity:
    """The files of a store as this process opened them, to tell when they vanish or are replaced.

    Args:
        path: the store file, which exists (SQLite holds it open).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: dict[str, tuple[int, int]] = {}
        # the names as strings, made once: the check runs before every write (a Path per name tripled its cost)
        self._names = [(suffix, f"{path}{suffix}") for suffix in SUFFIXES]
        self.changed()  # take the identities of the files there now

    def closed(self) -> None:
        """The store was closed: SQLite removes its -wal and -shm when the last connection closes."""
        self._names = self._names[:1]

    def changed(self) -> str | None:
        """What happened to the store's files since they were first seen (``None``: nothing)."""
        gone, replaced = [], []
        for suffix, name in self._names:
            now, seen = _identity(name), self._seen.get(suffix)
            if seen is None:
                if now is not None:
                    self._seen[suffix] = now  # -wal and -shm appear with the first read or write
                elif not suffix:
                    gone.append(name)
                continue
            if now is None:
                gone.append(name)
            elif now != seen:
                replaced.append(name)
        if not gone and not replaced:
            return None
        parts = [f"{', '.join(gone)} deleted"] * bool(gone) + [f"{', '.join(replaced)} replaced by other files"] * bool(
            replaced)
        return " and ".join(parts)


def lost(path: Path, what: str, *, db: sqlite3.Connection, saved: int) -> StoreError:
    """The fault of a store whose files vanished or were replaced while a campaign wrote to it.

    What it held is read through ``db``: SQLite's own open files still reach a deleted file's contents.
    """
    try:
        trials = db.execute("SELECT COUNT(*) FROM trials WHERE state IN ('complete', 'skipped')").fetchone()[0]
        runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        held = f"the {trials} finished trials and {runs} run{'s' * (runs != 1)} it held"
    except sqlite3.Error:
        held = "what it held"
    mine = f" ({saved} saved by this campaign)" if saved else ""
    return StoreError(f"the store {path} was lost while the campaign ran ({what}): {held}{mine} are gone with it; "
                      "nothing more was written; run the same command again to start a new store", resumable=False)


def refuse_foreign(path: Path, db: sqlite3.Connection, version: int, *, schema: int) -> None:
    """Raise :class:`~optbench.api.ConfigError` for a database optbench must not write to; reads only.

    An empty database (a new file) becomes a store. A database from a newer optbench (a ``version``
    above ``schema``), or one with tables of its own (somebody's contacts), is left exactly as it is.
    """
    if version > schema:
        raise ConfigError(f"{path} was written by a newer optbench (schema {version}, this one reads "
                          f"up to {schema}); upgrade optbench or use another --store")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    objects = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    if not tables and not objects and version == 0:
        return
    if version < 1 or not {"trials", "runs"} <= tables or tables - TABLES:
        found = ", ".join(sorted(tables - TABLES)[:5]) or "no optbench tables"
        raise ConfigError(f"{path} is an SQLite database but not an optbench store (it has {found}); "
                          "it was left untouched: pass another --store")
