"""The crossover study's analysis: the fastest method per system and accuracy, the fitted operation
counts, the tables and findings (from stored results alone)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from optbench.api import TrialResult, TrialState
from optbench.studies.base import Table, task_data
from optbench.studies.crossover.methods import CLOSED_FORMS, FAMILY


def analyze(results: Sequence[TrialResult], *, epsilons: Sequence[float]
            ) -> tuple[dict[str, Any], list[Table], list[str], int]:
    """``(data, tables, findings, failed)`` from the timing tasks: per system and target accuracy in
    ``epsilons`` the fastest method, its margin and the best closed form against gradient descent."""
    from optbench.studies.crossover.fit import fit_models

    done = [r for r in results if r.state is TrialState.COMPLETE]
    records = [task_data(r) | {"device": r.spec.device} for r in done]
    groups: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for rec in records:
        groups[(rec["kind"], rec["device"], rec["n"], rec["d"], rec["cond"])][rec["method"]] = rec
    rows, cells = [], []
    for (kind, device, n, d, cond), by_method in sorted(groups.items()):
        for eps in epsilons:
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
    data = {"cells": cells, "fits": fits, "records": records}
    return data, [table, fit_table], findings(cells, fits), len(results) - len(done)


def findings(cells: list[dict], fits: dict[str, dict]) -> list[str]:
    """Sentences computed from the numbers."""
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
