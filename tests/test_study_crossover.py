"""optbench study crossover: accuracy of the closed forms, GD's iteration count, the fits, and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from clirun import assert_one_line_exit_2, run

from optbench.studies.crossover import methods as lm
from optbench.studies.crossover.fit import fit_models
from optbench.studies.crossover.timing import drive, time_method

EPS = float(np.finfo(np.float64).eps)


def _normal_equations_bound(system: lm.System, cond: float) -> float:
    """Relative suboptimality a backward-stable solve of the normal equations can leave:
    ``|dx| <= d cond^2 eps |x*|`` (cond(X^T X) = cond^2, a factor d for the accumulation), so
    ``||X dx||^2 / ||r*||^2 <= (sigma_max(X) d cond^2 eps |x*|)^2 / ||r*||^2``. QR and SVD are
    bounded by it too (their cond * eps term plus the cond^2 * |r| term of least squares)."""
    sigma_max = math.sqrt(system.L * system.n / 2)
    x_norm = float((system.x_star * system.x_star).sum()) ** 0.5
    return (sigma_max * system.d * cond**2 * EPS * x_norm) ** 2 / system.r_norm2


@pytest.mark.parametrize("cond", [1.0, 100.0])
def test_closed_forms_reach_1e_minus_12_at_moderate_condition(cond):
    system = lm.dense_system(2000, 50, cond, 0)
    assert system.L / system.mu == pytest.approx(cond**2, rel=1e-9)  # kappa = cond(X)^2 by construction
    bound = _normal_equations_bound(system, cond)
    assert bound < 1e-12  # so the analysis guarantees eps = 1e-12 here
    for method in lm.CLOSED_FORMS:
        assert system.suboptimality(lm.closed_form(system, method)) <= bound, method
    sparse = lm.sparse_system(5000, 40, 10.0, 0, 0.05)
    cond_sparse = math.sqrt(sparse.L / sparse.mu)
    assert sparse.suboptimality(lm.closed_form(sparse, "cholesky")) <= _normal_equations_bound(sparse, cond_sparse)


def _diagonal_system(s: torch.Tensor) -> lm.System:
    """``X = [sqrt(n) diag(s); 0]`` with ``n = 2d``, ``x* = 1`` and the residual in the zero block."""
    d = s.numel()
    n = 2 * d
    X = torch.cat([math.sqrt(n) * torch.diag(s), torch.zeros(d, d, dtype=torch.float64)])
    residual = torch.cat([torch.zeros(d, dtype=torch.float64), torch.full((d,), 0.1, dtype=torch.float64)])
    b = X @ torch.ones(d, dtype=torch.float64) + residual
    return lm.System(X=X, XT=X.T, b=b, x_star=torch.ones(d, dtype=torch.float64), r_norm2=float(residual @ residual),
                     L=2 * float(s.max()) ** 2, mu=2 * float(s.min()) ** 2, sparse=False)


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_gradient_descent_iterations_match_the_kappa_log_bound(kappa):
    # step 2/(L+mu) contracts every eigencomponent of the error by at most q = (kappa-1)/(kappa+1),
    # and the extreme ones by exactly q, so the suboptimality after k steps lies in [w q^(2k), q^(2k)] * f0
    s = torch.sqrt(torch.logspace(0, -math.log10(kappa), 20, dtype=torch.float64))
    system = _diagonal_system(s)
    q = (kappa - 1) / (kappa + 1)
    sub0 = system.suboptimality(torch.zeros(20, dtype=torch.float64))
    lam = s * s
    w = float((lam[0] + lam[-1]) / lam.sum())  # share of f0 in the two extreme components
    for eps in (1e-2, 1e-6, 1e-12):
        _, counts, _, _ = drive(lm.gradient_descent(system), system, eps=(eps,), cap=60.0, sync=lambda: None)
        k = counts[f"{eps:g}"]
        upper = math.ceil(math.log(sub0 / eps) / (2 * math.log(1 / q)))
        lower = math.log(w * sub0 / eps) / (2 * math.log(1 / q))
        assert lower <= k <= upper, (eps, k, lower, upper)
        # and that is kappa * ln(1/eps) within a constant: (kappa / 4) ln(f0 / eps) for large kappa
        assert 0.1 < k / (kappa * math.log(1 / eps)) < 1.0


def test_conjugate_gradients_and_lsqr_reach_the_targets():
    system = lm.dense_system(2000, 40, 10.0, 0)
    _, counts, sub, _ = drive(lm.conjugate_gradients(system), system, eps=(1e-6, 1e-12), cap=60.0,
                                  sync=lambda: None)
    assert sub <= 1e-12 and counts["1e-12"] <= 2 * system.d  # d steps in exact arithmetic
    data = time_method({"kind": "dense", "method": "lsqr", "n": 2000, "d": 40, "cond": 10.0, "seed": 0,
                        "eps": (1e-6,), "cap": 60.0}, device="cpu")
    assert data["iterations"]["1e-06"] <= 2 * system.d


def test_fitted_constants_are_positive():
    records = []
    for n, d in ((2000, 20), (4000, 80), (8000, 40)):
        for cond in (3.0, 10.0):
            for method in ("cholesky", "gd", "cg"):
                params = {"kind": "dense", "method": method, "n": n, "d": d, "cond": cond, "seed": 0,
                          "eps": (1e-2, 1e-6), "cap": 5.0}
                records.append(time_method(params, device="cpu") | {"device": "cpu"})
    fits = fit_models(records)
    assert fits["cholesky"]["constants"][0] > 0 and fits["cholesky"]["constants"][1] >= 0
    assert fits["gd"]["constants"][0] > 0 and fits["cg"]["constants"][0] > 0
    assert fits["gd"]["points"] == 12  # every GD run reached both targets at kappa <= 100


def _study(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("study", "crossover", *args, cwd=cwd)


def test_cli_quick_runs_end_to_end(tmp_path):
    done = _study("--quick", "--store", str(tmp_path / "s.sqlite"), "--format", "json", "--report",
                  str(tmp_path / "report"), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["study"] == "crossover" and data["failed_tasks"] == 0
    cells = data["data"]["cells"]
    assert {c["eps"] for c in cells} == {1e-2, 1e-6, 1e-12}
    assert {c["kind"] for c in cells} == {"dense", "sparse"}
    assert all(c["winner"] in lm.METHODS for c in cells)
    # every closed form reaches every target on these well-conditioned systems (cond <= 100)
    closed = [r for r in data["data"]["records"] if r["method"] in lm.CLOSED_FORMS]
    assert closed and all(len(r["times"]) == 3 for r in closed)
    assert data["data"]["fits"]["cholesky"]["constants"][0] > 0
    assert (tmp_path / "report" / "plots" / "crossover-map.png").stat().st_size > 1000


@pytest.mark.parametrize("args,message", [(["--n", "ten"], "--n takes"), (["--methods", "magic"], "magic"),
                                          (["--eps", "2"], "--eps"), (["--d", "5000", "--n", "1000"], "d <= n/10")])
def test_cli_refuses_bad_input_with_one_line(tmp_path, args, message):
    done = _study(*args, "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert_one_line_exit_2(done, message)
