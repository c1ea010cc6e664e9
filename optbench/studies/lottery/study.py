"""The lottery study: its flags (with modadd's grokking defaults), one task per seed, its analysis."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from optbench.api import ConfigError, TrialResult, TrialSpec, freeze_params
from optbench.params import parse_call
from optbench.studies.base import Payload, Study, completed, payload, positive_int, task_data, task_result
from optbench.studies.lottery.grokking import (  # noqa: F401 (GROK_PROBLEM, GROK_OPTIMIZER: modadd's defaults, here too)
    GROK_EPOCHS,
    GROK_OPTIMIZER,
    GROK_PROBLEM,
    GROK_REWIND,
    grokking_defaults,
)

if TYPE_CHECKING:
    from optbench.report.document import Figure

MODADD_REWIND = GROK_REWIND  # steps: modadd memorizes by about step 60 and climbs from about step 400
MODADD_TARGET = 0.7  # 3 rounds of 36 % (to 73.8 % sparsity); --quick: 0.3, 1 round
PRUNE_RATE = 0.36  # two of Frankle & Carbin's 20 % rounds in one (0.64 = 0.8^2): every other sparsity, half the rounds
MAX_ROUNDS = 100
SCHEMA = 2  # 2: the tickets' and the dense network's stability to SGD noise at the rewind step


def _float(value: Any, flag: str, low: float, high: float, *, closed_high: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low < value < high or (closed_high and value == high)):
        bound = f"in ({low}, {high}{']' if closed_high else ')'}"
        raise ConfigError(f"--{flag} must be a number {bound}, got {value!r}")
    return float(value)


class LotteryStudy(Study):
    name: ClassVar[str] = "lottery"
    summary: ClassVar[str] = "winning tickets: iterative magnitude pruning with rewinding, against random controls"
    question: ClassVar[str] = ("Does the lottery ticket hypothesis hold, and does it hold for networks that grokked?")
    default_problem: ClassVar[str] = "mnist1d"
    default_optimizer: ClassVar[str] = "sgd(lr=0.1, momentum=0.9)"
    default_seeds: ClassVar[int] = 5
    quick_seeds: ClassVar[int] = 3

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--prune-rate", type=float, help="share of the remaining weights pruned per round "
                                                             f"(default {PRUNE_RATE}: 0.8^2, every other "
                                                             "sparsity of 20 % rounds)")
        parser.add_argument("--scope", choices=["global", "layer"], help="one magnitude threshold over all layers "
                                                                         "(global, default) or per layer")
        parser.add_argument("--target-sparsity", type=float, help="prune until at least this share of the weights "
                                                                  "is gone (default 0.95, --quick 0.6; modadd: "
                                                                  f"{MODADD_TARGET}, --quick 0.3)")
        parser.add_argument("--rewind-step", type=int, help="rewind the ticket to its weights after this many steps "
                                                            "of the dense run (default 0: initialization; modadd: "
                                                            f"{MODADD_REWIND})")
        parser.add_argument("--epochs", type=int, help="epochs of the dense run; a rewound ticket trains the epochs "
                                                       "left (default 20, --quick 8; modadd: "
                                                       f"{GROK_EPOCHS}, --quick {GROK_EPOCHS // 2})")
        parser.add_argument("--margin", type=float, help="non-inferiority margin of 'matches dense', in the "
                                                         "metric's units (default 0.01: one point of accuracy)")
        parser.add_argument("--points", type=int, help="values of alpha on the path between two copies of each "
                                                       "ticket, for its stability at the rewind step (default 13; "
                                                       "0: not measured, one training run less per round)")
        parser.add_argument("--grok-threshold", type=float, help="test accuracy that counts as generalized (grokked), "
                                                                 "default 0.9; the grokking table is shown on modadd "
                                                                 "or when this is given")

    # ------------------------------------------------------------------ the grid
    def resolved(self) -> tuple[str, str, bool]:
        """``(problem, optimizer, modadd)``: modadd gets settings that grok where they were not given."""
        return grokking_defaults(self.options.problem, self.options.optimizer, self.default_optimizer)

    def _settings(self) -> dict[str, Any]:
        o = self.options
        problem, optimizer, modadd = self.resolved()
        grokking = modadd or o.get("grok_threshold") is not None
        rate = _float(o.get("prune_rate", PRUNE_RATE), "prune-rate", 0.0, 1.0)
        # modadd: a CPU budget (fewer rounds) and late rewinding, after memorization and before the jump
        # (rewound to initialization, its pruned networks memorize but do not generalize in the budget)
        target = _float(o.get("target_sparsity", (0.3 if o.quick else MODADD_TARGET) if modadd else
                              (0.6 if o.quick else 0.95)), "target-sparsity", 0.0, 1.0)
        default_epochs = (GROK_EPOCHS // 2 if o.quick else GROK_EPOCHS) if modadd else (8 if o.quick else 20)
        epochs = positive_int(o.get("epochs", default_epochs), "epochs", maximum=1_000_000)
        rewind = positive_int(o.get("rewind_step", MODADD_REWIND if modadd else 0), "rewind_step", minimum=0)
        threshold = _float(o.get("grok_threshold", 0.9), "grok-threshold", 0.0, 1.0, closed_high=True)
        margin = _float(o.get("margin", 0.01), "margin", 0.0, math.inf)
        points = o.get("points", 13)
        if isinstance(points, bool) or not isinstance(points, int) or not (points == 0 or 3 <= points <= 10_000):
            raise ConfigError(f"--points must be 0 (stability not measured) or an integer between 3 and 10000, "
                              f"got {points!r}")
        if o.seeds < 2:
            raise ConfigError("lottery needs --seeds >= 2 (the ticket is compared within the seed spread)")
        return {"problem": problem, "optimizer": optimizer, "prune_rate": rate, "scope": o.get("scope", "global"),
                "target_sparsity": target, "epochs": epochs, "rewind_step": rewind, "grokking": bool(grokking),
                "grok_threshold": threshold, "margin": margin, "points": points}

    def tasks(self) -> list[TrialSpec]:
        from optbench.registry import make_problem
        from optbench.studies.lottery.pruning import dense_mask, expected_kept, layer_counts, linear_weights
        from optbench.studies.training import require_network, steps_per_epoch, torch_optimizer

        s = self._settings()
        name, params = parse_call(s["problem"])
        optimizer = torch_optimizer(*parse_call(s["optimizer"]))
        problem = require_network(make_problem(name, params), name)
        linear_weights(problem)
        total_steps = s["epochs"] * steps_per_epoch(problem, optimizer)
        if s["rewind_step"] // steps_per_epoch(problem, optimizer) >= s["epochs"]:
            raise ConfigError(f"--rewind-step must leave at least one epoch of the run's {total_steps} steps, got "
                              f"{s['rewind_step']}")
        counts = {n: k for n, (k, _) in layer_counts(problem, dense_mask(problem)).items()}
        total, rounds = sum(counts.values()), 0
        while 1 - sum(counts.values()) / total < s["target_sparsity"]:
            if rounds == MAX_ROUNDS or sum(counts.values()) <= 1:
                raise ConfigError(f"--prune-rate {s['prune_rate']} does not reach --target-sparsity "
                                  f"{s['target_sparsity']} in {MAX_ROUNDS} rounds; raise the rate or lower the target")
            if s["scope"] == "layer":
                counts = {n: expected_kept(k, s["prune_rate"]) for n, k in counts.items()}
            else:  # the global count; how it splits over layers does not change the total
                counts = {"all": expected_kept(sum(counts.values()), s["prune_rate"])}
            rounds += 1
        s["rounds"] = rounds
        p_name, p_params = parse_call(s["problem"])
        o_name, o_params = parse_call(s["optimizer"])
        from dataclasses import replace

        specs = []
        for seed in range(self.options.seeds):
            runs = (4 * rounds + 2) if s["points"] else (3 * rounds + 1)  # the copies for stability, when measured
            spec = self.spec(seed=seed, budget=float(runs * s["epochs"]), rounds=rounds,
                             prune_rate=s["prune_rate"], scope=s["scope"], rewind_step=s["rewind_step"],
                             epochs=s["epochs"], points=s["points"])
            specs.append(replace(spec, problem=p_name, problem_params=freeze_params(p_params), optimizer=o_name,
                                 optimizer_params=freeze_params(o_params)))
        return specs

    # ------------------------------------------------------------------ one chain of pruning rounds
    @classmethod
    def execute(cls, spec: TrialSpec) -> TrialResult:
        from optbench.studies.lottery.chain import run_chain

        data, seconds, steps = run_chain(spec)
        dense = data["dense"]
        return task_result(spec, seconds=seconds, data=data, final_value=dense["loss"][-1],
                           test_metric=dense["metric"][-1], gradient_evaluations=steps)

    # ------------------------------------------------------------------ analysis
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        from optbench.studies.lottery.analysis import summarize

        s = self._settings()
        done, failed = completed(results)
        chains = {r.spec.seed: task_data(r) for r in done}
        data, tables, findings = summarize(chains, grokking=s["grokking"], threshold=s["grok_threshold"],
                                           margin=s["margin"], rewind_step=s["rewind_step"])
        settings = {**self.settings(**s), "problem": s["problem"], "optimizer": s["optimizer"]}
        return payload(self.name, settings=settings, tables=tables, findings=findings, data=data, failed=failed,
                       schema=SCHEMA)

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        from optbench.studies.lottery.report import draw

        return draw(payload)
