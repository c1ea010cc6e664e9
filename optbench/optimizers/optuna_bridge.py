"""``optuna:<Sampler>``: an Optuna sampler through Optuna's ask-and-tell API, paid through the evaluator.

``optuna:TPESampler``, ``optuna:CmaEsSampler``, ``optuna:GPSampler``, ``optuna:QMCSampler``,
``optuna:RandomSampler`` (or any other class of ``optuna.samplers``) with the sampler's own keywords,
e.g. ``optuna:TPESampler(multivariate=true, n_startup_trials=20)``. The sampler's ``seed`` comes from
the trial's seed. Each coordinate is one parameter ``x0 … x{d-1}``: a float in the box's bounds, or
an integer 0/1 for a bit. Every trial Optuna asks for is one evaluation counted by the evaluator;
``n_parallel=N`` asks N trials before telling any, and evaluates them as one batch.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, ConfigError, Optimizer, Params, SpaceKind, freeze_params
from optbench.evaluator import Evaluator
from optbench.extras import require

SAMPLERS = ("TPESampler", "CmaEsSampler", "GPSampler", "QMCSampler", "RandomSampler")


def _optuna(needed_by: str) -> Any:
    return require("optuna", needed_by=needed_by)


def _sampler_class(name: str) -> Any:
    optuna = _optuna(f"optuna:{name}")
    cls = getattr(optuna.samplers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, optuna.samplers.BaseSampler)):
        known = sorted(n for n in dir(optuna.samplers) if n.endswith("Sampler") and n != "BaseSampler")
        raise ConfigError(f"unknown Optuna sampler {name!r}; known: {', '.join(known)}")
    return cls


def distributions(space: Any) -> dict[str, Any]:
    """One Optuna distribution per coordinate, named ``x0 … x{d-1}`` (the order the sampler draws in)."""
    optuna = _optuna("optuna")
    if space.kind is SpaceKind.BITS:
        return {f"x{i}": optuna.distributions.IntDistribution(0, 1) for i in range(space.dim)}
    return {f"x{i}": optuna.distributions.FloatDistribution(lo, hi)
            for i, (lo, hi) in enumerate(zip(space.lower, space.upper, strict=True))}


@dataclass(frozen=True)
class OptunaOptimizer(Optimizer):
    """An Optuna sampler by class name with its keywords; ``n_parallel`` trials asked per batch."""

    name: ClassVar[str] = "optuna"
    # as a bridge (entry point group ``optbench.bridges``): the library it runs, an example name, what it takes
    library: ClassVar[str] = "optuna"
    example: ClassVar[str] = "TPESampler"
    summary: ClassVar[str] = (
        "an optuna.samplers class (TPESampler, CmaEsSampler, GPSampler, QMCSampler, RandomSampler) "
        "with its keywords, through ask-and-tell; n_parallel=N asks N trials per batch (extra: "
        "optbench[optuna])")
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS, SpaceKind.BITS})

    sampler: str = "TPESampler"
    options: Params = ()
    n_parallel: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.n_parallel, int) or isinstance(self.n_parallel, bool) or self.n_parallel < 1:
            raise ConfigError(f"optuna:{self.sampler}: n_parallel must be an integer >= 1, got {self.n_parallel!r}")
        self._make_sampler(seed=0)  # unknown samplers and keywords are refused before anything runs
        if self.sampler == "CmaEsSampler":  # Optuna imports cmaes only when it first samples
            require("cmaes", needed_by="optuna:CmaEsSampler")

    @classmethod
    def from_call(cls, target: str, params: dict[str, Any]) -> OptunaOptimizer:
        params = dict(params)
        n_parallel = params.pop("n_parallel", 1)
        if "seed" in params:
            raise ConfigError(f"optuna:{target}: the sampler's seed comes from --seeds; drop seed=")
        return cls(sampler=target, options=freeze_params(params), n_parallel=n_parallel)

    def _make_sampler(self, *, seed: int) -> Any:
        cls = _sampler_class(self.sampler)
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ExperimentalWarning for GPSampler and friends
                return cls(**options, seed=seed)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"optuna:{self.sampler}: {exc}") from None

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        optuna = _optuna(f"optuna:{self.sampler}")
        seed = int(rng.integers(0, 2**31 - 1))
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # Optuna logs every trial at INFO
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study = optuna.create_study(direction="minimize", sampler=self._make_sampler(seed=seed))
                self._loop(study, evaluator)
        finally:
            optuna.logging.set_verbosity(verbosity)
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before Optuna's first trial was evaluated")
        return evaluator.best_x

    def _loop(self, study: Any, evaluator: Evaluator) -> None:
        """Ask ``n_parallel`` trials, evaluate them as one batch, tell each its value; until the budget ends."""
        space = evaluator.space
        fixed = distributions(space)
        names = list(fixed)
        dtype = torch.uint8 if space.kind is SpaceKind.BITS else evaluator.dtype
        try:
            while True:
                trials = [study.ask(fixed) for _ in range(self.n_parallel)]
                X = torch.tensor([[t.params[n] for n in names] for t in trials], dtype=dtype, device=evaluator.device)
                try:
                    values = evaluator.evaluate(X).tolist()
                except BudgetExhausted as exc:
                    values = [] if exc.values is None else exc.values.tolist()
                    for trial, value in zip(trials, values, strict=False):
                        study.tell(trial, value if not math.isnan(value) else math.inf)
                    raise
                for trial, value in zip(trials, values, strict=True):
                    study.tell(trial, value if not math.isnan(value) else math.inf)  # NaN would fail the trial
        except BudgetExhausted:
            pass
