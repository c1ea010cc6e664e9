"""``optbench check``: a rerun (or a stored run) against a baseline, or the working tree against a git
revision (``--against``); exit 1 on a regression. The tests live in :mod:`optbench.gate.check`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from optbench.api import ConfigError, TrialResult, TrialSpec
from optbench.cli.common import (
    DEFAULT_CHECK_STORE,
    add_gate_options,
    add_history,
    add_store,
    count,
    gate_settings,
    plugin_parent,
    seeds,
)


def add_parser(commands: Any) -> None:
    gate = commands.add_parser(
        "check", parents=[plugin_parent()],
        help="compare a rerun (or a stored run) with a baseline; exit 1 on regression",
        description="Rerun the baseline's trials (or read --run from the store) and report every cell as "
                    "better / same / worse in quality and speed. Exit 1 on any regression, 0 otherwise.")
    gate.add_argument("--baseline", metavar="FILE", help="baseline file from `optbench baseline save`")
    gate.add_argument("--run", type=int, help="compare this stored run instead of rerunning")
    add_store(gate, default=DEFAULT_CHECK_STORE,
              help=f"SQLite file for the rerun, or holding --run (default: {DEFAULT_CHECK_STORE})")
    gate.add_argument("--seeds", type=seeds, help="rerun with these seeds (default: the baseline's)")
    gate.add_argument("--jobs", "-j", type=count, default=1, help="trials in parallel")
    add_gate_options(gate, min_time_help="judge speed only where a median time reaches this (0.01 s; below, noise "
                                         "dominates)")
    gate.add_argument("--normalize", action="store_true",
                      help="compare timings across machines through a calibration workload run on both")
    gate.add_argument("--format", choices=["table", "json"], default="table")
    gate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    gate.add_argument("--against", metavar="REV",
                      help="run the campaign on this git revision (a temporary worktree) and on the working tree, "
                           "interleaved, and report the difference (no baseline needed)")
    gate.add_argument("--suite", help="with --against and no --baseline: the campaign's suite (default: quick)")
    add_history(gate, what="the results")
    gate.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.against:
        return cmd_check_against(args, argv)
    if not args.baseline:
        raise ConfigError("check needs --baseline FILE (from `optbench baseline save`) or --against REV")
    return check_baseline(args)


def rerun_specs(results: Sequence[TrialResult], seeds: Sequence[int] | None) -> list[TrialSpec]:
    specs = list(dict.fromkeys(r.spec for r in results))
    if seeds is None:
        return specs
    cells = list(dict.fromkeys(replace(s, seed=0) for s in specs))
    return [replace(cell, seed=seed) for cell in cells for seed in seeds]


def _candidate(args: argparse.Namespace, baseline_results: Sequence[TrialResult]) -> list[TrialResult] | None:
    """The candidate's results: the stored ``--run``, or a fresh rerun (None when it was interrupted)."""
    from optbench.cli.common import say
    from optbench.cli.loop import interrupted_line, run_trials
    from optbench.plugins import plugin_specs
    from optbench.runners.executors import make_executor
    from optbench.store import Store

    if args.run is not None:
        if not Path(args.store).is_file():
            raise ConfigError(f"no store at {args.store} to read run {args.run} from")
        with Store(args.store) as store:
            return store.results(store.run(args.run)[1])
    specs = rerun_specs(baseline_results, args.seeds)
    with Store(args.store) as store:
        store.add_run("optbench check (rerun)", specs)
        executor = make_executor(jobs=args.jobs, plugins=plugin_specs(args.plugin))
        # a fresh measurement, never the stored one
        outcome = run_trials(specs, store, executor=executor, rerun=True, quiet=args.quiet, todo=len(specs))
        if outcome.interrupted:
            say(interrupted_line(outcome, len(specs), args.store))
            return None
        return store.results(s.key for s in specs)


def check_baseline(args: argparse.Namespace) -> int:
    from rich.console import Console

    from optbench.cli.common import stderr
    from optbench.cli.history import record_history
    from optbench.cli.loop import INTERRUPTED
    from optbench.gate.baseline import calibrate, fingerprint, load_baseline
    from optbench.gate.check import check, comparable_machines

    err = stderr()
    try:
        baseline = load_baseline(args.baseline)
    except UnicodeDecodeError:
        raise ConfigError(f"{args.baseline} is not a baseline (not UTF-8 text); pass a file from "
                          "`optbench baseline save`") from None
    candidate = _candidate(args, baseline.results)
    if candidate is None:
        return INTERRUPTED
    here = fingerprint()
    note = None
    if args.normalize:
        scale = calibrate() / baseline.calibration_seconds
        note = f"timings normalized by the calibration workload (this machine / baseline = {scale:.2f})"
    elif comparable_machines(baseline.fingerprint, here):
        scale = 1.0
    else:
        scale = None
        note = (f"speed not compared: the baseline ran on {_machine(baseline.fingerprint)}, this is "
                f"{_machine(here)}; quality is checked (pass --normalize to compare timings through a calibration "
                "workload)")
    cells = check(baseline, candidate, time_scale=scale, **gate_settings(args))
    if args.format == "json":
        sys.stdout.write(json.dumps({"format": "optbench.check/1", "cells": [asdict(c) for c in cells],
                                     "note": note}, indent=2, default=str) + "\n")
    else:
        from optbench.report.check import check_table

        Console().print(check_table(cells))
    if note:
        err.print(note, markup=False, soft_wrap=True)
    if args.history:  # the rerun joins the history of commits
        record_history(args.history, candidate, source="check", command=f"optbench check --baseline {args.baseline}",
                       err=err)
    regressions = [c for c in cells if c.regressed]
    err.print(f"{len(regressions)} regression(s) in {len(cells)} cells" if regressions
              else f"no regression in {len(cells)} cells", markup=False)
    return 1 if regressions else 0


def _machine(fp: dict) -> str:
    return f"{fp.get('cpu') or fp.get('machine')} ×{fp.get('cores')}, torch {fp.get('torch')}" + (
        f", {fp['gpu']}" if fp.get("gpu") else "")


def against_specs(args: argparse.Namespace) -> list[TrialSpec]:
    """The campaign of ``check --against``: the baseline's trials, or the suite's (``--suite``, default quick)
    on the device ``optbench compare`` would pick (CUDA when visible)."""
    if args.baseline:
        from optbench.gate.baseline import load_baseline

        return rerun_specs(load_baseline(args.baseline).results, args.seeds)
    from optbench.campaign.grid import build_specs, suite_grid

    # the suite as `optbench compare` runs it, on the device it would pick (CUDA when visible)
    return build_specs(suite_grid(suite=args.suite, seeds=args.seeds))


def cmd_check_against(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the campaign on ``--against REV`` (a temporary worktree) and on the working tree, interleaved;
    report the working tree's difference with ``check``'s tests. Exit 1 on a regression."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optbench.cli.history import record_history
    from optbench.gate.against import Side, interleaved, repo_root, rerooted, revision, worktree
    from optbench.gate.baseline import Baseline, fingerprint
    from optbench.gate.check import check
    from optbench.gate.history import git_state
    from optbench.plugins import plugin_specs

    if args.run is not None:
        raise ConfigError("--against runs both revisions itself; drop --run (or drop --against to check a stored "
                          "run against --baseline)")
    err = Console(stderr=True, highlight=False)
    specs = against_specs(args)  # every mistake in the campaign is found before a worktree exists
    root = repo_root()
    rev = revision(root, args.against)
    here = git_state(root)
    plugins = plugin_specs(args.plugin)
    cwd = Path.cwd().resolve()
    relative = cwd.relative_to(root) if cwd.is_relative_to(root) else Path()
    work_label = "working tree" + (f" ({here['commit'][:8]}{'+' if here.get('dirty') else ''})" if here else "")
    err.print(f"{len(specs)} trials on {args.against} ({rev['commit'][:8]} {rev['subject'][:50]}) and on the "
              f"{work_label}, interleaved", markup=False, soft_wrap=True)
    with worktree(root, rev["commit"]) as tree:
        base = Side(f"revision {args.against}", tree, tree / relative, rerooted(plugins, root, tree))
        work = Side("working tree", root, cwd, [str(Path(p).resolve()) if p.endswith(".py") else p for p in plugins])
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err, disable=args.quiet, transient=True)
        task = progress.add_task("trials", total=2 * len(specs))
        with progress:
            base_results, work_results = interleaved(specs, base, work,
                                                     on_result=lambda *_: progress.update(task, advance=1))
    fp = fingerprint()
    reference = Baseline(0.0, f"{args.against} ({rev['commit']})", fp, {}, 0.0, tuple(base_results))
    cells = check(reference, work_results, time_scale=1.0, **gate_settings(args))
    if args.history:
        command = shlex.join(["optbench", *argv])
        record_history(args.history, base_results, source="check --against", command=command, err=err, git=rev)
        record_history(args.history, work_results, source="check --against", command=command, err=err)
    if args.format == "json":
        sys.stdout.write(json.dumps({"format": "optbench.check/1", "against": rev, "working_tree": here,
                                     "cells": [asdict(c) for c in cells], "note": None}, indent=2, default=str) + "\n")
    else:
        from optbench.report.check import check_table

        table = check_table(cells)
        table.title = f"working tree against {args.against} ({rev['commit'][:8]}), interleaved on this machine"
        Console().print(table)
    regressions = [c for c in cells if c.regressed]
    err.print(f"{len(regressions)} regression(s) in {len(cells)} cells against {args.against}" if regressions
              else f"no regression in {len(cells)} cells against {args.against}", markup=False)
    return 1 if regressions else 0
