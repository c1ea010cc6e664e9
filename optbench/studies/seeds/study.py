"""The seeds study: its flags, its grid of training runs, one run as a task, and its analysis."""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from optbench.api import ConfigError, TrialResult, TrialSpec, format_call, freeze_params
from optbench.params import parse_call, split_top_level
from optbench.studies.base import (
    Payload,
    Study,
    completed,
    encode_tensor,
    int_list,
    payload,
    positive_int,
    task_data,
    task_result,
)

if TYPE_CHECKING:
    from optbench.report.document import Figure

SOURCES = ("init", "order", "both", "none", "nested")
AUDIT_RUNS = 4  # "none": the same seeds trained again, a few times
SCHEMA = 2  # 2: distances after permutation alignment (data["alignment"], two tables)


class SeedsStudy(Study):
    name: ClassVar[str] = "seeds"
    summary: ClassVar[str] = "how much do seeds matter: spread of the test metric, disagreement, determinism audit"
    question: ClassVar[str] = ("If I train the same network on the same data with the same loss several times, how "
                               "similar are the results out of the training set, and does that depend on the loss "
                               "and on how long I train?")
    default_problem: ClassVar[str] = "mnist1d"
    default_optimizer: ClassVar[str] = "sgd(lr=0.05, momentum=0.9)"
    default_seeds: ClassVar[int] = 30  # a std over 30 seeds has a chi-square 95 % interval of about ±25 %
    quick_seeds: ClassVar[int] = 3

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--epochs", type=int, help="training epochs (default 24; --quick: 4)")
        parser.add_argument("--checkpoints", help="epochs at which the spread is measured, e.g. 3,6,12,24 "
                                                  "(default: 1/8, 1/4, 1/2 and all of --epochs)")
        parser.add_argument("--losses", help="losses to compare on a classifier: cross_entropy,mse (default "
                                              "cross_entropy)")
        parser.add_argument("--sources", help=f"sources of variance, from {','.join(SOURCES)} (default all)")
        parser.add_argument("--width", type=int, help="hidden units of the network (default: the problem's)")
        parser.add_argument("--inits", type=int, help="initialisations of the crossed design (source nested; "
                                                      "default 6, --quick 3)")
        parser.add_argument("--orders", type=int, help="data orders crossed with each initialisation (default 5, "
                                                       "--quick 2)")

    # ------------------------------------------------------------------ the grid
    def _settings(self) -> dict[str, Any]:
        o = self.options
        epochs = positive_int(o.get("epochs", 4 if o.quick else 24), "epochs", maximum=100_000)
        text = o.get("checkpoints")
        if text:
            checkpoints = int_list(text, "checkpoints", minimum=1)
            if checkpoints[-1] > epochs:
                raise ConfigError(f"--checkpoints must be epochs between 1 and --epochs ({epochs}), got {text!r}")
        else:
            checkpoints = sorted({max(1, epochs // 8), max(1, epochs // 4), max(1, epochs // 2), epochs})
        if checkpoints[-1] != epochs:
            checkpoints.append(epochs)
        sources = split_top_level(o.get("sources", ",".join(SOURCES)))
        bad = [s for s in sources if s not in SOURCES]
        if bad or not sources:
            raise ConfigError(f"--sources takes {', '.join(SOURCES)}, got {o.get('sources')!r}")
        name, params = parse_call(o.problem)
        if o.get("width") is not None:
            params["hidden"] = positive_int(o.get("width"), "width", maximum=1_000_000)
        losses = self._losses(name, params)
        inits = positive_int(o.get("inits", 3 if o.quick else 6), "inits", minimum=2, maximum=1000)
        orders = positive_int(o.get("orders", 2 if o.quick else 5), "orders", minimum=2, maximum=1000)
        return {"epochs": epochs, "checkpoints": checkpoints, "sources": sources, "losses": losses,
                "problem": (name, params), "inits": inits, "orders": orders}

    def _losses(self, name: str, params: dict[str, Any]) -> list[str | None]:
        from optbench.params import parameters_of
        from optbench.registry import problem_class

        accepts_loss = "loss" in parameters_of(problem_class(name))
        given = self.options.get("losses")
        if not accepts_loss:
            if given:
                raise ConfigError(f"--losses needs a classifier that takes loss=...; {name} has one loss")
            return [None]
        if "loss" in params and not given:
            return [params.pop("loss")]
        params.pop("loss", None)
        # cross-entropy alone by default (both losses doubled the default past five minutes on 2 cores)
        losses = split_top_level(given or "cross_entropy")
        from optbench.problems.nn import LOSSES

        bad = [loss for loss in losses if loss not in LOSSES]
        if bad or not losses:
            raise ConfigError(f"--losses takes {', '.join(LOSSES)}, got {given!r}")
        return list(dict.fromkeys(losses))

    def tasks(self) -> list[TrialSpec]:
        from optbench.registry import make_problem
        from optbench.studies.training import require_network, torch_optimizer

        s = self._settings()
        name, params = s["problem"]
        o_name, o_params = parse_call(self.options.optimizer)
        torch_optimizer(o_name, o_params)
        require_network(make_problem(name, {**params, **({"loss": s["losses"][0]} if s["losses"][0] else {})}),
                        name)
        audits = [None] if not self.options.device.startswith("cuda") else [True, False]
        specs = []
        common = {"budget": float(s["epochs"] + 1), "epochs": s["epochs"], "checkpoints": tuple(s["checkpoints"])}
        for loss, source in itertools.product(s["losses"], s["sources"]):
            problem = format_call(name, freeze_params({**params, **({"loss": loss} if loss else {})}))
            if source == "nested":  # the crossed design: cell (i, j) = init i, order j
                for i, j in itertools.product(range(s["inits"]), range(s["orders"])):
                    specs.append(self.spec(problem=problem, seed=i * s["orders"] + j, source=source, init=i, order=j,
                                           deterministic=None, **common))
                continue
            seeds = range(min(self.options.seeds, AUDIT_RUNS) if source == "none" else self.options.seeds)
            for seed, det in itertools.product(seeds, audits if source == "none" else [None]):
                specs.append(self.spec(problem=problem, seed=seed, source=source, deterministic=det, **common))
        return specs

    # ------------------------------------------------------------------ one training run
    @classmethod
    def execute(cls, spec: TrialSpec) -> TrialResult:
        import torch

        from optbench.runners.devices import device_name
        from optbench.studies import training
        from optbench.studies.measures import digest

        p = dict(spec.task_params)
        problem = training.network_problem(spec)
        optimizer = training.torch_optimizer(spec.optimizer, dict(spec.optimizer_params))
        source = p["source"]
        init_seed = spec.seed if source in ("init", "both") else int(p.get("init", 0))
        order_seed = spec.seed if source in ("order", "both") else int(p.get("order", 0))
        per_epoch = training.steps_per_epoch(problem, optimizer)
        checkpoints = list(p["checkpoints"])
        with training.deterministic(p.get("deterministic")):
            x0 = problem.initial_point(training.stream(init_seed, "init"))
            run = training.train(problem, x0, optimizer=optimizer, epochs=p["epochs"],
                                 order=training.stream(order_seed, "order"), curve_epochs=checkpoints,
                                 snapshot_steps=[c * per_epoch for c in checkpoints],
                                 order_fn=training.seeded_order)  # looked up now, so a test can plant another
        at = {}
        for epoch, train_loss, test in run.curve:
            outputs = problem.test_outputs(run.snapshots[epoch * per_epoch])
            labels = outputs.argmax(dim=-1).to(torch.int16) if problem.test_metric_higher_is_better else None
            at[str(epoch)] = {"train_loss": train_loss, "test": test,
                              "outputs": encode_tensor(labels if labels is not None else outputs.float())}
        ev = run.evaluator
        assert ev is not None
        last = run.curve[-1]
        return task_result(spec, seconds=run.seconds, final_value=last[1], test_metric=last[2],
                           evaluations=ev.evaluations, gradient_evaluations=ev.gradient_evaluations,
                           examples=ev.examples, problem_id=problem.id, device_name=device_name(spec.device),
                           data={"init_seed": init_seed, "order_seed": order_seed, "steps": run.steps,
                                 "weights": encode_tensor(run.x), "digest": digest(run.x), "at": at,
                                 "metric": problem.test_metric_name, "n_test": int(problem.test_inputs.shape[0]),
                                 "higher_is_better": problem.test_metric_higher_is_better})

    # ------------------------------------------------------------------ analysis
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        from optbench.registry import make_problem
        from optbench.studies.seeds.analysis import analyze
        from optbench.studies.training import torch_threads

        done, failed = completed(results)
        s = self._settings()
        groups: dict[tuple[str, str, Any], list[tuple[int, dict]]] = defaultdict(list)
        problems: dict[str, Any] = {}
        for r in done:
            p = dict(r.spec.task_params)
            loss = str(dict(r.spec.problem_params).get("loss") or "-")
            groups[(loss, p["source"], p.get("deterministic"))].append((r.spec.seed, task_data(r)))
            if loss not in problems:  # the network, on the CPU, for the permutation alignment of its weights
                problems[loss] = make_problem(r.spec.problem, dict(r.spec.problem_params), instance=r.spec.instance)
        with torch_threads(1):  # small matrices: threads only add overhead (as in the tasks)
            tables, findings, data = analyze(groups, s["checkpoints"], self.options.device, problems=problems)
        settings = self.settings(epochs=s["epochs"], checkpoints=s["checkpoints"], sources=s["sources"],
                                 losses=[loss or "-" for loss in s["losses"]], inits=s["inits"], orders=s["orders"])
        return payload(self.name, settings=settings, tables=tables, findings=findings, data=data, failed=failed,
                       schema=SCHEMA)

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        from optbench.studies.seeds.report import figures

        return figures(payload)
