"""A run's bbob trials in COCO's data format (``bbob-new2``, as ``cocoex``'s bbob logger writes it).

``cocopp DIR/<optimizer>`` then post-processes them like any COCO data set. One folder per
optimizer (cocopp reads a folder as one algorithm), holding for each function ``bbobexp_f<fid>.info``
and, for each dimension, ``data_f<fid>/bbobexp_f<fid>_DIM<dim>.dat`` (a row per recorded
improvement: COCO's target-triggered file) and ``.tdat`` (a row at COCO's evaluation triggers:
20 per decade and ``{1, 2, 5} * dim * 10^k``). Each trial is one run on COCO's instance (optbench's
instance + 1: optbench counts from 0, COCO from 1).

What optbench stores is the best-so-far trace, thinned to the first and last improvement in each
of 50 buckets per decade of evaluations, not every point. So a row's "measured fitness" is the best
value at that evaluation, and no ``x`` columns are written (cocopp reads neither); a target's first
hit is known to within one bucket (a factor ``10^(1/50)`` in evaluations, always late, never early).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from optbench.api import TracePoint, TrialResult

FINAL_TARGET = 1e-8  # COCO's "Precision" of the bbob suite
_HEADER = ("% f evaluations | g evaluations | best noise-free fitness - Fopt ({fopt:.12e}) + sum g_i+ | "
           "measured fitness | best measured fitness or single-digit g-values | x1 | x2...\n")


@dataclass
class ExportReport:
    """What an export wrote and what it left out (with the reason)."""

    folders: list[Path] = field(default_factory=list)
    runs: int = 0
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> trials

    def skip(self, reason: str) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + 1


def folder_name(label: str) -> str:
    """A file-system-safe folder name for an optimizer label: ``optuna:TPESampler`` -> ``optuna-TPESampler``."""
    name = re.sub(r"[^A-Za-z0-9._=-]+", "-", label.replace(":", "-")).strip("-.")
    return name or "optimizer"


def evaluation_triggers(last: float, dim: int) -> list[int]:
    """COCO's ``.tdat`` evaluation counts up to ``last``: 20 per decade, ``{1,2,5}*dim*10^k``, and ``last``."""
    counts: set[int] = set()
    k = 0
    while True:
        value = math.floor(10 ** (k / 20) + 1e-9)
        if value > last:
            break
        counts.add(value)
        k += 1
    scale = 1
    while dim * scale <= last:
        counts.update(c for c in (dim * scale, 2 * dim * scale, 5 * dim * scale) if c <= last)
        scale *= 10
    counts.add(int(last))
    return sorted(c for c in counts if c >= 1)


def best_at(trace: Sequence[TracePoint], evaluations: float) -> float:
    """The best value recorded at or before ``evaluations`` (``inf`` before the first point)."""
    best = math.inf
    for point in trace:
        if point.evaluations > evaluations:
            break
        best = min(best, point.best)
    return best


def _row(evaluations: float, value: float, fopt: float) -> str:
    return f"{round(evaluations)} 0 {value - fopt:+.9e} {value:+.9e} {value:+.9e}\n"


def run_rows(result: TrialResult, dim: int) -> tuple[str, str, int, float]:
    """The ``.dat`` and ``.tdat`` blocks of one trial, its last evaluation count and final gap."""
    fopt = float(result.optimal_value)  # type: ignore[arg-type]
    trace = sorted(result.trace, key=lambda p: p.evaluations)
    last = max(round(result.evaluations), round(trace[-1].evaluations))
    final = min(p.best for p in trace)
    header = _HEADER.format(fopt=fopt)
    dat = [header]
    best = math.inf
    for point in trace:
        if point.best < best:
            best = point.best
            dat.append(_row(point.evaluations, best, fopt))
    if round(trace[-1].evaluations) != last or len(dat) == 1:
        dat.append(_row(last, final, fopt))
    tdat = [header] + [_row(c, best_at(trace, c), fopt) for c in evaluation_triggers(last, dim)
                       if best_at(trace, c) < math.inf]
    return "".join(dat), "".join(tdat), last, final - fopt


def bbob_trials(results: Iterable[TrialResult], report: ExportReport) -> list[TrialResult]:
    """The trials COCO's format can hold: bbob, with a result, a trace and COCO's optimum."""
    kept = []
    for r in results:
        if r.spec.problem != "bbob":
            report.skip(f"{r.spec.problem}: not a bbob problem (COCO's format is for its own suites)")
        elif not r.state.has_result:
            report.skip(f"{r.state} trials have no result")
        elif not r.trace or r.optimal_value is None:
            report.skip("no trace recorded")
        else:
            kept.append(r)
    return kept


def _fid_dim(result: TrialResult) -> tuple[int, int]:
    params = dict(result.spec.problem_params)
    return int(params.get("fid", 1)), int(params.get("dim", 10))


def _coco_version() -> str:
    """The format's version: the installed cocoex's (cocopp reads it), else the one this writer follows."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("coco-experiment")
    except PackageNotFoundError:
        return "2.8.2"


def write_coco(results: Iterable[TrialResult], out_dir: str | Path, *, suite: str = "bbob") -> ExportReport:
    """Write every bbob trial of ``results`` in COCO's format, one algorithm folder per optimizer.

    With a single optimizer the data set is ``out_dir`` itself (so ``cocopp out_dir`` reads it);
    with several, each is ``out_dir/<optimizer>/`` (cocopp reads a folder as one algorithm:
    ``cocopp out_dir/a out_dir/b`` compares them).

    Args:
        results: stored trials (any problem: those that are not bbob are counted as left out).
        out_dir: the data set folder.
        suite: the suite name written to the ``.info`` files.

    Returns:
        the folders written and the trials left out, by reason.
    """
    from optbench import __version__

    report = ExportReport()
    coco_version = _coco_version()
    by_algorithm: dict[str, list[TrialResult]] = defaultdict(list)
    for r in bbob_trials(results, report):
        by_algorithm[r.spec.optimizer_label].append(r)
    for label, trials in sorted(by_algorithm.items()):
        name = folder_name(label)
        root = Path(out_dir) if len(by_algorithm) == 1 else Path(out_dir) / name
        info_blocks: dict[int, list[str]] = defaultdict(list)
        groups: dict[tuple[int, int], list[TrialResult]] = defaultdict(list)
        for r in sorted(trials, key=lambda r: (_fid_dim(r), r.spec.instance, r.spec.seed)):
            groups[_fid_dim(r)].append(r)
        for (fid, dim), runs in sorted(groups.items()):
            folder = root / f"data_f{fid}"
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"bbobexp_f{fid}_DIM{dim}"
            dat, tdat, entries = [], [], []
            for r in runs:
                d, t, last, gap = run_rows(r, dim)
                dat.append(d)
                tdat.append(t)
                entries.append(f"{r.spec.instance + 1}:{last}|{gap:.1e}")  # COCO's instance number
                report.runs += 1
            (folder / f"{stem}.dat").write_text("".join(dat), encoding="utf-8")
            (folder / f"{stem}.tdat").write_text("".join(tdat), encoding="utf-8")
            source = runs[0].optimizer_source or "?"
            info_blocks[fid].append(
                f"suite = '{suite}', funcId = {fid}, DIM = {dim}, Precision = {FINAL_TARGET:.3e}, algId = '{name}', "
                f"coco_version = '{coco_version}', logger = 'bbob', data_format = 'bbob-new2'\n"
                f"% {label} ({source}), exported by optbench {__version__} from its best-so-far traces\n"
                f"data_f{fid}/{stem}.dat, " + ", ".join(entries)
            )
        for fid, blocks in info_blocks.items():
            # blocks joined as cocoex joins them, without a final newline
            (root / f"bbobexp_f{fid}.info").write_text("\n".join(blocks), encoding="utf-8")
        report.folders.append(root)
    return report
