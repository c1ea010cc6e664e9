"""``optbench study NAME ...``: parse the study's flags, run its tasks as trials, analyze, render.

The study command parses its own arguments (``optbench study`` hands it the rest of the command
line), so the studies' modules, and torch, are imported only when a study is asked for.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from optbench.api import ConfigError

DEFAULT_STORE = "reports/optbench.sqlite"
MAX_SEEDS = 1000

SUMMARIES = {
    "seeds": "how much do seeds matter: spread of the test metric, disagreement, determinism audit",
    "connectivity": "paths between solutions: loss barriers, permutation alignment, spawning",
    "lottery": "winning tickets: iterative magnitude pruning with rewinding, against random controls",
    "landscape": "landscape features (FDC, autocorrelation, information content...) next to optimizer results",
    "crossover": "least squares: when closed forms (Cholesky, QR) beat iterative methods (CG, GD, Adam)",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see `{self.prog} --help`)")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if not 1 <= value <= MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to {MAX_SEEDS}, got {text!r}")
    return value


def _listing() -> str:
    from optbench.studies import available

    names = available()
    width = max(map(len, names), default=0)
    lines = [f"  {name.ljust(width)}  {SUMMARIES.get(name, '')}" for name in names]
    return "studies:\n" + "\n".join(lines)


def build_parser(name: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``optbench study`` (no name: the list) or ``optbench study NAME``."""
    if name is None:
        parser = _Parser(prog="optbench study", formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Experiments that answer the questions behind a comparison; each task "
                                     "is a stored, resumable trial.", epilog=_listing())
        parser.add_argument("name", metavar="NAME", help="the study to run (see below)")
        return parser
    from optbench.studies import study_class

    cls = study_class(name)
    parser = _Parser(prog=f"optbench study {name}", description=f"{cls.question}")
    parser.add_argument("--problem", help=f"the problem, e.g. digits(hidden=64) (default: {cls.default_problem})")
    parser.add_argument("--optimizer", help=f"the optimizer and its hyperparameters (default: "
                                            f"{cls.default_optimizer})")
    parser.add_argument("--seeds", type=_count, help=f"seeds per setting (default: {cls.default_seeds}; "
                                                     f"--quick: {cls.quick_seeds})")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--jobs", "-j", type=_count, default=1, help="tasks in parallel (worker processes)")
    parser.add_argument("--executor", choices=["inline", "process", "dask"], help="as for optbench compare")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask cluster, e.g. tcp://host:8786")
    parser.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite results file (default: {DEFAULT_STORE})")
    parser.add_argument("--report", metavar="DIR", nargs="?", const="",
                        help="also write the HTML/Markdown report into DIR (default: study-<name>-<run> next to "
                             "the store)")
    parser.add_argument("--format", choices=["table", "json", "markdown"], default="table",
                        help="table (rich, default), json (the payload, schema in the README) or markdown")
    parser.add_argument("--quick", action="store_true", help="a small setting that finishes in about a minute")
    parser.add_argument("--rerun", action="store_true", help="run every task again, even those in the store")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--plugin", action="append", metavar="FILE_OR_MODULE", help="load problems from a plugin")
    cls.add_arguments(parser)
    return parser


def _options(cls: Any, args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    from optbench.runners.devices import resolve_devices
    from optbench.studies.base import StudyOptions

    devices = resolve_devices(args.device)
    if len(devices) != 1:
        raise ConfigError("--device takes one device for a study (e.g. cpu or cuda)")
    common = {"problem", "optimizer", "seeds", "device", "jobs", "executor", "scheduler", "store", "report", "format",
              "quick", "rerun", "quiet", "plugin", "name"}
    extra = {k: v for k, v in vars(args).items() if k not in common}
    extra["store_path"] = args.store  # a study may read an earlier run of the same store (landscape --from-run)
    return StudyOptions(problem=args.problem or cls.default_problem, optimizer=args.optimizer or cls.default_optimizer,
                        seeds=args.seeds or (cls.quick_seeds if args.quick else cls.default_seeds),
                        device=devices[0], quick=args.quick, extra=extra)


def main(argv: Sequence[str], *, plugins: Sequence[str] | None = None) -> int:
    """Run ``optbench study`` with ``argv`` (what follows ``study``); raises ConfigError on mistakes."""
    from optbench.studies import STUDIES, available

    argv = list(argv)
    if not argv or argv[0].startswith("-"):
        if any(a in ("-h", "--help") for a in argv) or not argv:
            build_parser().print_help()
            return 0
        build_parser().parse_args(argv)  # reports the unknown option
    name = argv[0]
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; studies: {', '.join(STUDIES)}")
    if name not in available():
        raise ConfigError(f"study {name!r} is not part of this installation")
    parser = build_parser(name)
    args = parser.parse_args(argv[1:])
    if args.executor == "inline" and args.jobs > 1:
        raise ConfigError("--executor inline runs one task at a time; drop --jobs or use --executor process")
    from optbench.plugins import load_plugins, plugin_specs

    all_plugins = plugin_specs([*(plugins or []), *(args.plugin or [])])  # $OPTBENCH_PLUGINS first
    load_plugins([*(plugins or []), *(args.plugin or [])])
    from optbench.studies import study_class
    from optbench.studies.run import run_study

    cls = study_class(name)
    study = cls(_options(cls, args, parser))
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


if __name__ == "__main__":  # pragma: no cover - `python -m optbench.studies.command seeds --quick`
    raise SystemExit(main(sys.argv[1:]))
