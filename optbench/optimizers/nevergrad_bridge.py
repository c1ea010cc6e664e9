"""``ng:<Name>``: any Nevergrad optimizer through ask/tell, batched, paid through the evaluator.

``ng:CMA``, ``ng:OnePlusOne``, ``ng:DiscreteOnePlusOne`` … name an entry of
``nevergrad.optimizers.registry``; ``ng:ParametrizedCMA(popsize=20)`` configures a family from
``nevergrad.families`` with the given keywords. ``num_workers`` (default 1; more for optimizers
that allow parallelism) is how many candidates are asked per batched evaluation.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, ConfigError, Optimizer, Params, SpaceKind
from optbench.evaluator import Evaluator

log = logging.getLogger(__name__)


def _nevergrad() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib and deprecation chatter at import
        import nevergrad

    _patch_metamodel()
    return nevergrad


def _scalar(value: Any) -> float:
    """``float()`` as NumPy < 2.4 had it: a one-element array converts to its element."""
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    return float(value)


_METAMODEL_BUG = "float(model.predict("


@functools.cache
def _patch_metamodel() -> bool:
    """Compatibility shim for Nevergrad's MetaModel under NumPy >= 2.4 (Nevergrad issue #1612).

    ``nevergrad.optimization.metamodel.learn_on_k_best`` calls ``float(model.predict(x))`` on a
    one-element array; NumPy 2.4 made that a ``TypeError``, so ``ng:NGOpt`` (which picks
    ``MetaModel(CmaFmin2)`` for moderate budgets in a few dimensions) fails after ~100 evaluations.
    The shim binds the name ``float`` inside that one module to :func:`_scalar`, which takes the
    single element as NumPy < 2.4 did; nothing else in Nevergrad or NumPy changes. It applies only
    when the installed NumPy refuses the conversion and the installed Nevergrad still has the call,
    so a fixed Nevergrad (or an older NumPy) runs untouched.

    Returns:
        Whether the shim was applied.
    """
    try:
        float(np.ones(1))  # type: ignore[arg-type]
        return False  # this NumPy still converts one-element arrays
    except TypeError:
        pass
    import inspect

    from nevergrad.optimization import metamodel

    try:
        source = inspect.getsource(metamodel.learn_on_k_best)
    except (OSError, TypeError):
        return False
    if _METAMODEL_BUG not in source:
        return False
    metamodel.float = _scalar  # type: ignore[attr-defined]  # a module global shadows the builtin there only
    log.debug("nevergrad %s with numpy %s: MetaModel predict() results taken as scalars (nevergrad#1612)",
              getattr(metamodel, "__version__", ""), np.__version__)
    return True


def _finite(value: float) -> float:
    """Nevergrad refuses NaN; a non-finite value ranks worst."""
    return float(value) if math.isfinite(value) else 1e308


def _resolve(name: str, options: dict[str, Any]) -> Any:
    """The Nevergrad optimizer class or configured family for ``name`` and ``options``."""
    ng = _nevergrad()
    family = getattr(ng.families, name, None)
    if family is not None and isinstance(family, type):
        from optbench.params import check_library_options

        check_library_options(f"ng:{name}", family.__init__, options)  # elitist='no' is not False
        try:
            return family(**options)
        except TypeError as exc:
            raise ConfigError(f"ng:{name}: {exc}") from None
    if name not in ng.optimizers.registry:
        close = sorted(n for n in ng.optimizers.registry if n.lower().startswith(name[:3].lower()))[:8]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise ConfigError(f"unknown Nevergrad optimizer {name!r}{hint} (see nevergrad.optimizers.registry)")
    if options:
        raise ConfigError(
            f"ng:{name} takes no options besides num_workers; configure a family instead, "
            "e.g. ng:ParametrizedCMA(popsize=20)"
        )
    return ng.optimizers.registry[name]


@dataclass(frozen=True)
class NevergradOptimizer(Optimizer):
    """A Nevergrad optimizer by name; candidates are asked ``num_workers`` at a time."""

    name: ClassVar[str] = "ng"
    # as a bridge (entry point group ``optbench.bridges``): the library it runs, an example name, what it takes
    library: ClassVar[str] = "nevergrad"
    example: ClassVar[str] = "CMA"
    summary: ClassVar[str] = (
        "any nevergrad.optimizers.registry name, or a nevergrad.families class with its keywords; "
        "num_workers=N asks N candidates per batch")
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset(SpaceKind)

    optimizer: str = "NGOpt"
    options: Params = ()
    num_workers: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.num_workers, int) or isinstance(self.num_workers, bool) or self.num_workers < 1:
            raise ConfigError(f"ng:{self.optimizer}: num_workers must be an integer >= 1, got {self.num_workers!r}")
        _resolve(self.optimizer, dict(self.options))

    @classmethod
    def from_call(cls, target: str, params: dict[str, Any]) -> NevergradOptimizer:
        from optbench.api import freeze_params

        params = dict(params)
        workers = params.pop("num_workers", 1)
        return cls(optimizer=target, options=freeze_params(params), num_workers=workers)

    def _parametrization(self, evaluator: Evaluator, seed: int) -> Any:
        ng = _nevergrad()
        space = evaluator.space
        if space.kind is SpaceKind.BITS:
            param = ng.p.Choice([0, 1], repetitions=space.dim)
        elif space.kind is SpaceKind.CONTINUOUS:
            lower, upper = np.asarray(space.lower), np.asarray(space.upper)
            param = ng.p.Array(shape=(space.dim,), lower=lower, upper=upper)
        else:
            gen = torch.Generator().manual_seed(seed)
            init = evaluator.initial_point(gen).detach().cpu().numpy().astype(np.float64)
            param = ng.p.Array(init=init)
        param.random_state = np.random.RandomState(seed)
        return param

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        seed = int(rng.integers(0, 2**31 - 1))
        factory = _resolve(self.optimizer, dict(self.options))
        budget = evaluator.budget.evaluations
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = factory(
                parametrization=self._parametrization(evaluator, seed),
                budget=None if budget is None else max(int(budget), 1),
                num_workers=self.num_workers,
            )
        is_bits = evaluator.space.kind is SpaceKind.BITS
        # Nevergrad works in float64; candidates cross to the problem in its precision (rounding is
        # monotone, so a point inside float64 bounds stays inside the bounds rounded the same way)
        dtype = torch.uint8 if is_bits else evaluator.dtype
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Nevergrad and the pycma it wraps warn per generation
            self._loop(opt, evaluator, dtype)
        recommended = np.asarray(opt.provide_recommendation().value, dtype=np.float64)
        return torch.as_tensor(recommended).to(dtype)

    def _loop(self, opt: Any, evaluator: Evaluator, dtype: torch.dtype) -> None:
        """Ask ``num_workers`` candidates, evaluate them as one batch, tell; until the budget ends."""
        try:
            while True:
                batch = [opt.ask() for _ in range(self.num_workers)]
                X = torch.as_tensor(np.array([c.value for c in batch], dtype=np.float64)).to(dtype)
                try:
                    values = evaluator.evaluate(X).detach().cpu().tolist()
                except BudgetExhausted as exc:
                    values = [] if exc.values is None else exc.values.detach().cpu().tolist()
                    for cand, value in zip(batch, values, strict=False):
                        opt.tell(cand, _finite(value))
                    raise
                for cand, value in zip(batch, values, strict=True):
                    opt.tell(cand, _finite(value))
        except BudgetExhausted:
            pass
