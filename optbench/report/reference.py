"""A stored run next to a COCO or IOHanalyzer data set (a folder, e.g. downloaded results), on one ECDF.

``optbench report --reference DIR`` reads every algorithm in ``DIR`` (COCO: ``*.info`` with their
``.dat`` files; IOHanalyzer: ``*.json`` with their ``.dat`` files), keeps the problems it shares with
the run (bbob function and dimension; PBO function and dimension), and draws the runtime ECDF of
COCO's 51 targets (gaps ``10^2 … 10^-8``) against evaluations per dimension, problems weighted
equally, one curve per optimizer of the run and per algorithm of the data set (dashed).

Gaps are ``f - f_opt``: COCO's files hold them; IOH logs them for its minimization problems (its
bbob); for PBO (maximized) the gap is the function's untransformed optimum minus ``raw_y``, and a
run's PBO values are mapped back to IOH's untransformed values the same way its export does.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optbench.api import ConfigError, TrialResult

TARGETS = 10.0 ** np.arange(2, -8.01, -0.2)  # COCO's 51 targets
Key = tuple[str, int, int]  # ("bbob" | "pbo", function id, dimension)


@dataclass(frozen=True)
class Run:
    """One run's best-so-far gap after each recorded evaluation count (both shape ``(k,)``)."""

    algorithm: str
    key: Key
    evaluations: np.ndarray
    gaps: np.ndarray

    def first_hits(self, targets: np.ndarray) -> np.ndarray:
        """Evaluations at which each target gap is first reached (``inf``: never), shape ``(len(targets),)``."""
        best = np.minimum.accumulate(self.gaps)
        index = np.searchsorted(-best, -targets, side="left")  # first row with best <= target
        out = np.full(len(targets), np.inf)
        hit = index < len(best)
        out[hit] = self.evaluations[index[hit]]
        return out


def _blocks(path: Path, header: str) -> list[np.ndarray]:
    """The runs of a COCO or IOH ``.dat``: numeric rows between header lines starting with ``header``."""
    runs: list[list[list[float]]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(header):
            runs.append([])
        elif line.strip() and runs:
            runs[-1].append([float(v) for v in line.split()[:3]])
    return [np.asarray(r, dtype=float).reshape(len(r), -1) for r in runs if r]


def read_coco(folder: Path) -> list[Run]:
    """Every run of every ``*.info`` below ``folder`` (COCO's bbob logger format)."""
    runs = []
    for info in sorted(folder.rglob("*.info")):
        lines = info.read_text(encoding="utf-8", errors="replace").splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("suite") and not line.startswith("funcId"):
                continue
            fields = dict(re.findall(r"(\w+)\s*=\s*'?([^,']*)'?", line))
            if "funcId" not in fields or "DIM" not in fields or i + 2 >= len(lines):
                continue
            data = lines[i + 2].split(",")[0].strip()
            dat = info.parent / data
            if not dat.is_file():
                dat = dat.with_suffix(".tdat")
            if not dat.is_file():
                continue
            name, fid, dim = fields.get("algId", info.parent.name), int(fields["funcId"]), int(fields["DIM"])
            for rows in _blocks(dat, "%"):
                runs.append(Run(name, ("bbob", fid, dim), rows[:, 0], rows[:, 2]))
    return runs


def _pbo_optimum(fid: int, dim: int) -> float | None:
    """The untransformed optimum of PBO function ``fid`` in ``dim`` bits (IOH's instance 1)."""
    from optbench.extras import require

    ioh = require("ioh", needed_by="a PBO reference data set")
    best = float(ioh.get_problem(fid, instance=1, dimension=dim, problem_class=ioh.ProblemClass.PBO).optimum.y)
    return best if math.isfinite(best) else None


def read_ioh(folder: Path) -> list[Run]:
    """Every run of every IOHanalyzer ``*.json`` below ``folder``."""
    runs = []
    for meta_file in sorted(folder.rglob("*.json")):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            fid, name, maximize = int(meta["function_id"]), str(meta["algorithm"]["name"]), bool(meta["maximization"])
            scenarios = meta["scenarios"]
        except (ValueError, KeyError, TypeError):
            continue  # not an IOHanalyzer file
        for scenario in scenarios:
            dim, dat = int(scenario["dimension"]), meta_file.parent / scenario["path"]
            if not dat.is_file():
                continue
            optimum = _pbo_optimum(fid, dim) if maximize else 0.0
            if optimum is None:
                continue
            for rows in _blocks(dat, "evaluations"):
                gaps = optimum - rows[:, 1] if maximize else rows[:, 1]
                runs.append(Run(name, ("pbo" if maximize else "bbob", fid, dim), rows[:, 0], gaps))
    return runs


def read_reference(folder: str | Path) -> list[Run]:
    """COCO and IOHanalyzer runs found in ``folder``; a folder with neither is a :class:`ConfigError`."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--reference {folder}: not a folder; pass the folder of a COCO or IOHanalyzer data set")
    runs = read_coco(root) + read_ioh(root)
    if not runs:
        raise ConfigError(f"--reference {folder}: no COCO (*.info) or IOHanalyzer (*.json) data found in it")
    return runs


def runs_of(results: list[TrialResult]) -> list[Run]:
    """A stored run's bbob and pbo trials as gap runs in the reference's terms."""
    out = []
    raw_maps: dict[tuple[int, int, int], Any] = {}
    for r in results:
        params = dict(r.spec.problem_params)
        if r.spec.problem not in ("bbob", "pbo") or not r.state.has_result or not r.trace:
            continue
        fid, dim = int(params.get("fid", 1)), int(params.get("dim", 10 if r.spec.problem == "bbob" else 64))
        evals = np.array([p.evaluations for p in r.trace])
        values = np.array([p.best for p in r.trace])
        if r.spec.problem == "bbob":
            gaps = values - float(r.optimal_value or 0.0)
        else:
            from optbench.extras import require
            from optbench.report.ioh_export import pbo_raw

            ioh = require("ioh", needed_by="pbo")
            optimum = _pbo_optimum(fid, dim)
            if optimum is None:
                continue
            key = (fid, dim, r.spec.instance)
            if key not in raw_maps:
                raw_maps[key] = pbo_raw(ioh.get_problem(fid, instance=r.spec.instance + 1, dimension=dim,
                                                        problem_class=ioh.ProblemClass.PBO))
            gaps = optimum - np.array([raw_maps[key](v) for v in values])
        out.append(Run(r.spec.optimizer_label, (r.spec.problem, fid, dim), evals, gaps))
    return out


def ecdf_curves(runs: list[Run], keys: set[Key], grid: np.ndarray) -> dict[str, np.ndarray]:
    """Per algorithm: the share of (problem, target) pairs solved by ``grid`` evaluations per dimension."""
    by_algorithm: dict[str, dict[Key, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run.key in keys:
            by_algorithm[run.algorithm][run.key].append(run)
    curves = {}
    for algorithm, problems in by_algorithm.items():
        total = np.zeros_like(grid)
        for key, problem_runs in problems.items():
            hits = np.concatenate([r.first_hits(TARGETS) / key[2] for r in problem_runs])
            total += np.searchsorted(np.sort(hits), grid, side="right") / len(hits)
        curves[algorithm] = total / len(keys)  # a problem an algorithm did not run counts as unsolved
    return curves


def write_reference_ecdf(results: list[TrialResult], folder: str | Path, out_dir: str | Path) -> tuple[Path, str]:
    """Draw the run and the data set on one runtime ECDF; returns the PNG's path and a one-line summary."""
    from optbench.report.plots import pyplot, styles

    reference = read_reference(folder)
    ours = runs_of(results)
    keys = {r.key for r in ours} & {r.key for r in reference}
    if not keys:
        have = sorted({f"{k[0]} f{k[1]} {k[2]}D" for k in (r.key for r in reference)})[:6]
        raise ConfigError(f"the run and {folder} share no problem (bbob or pbo function and dimension); "
                          f"the data set has {', '.join(have)}")
    top = max(float(np.max(r.evaluations)) / r.key[2] for r in ours + reference if r.key in keys)
    grid = np.logspace(-0.5, math.log10(max(top, 1.0)) + 0.1, 300)
    mine, theirs = ecdf_curves(ours, keys, grid), ecdf_curves(reference, keys, grid)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    palette = styles(list(mine) + [f"{name} (reference)" for name in theirs])
    for name, curve in mine.items():
        ax.step(grid, curve, where="post", label=name, linewidth=1.8, color=palette[name]["color"])
    for name, curve in theirs.items():
        label = f"{name} (reference)"
        ax.step(grid, curve, where="post", label=label, linewidth=1.4, linestyle="--", color=palette[label]["color"])
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("evaluations / dimension")
    ax.set_ylabel("share of (problem, target) pairs")
    ax.set_title(f"Runtime ECDF, {len(keys)} shared problem(s), 51 targets 1e2..1e-8", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ecdf-reference.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    final = ", ".join(f"{n} {c[-1]:.0%}" for n, c in {**mine, **{f"{k} (ref)": v for k, v in theirs.items()}}.items())
    return path, f"{len(keys)} shared problem(s); solved pairs at the end: {final}"
