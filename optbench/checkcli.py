"""``optbench baseline save`` and ``optbench check``: the command-line side of :mod:`optbench.gate`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from optbench.api import ConfigError, TrialResult, TrialSpec


def cmd_baseline_save(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    from optbench.gate import save_baseline
    from optbench.paths import check_output_file
    from optbench.store import Store

    if not Path(args.store).is_file():
        raise ConfigError(f"no store at {args.store}; run `optbench compare` first or pass --store FILE")
    check_output_file(Path(args.out), what="the baseline")
    with Store(args.store) as store:
        run_id, keys = store.run(args.run)
        results = store.results(keys)
    if not results:
        raise ConfigError(f"run {run_id} in {args.store} has no stored results yet")
    path = save_baseline(results, args.out, command=shlex.join(["optbench", *argv]))
    Console(stderr=True, highlight=False).print(f"baseline of run {run_id} ({len(results)} trials): {path}",
                                                markup=False, soft_wrap=True)
    if getattr(args, "history", None):  # and into the history of commits
        from optbench.historycli import record_history

        record_history(args.history, results, source="baseline", command=shlex.join(["optbench", *argv]),
                       err=Console(stderr=True, highlight=False))
    return 0


def _rerun_specs(results: Sequence[TrialResult], seeds: Sequence[int] | None) -> list[TrialSpec]:
    specs = list(dict.fromkeys(r.spec for r in results))
    if seeds is None:
        return specs
    cells = list(dict.fromkeys(replace(s, seed=0) for s in specs))
    return [replace(cell, seed=seed) for cell in cells for seed in seeds]


def _candidate(args: argparse.Namespace, baseline_results: Sequence[TrialResult]) -> list[TrialResult]:
    from optbench.campaign import run_campaign
    from optbench.plugins import plugin_specs
    from optbench.runners.executors import make_executor
    from optbench.store import Store

    if args.run is not None:
        if not Path(args.store).is_file():
            raise ConfigError(f"no store at {args.store} to read run {args.run} from")
        with Store(args.store) as store:
            return store.results(store.run(args.run)[1])
    specs = _rerun_specs(baseline_results, args.seeds)
    with Store(args.store) as store:
        store.add_run("optbench check (rerun)", specs)
        executor = make_executor(jobs=args.jobs, plugins=plugin_specs(args.plugin))
        run_campaign(specs, store, executor=executor, rerun=True)  # a fresh measurement, never the stored one
        return store.results(s.key for s in specs)


def cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console

    from optbench.gate import calibrate, check, comparable_machines, fingerprint, load_baseline

    err = Console(stderr=True, highlight=False)
    try:
        baseline = load_baseline(args.baseline)
    except UnicodeDecodeError:
        raise ConfigError(f"{args.baseline} is not a baseline (not UTF-8 text); pass a file from "
                          "`optbench baseline save`") from None
    candidate = _candidate(args, baseline.results)
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
    cells = check(baseline, candidate, alpha=args.alpha, min_effect=args.min_effect, tolerance=args.tolerance,
                  time_scale=scale, min_time=args.min_time)
    if args.format == "json":
        sys.stdout.write(json.dumps({"format": "optbench.check/1", "cells": [asdict(c) for c in cells],
                                     "note": note}, indent=2, default=str) + "\n")
    else:
        from optbench.report.check import check_table

        Console().print(check_table(cells))
    if note:
        err.print(note, markup=False, soft_wrap=True)
    if getattr(args, "history", None):  # the rerun joins the history of commits
        from optbench.historycli import record_history

        record_history(args.history, candidate, source="check", command=f"optbench check --baseline {args.baseline}",
                       err=err)
    regressions = [c for c in cells if c.regressed]
    err.print(f"{len(regressions)} regression(s) in {len(cells)} cells" if regressions
              else f"no regression in {len(cells)} cells", markup=False)
    return 1 if regressions else 0


def _machine(fp: dict) -> str:
    return f"{fp.get('cpu') or fp.get('machine')} ×{fp.get('cores')}, torch {fp.get('torch')}" + (
        f", {fp['gpu']}" if fp.get("gpu") else "")
