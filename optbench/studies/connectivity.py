"""``optbench study connectivity``: is there a path between two solutions without an "activation energy"?

Loss and test metric along the straight line ``(1 - alpha) A + alpha B`` between two trained networks,
and its barrier, the largest excess over the line between the ends' losses (Frankle et al. 2020), for
(1) two independently seeded solutions, (2) the same after aligning B's hidden units to A's by weight
matching (Ainsworth et al. 2023; the permuted network is checked to compute the same function), swept
over the width (Entezari et al. 2022 predict the aligned barrier shrinks as width grows), and (3) two
copies spawned from a shared checkpoint at step k and trained on different data orders (stability to
SGD noise), swept over k. Every training run is one task; pairing, alignment and the paths are
computed by the analysis from the stored weights.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from optbench.api import ConfigError, TrialResult, TrialSpec, format_call, freeze_params
from optbench.params import parse_call
from optbench.studies.base import (
    Figure,
    Payload,
    Study,
    completed,
    decode_tensor,
    encode_tensor,
    int_list,
    payload,
    positive_int,
    task_data,
    task_result,
)

MAX_PAIRS = 10  # pairs of independent solutions per width (all pairs of the first seeds)
STABLE_ERROR = 0.02  # Frankle et al. 2020 call a network stable when the error barrier is below 2 %


def mean_ci(values: Sequence[float]) -> tuple[float | None, list[float] | None]:
    """Mean and 95 % bootstrap interval (None with fewer than 3 values)."""
    from optbench.analysis.stats import bootstrap_mean_ci

    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    ci = bootstrap_mean_ci(finite)
    return sum(finite) / len(finite), None if ci is None else list(ci)


def mean_curve(curves: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Pointwise mean of equally long curves (None where a value is missing)."""
    out: list[float | None] = []
    for column in zip(*curves, strict=True):
        vals = [v for v in column if v is not None]
        out.append(sum(vals) / len(vals) if len(vals) == len(column) else None)
    return out


class ConnectivityStudy(Study):
    name: ClassVar[str] = "connectivity"
    question: ClassVar[str] = ("Is there a path between two solutions without an 'activation energy', or are they "
                               "separate minima?")
    default_problem: ClassVar[str] = "digits(hidden=64)"
    default_optimizer: ClassVar[str] = "sgd(lr=0.1, momentum=0.9)"
    default_seeds: ClassVar[int] = 4
    quick_seeds: ClassVar[int] = 3

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--widths", help="hidden widths of the alignment sweep (default 16,32,64,128; "
                                             "--quick: 16,64)")
        parser.add_argument("--spawn-steps", help="steps k at which two copies are spawned from one run "
                                                  "(default 0,10,50,200; --quick: 0,50)")
        parser.add_argument("--epochs", type=int, help="training epochs of every run (default 20; --quick: 8)")
        parser.add_argument("--points", type=int, help="values of alpha along each path, 0 and 1 included "
                                                       "(default 25)")

    # ------------------------------------------------------------------ the grid
    def _settings(self) -> dict[str, Any]:
        o = self.options
        widths = int_list(o.get("widths", "16,64" if o.quick else "16,32,64,128"), "widths", minimum=1)
        spawn = int_list(o.get("spawn_steps", "0,50" if o.quick else "0,10,50,200"), "spawn-steps", minimum=0)
        epochs = positive_int(o.get("epochs", 8 if o.quick else 20), "epochs", maximum=100_000)
        points = positive_int(o.get("points", 25), "points", minimum=3, maximum=10_000)
        if o.seeds < 2:
            raise ConfigError("connectivity needs --seeds >= 2 (paths join pairs of solutions)")
        return {"widths": widths, "spawn_steps": spawn, "epochs": epochs, "points": points}

    def tasks(self) -> list[TrialSpec]:
        from optbench.registry import make_problem
        from optbench.studies.permutation import mlp_layers
        from optbench.studies.training import require_network, steps_per_epoch, torch_optimizer

        s = self._settings()
        name, params = parse_call(self.options.problem)
        o_name, o_params = parse_call(self.options.optimizer)
        optimizer = torch_optimizer(o_name, o_params)
        problem = require_network(make_problem(name, params), name)
        mlp_layers(problem)  # alignment needs a plain MLP: say so before anything runs
        total = s["epochs"] * steps_per_epoch(problem, optimizer)
        if s["spawn_steps"][-1] >= total:
            raise ConfigError(f"--spawn-steps must be below the run's {total} steps ({s['epochs']} epochs of "
                              f"{total // s['epochs']}), got {s['spawn_steps'][-1]}")
        specs = []
        for width, seed in itertools.product(s["widths"], range(self.options.seeds)):
            problem_w = format_call(name, freeze_params({**params, "hidden": width}))
            specs.append(self.spec(problem=problem_w, seed=seed, budget=float(s["epochs"]), kind="independent",
                                   width=width, epochs=s["epochs"]))
        for k, seed in itertools.product(s["spawn_steps"], range(self.options.seeds)):
            specs.append(self.spec(seed=seed, budget=float(s["epochs"]), kind="spawn", spawn_step=k,
                                   epochs=s["epochs"]))
        return specs

    # ------------------------------------------------------------------ one training run
    @classmethod
    def run_task(cls, spec: TrialSpec) -> TrialResult:
        from optbench.studies import training

        p = dict(spec.study_params)
        problem = training.network_problem(spec)
        optimizer = training.torch_optimizer(spec.optimizer, dict(spec.optimizer_params))
        x0 = problem.initial_point(training.stream(spec.seed, "init"))
        epochs = int(p["epochs"])
        if p["kind"] == "independent":
            run = training.train(problem, x0, optimizer=optimizer, epochs=epochs,
                                 order=training.stream(spec.seed, "order"), curve_epochs=[epochs])
            _, loss, metric = run.curve[-1]
            return task_result(spec, seconds=run.seconds, data={"x": encode_tensor(run.x)}, final_value=loss,
                               test_metric=metric, gradient_evaluations=run.steps)
        # spawn: train the parent to step k, then two copies on their own data orders to the same total
        per_epoch = training.steps_per_epoch(problem, optimizer)
        k, total = int(p["spawn_step"]), epochs * per_epoch
        parent = training.train(problem, x0, optimizer=optimizer, epochs=-(-k // per_epoch),
                                order=training.stream(spec.seed, "order"), snapshot_steps=[k], curve_epochs=[])
        children, seconds, metrics, losses = [], parent.seconds, [], []
        for child in ("a", "b"):
            order = training.stream(spec.seed, f"child-{child}")
            run = training.train(problem, parent.snapshots[k], optimizer=optimizer,
                                 epochs=-(-(total - k) // per_epoch), order=order,
                                 snapshot_steps=[total], curve_epochs=[], start_step=k)
            x = run.snapshots[total]
            loss, metric = training.epoch_metrics(problem, x)
            children.append(encode_tensor(x))
            seconds, losses, metrics = seconds + run.seconds, [*losses, loss], [*metrics, metric]
        data = {"children": children, "losses": losses, "metrics": metrics, "total_steps": total,
                "steps_per_epoch": per_epoch}
        mean_metric = None if None in metrics else sum(metrics) / 2
        return task_result(spec, seconds=seconds, data=data, final_value=sum(losses) / 2, test_metric=mean_metric,
                           gradient_evaluations=k + 2 * (total - k))

    # ------------------------------------------------------------------ analysis
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        from optbench.studies.training import torch_threads

        # the paths evaluate small networks, as the tasks do (which run_study_task gives one thread)
        with torch_threads(1 if str(self.options.device).startswith("cpu") else None):
            return self._analyze(results)

    def _analyze(self, results: Sequence[TrialResult]) -> Payload:
        import torch

        from optbench.studies.paths import linear_path
        from optbench.studies.permutation import check_same_function, permute, weight_matching
        from optbench.studies.training import network_problem

        s = self._settings()
        done, failed = completed(results)
        by_width: dict[int, dict[int, Any]] = defaultdict(dict)
        spawned: dict[int, dict[int, Any]] = defaultdict(dict)
        for r in done:
            p = dict(r.spec.study_params)
            if p["kind"] == "independent":
                by_width[int(p["width"])][r.spec.seed] = r
            else:
                spawned[int(p["spawn_step"])][r.spec.seed] = r
        widths, metric_name, higher = [], None, True
        for width in sorted(by_width):
            runs = by_width[width]
            problem = network_problem(next(iter(runs.values())).spec)
            metric_name = getattr(problem, "test_metric_name", "test metric")
            higher = bool(getattr(problem, "test_metric_higher_is_better", False))
            x = {seed: decode_tensor(task_data(r)["x"]) for seed, r in runs.items()}
            pairs = []
            for a, b in list(itertools.combinations(sorted(x), 2))[:MAX_PAIRS]:
                naive = linear_path(problem, x[a], x[b], points=s["points"])
                layer_order = torch.Generator().manual_seed(a * 7919 + b)
                perms, sweeps = weight_matching(problem, x[a], x[b], generator=layer_order)
                xb = permute(problem, x[b], perms)
                check = check_same_function(problem, x[b].to(problem.device), xb)
                aligned = linear_path(problem, x[a], xb, points=s["points"])
                pairs.append({"seeds": [a, b], "sweeps": sweeps, "naive_loss": naive.loss, "naive_metric": naive.metric,
                              "aligned_loss": aligned.loss, "aligned_metric": aligned.metric,
                              "naive_barrier": naive.loss_barrier, "aligned_barrier": aligned.loss_barrier,
                              "naive_metric_barrier": naive.metric_barrier,
                              "aligned_metric_barrier": aligned.metric_barrier,
                              "max_abs_diff": check.max_abs_diff, "max_rel_diff": check.max_rel_diff,
                              "tolerance_rel": check.tolerance_rel, "bound_ratio": check.bound_ratio,
                              "same_function": check.same_function})
            widths.append({"width": width, "pairs": pairs, "endpoint_metric": mean_ci([r.test_metric for r in
                                                                                       runs.values()])[0],
                           **{f"{key}_{stat}": val for key in ("naive_barrier", "aligned_barrier",
                                                                "naive_metric_barrier", "aligned_metric_barrier")
                              for stat, val in zip(("mean", "ci"), mean_ci([q[key] for q in pairs]), strict=True)}})
        spawn = []
        for k in sorted(spawned):
            runs = spawned[k]
            problem = network_problem(next(iter(runs.values())).spec)
            paths = []
            for seed, r in sorted(runs.items()):
                xa, xb = (decode_tensor(c) for c in task_data(r)["children"])
                path = linear_path(problem, xa, xb, points=s["points"])
                paths.append({"seed": seed, "loss": path.loss, "metric": path.metric, "loss_barrier": path.loss_barrier,
                              "metric_barrier": path.metric_barrier, "child_metric": r.test_metric})
            per_epoch = task_data(next(iter(runs.values())))["steps_per_epoch"]
            entry = {"k": k, "epoch": k / per_epoch, "total_steps": task_data(next(iter(runs.values())))["total_steps"],
                     "paths": paths, "child_metric": mean_ci([q["child_metric"] for q in paths])[0]}
            for key in ("loss_barrier", "metric_barrier"):
                entry[f"{key}_mean"], entry[f"{key}_ci"] = mean_ci([q[key] for q in paths])
            spawn.append(entry)
        from optbench.studies.connectivity_report import findings, tables

        is_accuracy = metric_name == "test_accuracy"
        meta = {"metric": metric_name, "higher_is_better": higher, "error_barrier": is_accuracy,
                "stable_threshold": STABLE_ERROR if is_accuracy else None}
        data = {"alphas": [i / (s["points"] - 1) for i in range(s["points"])], **meta, "widths": widths,
                "spawn": spawn}
        for w in widths:
            w["naive_loss_mean"] = mean_curve([q["naive_loss"] for q in w["pairs"]])
            w["aligned_loss_mean"] = mean_curve([q["aligned_loss"] for q in w["pairs"]])
        for e in spawn:
            e["loss_mean"] = mean_curve([q["loss"] for q in e["paths"]])
        return payload(self.name, settings=self.settings(**s), tables=tables(data), findings=findings(data),
                       data=data, failed=failed)

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        from optbench.studies.connectivity_report import draw

        return draw(payload)
