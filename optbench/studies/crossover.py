"""``optbench study crossover``: when is a closed form cheaper than descent for least squares?

Each task times one method on one system ``(n, d, cond)`` to every target accuracy ``eps``
(relative suboptimality) on one device; the systems come from a seeded SVD construction with a
prescribed condition number (:mod:`optbench.studies.lsq_methods`). The analysis names the fastest
method per ``(n, d, cond, eps)`` and its margin, fits the operation-count models
``t = a n d^2 + b d^3`` (Cholesky), ``c n d kappa ln(1/eps)`` (GD) and ``c n d min(d, sqrt(kappa) ln(1/eps))``
(CG) to the measured times, and draws the measured winners next to the predicted crossover.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.studies.base import Figure, Payload, Study, Table, payload, task_data, task_result
from optbench.studies.lsq_methods import CLOSED_FORMS, METHODS, SPARSE_METHODS

DEFAULT = {"n": (1_000, 10_000, 100_000), "d": (10, 100, 1_000), "cond": (1.0, 3.0, 10.0, 100.0)}
QUICK = {"n": (1_000, 10_000), "d": (10, 100), "cond": (1.0, 100.0)}
EPSILONS = (1e-2, 1e-6, 1e-12)
MAX_ENTRIES = 10_000_000  # n * d of a dense system (80 MB in float64)
SPARSE = {"density": 0.001, "n": 100_000, "d": 1_000, "cond": (10.0, 100.0)}
SPARSE_QUICK = {"density": 0.01, "n": 10_000, "d": 100, "cond": (10.0,)}
FAMILY = {"cholesky": "closed form", "qr": "closed form", "svd": "closed form", "cg": "Krylov", "lsqr": "Krylov",
          "gd": "gradient", "nesterov": "gradient", "sgd": "stochastic", "adam": "stochastic"}
COLOURS = {"closed form": "black", "Krylov": "tab:green", "gradient": "tab:red", "stochastic": "tab:purple"}


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
    # one torch thread (and one BLAS thread, see crossover_timing): on a shared 2-core machine OpenMP's
    # spin-waiting made multi-threaded timings vary 30x between identical calls
    task_threads = 1

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--n", metavar="LIST", help="rows, comma-separated (default 1000,10000,100000)")
        parser.add_argument("--d", metavar="LIST", help="columns (default 10,100,1000; kept to d <= n/10 and "
                            f"n*d <= {MAX_ENTRIES:.0e})")
        parser.add_argument("--cond", metavar="LIST", help="condition numbers of X (default 1,3,10,100; "
                            "the Hessian's kappa is cond^2)")
        parser.add_argument("--eps", metavar="LIST", help="target relative suboptimalities (default 1e-2,1e-6,1e-12)")
        parser.add_argument("--cap", type=float, help="seconds an iterative method may run per task (default 0.5; "
                            "--quick 0.2)")
        parser.add_argument("--methods", metavar="LIST", help=f"methods (default all: {','.join(METHODS)})")
        parser.add_argument("--no-sparse", action="store_true", default=None, help="leave out the sparse systems")

    def _grid(self) -> dict[str, Any]:
        base = QUICK if self.options.quick else DEFAULT
        o = self.options
        grid = {"n": _numbers(o.get("n"), "n", base["n"], integer=True),
                "d": _numbers(o.get("d"), "d", base["d"], integer=True),
                "cond": _numbers(o.get("cond"), "cond", base["cond"], integer=False),
                "eps": _numbers(o.get("eps"), "eps", EPSILONS, integer=False)}
        if any(c < 1 for c in grid["cond"]) or any(e >= 1 for e in grid["eps"]):
            raise ConfigError("--cond values must be >= 1 and --eps values below 1")
        methods = tuple(m.strip() for m in (o.get("methods") or ",".join(METHODS)).split(",") if m.strip())
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise ConfigError(f"unknown method(s) {', '.join(unknown) or '(none)'}; methods: {', '.join(METHODS)}")
        cap = o.get("cap", 0.2 if o.quick else 0.5)
        if not (isinstance(cap, float) and 0 < cap <= 600):
            raise ConfigError(f"--cap must be a number of seconds in (0, 600], got {cap!r}")
        return {**grid, "methods": methods, "cap": cap}

    def tasks(self) -> list[TrialSpec]:
        g = self._grid()
        device = self.options.device
        shapes = [(n, d) for n in g["n"] for d in g["d"] if d * 10 <= n and n * d <= MAX_ENTRIES]
        if not shapes:
            raise ConfigError(f"no (n, d) in the grid has d <= n/10 and n*d <= {MAX_ENTRIES:.0e}; "
                              "use smaller --d or larger --n")
        specs = []
        common = {"eps": g["eps"], "cap": g["cap"], "seed": 0}
        for n, d in shapes:
            for cond in g["cond"]:
                for method in g["methods"]:
                    if method == "lsqr" and device != "cpu":
                        continue  # SciPy's LSQR runs on the CPU only
                    specs.append(self._spec(device, kind="dense", n=n, d=d, cond=cond, method=method, **common))
        if not self.options.get("no_sparse"):
            sparse = SPARSE_QUICK if self.options.quick else SPARSE
            for cond in sparse["cond"]:
                for method in (m for m in g["methods"] if m in SPARSE_METHODS):
                    specs.append(self._spec("cpu", kind="sparse", n=sparse["n"], d=sparse["d"], cond=cond,
                                            method=method, density=sparse["density"], **common))
        return specs

    def _spec(self, device: str, **params: Any) -> TrialSpec:
        return TrialSpec(problem="linreg", optimizer=params["method"], budget=Budget(seconds=params["cap"] * 10 + 60),
                         seed=0, device=device, study=self.name, study_params=freeze_params(params))

    @classmethod
    def run_task(cls, spec: TrialSpec) -> TrialResult:
        from optbench.studies.crossover_timing import time_method

        data = time_method(dict(spec.study_params), device=spec.device)
        return task_result(spec, seconds=data["seconds"], data=data, device_name=spec.device)

    # ------------------------------------------------------------------ analysis
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        from optbench.studies.crossover_fit import fit_models

        done = [r for r in results if r.state is TrialState.COMPLETE]
        records = [task_data(r) | {"device": r.spec.device} for r in done]
        groups: dict[tuple, dict[str, dict]] = defaultdict(dict)
        for rec in records:
            groups[(rec["kind"], rec["device"], rec["n"], rec["d"], rec["cond"])][rec["method"]] = rec
        g = self._grid()
        rows, cells = [], []
        for (kind, device, n, d, cond), by_method in sorted(groups.items()):
            for eps in g["eps"]:
                key = f"{eps:g}"
                times = sorted((rec["times"][key], m) for m, rec in by_method.items()
                               if rec["times"].get(key) is not None)
                closed = min((t for t, m in times if m in CLOSED_FORMS), default=None)
                gd = by_method.get("gd", {}).get("times", {}).get(key)
                best, winner = times[0] if times else (None, None)
                margin = times[1][0] / times[0][0] if len(times) > 1 and times[0][0] > 0 else None
                kappa = next(iter(by_method.values()))["kappa"]
                cell = {"kind": kind, "device": device, "n": n, "d": d, "cond": cond, "kappa": kappa, "eps": eps,
                        "winner": winner, "seconds": best, "margin": margin, "runner_up": times[1][1]
                        if len(times) > 1 else None, "closed_form": closed, "gd": gd,
                        "gd_vs_closed": None if gd is None or closed is None else closed / gd}
                cells.append(cell)
                rows.append([kind, device, n, d, cond, eps, winner, best, margin, cell["runner_up"], closed, gd,
                             cell["gd_vs_closed"]])
        fits = fit_models(records)
        table = Table("Fastest method per system and accuracy", [
            "kind", "device", "n", "d", "cond(X)", "eps", "fastest", "seconds", "margin", "runner-up",
            "best closed form s", "GD s", "closed ÷ GD"], rows, notes=[
            "eps: relative suboptimality (f - f*)/f*; margin: runner-up time over the fastest; closed ÷ GD > 1: "
            "gradient descent (step 2/(L+mu), from the known spectrum) was faster than every closed form; "
            "– : not reached within the cap. SGD/Adam: best of a 3-step-size grid (tuning not counted)."])
        fit_table = Table("Operation-count constants fitted on this machine (seconds per operation)",
                          ["model", "formula", "constant(s)", "median |relative error|", "points"],
                          [[m["name"], m["formula"], m["constants"], m["median_relative_error"], m["points"]]
                           for m in fits.values()])
        return payload(self.name, settings=self.settings(**{k: list(v) if isinstance(v, tuple) else v
                                                            for k, v in g.items()}),
                       tables=[table, fit_table], findings=_findings(cells, fits),
                       data={"cells": cells, "fits": fits, "records": records}, failed=len(results) - len(done))

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        from optbench.studies.crossover_fit import crossover_map

        png = crossover_map(payload["data"])
        return [Figure("crossover-map.png", "Fastest method family per (d, kappa) and accuracy, with the crossover "
                       "predicted by the fitted operation counts (lines, one per n)", png)] if png else []


def _findings(cells: list[dict], fits: dict[str, dict]) -> list[str]:
    out = []
    wins = [c for c in cells if c["gd_vs_closed"] is not None and c["gd_vs_closed"] > 1]
    compared = [c for c in cells if c["closed_form"] is not None]
    if wins:
        best = max(wins, key=lambda c: c["gd_vs_closed"])
        out.append(f"Gradient descent beat every closed form in {len(wins)} of {len(compared)} settings, at most "
                   f"{best['gd_vs_closed']:.1f}x (n={best['n']}, d={best['d']}, cond={best['cond']:g}, "
                   f"eps={best['eps']:g}, {best['kind']}); all of them have kappa <= "
                   f"{max(c['kappa'] for c in wins):.3g}.")
    elif compared:
        out.append(f"Gradient descent never beat the fastest closed form in {len(compared)} settings.")
    families = defaultdict(int)
    for c in cells:
        if c["winner"]:
            families[FAMILY[c["winner"]]] += 1
    if families:
        out.append("Fastest family per setting: " + ", ".join(f"{k} {v}" for k, v in sorted(families.items())) + ".")
    for m in fits.values():
        if m["constants"]:
            out.append(f"{m['name']}: t = {m['formula']} with {', '.join(f'{c:.3g}' for c in m['constants'])} "
                       f"(median relative error {m['median_relative_error']:.2f}, {m['points']} points).")
    return out
