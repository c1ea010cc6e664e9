"""A store opened for reading only: SQLite ``mode=ro``, never a write, never a new file.

SQLite in WAL mode keeps two files beside the store while a connection is open (``-wal`` and
``-shm``); a campaign that writes creates them and removes them when it closes. A ``mode=ro``
connection to a WAL store whose ``-wal`` and ``-shm`` are absent would create them and, being
read-only, could not remove them again. So:

* while a writer holds the store open (its ``-wal`` and ``-shm`` exist) a read is a plain
  ``mode=ro`` connection, which reads the writer's committed transactions beside it;
* otherwise the file is read with ``immutable=1`` (no locks, no ``-shm``) and the read is kept only
  if nobody started writing meanwhile: a writer creates the ``-wal`` before its first change and
  a checkpoint changes the store file's size or modification time, so both are looked at before
  and after; a read that overlapped a writer is done again the ``mode=ro`` way.

The checks made before a dashboard starts (:func:`open_checked`) reuse the store's own:
:func:`~optbench.store.health.refuse_foreign` (not optbench's, or a newer schema) and
:func:`~optbench.store.health.quick_check` (damaged).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from optbench.api import ConfigError
from optbench.store import SCHEMA_VERSION
from optbench.store.health import damaged, is_damage, quick_check, refuse_foreign
from optbench.store.paths import SQLITE_HEADER

T = TypeVar("T")
_WAL_HEADER = (18, 2)  # bytes 18 and 19 of an SQLite header are 2 in WAL mode
_ATTEMPTS = 5


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _writer_present(path: Path) -> bool:
    """Whether the store's ``-wal`` and ``-shm`` exist (a connection holds it, or one was killed)."""
    return os.path.exists(f"{path}-wal") and os.path.exists(f"{path}-shm")


def _is_wal(path: Path) -> bool:
    with open(path, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[_WAL_HEADER[0]] == _WAL_HEADER[1]


def _connect(path: Path, *, immutable: bool) -> sqlite3.Connection:
    uri = path.absolute().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    db = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
    db.execute("PRAGMA query_only = ON")  # a second guard: this connection refuses every write
    return db


def check_file(path: Path) -> None:
    """Raise :class:`ConfigError` unless ``path`` is an existing SQLite file; reads 16 bytes."""
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; pass the store file, e.g. --store {path / 'optbench.sqlite'}")
    if not path.is_file():
        raise ConfigError(f"no store at {path}; run `optbench compare` first or pass --store FILE")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise ConfigError(f"cannot read the store {path}: {exc.strerror}") from None
    if not header:
        raise ConfigError(f"{path} is an empty file, not an optbench store; pass another --store")
    if header != SQLITE_HEADER:
        raise ConfigError(f"{path} is not an optbench store (not an SQLite file); pass another --store")


class ReadOnlyStore:
    """Reads of one store file, each in a fresh read-only connection (the dashboard serves threads).

    Args:
        path: an SQLite file (see :func:`open_checked` for the checks made once before serving).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connection(self, *, immutable: bool) -> Iterator[sqlite3.Connection]:
        db = _connect(self.path, immutable=immutable)
        try:
            yield db
        finally:
            db.close()

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` in one read transaction (one snapshot), without a write or a new file."""
        for _ in range(_ATTEMPTS):
            if _writer_present(self.path) or not _is_wal(self.path):
                with self._connection(immutable=False) as db:
                    db.execute("BEGIN")
                    try:
                        return fn(db)
                    finally:
                        db.execute("COMMIT")
            before = _stat(self.path)
            with self._connection(immutable=True) as db:
                value = fn(db)
            if not os.path.exists(f"{self.path}-wal") and _stat(self.path) == before:
                return value  # nobody wrote while it was read
        raise ConfigError(f"the store {self.path} kept changing under every read; try again")

    def check(self) -> None:
        """Raise :class:`ConfigError` for a store that is not optbench's, from a newer optbench, or damaged."""
        check_file(self.path)

        def look(db: sqlite3.Connection) -> None:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            refuse_foreign(self.path, db, version, schema=SCHEMA_VERSION)
            if version == 0:  # an empty SQLite database: refuse_foreign lets a new store through
                raise ConfigError(f"{self.path} is an empty SQLite database, not an optbench store yet; "
                                  "run `optbench compare --store` on it first")
            quick_check(self.path, db)

        try:
            self.read(look)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise damaged(self.path, str(exc)) from None
            raise ConfigError(f"{self.path} cannot be read as an optbench store ({exc})") from None


def open_checked(path: str | Path) -> ReadOnlyStore:
    """The store at ``path``, after the checks a server makes before it starts (one line each)."""
    store = ReadOnlyStore(path)
    store.check()
    return store
