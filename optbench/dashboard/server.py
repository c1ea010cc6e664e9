"""Serving the dashboard with uvicorn on a socket bound here, so a taken port is one line before anything runs."""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optbench.api import ConfigError


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one), or one :class:`ConfigError` line."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host} is not an address of this machine ({exc.strerror}); "
                          "pass e.g. 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is in use; pass another --port (0 picks a free one)") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"port {port} needs privileges on this machine; pass --port above 1023") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"--host {host} is not an address of this machine; pass e.g. 127.0.0.1") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    return sock


@dataclass(frozen=True)
class Plan:
    """Where the dashboard listens and the address to open (with the token, when one is required)."""

    sock: socket.socket
    url: str
    token: str | None


def plan(host: str, port: int, *, expose: bool) -> Plan:
    """Bind, and decide on a token: a non-local host needs ``expose`` and then always gets one."""
    local = is_loopback(host)
    if not local and not expose:
        raise ConfigError(f"--host {host} would let other machines read the store; add --expose to mean it "
                          "(a random access token is then required), or keep the default 127.0.0.1")
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    token = None if local else secrets.token_urlsafe(24)
    url = f"http://{shown}:{bound}/" + (f"?token={token}" if token else "")
    return Plan(sock, url, token)


def serve(store_path: str | Path, *, history: Path, plan_: Plan, poll_seconds: float,
          ready: Callable[[], None] = lambda: None) -> None:
    """Run until Ctrl-C or SIGTERM (uvicorn stops on both and returns)."""
    import uvicorn

    from optbench.dashboard.app import create_app
    from optbench.dashboard.readonly import ReadOnlyStore

    app = create_app(ReadOnlyStore(store_path), history=history, token=plan_.token,
                     local=plan_.token is None, poll_seconds=poll_seconds)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    ready()
    server.run(sockets=[plan_.sock])
