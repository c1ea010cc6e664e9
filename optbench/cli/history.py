"""``optbench history`` and the ``--history`` option of ``check`` and ``baseline save``: the command-line side
of :mod:`optbench.gate.history`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.api import ConfigError, TrialResult
from optbench.cli.common import DEFAULT_HISTORY, add_gate_options, count, gate_settings


def add_parser(commands: Any) -> None:
    history = commands.add_parser(
        "history", help="quality and speed across commits, with significant step changes marked",
        description="Per cell, the median gap and time with 95%% intervals over the commits recorded by "
                    "`check --history` / `baseline save --history`, and the steps between neighbouring commits "
                    "that `check`'s tests find significant (Holm-corrected).")
    history.add_argument("--history", default=DEFAULT_HISTORY, metavar="FILE",
                         help=f"history file (default: {DEFAULT_HISTORY})")
    history.add_argument("--machine", metavar="ID", help="whose timeline (default: this machine's, else the latest)")
    history.add_argument("--html", metavar="DIR", help="also write DIR/history.html with plots")
    history.add_argument("--format", choices=["table", "json"], default="table")
    history.add_argument("--last", type=count, metavar="N", help="show only the latest N commits per cell")
    add_gate_options(history, min_time_help="judge speed only where a median time reaches this (0.01 s)")
    history.set_defaults(func=cmd_history)


def record_history(path: str, results: Sequence[TrialResult], *, source: str, command: str, err: Any,
                   git: dict[str, Any] | None = None) -> None:
    """Append ``results`` to the history at ``path`` and say so on ``err`` (a rich console)."""
    from optbench.gate.history import git_state, record

    if Path(path).is_dir():
        raise ConfigError(f"--history {path} is a folder; pass a file, e.g. --history {path}/history.jsonl")
    state = git if git is not None else git_state()
    entry = record(results, path, source=source, command=command, git=state)
    where = (f"commit {state['commit'][:8]}" + (" with uncommitted changes" if state.get("dirty") else "")
             if state else "no git commit (not inside a repository)")
    err.print(f"history: {len(entry['trials'])} trials at {where} on machine {entry['machine']} appended to {path}",
              markup=False, soft_wrap=True)


def cmd_history(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Render the history as rich tables (or JSON), and as an HTML page with ``--html DIR``."""
    from rich.console import Console

    from optbench.gate.baseline import fingerprint
    from optbench.gate.history import default_machine, load, machine_id, timeline
    from optbench.report.history import terminal, to_json, write_html

    if args.html:  # before reading anything: the page's folder must be writable
        from optbench.store.paths import check_output_dir

        check_output_dir(Path(args.html), what="the history page")
    entries = load(args.history)
    if not entries:
        raise ConfigError(f"{args.history} holds no entries yet; record some with `optbench check --history`")
    machines = {e.get("machine") for e in entries}
    if args.machine and args.machine not in machines:
        raise ConfigError(f"no entries of machine {args.machine!r} in {args.history}; "
                          f"its machines: {', '.join(sorted(map(str, machines)))}")
    machine = args.machine or default_machine(entries, machine_id(fingerprint()))
    tl = timeline(entries, machine=machine, **gate_settings(args))
    if args.format == "json":
        sys.stdout.write(to_json(tl) + "\n")
    else:
        Console().print(terminal(tl, last=args.last))
    if args.html:
        page = write_html(tl, args.html)
        Console(stderr=True, highlight=False).print(f"history page: {page}", markup=False, soft_wrap=True)
    return 0
