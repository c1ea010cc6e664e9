"""Checks of the files a command will write, made before any work and without writing anything.

A campaign that runs for an hour and then cannot write its store or its report has wasted the
hour; a store path that is a folder, a file under ``/proc``, a read-only or immutable file is a
user mistake, reported in one line (:class:`~optbench.api.ConfigError`) before anything runs.
Nothing here creates, changes or leaves a file: writability is probed with a temporary folder
that is removed at once, or by opening an existing file for appending without writing to it.
A file system with less free space than the output needs at least (``statvfs``) is refused too:
a full disk found up front costs nothing, one found halfway through a report leaves half a report.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from optbench.api import ConfigError

SQLITE_HEADER = b"SQLite format 3\x00"
STORE_SPACE = 64 * 1024  # bytes free a store needs at least: SQLite's -shm (32 kB) and the first -wal pages
REPORT_SPACE = 1024 * 1024  # bytes free a report folder needs at least (the smallest report is about 0.45 MB)
FILE_SPACE = 64 * 1024  # bytes free a single output file (a baseline, a history page) needs at least


def why_not(exc: OSError) -> str:
    """A short reason for a failed write, in words a user acts on."""
    if exc.errno == errno.EROFS:
        return "it is on a read-only file system"
    if exc.errno == errno.EPERM:
        return "the operating system does not permit writing there (an immutable file or a special folder)"
    if exc.errno == errno.EACCES:
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "files cannot be created there"
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or type(exc).__name__


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or ".")


def _size(n: float) -> str:
    return f"{n / 1024:.0f} kB" if n < 1024**2 else f"{n / 1024**2:.1f} MB"


def check_folder_writable(folder: Path, *, what: str, need: int = 0) -> None:
    """Raise :class:`ConfigError` unless files can be created in ``folder`` or in its nearest existing ancestor.

    Args:
        folder: a folder that exists or will be created.
        what: how the error names the output, e.g. ``"the store x.sqlite"``.
        need: bytes that must be free on its file system (as an unprivileged writer sees it).
    """
    existing = _nearest_existing(folder.absolute())
    if not existing.is_dir():
        raise ConfigError(f"cannot write {what}: {existing} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".optbench-probe-", dir=existing))
    except OSError as exc:
        raise ConfigError(f"cannot write {what}: {why_not(exc)} ({existing})") from None
    try:
        st = os.statvfs(existing)
    except OSError:  # not every file system answers; the write itself will tell
        return
    free = st.f_bavail * st.f_frsize
    if st.f_blocks and free < need:  # f_blocks 0: a pseudo file system that reports no sizes
        raise ConfigError(f"cannot write {what}: only {_size(free)} free on the file system of {existing} "
                          f"(it needs at least {_size(need)}); free space or write elsewhere")


def check_store_path(path: Path) -> None:
    """Raise :class:`ConfigError` when ``path`` cannot hold a store; touches nothing.

    Fine: a new path whose folder can be created, an empty file, an SQLite file (whether it is
    an optbench store is decided once it is open, see :class:`optbench.store.Store`).
    """
    what = f"the store {path}"
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; pass a store file such as {path / 'optbench.sqlite'}")
    if os.path.lexists(path):
        mode = os.stat(path).st_mode if path.exists() else 0
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path} is not a regular file; pass an SQLite file such as results.sqlite")
        try:
            with open(path, "ab"):  # appending nothing: the file stays byte-identical
                pass
            with open(path, "rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise ConfigError(f"cannot write {what}: {why_not(exc)}") from None
        if header and header != SQLITE_HEADER:
            raise ConfigError(f"{path} is not an optbench store (not an SQLite file); pass another --store")
    # SQLite writes its -wal and -shm files beside the store
    check_folder_writable(path.parent, what=what, need=STORE_SPACE)


def check_output_dir(path: Path, *, what: str = "the report") -> None:
    """Raise :class:`ConfigError` unless ``path`` is, or can be created as, a folder to write into."""
    if os.path.lexists(path) and not path.is_dir():
        raise ConfigError(f"cannot write {what} into {path}: it is a file; pass a folder (it is created if missing)")
    check_folder_writable(path, what=f"{what} into {path}", need=REPORT_SPACE)


def check_output_file(path: Path, *, what: str) -> None:
    """Raise :class:`ConfigError` unless ``path`` can be written as a file (an existing file is replaced)."""
    if path.is_dir():
        raise ConfigError(f"cannot write {what} to {path}: it is a folder; pass a file name")
    if os.path.lexists(path):
        try:
            with open(path, "ab"):  # appending nothing: the file stays byte-identical
                pass
        except OSError as exc:
            raise ConfigError(f"cannot write {what} to {path}: {why_not(exc)}") from None
    check_folder_writable(path.parent, what=f"{what} to {path}", need=FILE_SPACE)
