"""``optbench study NAME ...``: a study's tasks run as trials through the campaign loop, then its analysis.

The study command parses its own arguments (``optbench study`` hands it the rest of the command
line), so the studies' modules, and torch, are imported only when a study is asked for. Studies are
found through the entry point group ``optbench.studies``; each names its one-line ``summary``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.api import ConfigError
from optbench.cli.common import Parser, add_store, count, study_seeds

SHARED = {"problem", "optimizer", "seeds", "device", "jobs", "executor", "scheduler", "store", "report", "format",
          "quick", "rerun", "quiet", "plugin", "name"}


def add_parser(commands: Any) -> None:
    """``study`` in ``optbench --help``; its own parser (:func:`build_parser`) reads what follows it."""
    from optbench.registry import STUDIES, entries

    commands.add_parser("study", help=f"studies: {', '.join(entries(STUDIES))} (`optbench study --help`)",
                        add_help=False)


def _listing() -> str:
    from optbench.registry import STUDIES, entries

    names = entries(STUDIES)
    width = max(map(len, names), default=0)
    lines = []
    for name, entry in names.items():
        try:
            summary = entry.load().summary
        except ConfigError as exc:  # a study that does not import is listed with why
            summary = str(exc)
        lines.append(f"  {name.ljust(width)}  {summary}")
    return "studies:\n" + "\n".join(lines)


def build_parser(name: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``optbench study`` (no name: the list) or ``optbench study NAME``."""
    if name is None:
        parser = Parser(prog="optbench study", formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Experiments that answer the questions behind a comparison; each task "
                                    "is a stored, resumable trial.", epilog=_listing())
        parser.add_argument("name", metavar="NAME", help="the study to run (see below)")
        return parser
    from optbench.registry import study_class

    cls = study_class(name)
    parser = Parser(prog=f"optbench study {name}", description=f"{cls.question}")
    parser.add_argument("--problem", help=f"the problem, e.g. digits(hidden=64) (default: {cls.default_problem})")
    parser.add_argument("--optimizer", help=f"the optimizer and its hyperparameters (default: "
                                            f"{cls.default_optimizer})")
    parser.add_argument("--seeds", type=study_seeds, help=f"seeds per setting (default: {cls.default_seeds}; "
                                                          f"--quick: {cls.quick_seeds})")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--jobs", "-j", type=count, default=1, help="tasks in parallel (worker processes)")
    parser.add_argument("--executor", choices=["inline", "process", "dask"], help="as for optbench compare")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask cluster, e.g. tcp://host:8786")
    add_store(parser)
    parser.add_argument("--report", metavar="DIR", nargs="?", const="",
                        help="also write the HTML/Markdown report into DIR (default: study-<name>-<run> next to "
                             "the store)")
    parser.add_argument("--format", choices=["table", "json", "markdown"], default="table",
                        help="table (rich, default), json (the payload, schema in docs/reference/json.md) or markdown")
    parser.add_argument("--quick", action="store_true", help="a small setting that finishes in about a minute")
    parser.add_argument("--rerun", action="store_true", help="run every task again, even those in the store")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--plugin", action="append", metavar="FILE_OR_MODULE", help="load problems from a plugin")
    cls.add_arguments(parser)
    return parser


def options_of(cls: Any, args: argparse.Namespace) -> Any:
    """The study's :class:`~optbench.studies.base.StudyOptions` from its parsed flags."""
    from optbench.campaign.api import study_options

    extra = {k: v for k, v in vars(args).items() if k not in SHARED}
    return study_options(cls, problem=args.problem, optimizer=args.optimizer, seeds=args.seeds, device=args.device,
                         quick=args.quick, extra=extra, store=args.store)


def main(argv: Sequence[str], *, plugins: Sequence[str] | None = None) -> int:
    """Run ``optbench study`` with ``argv`` (what follows ``study``); raises ConfigError on mistakes."""
    from optbench.registry import STUDIES, entries, study_class

    argv = list(argv)
    if not argv or argv[0].startswith("-"):
        if any(a in ("-h", "--help") for a in argv) or not argv:
            build_parser().print_help()
            return 0
        build_parser().parse_args(argv)  # reports the unknown option
    name = argv[0]
    if name not in entries(STUDIES):
        raise ConfigError(f"unknown study {name!r}; studies: {', '.join(entries(STUDIES))}")
    args = build_parser(name).parse_args(argv[1:])
    if args.executor == "inline" and args.jobs > 1:
        raise ConfigError("--executor inline runs one task at a time; drop --jobs or use --executor process")
    from optbench.plugins import load_plugins, plugin_specs

    all_plugins = plugin_specs([*(plugins or []), *(args.plugin or [])])  # $OPTBENCH_PLUGINS first
    load_plugins([*(plugins or []), *(args.plugin or [])])
    cls = study_class(name)
    study = cls(options_of(cls, args))
    return run_study(study, args, command=shlex.join(["optbench", "study", *argv]), plugins=all_plugins)


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]] | None:
    """``(plugins, rest)`` when the command is ``study`` (global ``--plugin X`` may come first), else None."""
    plugins: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--plugin" and i + 1 < len(argv):
            plugins.append(argv[i + 1])
            i += 2
            continue
        if token.startswith("--plugin="):
            plugins.append(token.partition("=")[2])
            i += 1
            continue
        return (plugins, list(argv[i + 1 :])) if token == "study" else None
    return None


def report_dir(args: argparse.Namespace, name: str, run_id: int) -> str:
    """Where ``--report`` writes: the given folder, or ``study-NAME-RUN`` next to the store."""
    return args.report or str(Path(args.store).parent / f"study-{name}-{run_id}")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse an unusable ``--store`` or ``--report`` before anything runs."""
    from optbench.store.paths import check_output_dir, check_store_path

    check_store_path(Path(args.store))
    if args.report is not None:
        check_output_dir(Path(args.report) if args.report else Path(args.store).parent, what="the report")


def run_study(study: Any, args: argparse.Namespace, *, command: str, plugins: list[str]) -> int:
    """Run the study's tasks (resuming what the store has), store and print its analysis."""
    from optbench.campaign.api import finish_study
    from optbench.cli.common import say
    from optbench.cli.loop import INTERRUPTED, check_kept, interrupted_line, run_trials
    from optbench.runners.executors import make_executor
    from optbench.store import Store

    check_outputs(args)
    specs = study.tasks()  # every mistake in the study's flags is found here, before the store is touched
    executor = make_executor(jobs=args.jobs, kind=args.executor, scheduler=args.scheduler, plugins=plugins)
    with Store(args.store) as store:
        run_id = store.add_run(command, specs)
        todo = len(store.pending(specs, rerun=args.rerun))
        say(f"study {study.name}: {len(specs)} tasks, {todo} to run, {len(specs) - todo} already in {args.store}")
        outcome = run_trials(specs, store, executor=executor, rerun=args.rerun, quiet=args.quiet, todo=todo,
                             label=study.name)
        if outcome.interrupted:
            say(interrupted_line(outcome, len(specs), args.store, noun="tasks"))
            return INTERRUPTED
        data, results = finish_study(study, store, run_id, specs)
    render(data, args.format)
    check_kept(store, specs)  # never "results in" a path whose store was deleted or replaced meanwhile
    say(f"run {run_id}: study {study.name}, {len(results)} tasks · results in {args.store}")
    if args.report is not None:
        path = write(data, report_dir(args, study.name, run_id), run_id=run_id)
        say(f"report: {path}")
    return 0


def render(data: dict[str, Any], fmt: str) -> None:
    """Print a payload on stdout as a rich table, JSON or Markdown."""
    from optbench.studies import render as out

    if fmt == "json":
        sys.stdout.write(out.to_json(data) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(out.to_markdown(data))
    else:
        from rich.console import Console

        out.print_payload(Console(), data)


def write(data: dict[str, Any], out_dir: str, *, run_id: int) -> Path:
    """Draw the study's figures from the payload and write its report."""
    from optbench.registry import study_class
    from optbench.studies import render as out

    figures = study_class(data["study"]).figures(data)
    return out.write_report(data, figures, out_dir, title=f"optbench study {data['study']} (run {run_id})")


def redraw(data: dict[str, Any], *, run_id: int, fmt: str, out: str | None, store: str) -> int:
    """``optbench report`` of a study's run: from the stored analysis alone, nothing rerun."""
    if fmt == "csv":
        raise ConfigError(f"run {run_id} is a study ({data['study']}); its summary is --format json, markdown "
                          "or html")
    if fmt != "html":
        render(data, "markdown" if fmt == "markdown" else "json")
        return 0
    from optbench.cli.common import say

    path = write(data, out or str(Path(store).parent / f"study-{data['study']}-{run_id}"), run_id=run_id)
    say(f"report of run {run_id} (study {data['study']}): {path}")
    return 0
