"""Connectivity of grokking networks before and after the jump (a part of the connectivity study).

Independent ``modadd`` runs in the lottery study's grokking setting (:data:`~optbench.studies.lottery.grokking.
GROK_PROBLEM`: memorized by step ~60, test accuracy near chance until step ~400, 0.9 by step ~800) keep their
weights at a few steps: on the plateau after memorizing, late on the plateau, and after the jump. At each step
the pairs of independent networks are compared as at every width of the study (straight paths as trained and
after weight matching, four barriers, intervals over networks), and each run's curve says whether it had
grokked by then (:func:`~optbench.studies.lottery.grokking.classify`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from optbench.api import ConfigError, TrialResult, TrialSpec, format_call, freeze_params
from optbench.params import parse_call
from optbench.studies.base import Table, decode_tensor, encode_tensor, int_list, task_data, task_result
from optbench.studies.intervals import ci_text

GROK_STEPS = "120,400,2000"  # memorized (on the plateau), late on the plateau, after the jump
QUICK_GROK_STEPS = "120,1000"
THRESHOLD = 0.9  # test accuracy that counts as generalized (grokked), as the lottery study's default


def grok_setting(quick: bool) -> tuple[str, dict[str, Any], str, dict[str, Any], int]:
    """``(problem, params, optimizer, params, epochs)`` of the grokking runs: the lottery study's grokking setting."""
    from optbench.studies.lottery.grokking import GROK_EPOCHS, GROK_OPTIMIZER, GROK_PROBLEM

    return ("modadd", dict(GROK_PROBLEM), *parse_call(GROK_OPTIMIZER), GROK_EPOCHS // 2 if quick else GROK_EPOCHS)


def grok_steps(text: Any, quick: bool) -> list[int]:
    """The steps of ``--grok-steps`` (``none``: no grokking runs, an empty list)."""
    if text is None:
        text = QUICK_GROK_STEPS if quick else GROK_STEPS
    if str(text).strip().lower() == "none":
        return []
    return int_list(str(text), "grok-steps", minimum=1)


def grok_specs(base: TrialSpec, steps: Sequence[int], *, seeds: int, quick: bool) -> list[TrialSpec]:
    """One task per seed: a grokking run that keeps its weights at ``steps``; ``base`` gives the device and task."""
    from optbench.registry import make_problem
    from optbench.studies.connectivity.permutation import mlp_layers
    from optbench.studies.training import steps_per_epoch, torch_optimizer

    p_name, p_params, o_name, o_params, epochs = grok_setting(quick)
    network = make_problem(p_name, p_params)
    mlp_layers(network)
    total = epochs * steps_per_epoch(network, torch_optimizer(o_name, o_params))
    if steps and steps[-1] > total:
        raise ConfigError(f"--grok-steps must be at most the grokking runs' {total} steps, got {steps[-1]}")
    return [replace(base, problem=p_name, problem_params=freeze_params(p_params), optimizer=o_name,
                    optimizer_params=freeze_params(o_params), seed=seed,
                    task_params=freeze_params({"kind": "grok", "grok_steps": list(steps), "epochs": epochs}))
            for seed in range(seeds)]


def run_grok(spec: TrialSpec) -> TrialResult:
    """One grokking run: its curve (train loss and accuracy, test accuracy) and its weights at the grok steps."""
    from optbench.studies import training

    p = dict(spec.task_params)
    problem = training.network_problem(spec)
    optimizer = training.torch_optimizer(spec.optimizer, dict(spec.optimizer_params))
    epochs, keep = int(p["epochs"]), [int(s) for s in p["grok_steps"]]
    at = training.curve_steps(epochs, training.steps_per_epoch(problem, optimizer))
    run = training.train(problem, problem.initial_point(training.stream(spec.seed, "init")), optimizer=optimizer,
                         epochs=epochs, order=training.stream(spec.seed, "order"), snapshot_steps=sorted({*at, *keep}),
                         curve_epochs=[])
    curve = training.measure(problem, {s: run.snapshots[s] for s in at}, None)
    kept = training.measure(problem, {s: run.snapshots[s] for s in keep}, None)  # the kept networks themselves
    data = {"steps": at, **curve, "snapshots": {str(s): encode_tensor(run.snapshots[s]) for s in keep},
            "kept": {"steps": sorted(keep), "train_accuracy": kept["train_accuracy"], "metric": kept["metric"]}}
    return task_result(spec, seconds=run.seconds, data=data, final_value=curve["loss"][-1],
                       test_metric=curve["metric"][-1], gradient_evaluations=run.steps)


def _at(kept: dict[str, Any], key: str, step: int) -> float | None:
    """A kept network's accuracy (``key``: ``train_accuracy`` or ``metric``) at ``step``."""
    values = kept[key]
    return None if values is None else values[kept["steps"].index(step)]


def analyze_grok(done: Sequence[TrialResult], *, points: int) -> dict[str, Any] | None:
    """The grokking part of the payload's ``data`` (None without grokking runs): per run its m, g, w and
    verdict; per kept step the pairs of networks as trained and aligned, and how many had grokked by then."""
    from optbench.studies.connectivity.analysis import compare_pairs, mean_ci, mean_curve, pair_summary
    from optbench.studies.lottery.grokking import classify
    from optbench.studies.training import network_problem

    runs = {r.spec.seed: r for r in done if dict(r.spec.task_params).get("kind") == "grok"}
    if not runs:
        return None
    first = next(iter(runs.values()))
    problem = network_problem(first.spec)
    kept = [int(s) for s in dict(first.spec.task_params)["grok_steps"]]
    data = {seed: task_data(r) for seed, r in sorted(runs.items())}
    verdicts = {seed: classify(d["steps"], d["train_accuracy"], d["metric"], threshold=THRESHOLD)
                for seed, d in data.items()}
    entries = []
    for step in kept:
        x = {seed: decode_tensor(d["snapshots"][str(step)]) for seed, d in data.items()}
        pairs = compare_pairs(problem, x, points=points)
        test = [_at(d["kept"], "metric", step) for d in data.values()]
        train = [_at(d["kept"], "train_accuracy", step) for d in data.values()]
        grokked = sum(v["g"] is not None and v["g"] <= step for v in verdicts.values())
        entries.append({"step": step, "networks": len(x), "grokked": grokked, "pairs": pairs,
                        "test_accuracy": mean_ci(test)[0], "train_accuracy": mean_ci(train)[0],
                        **pair_summary(pairs)})
    return {"problem": format_call(first.spec.problem, first.spec.problem_params), "threshold": THRESHOLD,
            "runs": [{"seed": s, **v} for s, v in verdicts.items()], "entries": entries,
            "curve_steps": next(iter(data.values()))["steps"],
            "test_accuracy_mean": mean_curve([d["metric"] for d in data.values()]),
            "train_accuracy_mean": mean_curve([d["train_accuracy"] for d in data.values()])}


def _phase(entry: dict[str, Any]) -> str:
    n, g = entry["networks"], entry["grokked"]
    return "after the jump" if g == n else "before the jump" if g == 0 else f"{g} of {n} grokked"


def grok_table(grok: dict[str, Any]) -> Table:
    """One row per kept step: phase, accuracies of the ends, the four barriers as trained and aligned."""
    rows = []
    for e in grok["entries"]:
        b = e["barriers"]
        rows.append([e["step"], _phase(e), len(e["pairs"]), e["train_accuracy"], e["test_accuracy"],
                     b["naive"]["train_loss"]["mean"], b["aligned"]["train_loss"]["mean"],
                     b["naive"]["train_error"]["mean"], b["aligned"]["train_error"]["mean"],
                     b["naive"]["test_error"]["mean"], b["aligned"]["test_error"]["mean"],
                     b["aligned"]["test_error"]["ci"]])
    return Table(
        title="Grokking modadd networks before and after the jump: independent pairs at each kept step",
        columns=["step", "phase", "pairs", "train accuracy", "test accuracy", "train loss barrier", "aligned",
                 "train error barrier", "aligned", "test error barrier", "aligned", "aligned 95% CI"],
        rows=rows,
        notes=[f"{grok['problem']}: the lottery study's grokking setting, one independent run per seed; phase: how "
               f"many runs had reached test accuracy {grok['threshold']} by the step (their grok step g <= step); "
               "accuracies: mean over the networks at the step; barriers as in the width table (mean over pairs, "
               "95% CI over networks); aligned: weight matching of the hidden layer (square activation: the "
               "same-function check bounds its rounding by 2|z| e + e^2 + u |z^2|)."])


def grok_findings(grok: dict[str, Any]) -> list[str]:
    """Sentences on the grokking runs: their verdicts, and the barriers before against after the jump."""
    from optbench.studies.lottery.grokking import LOW, count

    runs, entries = grok["runs"], grok["entries"]
    counts = count(runs)
    grok_steps = sorted(r["g"] for r in runs if r["g"] is not None)
    out = [f"The {len(runs)} grokking runs: {counts['plateau-then-jump']} plateau-then-jump, {counts['gradual']} "
           f"gradual, {counts['did not grok']} did not grok"
           + (f" (test accuracy {grok['threshold']} at steps {', '.join(map(str, grok_steps))})." if grok_steps
              else ".")]
    before = [e for e in entries if e["grokked"] == 0 and e["pairs"]]
    after = [e for e in entries if e["grokked"] == e["networks"] and e["pairs"]]

    def describe(e: dict[str, Any]) -> str:
        b = e["barriers"]
        ci = b["aligned"]["test_error"]["ci"]
        return (f"step {e['step']} (train accuracy {e['train_accuracy']:.3g}, test {e['test_accuracy']:.3g}): "
                f"train error barrier {b['naive']['train_error']['mean']:.3g} as trained, "
                f"{b['aligned']['train_error']['mean']:.3g} aligned; test error barrier "
                f"{b['naive']['test_error']['mean']:.3g} as trained, {b['aligned']['test_error']['mean']:.3g} "
                f"aligned {ci_text(ci)}")

    if before and after:
        capped = (" (the ends' test error is near 1 before the jump, so its test error barrier cannot show a rise)"
                  if before[-1]["test_accuracy"] is not None and before[-1]["test_accuracy"] < LOW else "")
        out.append(f"Before the jump, {describe(before[-1])}; after it, {describe(after[-1])}{capped}.")
        lo, hi = before[-1]["barriers"]["aligned"]["train_loss"], after[-1]["barriers"]["aligned"]["train_loss"]
        if lo["ci"] and hi["ci"]:
            word = ("higher than" if hi["ci"][0] > lo["ci"][1] else "lower than" if hi["ci"][1] < lo["ci"][0]
                    else "not told apart (the 95% CIs overlap) from")
            out.append(f"After weight matching, the train loss barrier after the jump ({hi['mean']:.3g} "
                       f"{ci_text(hi['ci'])}) is {word} the one before it ({lo['mean']:.3g} {ci_text(lo['ci'])}).")
    elif entries:
        out.append("No kept step has every run before or every run after the jump, so the two phases are not "
                   "compared; " + "; ".join(describe(e) for e in entries if e["pairs"]) + ".")
    pairs = [q for e in entries for q in e["pairs"]]
    if pairs:
        bad = [q for q in pairs if not q["same_function"]]
        out.append(f"{len(pairs) - len(bad)} of {len(pairs)} weight-matched grokking networks compute the same "
                   "function as before within the rounding bound of the square activation (largest relative output "
                   f"difference {max(q['max_rel_diff'] for q in pairs):.2g}).")
    return out
