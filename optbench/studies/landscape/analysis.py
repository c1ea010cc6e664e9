"""The landscape study's analysis: each problem's features next to its optimizers' outcomes, the rank
correlations across problems, the tables and findings (from stored results alone)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from optbench.api import TrialResult, TrialState
from optbench.studies.base import Table, task_data

# (payload key, column, getter) of the features the summary table and the plot show
FEATURES: tuple[tuple[str, str], ...] = (("fdc", "FDC"), ("rho1", "ρ(1)"), ("h_max", "H_max"),
                                         ("dispersion", "disp 5%"), ("optima_share", "local optima"),
                                         ("neutrality", "neutral"))


def _flat(features: dict[str, Any]) -> dict[str, Any]:
    """The summary features of one problem's stored data."""
    return {"fdc": features["fdc"], "rho1": features["rho"][0], "h_max": features["ic"]["h_max"],
            "dispersion": features["dispersion"]["ratio_mean_05"], "optima_share": features["local_search"]["share"],
            "neutrality": features["neutrality"]}


def analyze(results: Sequence[TrialResult], *, name: str) -> tuple[dict[str, Any], list[Table], list[str], int]:
    """``(data, tables, findings, failed)``: the feature tasks of the study ``name`` and the plain
    optimizer trials of the same problems among ``results``; ``failed`` counts feature tasks that did not
    complete."""
    from optbench.analysis.stats import expected_running_time
    from optbench.studies.landscape import features as ft

    feature_results = [r for r in results if r.spec.task == name]
    failed = sum(r.state is not TrialState.COMPLETE for r in feature_results)
    trials: dict[tuple, dict[str, list[TrialResult]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if not r.spec.task and r.state.has_result and r.final_value is not None:
            trials[(r.spec.problem, r.spec.problem_params)][r.spec.optimizer].append(r)
    rows, details, problems = [], [], []
    for r in feature_results:
        if r.state is not TrialState.COMPLETE:
            continue
        f = task_data(r)
        runs = trials.get((r.spec.problem, r.spec.problem_params), {})
        score = {name: [x.gap if x.gap is not None else x.final_value for x in group]
                 for name, group in runs.items()}
        outcome: dict[str, dict[str, Any]] = {}
        for name, group in runs.items():
            ert = expected_running_time([x.evaluations for x in group], [x.hit_evaluations for x in group]) \
                if group[0].optimal_value is not None else None
            blind = group[0].blind_search_evaluations
            outcome[name] = {"runs": len(group), "success": sum(x.success for x in group) / len(group),
                             "ert": ert, "blind": blind, "median_score": sorted(score[name])[len(group) // 2],
                             "vs_random": ft.vargha_delaney(score[name], score["random"])
                             if "random" in score and name != "random" else None}
        reference = outcome.get("random", {}).get("ert")
        for o in outcome.values():
            bar = o["blind"] or (reference if reference is not None and math.isfinite(reference) else None)
            o["ratio"] = None if o["ert"] is None or not bar else o["ert"] / bar
            o["ratio_against"] = "blind search" if o["blind"] else ("random search" if bar else None)
        flat = _flat(f)
        problems.append({"problem": f["problem"], "features": f, "summary": flat, "optimizers": outcome})
        rows.append([f["problem"], f["space"], f["dim"], *(flat[k] for k, _ in FEATURES),
                     *(outcome.get(name, {}).get(key) for name, key in (
                         ("ga", "success"), ("cmaes", "success"), ("random", "success"), ("ga", "vs_random"),
                         ("cmaes", "vs_random"), ("ga", "ratio"), ("cmaes", "ratio")))])
        gen = f.get("generalization") or {}
        details.append([f["problem"], f["correlation_length"], f["ic"]["m0"], f["ic"]["eps_s"],
                        f["ic"]["eps_ratio"], f["skewness"], f["kurtosis"], f["local_search"]["distinct"],
                        f["local_search"]["starts"], f["local_search"].get("converged"), gen.get("gap"),
                        f["evaluations"]])
    correlations = {opt: {key: ft.spearman([p["summary"][key] for p in problems],
                                           [p["optimizers"].get(opt, {}).get("vs_random") for p in problems])
                          for key, _ in FEATURES} for opt in ("ga", "cmaes")}
    main = Table("Landscape features next to what the optimizers achieved", [
        "problem", "space", "d", *(c for _, c in FEATURES), "GA ok", "CMA-ES ok", "random ok", "GA A vs random",
        "CMA-ES A vs random", "GA ÷ blind", "CMA-ES ÷ blind"], rows, notes=[
        "FDC: fitness-distance correlation (1 = closer is better, < 0 deceptive); ρ(1): random-walk "
        "autocorrelation at one step; H_max: maximal information content; disp 5%: mean distance among the best 5% "
        "over that of the whole sample (< 1: good points cluster); local optima: distinct local-search ends per "
        "start; neutral: share of equal-valued one-flip neighbours.",
        "ok: share of runs that reached the problem's target; A vs random: Vargha-Delaney A of the final gaps "
        "(0.5 = no better than random search, 1 = every run better); ÷ blind: expected running time over the "
        "problem's blind-search cost, or over random search's own where the problem has none."])
    detail = Table("More features", ["problem", "corr. length", "M0", "log10 eps_s", "log10 eps_ratio", "skewness",
                                     "kurtosis", "distinct ends", "starts", "converged", "train-test gap",
                                     "evaluations"],
                   details, notes=["corr. length: -1/ln|ρ(1)| in walk steps; M0: partial information content; "
                                   "converged: share of local searches that stopped at a local optimum "
                                   "(L-BFGS-B within 200 iterations; unconverged ends inflate 'distinct ends'); "
                                   "train-test gap: held-out minus training metric of local-search solutions "
                                   "(network problems only)."])
    data = {"problems": problems, "correlations": correlations, "features": [k for k, _ in FEATURES]}
    return data, [main, detail], findings(problems, correlations), failed


def findings(problems: list[dict[str, Any]], correlations: dict[str, dict[str, float | None]]) -> list[str]:
    """Sentences computed from the numbers."""
    labels = dict(FEATURES)
    out = []
    for opt, label in (("ga", "GA"), ("cmaes", "CMA-ES")):
        known = {k: v for k, v in correlations[opt].items() if v is not None}
        if known:
            key = max(known, key=lambda k: abs(known[k]))
            n = sum(p["optimizers"].get(opt, {}).get("vs_random") is not None for p in problems)
            out.append(f"Across {n} problems, the feature that best ranks {label}'s advantage over random search "
                       f"is {labels[key]} (Spearman {known[key]:+.2f}).")
    blind = [p["problem"] for p in problems
             if all((p["optimizers"].get(o, {}).get("vs_random") or 0.5) <= 0.6 for o in ("ga", "cmaes"))
             and any(p["optimizers"].get(o, {}).get("vs_random") is not None for o in ("ga", "cmaes"))]
    if blind:
        out.append("Neither GA nor CMA-ES clearly beat random search (A <= 0.6) on: " + ", ".join(blind) + ".")
    flat = [p["problem"] for p in problems
            if p["summary"]["rho1"] is not None and abs(p["summary"]["rho1"]) < 3 / math.sqrt(
                p["features"]["walks"] * p["features"]["walk_length"])]
    if flat:
        out.append("No locality at all (ρ(1) within 3/sqrt(walk points) of 0): " + ", ".join(flat) + ".")
    return out
