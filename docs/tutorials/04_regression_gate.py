"""
A regression gate for CI
========================

Did a change make an optimizer slower or worse? ``optbench baseline save`` keeps every trial of a reference
run; ``optbench check`` reruns the same trials and exits 1 when a cell got significantly worse or slower. This
tutorial drives the command line as CI would, and plants a slowdown to see the gate fail.
"""

# %%
# A plugin to guard
# -----------------
# The optimizer under test lives in a plugin file (in a real project: your package). It sleeps for a
# while on each call when ``PLANTED_SLOWDOWN`` is set, standing in for a change that made it slower.
import os
import subprocess
import sys
import tempfile
from pathlib import Path

workdir = Path(tempfile.mkdtemp(prefix="optbench-gate-"))
(workdir / "plugin.py").write_text('''
import os, time
from dataclasses import dataclass
from typing import ClassVar
import torch
from optbench import Optimizer, SpaceKind, register_optimizer

@register_optimizer
@dataclass(frozen=True)
class Guarded(Optimizer):
    name: ClassVar[str] = "guarded"
    spaces: ClassVar[frozenset] = frozenset({SpaceKind.CONTINUOUS})

    def minimize(self, evaluator, *, rng):
        lo, hi = evaluator.bounds()
        for _ in range(10):
            time.sleep(0.02 * (5 if os.environ.get("PLANTED_SLOWDOWN") else 1))
            x = lo + (hi - lo) * torch.as_tensor(rng.random((50, evaluator.dim)), dtype=lo.dtype)
            evaluator.evaluate(x)
        return evaluator.best_x
''')


def optbench(*args: str, **env: str) -> int:
    """Run ``optbench ARGS`` in the work folder as CI would; print what it prints; return its exit code."""
    proc = subprocess.run([sys.executable, "-m", "optbench", *args], cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "110", **env})
    print(f"$ optbench {' '.join(args)}  -> exit {proc.returncode}")
    print(proc.stdout[-2500:], proc.stderr[-600:])
    return proc.returncode


# %%
# The reference run and its baseline
# ----------------------------------
# Eight seeds: with paired seeds the smallest one-sided Wilcoxon p-value is :math:`1/2^8`, enough to
# survive Holm's correction over a few cells.
grid = ["--problems", "sphere(dim=5)", "--optimizers", "guarded,random", "--seeds", "8", "--budget", "500",
        "--plugin", "plugin.py"]
optbench("compare", *grid, "--store", "base.sqlite", "-q")
optbench("baseline", "save", "--store", "base.sqlite", "-o", "baseline.json")

# %%
# The same code passes
# --------------------
# ``check`` reruns the baseline's trials into a separate store and judges each cell: quality by a paired
# test with a minimum effect, speed by the ratio of median times with a bootstrap interval, compared only on
# the machine the baseline came from. ``--tolerance 1.0`` flags a doubling, a threshold that matches the
# drift of shared CI machines.
ok = optbench("check", "--baseline", "baseline.json", "--plugin", "plugin.py", "--store", "same.sqlite",
              "--tolerance", "1.0")
assert ok == 0

# %%
# A planted slowdown fails
# ------------------------
slow = optbench("check", "--baseline", "baseline.json", "--plugin", "plugin.py", "--store", "slow.sqlite",
                "--tolerance", "1.0", PLANTED_SLOWDOWN="1")
assert slow == 1

# %%
# In CI, run ``optbench check --against "$BASE" ...`` to compare with another git revision without a stored
# baseline, and ``--history`` to keep a timeline across commits: :doc:`/howto/ci`.
