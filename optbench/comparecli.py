"""``optbench compare`` and ``optbench report``: the grid, the campaign, the tables and the report files.

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
from optbench.cli import DEFAULT_SUITE

# ---------------------------------------------------------------------------- compare


def _joined(values: list[str] | None, option: str) -> list[str] | None:
    """The entries of a repeatable list option; ``None`` when it was not given, an error when given empty."""
    if values is None:
        return None
    from optbench.parsing import split_top_level

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
    from optbench.api import Budget
    from optbench.campaign import Grid
    from optbench.runners.devices import resolve_devices
    from optbench.suites import load_suite

    suite = load_suite(args.suite or DEFAULT_SUITE)
    budgets = suite.budgets
    if args.budget is not None or args.time_budget is not None:  # the command line's budget is for every problem
        budget, budgets = Budget(evaluations=args.budget, seconds=args.time_budget), {}
    else:
        budget = Budget(evaluations=suite.budget, seconds=suite.time_budget)
    problems = _joined(args.problems, "--problems")
    optimizers = _joined(args.optimizers, "--optimizers")
    origin = {key: suite.source for key, given in (("problems", problems), ("optimizers", optimizers))
              if given is None}  # a mistake in the suite's own entries names the suite file and the key
    return Grid(
        problems=problems or list(suite.problems),
        optimizers=optimizers or list(suite.optimizers),
        seeds=args.seeds or list(suite.seeds),
        instances=args.instances or list(suite.instances),
        devices=resolve_devices(args.device),
        budget=budget,
        budgets=budgets,
        origin=origin,
        dtype=args.dtype,
    )


def cmd_compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optbench.api import TrialState
    from optbench.campaign import build_specs, run_campaign
    from optbench.paths import check_output_dir, check_store_path
    from optbench.report.terminal import print_comparison
    from optbench.store import Store

    out, err = Console(), Console(stderr=True, soft_wrap=True)
    specs = build_specs(_grid(args))  # every mistake is found here, before the store is touched
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
        run_id = store.add_run(shlex.join(["optbench", *argv]), specs)
        todo = len(store.pending(specs, rerun=args.rerun))
        err.print(f"{len(specs)} trials, {todo} to run, {len(specs) - todo} already in {args.store}")
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, disable=args.quiet or todo == 0, transient=True,
        )
        task = progress.add_task("trials", total=todo)

        def advance(result: Any) -> None:
            label = f"{result.spec.problem_label} · {result.spec.optimizer_label}"
            progress.update(task, advance=1, description=label[:40])

        try:
            with progress:
                ran = run_campaign(specs, store, executor=executor, rerun=args.rerun, on_result=advance)
        except KeyboardInterrupt:
            done = len(store.done_keys(s.key for s in specs))
            err.print(f"interrupted: {done} of {len(specs)} trials are stored in {args.store}; "
                      "run the same command again to resume")
            return 130
        results = store.results(s.key for s in specs)
    if args.format == "table":
        print_comparison(out, results, taus=args.tau)
    else:
        _print_summary(results, args.format, taus=args.tau)
    counts = {state: sum(r.state is state for r in results) for state in TrialState}
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    shared = f" ({len(ran)} run here, {todo - len(ran)} by another optbench process)" if len(ran) < todo else ""
    err.print(f"run {run_id}: {summary}{shared} · results in {args.store}")
    if args.report is not None:
        from optbench.report.document import write_report

        out_dir = args.report or str(report_dir / f"run-{run_id}")
        path = write_report(results, out_dir, title=f"optbench run {run_id}", taus=args.tau)
        err.print(f"report: {path}")
    return 0


def _print_summary(results: Sequence[Any], fmt: str, *, taus: Sequence[float] | None = None) -> None:
    from optbench.report.export import summary
    from optbench.stats import summarize

    sys.stdout.write(summary(summarize(results), fmt, results=results, taus=taus))
    if fmt != "csv":
        sys.stdout.write("\n")


# ---------------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild a run's report from the store alone: no trial runs, no plugin is imported."""
    from pathlib import Path

    from rich.console import Console

    from optbench.paths import check_output_dir
    from optbench.store import Store

    if Path(args.store).is_dir():
        raise ConfigError(f"{args.store} is a folder; pass the store file, e.g. --store {args.store}/optbench.sqlite")
    if not Path(args.store).is_file():
        raise ConfigError(f"no store at {args.store}; run `optbench compare` first or pass --store FILE")
    if args.format == "html":  # before reading anything: where the report goes must be writable
        check_output_dir(Path(args.out) if args.out else Path(args.store).parent, what="the report")
    with Store(args.store) as store:
        run_id, keys = store.run(args.run)
        results = store.results(keys)
        analysis = store.analysis(run_id)
    if analysis is not None:  # a study's run: redrawn from its stored analysis
        from optbench.studies.run import redraw

        return redraw(analysis[1], run_id=run_id, fmt=args.format, out=args.out, store=args.store)
    if not results:
        raise ConfigError(f"run {run_id} in {args.store} has no stored results yet")
    if args.format != "html":
        _print_summary(results, args.format, taus=args.tau)
        return 0
    out = args.out or str(Path(args.store).parent / f"run-{run_id}")
    from optbench.report.document import write_report

    path = write_report(results, out, title=f"optbench run {run_id}", taus=args.tau)
    Console(stderr=True, highlight=False).print(f"report of run {run_id} ({len(results)} trials): {path}",
                                                markup=False, soft_wrap=True)
    return 0
