"""A run's trials in IOHanalyzer's format, written by ``ioh``'s own ``Analyzer`` logger.

Each stored trace is replayed into ``ioh.logger.Analyzer`` through an IOH problem (``ioh.wrap_problem``)
that carries the real problem's id, name and instance (IOH's own for ``pbo`` and ``bbob``, whose suites
IOH ships; a stable id from 100000 up for any other family) and answers, evaluation after evaluation,
the best value recorded by then. The logger counts the run's evaluations and writes the ``.json`` and
``.dat`` files itself, as for a live run. Values are put back into IOH's convention: PBO is maximized
and logged untransformed (``raw_y``: optbench minimizes ``-y`` of the instance, which IOH scales and
shifts from instance 2 on), bbob is logged as the gap ``f - f_opt``, and any other problem as its value
(minus its optimum when that is known). Like the COCO export it carries the thinned best-so-far trace,
not every point, and the ``x`` of a run's best point in the ``.json`` is the replay's placeholder (zeros),
not the optimizer's point (optbench does not store it; IOHanalyzer does not read it).
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from optbench.api import TrialResult
from optbench.extras import require
from optbench.report.coco_export import ExportReport, folder_name


def _meta(ioh: Any, result: TrialResult) -> tuple[int, str, Any, Any]:
    """IOH's ``(function id, name, optimization type)`` for ``result`` and a map ``value -> raw_y``."""
    params = dict(result.spec.problem_params)
    family, instance = result.spec.problem, result.spec.instance
    dim = _dimension(result)
    if family in ("pbo", "bbob"):
        fid = int(params.get("fid", 1))
        cls = ioh.ProblemClass.PBO if family == "pbo" else ioh.ProblemClass.BBOB
        problem = ioh.get_problem(fid, instance=instance + 1, dimension=dim, problem_class=cls)
        meta = problem.meta_data
        if family == "pbo":
            return fid, str(meta.name), meta.optimization_type, pbo_raw(problem)
        fopt = float(result.optimal_value or 0.0)
        return fid, str(meta.name), meta.optimization_type, lambda value: value - fopt  # IOH logs bbob's gap
    fid = 100000 + zlib.crc32(family.encode()) % 900000  # stable, and clear of IOH's own ids
    name = result.problem_id.rsplit("_i", 1)[0] if result.problem_id else family
    optimum = result.optimal_value
    raw = (lambda value: value - optimum) if optimum is not None else (lambda value: value)
    return fid, name, ioh.OptimizationType.MIN, raw


def pbo_raw(problem: Any) -> Any:
    """``value -> raw y`` for an IOH PBO instance: optbench's value is ``-y``, ``y = a * raw + b``."""
    dim = problem.meta_data.n_variables
    pairs = []
    for x in ([0] * dim, list(problem.optimum.x) if len(problem.optimum.x) == dim else [1] * dim, [1] * dim):
        y = float(problem(x))
        pairs.append((y, float(problem.state.current_internal.y)))
    (y0, r0), *rest = pairs
    for y1, r1 in rest:
        if r1 != r0 and y1 != y0:
            scale = (y1 - y0) / (r1 - r0)
            return lambda value: (-value - y0) / scale + r0
    return lambda value: -value  # the instance does not transform values


def _dimension(result: TrialResult) -> int:
    params = dict(result.spec.problem_params)
    for key in ("dim", "n", "d"):
        if isinstance(params.get(key), int):
            return int(params[key])
    digits = result.problem_id.split("_d", 1)[-1].split("_", 1)[0] if "_d" in result.problem_id else ""
    return int(digits) if digits.isdigit() else (10 if result.spec.problem == "bbob" else 64)


def _replay(ioh: Any, logger: Any, result: TrialResult) -> None:
    """Play one trial's best-so-far trace into ``logger`` through an IOH problem that returns it.

    The problem is ``ioh.wrap_problem`` of a function that answers, evaluation after evaluation,
    the best value recorded by then; it takes the real problem's id, name and instance, so the
    logger counts the run's evaluations and writes its files exactly as for a live run.
    """
    import numpy as np

    fid, name, sense, raw = _meta(ioh, result)
    trace = sorted(result.trace, key=lambda p: p.evaluations)
    last = round(max(result.evaluations, trace[-1].evaluations))
    # raw value after each evaluation count: the best recorded at or before it
    steps: list[tuple[int, float]] = []
    best = math.inf
    for point in trace:
        if point.best < best:
            best = point.best
            steps.append((max(round(point.evaluations), 1), raw(best)))
    answer = {"y": steps[0][1]}
    dim = _dimension(result)
    problem_class = ioh.ProblemClass.INTEGER if result.spec.problem == "pbo" else ioh.ProblemClass.REAL
    problem = ioh.wrap_problem(lambda x: answer["y"], name="optbench_replay", problem_class=problem_class,
                               dimension=dim, instance=1, optimization_type=sense,
                               lb=0 if problem_class == ioh.ProblemClass.INTEGER else -1.0,
                               ub=1 if problem_class == ioh.ProblemClass.INTEGER else 1.0)
    problem.set_id(fid)
    problem.set_name(name)
    # IOH's instance number: optbench's bbob and pbo instance i is the library's i + 1
    problem.set_instance(result.spec.instance + 1 if result.spec.problem in ("bbob", "pbo") else result.spec.instance)
    problem.attach_logger(logger)
    dtype = np.int32 if problem_class == ioh.ProblemClass.INTEGER else np.float64
    done = 0
    bounds = [*(e for e, _ in steps[1:]), last + 1]
    for (_, y), until in zip(steps, bounds, strict=True):
        answer["y"] = y
        count = min(until, last + 1) - 1 - done  # evaluations answered with this value
        while count > 0:
            chunk = min(count, 65536)
            problem(np.zeros((chunk, dim), dtype=dtype))
            done, count = done + chunk, count - chunk
    problem.reset()
    problem.detach_logger()


def suite_of(result: TrialResult) -> str:
    """The function suite a trial belongs to, as IOH numbers functions: ``pbo`` (integer), else ``real``."""
    return "pbo" if result.spec.problem == "pbo" else "real"


def write_ioh(results: Iterable[TrialResult], out_dir: str | Path) -> ExportReport:
    """Write every trial of ``results`` with a trace under ``out_dir/<optimizer>/`` in IOHanalyzer's format.

    Returns:
        the folders written and the trials left out, by reason.
    """
    ioh = require("ioh", needed_by="export --format ioh")
    report = ExportReport()
    # one logger per optimizer and suite: IOH names its files by function id alone, so pbo's f1 (OneMax) and
    # bbob's f1 (Sphere) seen by one logger would share one file
    by_algorithm: dict[tuple[str, str], list[TrialResult]] = defaultdict(list)
    for r in results:
        if not r.state.has_result:
            report.skip(f"{r.state} trials have no result")
        elif not r.trace:
            report.skip("no trace recorded")
        else:
            by_algorithm[(r.spec.optimizer_label, suite_of(r))].append(r)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    several = len({suite for _, suite in by_algorithm}) > 1
    for (label, suite), trials in sorted(by_algorithm.items()):
        name = folder_name(label) + (f"-{suite}" if several else "")
        logger = ioh.logger.Analyzer(triggers=[ioh.logger.trigger.ON_IMPROVEMENT], root=str(root.resolve()),
                                     folder_name=name, algorithm_name=label,
                                     algorithm_info=f"{trials[0].optimizer_source}, exported by optbench")
        for r in sorted(trials, key=lambda r: (r.spec.problem_label, r.spec.instance, r.spec.seed)):
            _replay(ioh, logger, r)
            report.runs += 1
        logger.close()
        report.folders.append(Path(logger.output_directory))
    return report
