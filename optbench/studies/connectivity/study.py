"""The connectivity study: its flags, its grid of training runs (independent and spawned), one run as a task."""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from optbench.api import ConfigError, TrialResult, TrialSpec, format_call, freeze_params
from optbench.params import parse_call
from optbench.studies.base import Payload, Study, completed, encode_tensor, int_list, payload, positive_int, task_result

if TYPE_CHECKING:
    from optbench.report.document import Figure


SCHEMA = 3  # 2: barriers of the loss and the error on train and test data, matching per layer; 3: grokking runs


class ConnectivityStudy(Study):
    name: ClassVar[str] = "connectivity"
    summary: ClassVar[str] = "paths between solutions: loss barriers, permutation alignment, spawning"
    question: ClassVar[str] = ("Is there a path between two solutions without an 'activation energy', or are they "
                               "separate minima?")
    default_problem: ClassVar[str] = "mnist1d"  # the 3-hidden-layer MLP: matching aligns every layer
    default_optimizer: ClassVar[str] = "sgd(lr=0.1, momentum=0.9)"
    default_seeds: ClassVar[int] = 5  # 5 networks, 10 pairs; intervals are over the 5 networks
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
        parser.add_argument("--grok-steps", help="steps of the grokking modadd runs (the lottery study's setting) "
                                                 "at which independent networks are compared: before and after "
                                                 "the jump (default 120,400,2000; --quick: 120,1000 of 1000 "
                                                 "steps; none: no grokking runs)")

    # ------------------------------------------------------------------ the grid
    def _settings(self) -> dict[str, Any]:
        o = self.options
        widths = int_list(o.get("widths", "16,64" if o.quick else "16,32,64,128"), "widths", minimum=1)
        spawn = int_list(o.get("spawn_steps", "0,50" if o.quick else "0,10,50,200"), "spawn-steps", minimum=0)
        epochs = positive_int(o.get("epochs", 8 if o.quick else 20), "epochs", maximum=100_000)
        points = positive_int(o.get("points", 25), "points", minimum=3, maximum=10_000)
        if o.seeds < 2:
            raise ConfigError("connectivity needs --seeds >= 2 (paths join pairs of solutions)")
        from optbench.studies.connectivity.grokked import grok_steps

        grok = grok_steps(o.get("grok_steps"), bool(o.quick))
        return {"widths": widths, "spawn_steps": spawn, "epochs": epochs, "points": points, "grok_steps": grok}

    def tasks(self) -> list[TrialSpec]:
        from optbench.registry import make_problem
        from optbench.studies.connectivity.permutation import mlp_layers
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
        if s["grok_steps"]:
            from optbench.studies.connectivity.grokked import grok_specs

            specs += grok_specs(self.spec(), s["grok_steps"], seeds=self.options.seeds, quick=bool(self.options.quick))
        return specs

    # ------------------------------------------------------------------ one training run
    @classmethod
    def execute(cls, spec: TrialSpec) -> TrialResult:
        from optbench.studies import training

        p = dict(spec.task_params)
        if p["kind"] == "grok":
            from optbench.studies.connectivity.grokked import run_grok

            return run_grok(spec)
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
        from optbench.studies.connectivity.analysis import analyze
        from optbench.studies.connectivity.findings import findings, tables
        from optbench.studies.connectivity.grokked import analyze_grok
        from optbench.studies.training import torch_threads

        s = self._settings()
        done, failed = completed(results)
        # the paths evaluate small networks, as the tasks do (which run_task gives one thread)
        with torch_threads(1 if str(self.options.device).startswith("cpu") else None):
            data = analyze(done, points=s["points"])
            data["grokking"] = analyze_grok(done, points=s["points"])
        return payload(self.name, settings=self.settings(**s), tables=tables(data), findings=findings(data),
                       data=data, failed=failed, schema=SCHEMA)

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        from optbench.studies.connectivity.report import draw

        return draw(payload)
