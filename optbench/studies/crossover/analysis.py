"""The crossover study's analysis: per system and target the median time of every method over its interleaved
repeats (with an order-statistic interval), the fastest method, what wins without the known spectrum, the
fitted operation counts, the tables and findings (from stored results alone)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from optbench.api import TrialResult, TrialState
from optbench.studies.base import Table, task_data
from optbench.studies.crossover.catalog import CLOSED_FORMS, ESTIMATED, FAMILY, ORACLE
from optbench.studies.crossover.stats import median_ci

STAT = "stat"


def _label(key: str, eps: float) -> str:
    return f"stat ({eps:.1e})" if key == STAT else key


def summarize(records: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """One method's repeats on one system to the target ``key``: median time, interval, reached, matvecs."""
    out = median_ci([rec["times"].get(key) for rec in records])
    matvecs = [rec.get("matvecs", {}).get(key) for rec in records]
    matvecs = [m for m in matvecs if m is not None]
    # the median count of the repeats that reached it (counts are the same in every repeat of a deterministic
    # method); none where the median time is undefined
    out["matvecs"] = statistics.median(matvecs) if matvecs and out["median"] is not None else None
    out["cap"] = max(rec["cap"] for rec in records)
    return out


def _cell(system: tuple, by_method: dict[str, list[dict]], key: str) -> dict[str, Any]:
    kind, device, n, d, cond = system
    first = next(iter(by_method.values()))[0]
    eps = first["targets"][key] if "targets" in first else float(key)
    methods = {m: summarize(recs, key) for m, recs in by_method.items()}
    ranked = sorted((s["median"], m) for m, s in methods.items() if s["median"] is not None)
    winner = ranked[0][1] if ranked else None
    runner = ranked[1][1] if len(ranked) > 1 else None
    best = methods[winner] if winner else None

    def seconds(method: str) -> float | None:
        return methods.get(method, {}).get("median")

    closed = min((t for t, m in ranked if m in CLOSED_FORMS), default=None)
    practical = next(((t, m) for t, m in ranked if m not in ORACLE), (None, None))
    separated = None
    if best and runner:
        high, low = best["ci"][1], methods[runner]["ci"][0]
        separated = high is not None and low > high
    # a method cut by the cap before the winner's time might have won: the grid's floor on the cap should prevent it
    cut = sorted(m for m, s in methods.items() if s["median"] is None and best and s["cap"] < best["median"])
    return {"kind": kind, "device": device, "n": n, "d": d, "cond": cond, "kappa": first["kappa"], "target": key,
            "eps": eps, "winner": winner, "seconds": best["median"] if best else None,
            "ci": best["ci"] if best else None, "coverage": best["coverage"] if best else None,
            "repeats": best["n"] if best else None,
            "margin": ranked[1][0] / ranked[0][0] if runner and ranked[0][0] > 0 else None, "runner_up": runner,
            "separated": separated, "practical_winner": practical[1], "practical_seconds": practical[0],
            "closed_form": closed, "gd": seconds("gd"), "gd_est": seconds("gd_est"), "nesterov": seconds("nesterov"),
            "nesterov_est": seconds("nesterov_est"),
            "gd_vs_closed": None if seconds("gd") is None or closed is None else closed / seconds("gd"),
            "cut_by_cap": cut, "methods": methods}


def analyze(results: Sequence[TrialResult], *, epsilons: Sequence[float], power_iterations: int
            ) -> tuple[dict[str, Any], list[Table], list[str], int]:
    """``(data, tables, findings, failed)`` from the timing tasks (one per system, method and repeat)."""
    from optbench.studies.crossover.fit import fit_models

    done = [r for r in results if r.state is TrialState.COMPLETE]
    records = [task_data(r) | {"device": r.spec.device} for r in done]
    groups: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        groups[(rec["kind"], rec["device"], rec["n"], rec["d"], rec["cond"])][rec["method"]].append(rec)
    keys = [f"{e:g}" for e in epsilons] + [STAT]
    cells = [_cell(system, by_method, key) for system, by_method in sorted(groups.items()) for key in keys]
    rows = [[c["kind"], c["device"], c["n"], c["d"], c["cond"], _label(c["target"], c["eps"]), c["winner"],
             c["seconds"], c["ci"], c["margin"], c["separated"], c["practical_winner"], c["closed_form"], c["gd"],
             c["gd_est"]] for c in cells]
    repeats = sorted({c["repeats"] for c in cells if c["repeats"]})
    coverage = sorted({round(c["coverage"], 4) for c in cells if c["coverage"]})
    table = Table("Fastest method per system and target (median of interleaved repeats)", [
        "kind", "device", "n", "d", "cond(X)", "target eps", "fastest", "median s", "95% CI s", "margin", "clear",
        "fastest w/o spectrum", "closed form s", "GD s", "GD est s"], rows, notes=[
        f"median s: median over {'/'.join(map(str, repeats)) or '–'} timings per method, interleaved across methods "
        f"(round-robin); CI: order-statistic interval of the median (coverage {', '.join(f'{c:.1%}' for c in coverage)}"
        "; a repeat that missed the target counts as slower than all); margin: runner-up's median over the "
        "fastest's; clear: the fastest's interval lies below the runner-up's.",
        "eps: relative suboptimality (f - f*)/f*; stat: the statistical accuracy sigma^2 d / ||r*||^2 (an error as "
        "large as the noise's own, about d/(n-d)). GD: step 2/(L+mu) from the known spectrum (the oracle); GD est: "
        f"step 1/L_hat from {power_iterations} power iterations, their time and products counted. 'w/o spectrum' "
        f"leaves out {', '.join(ORACLE)} (nesterov: momentum from kappa; sgd: step grid from L). SGD/Adam: best of a "
        "3-step grid (tuning not counted); – : not reached within the cap."])
    oracle_rows = _oracle_rows(groups, keys[-2] if len(keys) > 1 else keys[0])
    oracle_table = Table("Oracle step against estimated step (medians over repeats)", [
        "kind", "n", "d", "cond(X)", "method", "L_hat / L", "s to stat (oracle)", "s to stat (est)",
        "matvecs to stat (oracle)", "matvecs to stat (est)", f"s to {keys[-2] if len(keys) > 1 else keys[0]} "
        "(oracle)", f"s to {keys[-2] if len(keys) > 1 else keys[0]} (est)"], oracle_rows, notes=[
        "matvecs: products with X or X^T (full-size equivalents) up to the target, the estimate's "
        f"{2 * power_iterations} power-iteration products included; nesterov est: step 1/L_hat, the convex-case "
        "momentum with gradient restarts (O'Donoghue & Candes 2015), no mu needed."])
    medians = [_median_record(recs, keys[:-1]) for by_method in groups.values() for recs in by_method.values()]
    fits = fit_models(medians)
    fit_table = Table("Operation-count constants fitted on this machine (seconds per operation)",
                      ["model", "formula", "constant(s)", "median |relative error|", "points"],
                      [[m["name"], m["formula"], m["constants"], m["median_relative_error"], m["points"]]
                       for m in fits.values()], notes=["fitted to the per-system medians"])
    data = {"cells": cells, "fits": fits, "records": records, "targets": keys, "power_iterations": power_iterations}
    return data, [table, oracle_table, fit_table], findings(cells, fits, power_iterations), len(results) - len(done)


def _median_record(recs: list[dict], keys: Sequence[str]) -> dict[str, Any]:
    """A record whose times are the medians over repeats (a target missed by half or more: left out)."""
    times = {k: s["median"] for k in keys if (s := median_ci([r["times"].get(k) for r in recs]))["median"] is not None}
    return recs[0] | {"times": times}


def _oracle_rows(groups: dict[tuple, dict[str, list[dict]]], tight: str) -> list[list[Any]]:
    rows = []
    for (kind, _device, n, d, cond), by_method in sorted(groups.items()):
        for oracle, estimated in ESTIMATED.items():
            if oracle not in by_method or estimated not in by_method:
                continue
            o, e = by_method[oracle], by_method[estimated]
            ratio = [r["l_hat_ratio"] for r in e if r.get("l_hat_ratio") is not None]
            so, se = summarize(o, STAT), summarize(e, STAT)
            rows.append([kind, n, d, cond, oracle, statistics.median(ratio) if ratio else None, so["median"],
                         se["median"], so["matvecs"], se["matvecs"], summarize(o, tight)["median"],
                         summarize(e, tight)["median"]])
    return rows


def _counts(methods: Sequence[str]) -> str:
    return ", ".join(f"{m} {k}" for m, k in Counter(methods).most_common())


def findings(cells: list[dict], fits: dict[str, dict], power_iterations: int) -> list[str]:
    """Sentences computed from the numbers."""
    out = []
    compared = [c for c in cells if c["closed_form"] is not None]
    for oracle, estimated in ESTIMATED.items():
        wins = [c for c in compared if c[oracle] is not None and c[oracle] < c["closed_form"]]
        if not wins:
            if compared:
                out.append(f"{oracle} with the known spectrum never beat the fastest closed form in {len(compared)} "
                           "settings.")
            continue
        kept = [c for c in wins if c[estimated] is not None and c[estimated] < c["closed_form"]]
        kappas = sorted({round(c["kappa"], 6) for c in wins})
        out.append(f"{oracle} with the oracle step (from the known spectrum) beat every closed form in {len(wins)} of "
                   f"{len(compared)} settings (kappa {', '.join(f'{k:g}' for k in kappas)}); with L estimated by "
                   f"{power_iterations} power iterations (cost counted), in {len(kept)} of them.")
        for kappa in kappas:
            at = [c for c in wins if round(c["kappa"], 6) == kappa]
            lost = [c for c in at if c not in kept]
            if not lost:
                continue
            only = ("only with the oracle step" if len(lost) == len(at)
                    else f"in {len(lost)} of {len(at)} settings only with the oracle step")
            instead = _counts([c["practical_winner"] for c in lost if c["practical_winner"]])
            out.append(f"At kappa = {kappa:g}, {oracle} wins {only}; with the estimated step the fastest method "
                       f"without the known spectrum is {instead} (settings: {_settings(lost)}).")
    spectral = [c for c in cells if c["winner"] in ORACLE]
    if cells:
        out.append(f"The fastest method used the known spectrum ({', '.join(ORACLE)}) in {len(spectral)} of "
                   f"{len(cells)} settings; without those methods the fastest family per setting: "
                   f"{_counts([FAMILY[c['practical_winner']] for c in cells if c['practical_winner']])}.")
    timed = [c for c in cells if c["separated"] is not None]
    widths = [(c["ci"][1] - c["ci"][0]) / c["seconds"] for c in cells
              if c["ci"] and c["ci"][1] is not None and c["seconds"]]
    if timed:
        clear = sum(c["separated"] for c in timed)
        out.append(f"The fastest method's interval lies clear of the runner-up's in {clear} of {len(timed)} settings; "
                   f"the fastest's interval is {statistics.median(widths):.0%} of its median wide "
                   f"(median over settings; widest {max(widths):.0%}).")
    stat = [c for c in cells if c["target"] == STAT and c["winner"]]
    tight = [c for c in cells if c["target"] not in (STAT,) and c["winner"]]
    if stat and tight:
        smallest = min(c["eps"] for c in tight)
        at_smallest = [c for c in tight if c["eps"] == smallest]
        out.append(f"At the statistical accuracy (eps = sigma^2 d/||r*||^2, {min(c['eps'] for c in stat):.1e} to "
                   f"{max(c['eps'] for c in stat):.1e} here) the fastest family: "
                   f"{_counts([FAMILY[c['winner']] for c in stat])}; at eps = {smallest:g}: "
                   f"{_counts([FAMILY[c['winner']] for c in at_smallest])}.")
    cut = sorted({m for c in cells for m in c["cut_by_cap"]})
    if cut:
        out.append(f"Cut by the cap before the winner's time (they might have won): {', '.join(cut)}; raise --cap.")
    for m in fits.values():
        if m["constants"]:
            out.append(f"{m['name']}: t = {m['formula']} with {', '.join(f'{c:.3g}' for c in m['constants'])} "
                       f"(median relative error {m['median_relative_error']:.2f}, {m['points']} points).")
    return out


def _settings(cells: list[dict]) -> str:
    """The systems of ``cells`` with their targets: ``dense 1000x10 (0.01, 1e-06, stat)``."""
    shapes: dict[tuple, list[str]] = defaultdict(list)
    for c in cells:
        shapes[(c["kind"], c["n"], c["d"])].append(c["target"])
    return "; ".join(f"{kind} {n}x{d} ({', '.join(targets)})" for (kind, n, d), targets in shapes.items())
