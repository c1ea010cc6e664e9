"""The ``optbench`` command line. Only this module prints; user mistakes exit with code 2.

Heavy imports (torch, the optimizer libraries) happen inside the commands, so ``--help`` and
``--version`` stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from optbench import __version__
from optbench.api import ConfigError

DEFAULT_STORE = "reports/optbench.sqlite"
DEFAULT_SUITE = "quick"
DEFAULT_CHECK_STORE = "reports/check.sqlite"
MAX_SEEDS = 10_000  # seeds (or instances) of one campaign; more is a typo, and would not fit in memory
_REPORT_DEFAULT = "default: run-<id> beside the store file, so reports/run-<id> for the default --store"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one line (and exit code 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see `{self.prog} --help`)")


def _seeds(text: str) -> list[int]:
    """``5`` means seeds 0..4; ``0,3,7`` means exactly those (at most :data:`MAX_SEEDS` of them)."""
    parts = text.split(",")
    if len(parts) > MAX_SEEDS + 1:  # before converting: a huge list is refused without being built
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SEEDS} values, got a list of {len(parts)}")
    try:
        values = [int(part) for part in parts if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count like 5 or a list like 0,3,7, got {text!r}") from None
    if len(values) == 1 and "," not in text:
        if not 1 <= values[0] <= MAX_SEEDS:
            raise argparse.ArgumentTypeError(f"expected a count from 1 to {MAX_SEEDS} or a list of integers >= 0, "
                                             f"got {values[0]}")
        return list(range(values[0]))
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 0 in the list, got {text!r}")
    if len(values) > MAX_SEEDS or any(v >= 2**63 for v in values):  # the store keeps them as 64-bit integers
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SEEDS} integers below 2**63, got {text!r}")
    return values


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
    return value


def _count(text: str) -> int:
    return _integer(text, 1)


def _count0(text: str) -> int:
    return _integer(text, 0)


def _probability(text: str) -> float:
    value = _positive(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def _dtype(text: str) -> str:
    """``float32`` or ``float64`` (:data:`optbench.api.DTYPES`)."""
    from optbench.api import DTYPES

    if text not in DTYPES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(DTYPES)}, got {text!r}")
    return text


def _taus(text: str) -> list[float]:
    """Moré–Wild tolerances: ``1e-1,1e-3``, each strictly between 0 and 1."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected tolerances like 1e-1,1e-3, got {text!r}") from None
    if not values or not all(0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected tolerances between 0 and 1 like 1e-1,1e-3, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="optbench", description="Benchmark optimizers on problems, over seeds, on CPU and GPU.")
    parser.add_argument("--version", action="version", version=f"optbench {__version__}")
    # also before the subcommand (`optbench --plugin FILE list problems`); its own dest, because a
    # subcommand's default would overwrite a value parsed here
    parser.add_argument("--plugin", action="append", dest="global_plugin", metavar="FILE_OR_MODULE",
                        help="load problems/optimizers from a .py file or module (also $OPTBENCH_PLUGINS)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--plugin", action="append", metavar="FILE_OR_MODULE",
                        help="load problems/optimizers from a .py file or module (also $OPTBENCH_PLUGINS)")

    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="run optimizers on problems over seeds and show the comparison",
        description="Run every optimizer on every problem for every seed; with no options, the quick suite.",
    )
    compare.add_argument("--suite", help=f"suite name or .toml file supplying defaults (default: {DEFAULT_SUITE})")
    compare.add_argument("--problems", action="append", metavar="LIST",
                         help='problems, e.g. "rastrigin(dim=20),sphere"; may repeat')
    compare.add_argument("--optimizers", action="append", metavar="LIST",
                         help='optimizers with hyperparameters, e.g. "adam(lr=0.01),cmaes(popsize=20)"')
    compare.add_argument("--seeds", type=_seeds, help="number of seeds (5 = seeds 0..4) or a list (0,3,7)")
    compare.add_argument("--instances", type=_seeds, help="problem instances (data, shifts): a count or a list")
    compare.add_argument("--budget", type=_positive, help="evaluation budget per trial (cost units)")
    compare.add_argument("--time-budget", type=_positive, metavar="SECONDS", help="time budget per trial")
    compare.add_argument("--device", default="auto",
                         help="cpu, cuda, cuda:N, auto (default), or a list such as cpu,cuda to compare")
    compare.add_argument("--dtype", type=_dtype, metavar="DTYPE",
                         help="precision of every trial: float32 or float64 (default: each problem's own, float64 "
                              "except neural networks, float32); a problem's own dtype=, e.g. "
                              "\"rastrigin(dtype=float32)\", overrides it")
    compare.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite results file (default: {DEFAULT_STORE})")
    compare.add_argument("--rerun", action="store_true", help="run every trial again, even those in the store")
    compare.add_argument("--jobs", "-j", type=_count, default=1, help="trials in parallel (worker processes)")
    compare.add_argument("--executor", choices=["inline", "process", "dask"],
                         help="inline (one job), process (a local pool; the default for --jobs > 1) or dask "
                              "(a LocalCluster of --jobs workers)")
    compare.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster, e.g. tcp://host:8786")
    compare.add_argument("--trial-timeout", type=_positive, metavar="SECONDS",
                         help="kill a trial that runs longer (it runs in its own process) and record TIMEOUT")
    compare.add_argument("--retries", type=_count0, default=2,
                         help="times a trial whose worker process died is run again before it is CRASHED (default 2)")
    compare.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    compare.add_argument("--format", choices=["table", "json", "csv", "markdown"], default="table",
                         help="table (rich, default) or a machine-readable summary on stdout")
    compare.add_argument("--report", metavar="DIR", nargs="?", const="",
                         help=f"also write the HTML/Markdown report into DIR ({_REPORT_DEFAULT})")

    compare.add_argument("--tau", type=_taus, metavar="LIST",
                         help="tolerances of the Moré–Wild profiles (default: 1e-1,1e-3,1e-5,1e-7)")

    report = commands.add_parser(
        "report", help="HTML and Markdown report of a stored run (no rerun, no plugin imported)",
        description="Write a self-contained HTML report (plots embedded) and a Markdown summary of a stored run.",
    )
    report.add_argument("run", nargs="?", type=int, help="run id as printed by compare (default: the latest)")
    report.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite results file (default: {DEFAULT_STORE})")
    report.add_argument("-o", "--out", metavar="DIR", help=f"report directory ({_REPORT_DEFAULT})")
    report.add_argument("--format", choices=["html", "json", "csv", "markdown"], default="html",
                        help="html (report files, default) or a summary on stdout")

    report.add_argument("--tau", type=_taus, metavar="LIST",
                        help="tolerances of the Moré–Wild profiles (default: 1e-1,1e-3,1e-5,1e-7)")
    report.add_argument("--reference", metavar="DIR",
                        help="also draw the run next to a COCO or IOHanalyzer data set (a folder) on one runtime ECDF")

    baseline = commands.add_parser("baseline", help="save a stored run as a regression baseline (JSON)")
    baseline_commands = baseline.add_subparsers(dest="baseline_command", required=True)
    save = baseline_commands.add_parser("save", help="write the baseline file of a stored run")
    save.add_argument("run", nargs="?", type=int, help="run id (default: the latest)")
    save.add_argument("-o", "--out", required=True, metavar="FILE", help="baseline file to write")
    save.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite results file (default: {DEFAULT_STORE})")

    save.add_argument("--history", nargs="?", const="reports/history.jsonl", metavar="FILE",
                      help="also append the run to a history of commits (default file: reports/history.jsonl)")

    gate = commands.add_parser(
        "check", parents=[common], help="compare a rerun (or a stored run) with a baseline; exit 1 on regression",
        description="Rerun the baseline's trials (or read --run from the store) and report every cell as "
                    "better / same / worse in quality and speed. Exit 1 on any regression, 0 otherwise.")
    gate.add_argument("--baseline", metavar="FILE", help="baseline file from `optbench baseline save`")
    gate.add_argument("--run", type=int, help="compare this stored run instead of rerunning")
    gate.add_argument("--store", default=DEFAULT_CHECK_STORE,
                      help=f"SQLite file for the rerun, or holding --run (default: {DEFAULT_CHECK_STORE})")
    gate.add_argument("--seeds", type=_seeds, help="rerun with these seeds (default: the baseline's)")
    gate.add_argument("--jobs", "-j", type=_count, default=1, help="trials in parallel")
    gate.add_argument("--alpha", type=_probability, default=0.05, help="significance level after Holm (0.05)")
    gate.add_argument("--min-effect", type=_positive, default=0.1,
                      help="smallest relative worsening of the median gap that counts (0.1 = 10%%)")
    gate.add_argument("--tolerance", type=_positive, default=0.1,
                      help="time ratio above 1 + this counts as slower, when its whole 95%% CI is (0.1)")
    gate.add_argument("--min-time", type=_positive, default=0.01, metavar="SECONDS",
                      help="judge speed only where a median time reaches this (0.01 s; below, noise dominates)")
    gate.add_argument("--normalize", action="store_true",
                      help="compare timings across machines through a calibration workload run on both")
    gate.add_argument("--format", choices=["table", "json"], default="table")
    gate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    gate.add_argument("--against", metavar="REV",
                      help="run the campaign on this git revision (a temporary worktree) and on the working tree, "
                           "interleaved, and report the difference (no baseline needed)")
    gate.add_argument("--suite", help="with --against and no --baseline: the campaign's suite (default: quick)")
    gate.add_argument("--history", nargs="?", const="reports/history.jsonl", metavar="FILE",
                      help="also append the results to a history of commits (default file: reports/history.jsonl)")

    history = commands.add_parser(
        "history", help="quality and speed across commits, with significant step changes marked",
        description="Per cell, the median gap and time with 95%% intervals over the commits recorded by "
                    "`check --history` / `baseline save --history`, and the steps between neighbouring commits "
                    "that `check`'s tests find significant (Holm-corrected).")
    history.add_argument("--history", default="reports/history.jsonl", metavar="FILE",
                         help="history file (default: reports/history.jsonl)")
    history.add_argument("--machine", metavar="ID", help="whose timeline (default: this machine's, else the latest)")
    history.add_argument("--html", metavar="DIR", help="also write DIR/history.html with plots")
    history.add_argument("--format", choices=["table", "json"], default="table")
    history.add_argument("--last", type=_count, metavar="N", help="show only the latest N commits per cell")
    history.add_argument("--alpha", type=_probability, default=0.05, help="significance level after Holm (0.05)")
    history.add_argument("--min-effect", type=_positive, default=0.1,
                         help="smallest relative worsening of the median gap that counts (0.1 = 10%%)")
    history.add_argument("--tolerance", type=_positive, default=0.1,
                         help="time ratio above 1 + this counts as slower, when its whole 95%% CI is (0.1)")
    history.add_argument("--min-time", type=_positive, default=0.01, metavar="SECONDS",
                         help="judge speed only where a median time reaches this (0.01 s)")

    commands.add_parser("study", help="studies: seeds, connectivity, lottery, landscape, crossover "
                                      "(`optbench study --help`)", add_help=False)
    listing = commands.add_parser("list", parents=[common], help="list problems, optimizers or suites")
    listing.add_argument("what", choices=["problems", "optimizers", "suites"])
    commands.add_parser("plugins", parents=[common], help="where each problem and optimizer comes from; broken plugins")
    from optbench.exportcli import add_parser as add_export_parser  # COCO / IOHanalyzer data sets (issue 16)

    add_export_parser(commands, store_default=DEFAULT_STORE)
    return parser


# ---------------------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console

    from optbench.report.listing import optimizers_table, problems_table, suites_table

    table = {"problems": problems_table, "optimizers": optimizers_table, "suites": suites_table}[args.what]()
    Console().print(table)
    return 0


def cmd_plugins() -> int:
    from rich.console import Console

    from optbench.report.listing import plugins_table

    Console().print(plugins_table())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from optbench import switches

        switches.check()  # read deep inside trials: a bad value is refused before any work
        from optbench.studies.command import split_argv

        study_argv = split_argv(argv)  # `optbench study ...` parses its own flags (imported on demand)
        if study_argv is not None:
            from optbench.studies.command import main as study_main

            return study_main(study_argv[1], plugins=study_argv[0])
        args = build_parser().parse_args(argv)
        if args.global_plugin:  # `optbench --plugin FILE list problems`: as if given after the subcommand
            args.plugin = [*args.global_plugin, *(getattr(args, "plugin", None) or [])]
        # a report is rebuilt from stored JSON alone: it never imports a plugin
        if args.command != "report" and (getattr(args, "plugin", None) or "OPTBENCH_PLUGINS" in os.environ):
            from optbench.plugins import load_plugins

            load_plugins(args.plugin if args.command else None)
        if args.command == "plugins":
            return cmd_plugins()
        if args.command == "compare":
            from optbench.comparecli import cmd_compare

            return cmd_compare(args, argv)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "report":
            from optbench.comparecli import cmd_report
        if args.command == "report" and getattr(args, "reference", None):
            from rich.console import Console

            from optbench.exportcli import cmd_reference

            lines = cmd_reference(args)  # the data set is read (and refused) before the report is written
            status = cmd_report(args)
            for line in lines:
                Console(stderr=True, highlight=False).print(line, markup=False, soft_wrap=True)
            return status
        if args.command == "report":
            return cmd_report(args)
        if args.command == "baseline":
            from optbench.checkcli import cmd_baseline_save

            return cmd_baseline_save(args, argv)
        if args.command == "history":
            from optbench.historycli import cmd_history

            return cmd_history(args)
        if args.command == "check" and args.against:
            from optbench.historycli import cmd_check_against

            return cmd_check_against(args, argv)
        if args.command == "check" and not args.baseline:
            raise ConfigError("check needs --baseline FILE (from `optbench baseline save`) or --against REV")
        if args.command == "export":
            from rich.console import Console

            from optbench.exportcli import cmd_export

            for line in cmd_export(args):
                Console(stderr=True, highlight=False).print(line, markup=False, soft_wrap=True)
            return 0
        if args.command == "check":
            from optbench.checkcli import cmd_check

            return cmd_check(args)
        build_parser().print_help()
        return 0
    except ConfigError as exc:
        from rich.console import Console

        from optbench.messages import one_line

        # one line, whatever the message holds: a 100 kB name typed by mistake is cut, not echoed
        Console(stderr=True, highlight=False).print(one_line(f"optbench: error: {exc}"), markup=False,
                                                    soft_wrap=True)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
