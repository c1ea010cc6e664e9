"""The lottery study's analysis of its stored chains: summaries, tables, findings."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from optbench.studies.base import Table
from optbench.studies.intervals import censored_median, noninferiority, verdict_symbol

KINDS = ("ticket", "reinit", "random")
KIND_TEXT = {"ticket": "ticket", "reinit": "re-init", "random": "random mask", "dense": "dense"}


def _mean_ci(values: Sequence[float]) -> tuple[float | None, list[float] | None]:
    """Mean and Student's t 95 % interval over seeds (the percentile bootstrap under-covers at 5 seeds)."""
    from optbench.studies.intervals import mean_ci

    if not values:
        return None, None
    return statistics.fmean(values), mean_ci(values)


def first_step(steps: Sequence[int], values: Sequence[float | None], level: float, *, higher: bool) -> int | None:
    """The first recorded step at which ``values`` reach ``level`` (None if never)."""
    for step, v in zip(steps, values, strict=True):
        if v is not None and (v >= level if higher else v <= level):
            return step
    return None


def _median(values: Sequence[int | None]) -> float | None:
    """The median step with the runs that never got there counted as later than all: defined only when
    more than half of the runs got there (censored data; see intervals.censored_median)."""
    return censored_median(values)["median"]


def _mean_curve(curves: Sequence[Sequence[float | None] | None]) -> list[float | None] | None:
    if not curves or any(c is None for c in curves):
        return None
    return [statistics.fmean(col) if None not in col else None for col in zip(*curves, strict=True)]  # type: ignore


def _summary(runs: list[dict[str, Any]], steps: list[int], target: float, *, higher: bool,
             threshold: float, grokking: bool = False) -> dict[str, Any]:
    from optbench.studies.lottery import grokking as shape

    final = [r["metric"][-1] for r in runs]
    mean, ci = _mean_ci(final)
    shapes: dict[str, Any] = {}
    if grokking:  # per seed: memorize step m, grok step g, rise width w and the verdict (plateau-then-jump or not)
        per_seed = [shape.classify(runs[0].get("steps", steps), r["train_accuracy"], r["metric"], threshold=threshold)
                    for r in runs]
        shapes = {"shape": per_seed, "shape_counts": shape.count(per_seed)}
    steps = runs[0].get("steps", steps)  # a rewound run's steps count from initialization
    to_dense = [first_step(steps, r["metric"], target, higher=higher) for r in runs]
    grok = [first_step(steps, r["metric"], threshold, higher=True) for r in runs]
    memorize = [first_step(steps, r["train_accuracy"], threshold, higher=True) if r["train_accuracy"] else None
                for r in runs]
    return {"steps": steps, "final": final, "mean": mean, "ci": ci, "steps_to_dense": to_dense, "steps_to_dense_median":
            _median(to_dense), "reached_dense": sum(s is not None for s in to_dense), "grok_step": grok,
            "grok_median": _median(grok), "grokked": sum(g is not None for g in grok), "memorize_step": memorize,
            "memorize_median": _median(memorize), "curve_mean": _mean_curve([r["metric"] for r in runs]),
            "train_accuracy_mean": _mean_curve([r["train_accuracy"] for r in runs]),
            "pruned_max_abs": max(r["pruned_max_abs"] for r in runs), **shapes}


def _matches(final: Sequence[float], dense: dict[str, Any], higher: bool, margin: float) -> dict[str, Any]:
    """Non-inferiority of a kind's final metric to the dense network's, paired by seed, at ``margin``."""
    sign = 1.0 if higher else -1.0
    return noninferiority([sign * (a - b) for a, b in zip(final, dense["final"], strict=True)], margin=margin)


def highest(levels: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The sparsest level up to which (every sparser-or-equal level before it) ``key`` holds."""
    best = None
    for level in levels:
        if not level[key]:
            break
        best = level
    return best


def summarize(chains: dict[int, dict[str, Any]], *, grokking: bool, threshold: float, margin: float = 0.01,
              rewind_step: int = 0) -> tuple[dict[str, Any], list[Table], list[str]]:
    """``(data, tables, findings)`` from each seed's chain (task data)."""
    from optbench.studies.lottery import stability

    seeds = sorted(chains)
    if not seeds:
        return {"seeds": [], "levels": []}, [], ["No task completed."]
    first = chains[seeds[0]]
    steps, higher = first["steps"], first["higher_is_better"]
    dense_runs = [chains[s]["dense"] for s in seeds]
    dense_final = [r["metric"][-1] for r in dense_runs]
    sd = statistics.stdev(dense_final) if len(dense_final) > 1 else 0.0
    # "reaching the dense network": its seed spread's near edge (mean - sd of the final metric when higher is
    # better), the level the match criterion uses; a single seed's final value is often its own maximum
    target = statistics.fmean(dense_final) - sd if higher else statistics.fmean(dense_final) + sd
    dense = {**_summary(dense_runs, steps, target, higher=higher, threshold=threshold, grokking=grokking), "sd": sd,
             "target": target,
             "stability": stability.summarize([r.get("stability") for r in dense_runs])}
    levels = []
    n_rounds = min(len(chains[s]["rounds"]) for s in seeds)
    for i in range(n_rounds):
        rounds = [chains[s]["rounds"][i] for s in seeds]
        level: dict[str, Any] = {"round": i + 1, "sparsity": statistics.fmean(r["sparsity"] for r in rounds),
                                 "counts": rounds[0]["counts"],
                                 "random_counts_equal": all(r["counts"] == r["random_counts"] for r in rounds)}
        for kind in KINDS:
            level[kind] = _summary([r[kind] for r in rounds], steps, target, higher=higher, threshold=threshold,
                                   grokking=grokking)
            level[f"{kind}_test"] = _matches(level[kind]["final"], dense, higher, margin)
            level[f"{kind}_matches"] = level[f"{kind}_test"]["verdict"] == "yes"
        diffs = [t - r for t, r in zip(level["ticket"]["final"], level["reinit"]["final"], strict=True)]
        level["ticket_minus_reinit"] = _mean_ci(diffs)
        level["ticket_grokked_all"] = level["ticket"]["grokked"] == len(seeds)
        level["stability"] = stability.summarize([r["ticket"].get("stability") for r in rounds])
        levels.append(level)
    data = {"seeds": seeds, "metric": first["metric_name"], "higher_is_better": higher, "steps": steps,
            "steps_per_epoch": first["steps_per_epoch"], "grokking": grokking, "grok_threshold": threshold,
            "dense": dense, "levels": levels, "margin": margin, "rewind_step": rewind_step,
            "highest_match": {k: (lambda lv: lv and lv["sparsity"])(highest(levels, f"{k}_matches")) for k in KINDS}}
    stability_table = stability.table(data)
    tables = _tables(data) + ([stability_table] if stability_table else [])
    return data, tables, _findings(data) + stability.findings(data)


def _tables(data: dict[str, Any]) -> list[Table]:
    metric, dense, levels = data["metric"], data["dense"], data["levels"]
    rows = [[0, 0.0, 1.0, dense["mean"], dense["ci"], None, None, None, None, None, None]]
    rows += [[lv["round"], lv["sparsity"], 1 - lv["sparsity"], lv["ticket"]["mean"], lv["ticket"]["ci"],
              lv["reinit"]["mean"], lv["reinit"]["ci"], lv["random"]["mean"], lv["random"]["ci"],
              verdict_symbol(lv["ticket_test"]), lv["ticket_test"]["power"]] for lv in levels]
    accuracy = Table(
        title=f"Final {metric} vs sparsity (round 0: the dense network)",
        columns=["round", "sparsity", "weights left", "ticket", "95% CI", "re-init", "95% CI", "random mask",
                 "95% CI", "ticket matches dense", "power"],
        rows=rows,
        notes=[f"mean over {len(data['seeds'])} seeds, 95% Student t CI of the mean; ticket = mask + rewound "
               "weights, re-init = same mask with fresh random weights, random mask = same per-layer counts at "
               "random places with the rewound weights. Sparsity counts Linear weights (biases are never pruned).",
               f"matches dense: a non-inferiority test on the seeds' paired differences (ticket − dense): yes when "
               f"the one-sided 95% bound says the ticket is worse by less than the margin {data['margin']:g}, no "
               "when it is worse by more, else cannot tell with these seeds; power: the chance of yes were the "
               "means equal, at the observed spread."])
    speed_rows = [[0, 0.0, dense["steps_to_dense_median"], dense["reached_dense"], None, None, None, None]]
    speed_rows += [[lv["round"], lv["sparsity"]] + [x for k in KINDS for x in
                                                    (lv[k]["steps_to_dense_median"], lv[k]["reached_dense"])]
                   for lv in levels]
    n = len(data["seeds"])
    speed = Table(
        title=f"Training speed: steps until {metric} first reaches {dense['target']:.4g} ({_edge(data)})",
        columns=["round", "sparsity", "ticket", "seeds", "re-init", "seeds", "random mask", "seeds"],
        rows=speed_rows,
        notes=[f"median over all {n} seeds with those that never reach it counted as later (censored): shown "
               f"only where more than half reach it (seeds: how many of {n}); recorded every "
               f"{data['steps'][1] - data['steps'][0]} steps. Round 0: the dense network."])
    tables = [accuracy, speed]
    if data["grokking"]:
        t = data["grok_threshold"]
        def jumps(summary: dict[str, Any]) -> int | None:
            return summary["shape_counts"]["plateau-then-jump"] if "shape_counts" in summary else None

        grok_rows = [[0, 0.0, dense["memorize_median"], dense["grok_median"], dense["grokked"], jumps(dense), None,
                      None, None, None]]
        grok_rows += [[lv["round"], lv["sparsity"], lv["ticket"]["memorize_median"], lv["ticket"]["grok_median"],
                       lv["ticket"]["grokked"], jumps(lv["ticket"]), lv["reinit"]["grok_median"],
                       lv["reinit"]["grokked"], lv["random"]["grok_median"], lv["random"]["grokked"]] for lv in levels]
        tables.append(Table(
            title=f"Grokking: step at which train accuracy (memorized) and test accuracy (grokked) first reach {t}",
            columns=["round", "sparsity", "memorized at", "grokked at", "seeds", "plateau-then-jump",
                     "re-init grokked at", "seeds", "random mask grokked at", "seeds"],
            rows=grok_rows,
            notes=[f"round 0 is the dense network, later rounds the ticket; medians over the seeds that reach {t} "
                   f"(seeds: how many of {n}); plateau-then-jump: of the {n} seeds, those whose test accuracy "
                   "sat on a plateau and then jumped (next table)."]))
        if "shape" in dense:
            tables.append(_shape_table(data))
    return tables


def _shape_table(data: dict[str, Any]) -> Table:
    """Per seed, the dense network's and each round's ticket's m, g, w and verdict (grokking.classify)."""
    from optbench.studies.lottery import grokking as shape

    rows = [["dense", seed, v["m"], v["g"], v["w"], v["verdict"]]
            for seed, v in zip(data["seeds"], data["dense"]["shape"], strict=True)]
    for lv in data["levels"]:
        rows += [[f"ticket, round {lv['round']}", seed, v["m"], v["g"], v["w"], v["verdict"]]
                 for seed, v in zip(data["seeds"], lv["ticket"]["shape"], strict=True)]
    t = data["grok_threshold"]
    return Table(
        title="Plateau then jump? Per seed: memorize step m, grok step g, rise width w",
        columns=["network", "seed", "m", "g", "w", "verdict"],
        rows=rows,
        notes=[f"m: first recorded step with train accuracy >= {t}; g: the same for test accuracy; w: g minus the last "
               f"recorded step before it with test accuracy < {shape.LOW} (the climb's width), r = g - w. "
               f"plateau-then-jump, on a log step axis as Power et al. 2022 plot it: g >= {shape.DELAY:g} m and "
               f"log(g / r) <= log(r / m) / {shape.SHARP:g} (the climb at most half as wide as the plateau before "
               "it); gradual: it generalized otherwise; did not grok: test accuracy never reached it. A ticket's "
               f"steps count from initialization (it was rewound to step {data.get('rewind_step', 0)})."])


def _pct(x: float | None) -> str:
    return "no sparsity tried" if x is None else f"sparsity {100 * x:.1f} % ({100 * (1 - x):.1f} % of weights left)"


def _edge(data: dict[str, Any]) -> str:
    return f"the dense network's mean {'minus' if data['higher_is_better'] else 'plus'} one seed sd"


def _steps(summary: dict[str, Any], key: str = "steps_to_dense", count: str = "reached_dense") -> str:
    """'a median of N steps (k/n seeds)' or 'never (0/n seeds)'."""
    n = len(summary[key])
    median = summary[f"{key}_median"]
    if median is None:
        reached = summary[count]
        return f"never (0/{n} seeds)" if not reached else (f"in {reached}/{n} seeds, too few for a median "
                                                           "(the others never did)")
    return f"in a median of {median:g} steps ({summary[count]}/{n} seeds)"


def _match_text(levels: list[dict[str, Any]], kind: str, highest_up_to: float | None) -> str:
    """Where ``kind`` matches the dense network: which sparsities, and up to which one without a gap."""
    name = {"ticket": "the ticket", "reinit": "the same mask re-initialized", "random": "the random mask"}[kind]
    yes = [lv for lv in levels if lv[f"{kind}_matches"]]
    if not yes:
        return f"{name} matches the dense network at none of the {len(levels)} sparsities"
    where = ", ".join(f"{100 * lv['sparsity']:.1f} %" for lv in yes)
    first = levels[0]
    run = (f"at every sparsity up to {100 * highest_up_to:.1f} % ({100 * (1 - highest_up_to):.1f} % of weights left)"
           if highest_up_to is not None else
           f"not at the lowest ({100 * first['sparsity']:.1f} %: {first[f'{kind}_test']['verdict']})")
    return f"{name} matches it at {len(yes)} of {len(levels)} sparsities ({where}), {run}"


def _findings(data: dict[str, Any]) -> list[str]:
    metric, dense, levels, n = data["metric"], data["dense"], data["levels"], len(data["seeds"])
    out = [f"The dense network reaches {metric} {dense['mean']:.4g} (sd {dense['sd']:.2g}) over {n} seeds."]
    if not levels:
        return out
    out.append(f"By non-inferiority at a margin of {data['margin']:g}: "
               + "; ".join(_match_text(levels, kind, data["highest_match"][kind]) for kind in KINDS) + ".")
    unsure = [lv for lv in levels if lv["ticket_test"]["verdict"] not in ("yes", "no")]
    if unsure:
        power = [lv["ticket_test"]["power"] or 0.0 for lv in unsure]
        out.append(f"At {len(unsure)} of {len(levels)} sparsities these {n} seeds cannot tell whether the ticket "
                   f"matches the dense network (power at equal means {min(power):.0%}–{max(power):.0%}).")
    top = levels[-1]
    diff, ci = top["ticket_minus_reinit"]
    ci_text = f" (95% CI [{ci[0]:.3g}, {ci[1]:.3g}])" if ci else ""
    out.append(f"At the highest sparsity ({100 * top['sparsity']:.1f} %): ticket {top['ticket']['mean']:.4g}, "
               f"re-init {top['reinit']['mean']:.4g}, random mask {top['random']['mean']:.4g}; ticket minus re-init "
               f"{diff:+.3g}{ci_text}.")
    sign = 1 if data["higher_is_better"] else -1
    better = [lv for lv in levels
              if lv["ticket"]["mean"] is not None and sign * (lv["ticket"]["mean"] - dense["mean"]) > 0]
    if better:
        best = max(better, key=lambda lv: sign * lv["ticket"]["mean"])
        out.append(f"Tickets beat the dense network's mean at {len(better)} of {len(levels)} sparsities; the best, at "
                   f"{100 * best['sparsity']:.1f} %, reaches {best['ticket']['mean']:.4g}.")
    else:
        out.append("No ticket beats the dense network's mean.")
    ref = highest(levels, "ticket_matches") or levels[0]
    out.append(f"At {100 * ref['sparsity']:.1f} % sparsity the ticket first reaches {metric} {dense['target']:.4g} "
               f"({_edge(data)}) {_steps(ref['ticket'])}, the dense network {_steps(dense)}, the re-initialized "
               f"mask {_steps(ref['reinit'])}, the random mask {_steps(ref['random'])}.")
    rewound_to_init = ref["ticket"]["steps"][0] == 0  # a ticket rewound to step k > 0 was trained k steps already
    if rewound_to_init and ref["ticket"]["curve_mean"] and dense["curve_mean"] and ref["reinit"]["curve_mean"]:
        out.append(f"Before any training, at {100 * ref['sparsity']:.1f} % sparsity, the masked rewound weights "
                   f"already score {metric} {ref['ticket']['curve_mean'][0]:.3g}, against "
                   f"{dense['curve_mean'][0]:.3g} for the dense network and {ref['reinit']['curve_mean'][0]:.3g} "
                   f"for the same mask re-initialized.")
    worst = max(max(lv[k]["pruned_max_abs"] for k in KINDS) for lv in levels)
    same = all(lv["random_counts_equal"] for lv in levels)
    out.append(f"Pruned weights stayed zero through training in every run (largest |pruned weight| {worst:.3g}); "
               f"random masks have the ticket's per-layer counts: {'yes' if same else 'no'}.")
    if data["grokking"]:
        out.extend(_grok_findings(data))
    return out


def _grok_findings(data: dict[str, Any]) -> list[str]:
    dense, levels, n, t = data["dense"], data["levels"], len(data["seeds"]), data["grok_threshold"]
    out = [f"The dense network memorizes (train accuracy >= {t}) at a median step {dense['memorize_median']} and "
           f"groks (test accuracy >= {t}) at step {dense['grok_median']} ({dense['grokked']}/{n} seeds)."]
    if "shape_counts" in dense:
        c = dense["shape_counts"]
        jumped = [v for v in dense["shape"] if v["verdict"] == "plateau-then-jump"]
        detail = ("; per seed (m, g, w): " + ", ".join(f"({v['m']}, {v['g']}, {v['w']})" for v in dense["shape"]
                                                      if v["g"] is not None)) if dense["grokked"] else ""
        out.append(f"Its test accuracy shows a plateau then a jump in {c['plateau-then-jump']} of {n} seeds, a gradual "
                   f"rise in {c['gradual']}, no generalization in {c['did not grok']}{detail}"
                   + (f" (the jump's width is at most {max(v['w'] for v in jumped)} steps after a plateau of at least "
                      f"{min(v['g'] - v['w'] - v['m'] for v in jumped)})." if jumped else "."))
        tickets = ", ".join(f"{100 * lv['sparsity']:.1f} %: {lv['ticket']['shape_counts']['plateau-then-jump']}/{n}"
                            for lv in levels if "shape_counts" in lv["ticket"])
        if tickets:
            out.append(f"Tickets with a plateau then a jump, by sparsity: {tickets}.")
    some = [lv for lv in levels if lv["ticket"]["grokked"]]
    if not some:
        out.append(f"No ticket groks in any seed, already at sparsity {100 * levels[0]['sparsity']:.1f} %; the "
                   f"re-initialized masks grok in {sum(lv['reinit']['grokked'] for lv in levels)} and the random "
                   f"masks in {sum(lv['random']['grokked'] for lv in levels)} of {n * len(levels)} runs.")
        return out
    sparsest = some[-1]
    parts = ", ".join(f"{100 * lv['sparsity']:.1f} %: {lv['ticket']['grokked']}/{n} seeds, step "
                      f"{lv['ticket']['grok_median']:g}" for lv in some)
    out.append(f"Tickets of the grokked network grok at sparsity {parts} (dense: step {dense['grok_median']}); none "
               f"does beyond {100 * sparsest['sparsity']:.1f} %. At that sparsity the re-initialized mask groks in "
               f"{sparsest['reinit']['grokked']}/{n} seeds, the random mask in {sparsest['random']['grokked']}/{n}.")
    earlier = [lv for lv in some
               if dense["grok_median"] is not None and lv["ticket"]["grok_median"] < dense["grok_median"]]
    out.append(f"Where they grok, tickets grok earlier than the dense network at {len(earlier)} of {len(some)} "
               "sparsities" + (" (" + ", ".join(f"{100 * lv['sparsity']:.0f} %" for lv in earlier) + ")."
                               if earlier else "."))
    return out
