"""``optbench history``, ``optbench check --against REV`` and ``--history``: the command-line side of
:mod:`optbench.history` and :mod:`optbench.against`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from optbench.api import ConfigError, TrialResult, TrialSpec


def record_history(path: str, results: Sequence[TrialResult], *, source: str, command: str, err: Any,
                   git: dict[str, Any] | None = None) -> None:
    """Append ``results`` to the history at ``path`` and say so on ``err`` (a rich console)."""
    from optbench.history import git_state, record

    if Path(path).is_dir():
        raise ConfigError(f"--history {path} is a folder; pass a file, e.g. --history {path}/history.jsonl")
    state = git if git is not None else git_state()
    entry = record(results, path, source=source, command=command, git=state)
    where = (f"commit {state['commit'][:8]}" + (" with uncommitted changes" if state.get("dirty") else "")
             if state else "no git commit (not inside a repository)")
    err.print(f"history: {len(entry['trials'])} trials at {where} on machine {entry['machine']} appended to {path}",
              markup=False, soft_wrap=True)


def cmd_history(args: argparse.Namespace) -> int:
    """Render the history as rich tables (or JSON), and as an HTML page with ``--html DIR``."""
    from rich.console import Console

    from optbench.gate import fingerprint
    from optbench.history import default_machine, load, machine_id, timeline
    from optbench.report.history import terminal, to_json, write_html

    entries = load(args.history)
    if not entries:
        raise ConfigError(f"{args.history} holds no entries yet; record some with `optbench check --history`")
    machines = {e.get("machine") for e in entries}
    if args.machine and args.machine not in machines:
        raise ConfigError(f"no entries of machine {args.machine!r} in {args.history}; "
                          f"its machines: {', '.join(sorted(map(str, machines)))}")
    machine = args.machine or default_machine(entries, machine_id(fingerprint()))
    tl = timeline(entries, machine=machine, alpha=args.alpha, min_effect=args.min_effect, tolerance=args.tolerance,
                  min_time=args.min_time)
    if args.format == "json":
        sys.stdout.write(to_json(tl) + "\n")
    else:
        Console().print(terminal(tl, last=args.last))
    if args.html:
        page = write_html(tl, args.html)
        Console(stderr=True, highlight=False).print(f"history page: {page}", markup=False, soft_wrap=True)
    return 0


def against_specs(args: argparse.Namespace) -> list[TrialSpec]:
    """The campaign of ``check --against``: the baseline's trials, or the suite's (``--suite``, default quick)
    on the device ``optbench compare`` would pick (CUDA when visible)."""
    if args.baseline:
        from optbench.checkcli import _rerun_specs
        from optbench.gate import load_baseline

        return _rerun_specs(load_baseline(args.baseline).results, args.seeds)
    from optbench.api import Budget
    from optbench.campaign import Grid, build_specs
    from optbench.runners.devices import resolve_devices
    from optbench.suites import load_suite

    suite = load_suite(args.suite or "quick")
    return build_specs(Grid(problems=list(suite.problems), optimizers=list(suite.optimizers),
                            seeds=args.seeds or list(suite.seeds), instances=list(suite.instances),
                            devices=resolve_devices("auto"),  # as `optbench compare` picks
                            budget=Budget(evaluations=suite.budget, seconds=suite.time_budget),
                            budgets=suite.budgets))


def cmd_check_against(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the campaign on ``--against REV`` (a temporary worktree) and on the working tree, interleaved;
    report the working tree's difference with ``check``'s tests. Exit 1 on a regression."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optbench.against import Side, interleaved, repo_root, rerooted, revision, worktree
    from optbench.gate import Baseline, check, fingerprint
    from optbench.history import git_state
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
    cells = check(reference, work_results, alpha=args.alpha, min_effect=args.min_effect, tolerance=args.tolerance,
                  time_scale=1.0, min_time=args.min_time)
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
