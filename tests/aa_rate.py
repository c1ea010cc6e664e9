"""Measure the false-alarm rate of ``optbench check`` with A/A comparisons (run it as shown below).

A baseline of a suite is taken on this machine, then the *same* code is rerun ``--rounds`` times
at fresh seeds and checked against it with the given ``check`` options. Every regression flagged
is a false alarm; the script prints their rate per cell and per whole check (a CI gate fails when
any cell regresses, so the per-check rate is the one a user feels).

Usage:
    python tests/aa_rate.py --suite quick --seeds 8 --rounds 10 --jobs 2 [-- extra check options]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

OPTBENCH = [sys.executable, "-m", "optbench.cli"]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OPTBENCH, *args], capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--seeds", type=int, default=8, help="seeds per cell, in the baseline and in each rerun")
    parser.add_argument("--rounds", type=int, default=10, help="A/A reruns at fresh seeds")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--baseline", help="reuse this baseline instead of making one here")
    parser.add_argument("check_options", nargs="*", help="passed to every `optbench check` (after --)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="optbench-aa-"))
    baseline = args.baseline
    if baseline is None:
        store, baseline = str(work / "base.sqlite"), str(work / "baseline.json")
        done = _run(["compare", "--suite", args.suite, "--seeds", str(args.seeds), "--jobs", str(args.jobs),
                     "--store", store, "-q", "--format", "json"])
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return 2
        _run(["baseline", "save", "--store", store, "-o", baseline]).check_returncode()

    quality = speed = checks_failed = cells_total = compared_speed = 0
    for k in range(1, args.rounds + 1):
        seeds = ",".join(str(k * args.seeds + s) for s in range(args.seeds))
        done = _run(["check", "--baseline", baseline, "--seeds", seeds, "--jobs", str(args.jobs), "--format", "json",
                     "--store", str(work / f"aa{k}.sqlite"), "-q", *args.check_options])
        if done.returncode not in (0, 1):
            sys.stderr.write(done.stderr)
            return 2
        cells = json.loads(done.stdout)["cells"]
        worse = [c for c in cells if c["quality"] in ("worse", "failing", "missing")]
        slower = [c for c in cells if c["speed"] == "slower"]
        cells_total += len(cells)
        compared_speed += sum(c["speed"] not in ("not comparable", "too fast") for c in cells)
        quality, speed = quality + len(worse), speed + len(slower)
        checks_failed += done.returncode == 1
        flagged = [f"{c['problem']} × {c['optimizer']} ({c['quality']}, {c['speed']})" for c in worse + slower]
        print(f"round {k} seeds {seeds}: exit {done.returncode}; {'; '.join(flagged) or 'nothing flagged'}",
              flush=True)
    print(f"\nA/A over {args.rounds} reruns × {cells_total // max(args.rounds, 1)} cells "
          f"({args.suite} suite, {args.seeds} seeds, check options: {' '.join(args.check_options) or 'defaults'}):")
    print(f"  quality false alarms: {quality} of {cells_total} cells")
    print(f"  speed false alarms:   {speed} of {compared_speed} cells whose timings were compared")
    print(f"  checks that failed:   {checks_failed} of {args.rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
