"""``optbench dashboard``: a live, read-only web view of one store (the ``optbench[dashboard]`` extra)."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from optbench.api import ConfigError
from optbench.cli.common import DEFAULT_HISTORY, add_store, integer, positive

NEEDS = ("starlette", "uvicorn", "plotly")  # the dashboard extra's libraries


def add_parser(commands: Any) -> None:
    board = commands.add_parser(
        "dashboard", help="a live, read-only web view of a store: runs, comparisons, plots, studies, history",
        description="Serve a local web application over one store, opened read-only: every run, each run's "
                    "tables and interactive plots (the numbers of `report --format json`), studies, the history "
                    "and two runs side by side with the regression check's verdict. Pages follow a running "
                    "campaign without a reload. Needs the extra: pip install 'optbench[dashboard]'.")
    add_store(board)
    board.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; another needs --expose)")
    board.add_argument("--port", type=partial(integer, minimum=0, maximum=65535), default=8765,
                       help="port (default 8765; 0 picks a free one)")
    board.add_argument("--expose", action="store_true",
                       help="allow a --host other machines reach; a random access token is then required")
    board.add_argument("--history", default=DEFAULT_HISTORY, metavar="FILE",
                       help=f"the history the History page shows (default: {DEFAULT_HISTORY})")
    board.add_argument("--refresh", type=positive, default=2.0, metavar="SECONDS",
                       help="how often an open page looks for new trials (default 2 s)")
    board.set_defaults(func=cmd_dashboard, loads_plugins=False)  # everything is read from the store


def _require_extra() -> None:
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"the dashboard needs {', '.join(missing)}, an optional extra: "
                          "pip install 'optbench[dashboard]'")


def cmd_dashboard(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Check the store, bind the port, print the address and serve until Ctrl-C."""
    from optbench.cli.common import say
    from optbench.dashboard.readonly import open_checked
    from optbench.dashboard.server import plan, serve

    _require_extra()
    if args.refresh < 0.2:
        raise ConfigError(f"--refresh {args.refresh:g} would poll the store more than 5 times a second; "
                          "pass 0.2 or more")
    open_checked(args.store)  # not optbench's, damaged or missing: one line, before anything listens
    chosen = plan(args.host, args.port, expose=args.expose)
    if chosen.token is not None:
        say(f"warning: the dashboard listens on {args.host}, reachable from other machines; the address below "
            "holds its access token, share it only with those who may read this store")

    def ready() -> None:
        say(f"dashboard of {args.store} (read-only) at {chosen.url} · Ctrl-C stops it")

    serve(args.store, history=Path(args.history), plan_=chosen, poll_seconds=args.refresh, ready=ready)
    return 0
