"""``optbench compare``: the grid, the campaign, the tables and the report files.

Only the CLI prints; a user's mistake is a :class:`~optbench.api.ConfigError` (one line, exit 2).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from optbench.api import ConfigError
from optbench.campaign.grid import DEFAULT_SUITE
from optbench.cli.common import (
    REPORT_DEFAULT,
    add_store,
    add_taus,
    count,
    count0,
    dtype,
    plugin_parent,
    positive,
    seeds,
)


def add_parser(commands: Any) -> None:
    compare = commands.add_parser(
        "compare",
        parents=[plugin_parent()],
        help="run optimizers on problems over seeds and show the comparison",
        description="Run every optimizer on every problem for every seed; with no options, the quick suite.",
    )
    compare.add_argument("--suite", help=f"suite name or .toml file supplying defaults (default: {DEFAULT_SUITE})")
    compare.add_argument("--problems", action="append", metavar="LIST",
                         help='problems, e.g. "rastrigin(dim=20),sphere"; may repeat')
    compare.add_argument("--optimizers", action="append", metavar="LIST",
                         help='optimizers with hyperparameters, e.g. "adam(lr=0.01),cmaes(popsize=20)"')
    compare.add_argument("--seeds", type=seeds, help="number of seeds (5 = seeds 0..4) or a list (0,3,7); "
                                                     "one given seed: --seed 7 (or --seeds 7,)")
    compare.add_argument("--seed", type=count0, metavar="N", help="exactly this one seed")
    compare.add_argument("--instances", type=seeds, help="problem instances (data, shifts): a count or a list")
    compare.add_argument("--budget", type=positive, help="evaluation budget per trial (cost units)")
    compare.add_argument("--time-budget", type=positive, metavar="SECONDS", help="time budget per trial")
    compare.add_argument("--device", default="auto",
                         help="cpu, cuda, cuda:N, auto (default), or a list such as cpu,cuda to compare")
    compare.add_argument("--dtype", type=dtype, metavar="DTYPE",
                         help="precision of every trial: float32 or float64 (default: each problem's own, float64 "
                              "except neural networks, float32); a problem's own dtype=, e.g. "
                              "\"rastrigin(dtype=float32)\", overrides it")
    add_store(compare)
    compare.add_argument("--rerun", action="store_true", help="run every trial again, even those in the store")
    compare.add_argument("--jobs", "-j", type=count, default=1, help="trials in parallel (worker processes)")
    compare.add_argument("--executor", choices=["inline", "process", "dask"],
                         help="inline (one job), process (a local pool; the default for --jobs > 1) or dask "
                              "(a LocalCluster of --jobs workers)")
    compare.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster, e.g. tcp://host:8786")
    compare.add_argument("--trial-timeout", type=positive, metavar="SECONDS",
                         help="kill a trial that runs longer (it runs in its own process) and record TIMEOUT; with "
                              "--time-budget T a trial is killed at 3 T + 10 s unless this is given")
    compare.add_argument("--retries", type=count0, default=2,
                         help="times a trial whose worker process died is run again before it is CRASHED (default 2)")
    compare.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    compare.add_argument("--format", choices=["table", "json", "csv", "markdown"], default="table",
                         help="table (rich, default) or a machine-readable summary on stdout")
    compare.add_argument("--report", metavar="DIR", nargs="?", const="",
                         help=f"also write the HTML/Markdown report into DIR ({REPORT_DEFAULT})")

    add_taus(compare)
    compare.add_argument("--tuning", metavar="RULESET",
                         help="none (default: the optimizers as given), random:K (the best of K quasi-random draws of "
                              "each optimizer's search space, by validation), optuna:SAMPLER:K (e.g. optuna:TPE:8) "
                              "or self:K (the defaults with K times the budget)")
    compare.add_argument("--space", action="append", metavar="SPACE",
                         help='replace an optimizer\'s search space, e.g. "adam(lr=loguniform(1e-5, 1))"; may repeat '
                              "(`optbench list optimizers` shows each one)")
    compare.set_defaults(func=cmd_compare)


def _joined(values: list[str] | None, option: str) -> list[str] | None:
    """The entries of a repeatable list option; ``None`` when it was not given, an error when given empty."""
    if values is None:
        return None
    from optbench.params import split_top_level

    items = [item for value in values for item in split_top_level(value)]
    if not items:
        raise ConfigError(f"{option} is empty; name at least one, e.g. {option} "
                          + ('"rastrigin(dim=20),sphere"' if option == "--problems" else '"adam(lr=0.01),cmaes"'))
    return items


_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx|inproc)://)?(?:\[[0-9A-Fa-f:.]+\]|[\w.\-]+):\d{1,5}$")


def _check_execution(args: argparse.Namespace) -> None:
    """Options that contradict each other or cannot work; checked before anything runs."""
    kind = args.executor
    if kind == "inline" and args.jobs > 1:
        raise ConfigError(f"--jobs {args.jobs} runs trials in parallel, which --executor inline cannot; "
                          "use --executor process or dask, or drop --executor")
    if kind == "inline" and args.trial_timeout is not None:
        raise ConfigError("--trial-timeout kills a trial in its own process, which --executor inline does not "
                          "start; use --executor process or dask")
    if args.scheduler is not None:
        if kind not in (None, "dask"):
            raise ConfigError(f"--scheduler runs trials on a Dask cluster, not with --executor {kind}; "
                              "drop one of them")
        if not _ADDRESS.match(args.scheduler):
            raise ConfigError(f"--scheduler expects a Dask scheduler address such as tcp://host:8786, "
                              f"got {args.scheduler!r}")


def _grid(args: argparse.Namespace) -> Any:
    from optbench.campaign.grid import suite_grid

    if args.seed is not None and args.seeds is not None:
        raise ConfigError("--seed and --seeds both choose the seeds; give one of them")
    return suite_grid(suite=args.suite, problems=_joined(args.problems, "--problems"),
                      optimizers=_joined(args.optimizers, "--optimizers"),
                      seeds=[args.seed] if args.seed is not None else args.seeds,
                      instances=args.instances, device=args.device, budget=args.budget,
                      time_budget=args.time_budget, dtype=args.dtype)


def cmd_compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from pathlib import Path

    from rich.console import Console

    from optbench.api import TrialState
    from optbench.campaign.grid import build_specs
    from optbench.cli.common import say
    from optbench.cli.loop import INTERRUPTED, check_kept, interrupted_line, run_trials
    from optbench.report.terminal import print_comparison
    from optbench.store import Store
    from optbench.store.paths import check_output_dir, check_store_path

    specs = build_specs(_grid(args))  # every mistake is found here, before the store is touched
    from optbench.tuning.campaign import tuned

    campaign = tuned(specs, tuning=args.tuning, spaces=args.space or [], suite=args.suite)
    first = campaign.first() if campaign else specs  # the trials known before anything runs
    _check_execution(args)
    check_store_path(Path(args.store))  # so are outputs that could not be written
    report_dir = Path(args.report) if args.report else Path(args.store).parent  # run-<id> goes there
    if args.report is not None:
        check_output_dir(report_dir, what="the report")

    from optbench.plugins import plugin_specs
    from optbench.runners.executors import make_executor

    # a scheduler is connected to (and refused) before the store gets a run row
    executor = make_executor(jobs=args.jobs, kind=args.executor, scheduler=args.scheduler,
                             trial_timeout=args.trial_timeout, retries=args.retries,
                             plugins=plugin_specs(args.plugin))
    try:
        store = Store(args.store)
    except BaseException:
        executor.close()
        raise
    with store:
        run_id = store.add_run(shlex.join(["optbench", *argv]), first)
        todo = len(store.pending(first, rerun=args.rerun))
        run = None
        total = len(specs)
        if campaign is None:
            say(f"{len(specs)} trials, {todo} to run, {len(specs) - todo} already in {args.store}")
        else:
            total, later = campaign.planned, campaign.planned - len(first)  # the tuned evaluation: decided later
            todo += later
            say(f"{total} trials ({len(specs)} at the given hyperparameters, {total - len(specs)} for "
                f"{campaign.ruleset.label}), {todo} to run, {total - todo} already in {args.store}")
            for note in campaign.notes:
                say(note)

            def run(advance: Any) -> list:
                return campaign.run(store, executor=executor, rerun=args.rerun, on_result=advance,
                                    on_specs=lambda more: store.extend_run(run_id, more))

        outcome = run_trials(first, store, executor=executor, rerun=args.rerun, quiet=args.quiet, todo=todo,
                             describe=lambda r: f"{r.spec.problem_label} · {r.spec.optimizer_label}"[:40], run=run)
        if outcome.interrupted:
            say(interrupted_line(outcome, total, args.store))
            return INTERRUPTED
        results = store.results(store.run(run_id)[1])
    ran = outcome.ran
    from optbench.analysis import analyze

    analysis = analyze(results, taus=args.tau)  # once: the tables or summary and the report all read it
    if args.format == "table":
        print_comparison(Console(), analysis)
    else:
        print_summary(analysis, args.format)
    counts = {state: sum(r.state is state for r in results) for state in TrialState}  # tuning trials too
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    shared = f" ({len(ran)} run here, {todo - len(ran)} by another optbench process)" if len(ran) < todo else ""
    check_kept(store, first)  # never "results in" a path whose store was deleted or replaced meanwhile
    say(f"run {run_id}: {summary}{shared} · results in {args.store}")
    if args.report is not None:
        from optbench.report.document import write_report

        out_dir = args.report or str(report_dir / f"run-{run_id}")
        path = write_report(analysis, out_dir, title=f"optbench run {run_id}")
        say(f"report: {path}")
    return 0


def print_summary(analysis: Any, fmt: str) -> None:
    """The :class:`~optbench.analysis.Comparison`'s summary in ``fmt`` (json, csv, markdown) on stdout."""
    from optbench.report.export import summary

    sys.stdout.write(summary(analysis, fmt))
    if fmt != "csv":
        sys.stdout.write("\n")


