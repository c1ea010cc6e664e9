"""``optbench baseline save``: a stored run as a regression baseline (JSON), optionally into the history."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.api import ConfigError
from optbench.cli.common import add_history, add_run, add_store, chosen_run


def add_parser(commands: Any) -> None:
    baseline = commands.add_parser("baseline", help="save a stored run as a regression baseline (JSON)")
    baseline_commands = baseline.add_subparsers(dest="baseline_command", required=True)
    save = baseline_commands.add_parser("save", help="write the baseline file of a stored run")
    add_run(save, help="run id (default: the latest)")
    save.add_argument("-o", "--out", required=True, metavar="FILE", help="baseline file to write")
    add_store(save)

    add_history(save, what="the run")
    save.set_defaults(func=cmd_baseline_save)


def cmd_baseline_save(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from optbench.cli.common import say, stderr
    from optbench.cli.history import record_history
    from optbench.gate.baseline import save_baseline
    from optbench.store import Store
    from optbench.store.paths import check_output_file

    if not Path(args.store).is_file():
        raise ConfigError(f"no store at {args.store}; run `optbench compare` first or pass --store FILE")
    check_output_file(Path(args.out), what="the baseline")
    with Store(args.store) as store:
        run_id, keys = store.run(chosen_run(args))
        results = store.results(keys)
    if not results:
        raise ConfigError(f"run {run_id} in {args.store} has no stored results yet")
    path = save_baseline(results, args.out, command=shlex.join(["optbench", *argv]))
    say(f"baseline of run {run_id} ({len(results)} trials): {path}")
    if args.history:  # and into the history of commits
        record_history(args.history, results, source="baseline", command=shlex.join(["optbench", *argv]),
                       err=stderr())
    return 0
