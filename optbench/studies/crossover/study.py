"""The crossover study: its flags, one timing task per method and system, its analysis."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, freeze_params
from optbench.studies.base import Payload, Study, payload, positive_int, task_result
from optbench.studies.crossover import catalog as lm
from optbench.studies.crossover.catalog import METHODS, SPARSE_METHODS
from optbench.studies.crossover.stats import interleaved

if TYPE_CHECKING:
    from optbench.report.document import Figure

DEFAULT = {"n": (1_000, 10_000), "d": (10, 100, 1_000), "cond": (1.0, 10.0, 100.0)}
QUICK = {"n": (1_000, 10_000), "d": (10, 100), "cond": (1.0, 100.0)}
EPSILONS = (1e-2, 1e-6, 1e-12)
MAX_ENTRIES = 10_000_000  # n * d of a dense system (80 MB in float64)
SPARSE = {"density": 0.001, "n": 100_000, "d": 1_000, "cond": (10.0, 100.0)}
SPARSE_QUICK = {"density": 0.01, "n": 10_000, "d": 100, "cond": (10.0,)}
# SGD and Adam run to the cap in nearly every setting (they won none of the 90 of a one-repeat grid with n up to
# 1e5): left out of the default so the repeats fit in it; --methods adds them
DEFAULT_METHODS = tuple(m for m in METHODS if m not in ("sgd", "adam"))
REPEATS, QUICK_REPEATS, MIN_REPEATS = 6, 5, 2  # 6: the first count whose [min, max] covers the median at >= 95 %
SCHEMA = 2  # of the payload: 2 adds repeats (medians with intervals), estimated steps, the statistical target


def _numbers(text: str | None, flag: str, default: Sequence[float], *, integer: bool) -> tuple:
    if text is None:
        return tuple(default)
    try:
        values = tuple(int(v) if integer else float(v) for v in text.split(",") if v.strip())
    except ValueError:
        kind = "integers" if integer else "numbers"
        raise ConfigError(f"--{flag} takes comma-separated {kind}, e.g. --{flag} {','.join(map(str, default))}; "
                          f"got {text!r}") from None
    if not values or any(v <= 0 or not math.isfinite(v) for v in values):
        raise ConfigError(f"--{flag} needs positive values, got {text!r}")
    return values


class CrossoverStudy(Study):
    """Time closed-form and iterative least-squares solvers to each accuracy over a grid of systems."""

    name = "crossover"
    summary = "least squares: when closed forms (Cholesky, QR) beat iterative methods (CG, GD, Adam)"
    question = ("Even for least squares, which has a closed form, can gradient descent be cheaper, since the closed "
                "form needs X^T X and its factorization? Where, measured on this machine, is the crossover?")
    default_problem = "linreg"
    default_optimizer = "lstsq"
    default_seeds = 1
    quick_seeds = 1
    needs_network = False
    # one torch thread (and one BLAS thread, see timing.py): on a shared 2-core machine OpenMP's
    # spin-waiting made multi-threaded timings vary 30x between identical calls
    task_threads = 1

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--n", metavar="LIST", help="rows, comma-separated (default 1000,10000)")
        parser.add_argument("--d", metavar="LIST", help="columns (default 10,100,1000; kept to d <= n/10 and "
                            f"n*d <= {MAX_ENTRIES:.0e})")
        parser.add_argument("--cond", metavar="LIST", help="condition numbers of X (default 1,10,100; "
                            "the Hessian's kappa is cond^2)")
        parser.add_argument("--eps", metavar="LIST", help="target relative suboptimalities (default 1e-2,1e-6,1e-12)")
        parser.add_argument("--cap", type=float, help="seconds an iterative method may run per task (default 0.1; "
                            "--quick 0.05; on dense systems at least 1.5 times an estimated Cholesky solve)")
        parser.add_argument("--methods", metavar="LIST", help=f"methods (default {','.join(DEFAULT_METHODS)}; "
                            f"all: {','.join(METHODS)})")
        parser.add_argument("--no-sparse", action="store_true", default=None, help="leave out the sparse systems")
        parser.add_argument("--repeats", type=int, metavar="R", help=f"timings of every (system, method), interleaved "
                            f"across methods (default {REPEATS}; --quick {QUICK_REPEATS}; at least {MIN_REPEATS})")
        parser.add_argument("--power-iterations", type=int, metavar="P", help="power iterations that estimate L for "
                            f"the estimated-step methods gd_est, nesterov_est (default {lm.POWER_ITERATIONS}; "
                            "their time and products are counted)")

    def _grid(self) -> dict[str, Any]:
        base = QUICK if self.options.quick else DEFAULT
        o = self.options
        grid = {"n": _numbers(o.get("n"), "n", base["n"], integer=True),
                "d": _numbers(o.get("d"), "d", base["d"], integer=True),
                "cond": _numbers(o.get("cond"), "cond", base["cond"], integer=False),
                "eps": _numbers(o.get("eps"), "eps", EPSILONS, integer=False)}
        if any(c < 1 for c in grid["cond"]) or any(e >= 1 for e in grid["eps"]):
            raise ConfigError("--cond values must be >= 1 and --eps values below 1")
        methods = tuple(m.strip() for m in (o.get("methods") or ",".join(DEFAULT_METHODS)).split(",") if m.strip())
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise ConfigError(f"unknown method(s) {', '.join(unknown) or '(none)'}; methods: {', '.join(METHODS)}")
        cap = o.get("cap", 0.05 if o.quick else 0.1)
        if not (isinstance(cap, float) and 0 < cap <= 600):
            raise ConfigError(f"--cap must be a number of seconds in (0, 600], got {cap!r}")
        repeats = positive_int(o.get("repeats", QUICK_REPEATS if o.quick else REPEATS), "repeats",
                               minimum=MIN_REPEATS, maximum=1000)
        power = positive_int(o.get("power_iterations", lm.POWER_ITERATIONS), "power_iterations", maximum=100_000)
        return {**grid, "methods": methods, "cap": cap, "repeats": repeats, "power_iterations": power}

    def tasks(self) -> list[TrialSpec]:
        g = self._grid()
        device = self.options.device
        shapes = [(n, d) for n in g["n"] for d in g["d"] if d * 10 <= n and n * d <= MAX_ENTRIES]
        if not shapes:
            raise ConfigError(f"no (n, d) in the grid has d <= n/10 and n*d <= {MAX_ENTRIES:.0e}; "
                              "use smaller --d or larger --n")
        specs = []
        common = {"eps": g["eps"], "cap": g["cap"], "seed": 0, "power_iterations": g["power_iterations"]}
        # one system's repeats are consecutive (its matrix stays cached in the worker) and interleaved
        # across methods: round r times every method once, starting from method r
        dense = [m for m in g["methods"] if m != "lsqr" or device == "cpu"]  # SciPy's LSQR runs on the CPU only
        for n, d in shapes:
            for cond in g["cond"]:
                for repeat, method in interleaved(dense, g["repeats"]):
                    specs.append(self._spec(device, kind="dense", n=n, d=d, cond=cond, method=method, repeat=repeat,
                                            **common))
        sparse_methods = [m for m in g["methods"] if m in SPARSE_METHODS]
        if not self.options.get("no_sparse") and sparse_methods:
            sparse = SPARSE_QUICK if self.options.quick else SPARSE
            for cond in sparse["cond"]:
                for repeat, method in interleaved(sparse_methods, g["repeats"]):
                    specs.append(self._spec("cpu", kind="sparse", n=sparse["n"], d=sparse["d"], cond=cond,
                                            method=method, density=sparse["density"], repeat=repeat, **common))
        return specs

    def _spec(self, device: str, **params: Any) -> TrialSpec:
        return TrialSpec(problem="linreg", optimizer=params["method"], budget=Budget(seconds=params["cap"] * 10 + 60),
                         seed=0, device=device, task=self.name, task_params=freeze_params(params))

    @classmethod
    def execute(cls, spec: TrialSpec) -> TrialResult:
        from optbench.studies.crossover.timing import time_method

        data = time_method(dict(spec.task_params), device=spec.device)
        return task_result(spec, seconds=data["seconds"], data=data, device_name=spec.device)

    # ------------------------------------------------------------------ analysis
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        from optbench.studies.crossover.analysis import analyze

        g = self._grid()
        data, tables, findings, failed = analyze(results, epsilons=g["eps"], power_iterations=g["power_iterations"])
        out = payload(self.name, settings=self.settings(**{k: list(v) if isinstance(v, tuple) else v
                                                           for k, v in g.items()}),
                      tables=tables, findings=findings, data=data, failed=failed)
        out["schema"] = SCHEMA
        return out

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        from optbench.studies.crossover.report import draw

        return draw(payload)
