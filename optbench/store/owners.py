"""Who holds a claim on a trial (``host:pid``), and whether that process still runs."""

from __future__ import annotations

import os
import socket


def current_owner() -> str:
    """``host:pid`` of this process: who holds a claim."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process holding a claim still runs (claims from other hosts count as alive)."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
