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


BUDGETS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)  # where the advantage is re-scored
MIN_PROBLEMS = 10  # the rank correlations should rest on at least this many non-saturated problems
OPTS = (("ga", "GA"), ("cmaes", "CMA-ES"))


def best_at(result: TrialResult, budget: float) -> float:
    """Best-so-far of a trial after ``budget`` evaluations, from its trace (to one trace bucket, 1/50 decade);
    ``inf`` when it had evaluated nothing by then."""
    seen = [p.best for p in result.trace if p.evaluations <= budget]
    return min(seen) if seen else math.inf


def advantage_by_budget(runs: dict[str, list[TrialResult]], budgets: Sequence[float]) -> dict[str, dict[str, Any]]:
    """Vargha-Delaney A of each optimizer against random search at each budget (best-so-far gap at ``b``)."""
    from optbench.studies.landscape import features as ft

    if "random" not in runs:
        return {}
    def scores(group: list[TrialResult], b: float) -> list[float]:
        return [best_at(x, b) - (x.optimal_value or 0.0) for x in group]
    return {f"{b:g}": {name: ft.vargha_delaney(scores(group, b), scores(runs["random"], b))
                       for name, group in runs.items() if name != "random"} for b in budgets}


def spearman_ci(rho: float | None, n: int, *, level: float = 0.95) -> list[float] | None:
    """Fisher-z interval of a Spearman correlation with Fieller et al.'s (1957) variance ``1.06 / (n - 3)``."""
    from scipy.stats import norm

    if rho is None or n < 5 or abs(rho) >= 1:
        return None
    z, half = math.atanh(rho), float(norm.ppf((1 + level) / 2)) * math.sqrt(1.06 / (n - 3))
    return [math.tanh(z - half), math.tanh(z + half)]


def _saturated(a: float | None) -> bool:
    return a is not None and (a <= 0.0 or a >= 1.0)


def analyze(results: Sequence[TrialResult], *, name: str) -> tuple[dict[str, Any], list[Table], list[str], int]:
    """``(data, tables, findings, failed)``: the feature tasks (several independent samples per problem) and
    blind-search tasks of the study ``name``, and the plain optimizer trials of the same problems among
    ``results``; ``failed`` counts tasks that did not complete."""
    from optbench.analysis.stats import expected_running_time
    from optbench.studies.intervals import mean_ci
    from optbench.studies.landscape import features as ft

    tasks = [r for r in results if r.spec.task == name]
    failed = sum(r.state is not TrialState.COMPLETE for r in tasks)
    done = [r for r in tasks if r.state is TrialState.COMPLETE]
    blind = [task_data(r) for r in done if task_data(r).get("role") == "blind"]
    samples: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in done:
        if task_data(r).get("role", "features") == "features":
            samples[(r.spec.problem, r.spec.problem_params)].append(task_data(r))
    trials: dict[tuple, dict[str, list[TrialResult]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if not r.spec.task and r.state.has_result and r.final_value is not None:
            trials[(r.spec.problem, r.spec.problem_params)][r.spec.optimizer].append(r)
    top = max((x.evaluations for g in trials.values() for group in g.values() for x in group), default=0.0)
    budgets = [b for b in BUDGETS if b < top] + ([top] if top else [])
    rows, details, problems, interval_rows = [], [], [], []
    for key, group in samples.items():
        group = sorted(group, key=lambda f: f.get("seed", 0))
        f = group[0]
        runs = trials.get(key, {})
        score = {opt: [x.gap if x.gap is not None else x.final_value for x in g] for opt, g in runs.items()}
        outcome: dict[str, dict[str, Any]] = {}
        for opt, g in runs.items():
            ert = expected_running_time([x.evaluations for x in g], [x.hit_evaluations for x in g]) \
                if g[0].optimal_value is not None else None
            outcome[opt] = {"runs": len(g), "success": sum(x.success for x in g) / len(g), "ert": ert,
                            "blind": g[0].blind_search_evaluations, "median_score": sorted(score[opt])[len(g) // 2],
                            "vs_random": ft.vargha_delaney(score[opt], score["random"])
                            if "random" in score and opt != "random" else None}
        reference = outcome.get("random", {}).get("ert")
        for o in outcome.values():
            bar = o["blind"] or (reference if reference is not None and math.isfinite(reference) else None)
            o["ratio"] = None if o["ert"] is None or not bar else o["ert"] / bar
            o["ratio_against"] = "blind search" if o["blind"] else ("random search" if bar else None)
        flats = [_flat(x) for x in group]
        summary = {k: _mean([fl[k] for fl in flats]) for k, _ in FEATURES}
        cis = {k: mean_ci([fl[k] for fl in flats]) for k, _ in FEATURES}
        problems.append({"problem": f["problem"], "features": f, "samples": len(group), "summary": summary,
                         "summary_ci": cis, "per_sample": flats, "optimizers": outcome,
                         "by_budget": advantage_by_budget(runs, budgets)})
        rows.append([f["problem"], f["space"], f["dim"], *(summary[k] for k, _ in FEATURES),
                     *(outcome.get(o, {}).get(k) for o, k in (
                         ("ga", "success"), ("cmaes", "success"), ("random", "success"), ("ga", "vs_random"),
                         ("cmaes", "vs_random"), ("ga", "ratio"), ("cmaes", "ratio")))])
        interval_rows.append([f["problem"], len(group), *(v for k, _ in FEATURES for v in (summary[k], cis[k]))])
        gen = f.get("generalization") or {}
        details.append([f["problem"], f["correlation_length"], f["ic"]["m0"], f["ic"]["eps_s"],
                        f["ic"]["eps_ratio"], f["skewness"], f["kurtosis"], f["local_search"]["distinct"],
                        f["local_search"]["starts"], f["local_search"].get("converged"), gen.get("gap"),
                        f["evaluations"]])
    budget_rows, chosen, correlations, full = _by_budget(problems, budgets)
    main = Table("Landscape features next to what the optimizers achieved", [
        "problem", "space", "d", *(c for _, c in FEATURES), "GA ok", "CMA-ES ok", "random ok", "GA A vs random",
        "CMA-ES A vs random", "GA ÷ blind", "CMA-ES ÷ blind"], rows, notes=[
        "Features: means over independent samples (next table for their intervals). FDC: fitness-distance "
        "correlation of the value to minimize with the distance to the optimum, so +1 = closer is better (easy) and "
        "< 0 = deceptive; Jones & Forrest (1995) maximize fitness, so their FDC has the opposite sign (their -1 is "
        "easy). ρ(1): random-walk autocorrelation at one step; H_max: maximal information content; disp 5%: mean "
        "distance among the best 5% over that of the whole sample (< 1: good points cluster); local optima: "
        "distinct local-search ends per start; neutral: share of equal-valued one-flip neighbours.",
        "ok: share of runs that reached the problem's target; A vs random: Vargha-Delaney A of the final gaps "
        "(0.5 = no better than random search, 1 = every run better: saturated); ÷ blind: expected running time over "
        "the problem's blind-search cost, or over random search's own where the problem has none."])
    n_samples = sorted({p["samples"] for p in problems})
    intervals = Table("Landscape features: mean and 95% interval over independent samples", [
        "problem", "samples", *(v for _, c in FEATURES for v in (c, f"{c} CI"))], interval_rows, notes=[
        f"each sample ({'/'.join(map(str, n_samples))} per problem) reseeds every probe (uniform sample, walks, "
        "neighbourhoods, local-search starts); CI: Student's t over the samples; – : undefined (a constant "
        "feature has no interval)."])
    advantage = Table("Rank correlation of each feature with the advantage over random search, by budget", [
        "budget", "optimizer", "not saturated", *(c for _, c in FEATURES)], budget_rows, notes=[
        "A at a budget: Vargha-Delaney A of the best-so-far gaps after that many evaluations (from each run's trace); "
        "saturated: A = 0 or 1 (every run of one better than every run of the other), where ranks carry no "
        "information; not saturated: problems with 0 < A < 1 of those scored; cells: Spearman's rho across all "
        f"scored problems. The chosen budget per optimizer is the largest with >= {MIN_PROBLEMS} problems not "
        "saturated (or the most), marked *."])
    blind_data, blind_table = _blind(blind)
    detail = Table("More features", ["problem", "corr. length", "M0", "log10 eps_s", "log10 eps_ratio", "skewness",
                                     "kurtosis", "distinct ends", "starts", "converged", "train-test gap",
                                     "evaluations"],
                   details, notes=["from the first sample. corr. length: -1/ln|ρ(1)| in walk steps; M0: partial "
                                   "information content; converged: share of local searches that stopped at a local "
                                   "optimum (L-BFGS-B within 200 iterations; unconverged ends inflate 'distinct "
                                   "ends'); train-test gap: held-out minus training metric of local-search "
                                   "solutions (network problems only)."])
    data = {"problems": problems, "correlations": correlations, "full_budget_correlations": full,
            "chosen_budget": chosen, "budgets": budgets, "features": [k for k, _ in FEATURES], "blind": blind_data}
    tables = [main, intervals, advantage] + ([blind_table] if blind_table else []) + [detail]
    return data, tables, findings(problems, correlations, chosen=chosen, full=full, blind=blind_data), failed


def _by_budget(problems: list[dict[str, Any]], budgets: Sequence[float]
               ) -> tuple[list[list[Any]], dict[str, dict[str, Any]], dict[str, dict], dict[str, dict]]:
    """Rows of the budget table, the chosen budget per optimizer, the correlations there and at the full budget."""
    from optbench.studies.landscape import features as ft

    rows, chosen, at_chosen, at_full = [], {}, {}, {}
    per_opt: dict[str, list[dict[str, Any]]] = {}
    for opt, _ in OPTS:
        entries = []
        for b in budgets:
            key = f"{b:g}"
            scores = [p["by_budget"].get(key, {}).get(opt) for p in problems]
            scored = [a for a in scores if a is not None]
            if not scored:
                continue
            free = sum(not _saturated(a) for a in scored)
            corr = {}
            for feature, _ in FEATURES:
                pairs = [(p["summary"][feature], a) for p, a in zip(problems, scores, strict=True)
                         if a is not None and p["summary"][feature] is not None]
                rho = ft.spearman([x for x, _ in pairs], [y for _, y in pairs])
                corr[feature] = {"rho": rho, "n": len(pairs), "ci": spearman_ci(rho, len(pairs))}
            entries.append({"budget": b, "scored": len(scored), "not_saturated": free, "correlations": corr})
        if not entries:
            continue
        need = min(MIN_PROBLEMS, max(e["scored"] for e in entries))
        enough = [e for e in entries if e["not_saturated"] >= need]
        pick = enough[-1] if enough else max(entries, key=lambda e: (e["not_saturated"], e["budget"]))
        chosen[opt] = {"budget": pick["budget"], "not_saturated": pick["not_saturated"], "scored": pick["scored"]}
        at_chosen[opt] = pick["correlations"]
        at_full[opt] = entries[-1]["correlations"] | {"_not_saturated": entries[-1]["not_saturated"],
                                                       "_scored": entries[-1]["scored"]}
        per_opt[opt] = entries
        for e in entries:
            mark = "*" if e is pick else ""
            rows.append([f"{e['budget']:g}{mark}", dict(OPTS)[opt], f"{e['not_saturated']} of {e['scored']}",
                         *(e["correlations"][k]["rho"] for k, _ in FEATURES)])
    return rows, chosen, at_chosen, at_full


def _blind(runs: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, Table | None]:
    """The pow scaling: evaluations to success per k, and the fitted slope of log2(evaluations) on k."""
    if not runs:
        return None, None
    from optbench.studies.landscape.blind import mean_ci_exponential, slope_fit

    by_k: dict[int, list[dict]] = defaultdict(list)
    for r in runs:
        by_k[r["k"]].append(r)
    rows, per_k = [], []
    for k, group in sorted(by_k.items()):
        evals = [r["evaluations"] for r in group]
        mean = sum(evals) / len(evals)
        ci = mean_ci_exponential(evals)
        censored = sum(r["censored"] for r in group)
        per_k.append({"k": k, "runs": len(group), "mean": mean, "ci": ci, "censored": censored,
                      "expected": 2.0**k, "median": sorted(evals)[len(evals) // 2]})
        rows.append([k, len(group), censored, sorted(evals)[len(evals) // 2], mean, ci, 2.0**k, mean / 2.0**k,
                     sum(r["seconds"] for r in group)])
    fit = slope_fit([r["k"] for r in runs], [r["evaluations"] for r in runs])
    table = Table("Blind search on pow(n=64, k): evaluations to the first success", [
        "k", "runs", "censored", "median evals", "mean evals", "95% CI of mean", "2^k", "mean ÷ 2^k", "seconds"],
        rows, notes=[
            f"fitted log2(evaluations) = a + b k over {fit['runs']} runs: b = "
            + (f"{fit['slope']:.3f} [{fit['ci'][0]:.3f}, {fit['ci'][1]:.3f}] (95%, from the known sd 1.85 of "
               f"log2 of a geometric count; the residuals' own: {fit['residual_sd']:.2f})" if fit["ci"] else "–")
            + "; expected b = 1 for a hash that behaves like a random function. CI of mean: exact for exponential "
            "counts (chi-square with 2 x runs degrees of freedom); censored: runs stopped at 16 x 2^k."])
    return {"per_k": per_k, "fit": fit, "runs": runs}, table


def findings(problems: list[dict[str, Any]], correlations: dict[str, dict[str, Any]], *,
             chosen: dict[str, dict[str, Any]], full: dict[str, dict[str, Any]], blind: dict[str, Any] | None
             ) -> list[str]:
    """Sentences computed from the numbers."""
    labels = dict(FEATURES)
    out = []
    for opt, label in OPTS:
        known = {k: v for k, v in correlations.get(opt, {}).items() if v["rho"] is not None}
        if not known:
            continue
        # the headline feature is one defined on enough problems (neutrality exists on bit strings only)
        need = min(MIN_PROBLEMS, max(v["n"] for v in known.values()))
        known = {k: v for k, v in known.items() if v["n"] >= need}
        key = max(known, key=lambda k: abs(known[k]["rho"]))
        c, pick = known[key], chosen[opt]
        ci = f" [{c['ci'][0]:+.2f}, {c['ci'][1]:+.2f}]" if c["ci"] else ""
        zero = "; the interval contains 0" if c["ci"] and c["ci"][0] <= 0 <= c["ci"][1] else ""
        whole = full.get(opt, {})
        out.append(f"{label}: at {pick['budget']:g} evaluations, where {pick['not_saturated']} of {pick['scored']} "
                   f"problems are not saturated (0 < A < 1), the feature that best ranks the advantage over random "
                   f"search is {labels[key]} (Spearman {c['rho']:+.2f}{ci}, {c['n']} problems{zero}); at the full "
                   f"budget only {whole.get('_not_saturated')} of {whole.get('_scored')} are not saturated.")
    blind_problems = [p["problem"] for p in problems
                      if all((p["optimizers"].get(o, {}).get("vs_random") or 0.5) <= 0.6 for o, _ in OPTS)
                      and any(p["optimizers"].get(o, {}).get("vs_random") is not None for o, _ in OPTS)]
    if blind_problems:
        out.append("Neither GA nor CMA-ES clearly beat random search (A <= 0.6) on: " + ", ".join(blind_problems) + ".")
    flat = [p["problem"] for p in problems
            if p["summary"]["rho1"] is not None and abs(p["summary"]["rho1"]) < 3 / math.sqrt(
                p["samples"] * p["features"]["walks"] * p["features"]["walk_length"])]
    if flat:
        out.append("No locality at all (mean ρ(1) within 3/sqrt(walk points of all samples) of 0): "
                   + ", ".join(flat) + ".")
    zero = [p["problem"] for p in problems if (ci := p["summary_ci"].get("fdc")) and ci[0] <= 0 <= ci[1]]
    if zero:
        out.append("FDC's 95% interval contains 0 (no fitness-distance correlation) on: " + ", ".join(zero) + ".")
    if blind and blind["fit"]["ci"]:
        fit, ks = blind["fit"], [r["k"] for r in blind["per_k"]]
        holds = "holds" if fit["ci"][0] <= 1 <= fit["ci"][1] else "is rejected"
        out.append(f"Blind search on pow: evaluations to success grow as 2^(b k) with b = {fit['slope']:.3f} "
                   f"[{fit['ci'][0]:.3f}, {fit['ci'][1]:.3f}] over k = {min(ks)}..{max(ks)} ({fit['runs']} runs); "
                   f"the 2^k law (b = 1) {holds} at 95%.")
    return out


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(sum(finite) / len(finite)) if finite else None
