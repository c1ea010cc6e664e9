"""The whole optbench contract in one file.

A *problem* is a batched objective to minimize; an *optimizer* minimizes it through an
:class:`~optbench.evaluator.Evaluator`, never touching the problem directly; a *trial* is one
optimizer on one problem instance with one seed, on one device, under one budget.

Cost convention (the same for every optimizer family):

* a full-objective evaluation of one point costs 1 (``evaluate`` on ``n`` points costs ``n``);
* a gradient of the full objective costs 1 and is also counted as one gradient evaluation;
* a minibatch gradient over ``b`` of the problem's ``n`` examples costs ``b / n``.

Budgets are enforced by the evaluator: a batch that crosses the evaluation budget is cut to
what remains and then :class:`BudgetExhausted` is raised; the first call after a time budget
runs out raises :class:`BudgetExhausted` without evaluating anything.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import math
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # torch stays out of `optbench --help`
    import numpy as np
    import torch

    from optbench.evaluator import Evaluator

Scalar = bool | int | float | str | None
# The floating-point precisions a trial can be run in (``--dtype``, a problem's ``dtype=``); a trial
# that names none runs in its problem's own precision (float64, float32 for neural networks).
DTYPES = ("float32", "float64")
ParamValue = Scalar | tuple[Any, ...]
Params = tuple[tuple[str, ParamValue], ...]


# --------------------------------------------------------------------------- errors


class OptbenchError(Exception):
    """Base class of every error optbench raises on purpose."""


class ConfigError(OptbenchError):
    """A user's mistake in names, hyperparameters, budgets or suites (CLI exit code 2)."""


class BudgetExhausted(OptbenchError):  # noqa: N818 - a signal, not a failure
    """Raised by the evaluator once the budget is spent.

    Attributes:
        values: objective values of the points that still fit in the budget, shape ``(m,)``
            with ``m`` smaller than the requested batch, or ``None`` when nothing was evaluated.
    """

    def __init__(self, message: str = "budget exhausted", *, values: torch.Tensor | None = None):
        super().__init__(message)
        self.values = values


class Unsupported(OptbenchError):  # noqa: N818 - reason for a SKIPPED trial
    """An optimizer cannot run on a problem; the message is the SKIPPED reason."""


# --------------------------------------------------------------------------- spaces


class SpaceKind(enum.StrEnum):
    CONTINUOUS = "continuous"
    BITS = "bits"
    PARAMS = "params"  # the flattened parameters of a torch module (training problems)


class Capability(enum.StrEnum):
    """What a problem offers beyond batched evaluation."""

    DIFFERENTIABLE = "differentiable"  # `loss(x)` is differentiable by autograd
    MINIBATCH = "minibatch"  # the objective is a mean over `n_examples` examples
    LINEAR_LEAST_SQUARES = "linear_least_squares"  # f(x) = ||A x - b||^2 / n, exposes (A, b)
    TEST_METRIC = "test_metric"  # a held-out metric of the recommendation
    # `evaluate_uniform` draws and evaluates a batch of uniform points in one fused pass (a kernel)
    # and `uniform_points` redraws any of them; offered only where such a kernel runs (a CUDA device)
    UNIFORM_KERNEL = "uniform_kernel"


@dataclass(frozen=True)
class Space:
    """The search space of a problem.

    Attributes:
        kind: continuous box, bit string, or module parameters.
        dim: number of coordinates ``d``; inputs to ``evaluate`` have shape ``(n, d)``.
        lower, upper: per-coordinate bounds of a continuous box (``None`` for bits;
            for module parameters they bound random initialisation only).
    """

    kind: SpaceKind
    dim: int
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise ConfigError(f"a space needs dim >= 1, got {self.dim}")
        if self.kind is not SpaceKind.BITS:
            if self.lower is None or self.upper is None:
                raise ConfigError(f"a {self.kind} space needs lower and upper bounds")
            if len(self.lower) != self.dim or len(self.upper) != self.dim:
                raise ConfigError("bounds must have one entry per dimension")
            if any(lo >= hi for lo, hi in zip(self.lower, self.upper, strict=True)):
                raise ConfigError("every lower bound must be below its upper bound")

    @classmethod
    def box(cls, dim: int, lower: float, upper: float) -> Space:
        """A continuous box ``[lower, upper]^dim`` (one object per box: spaces are immutable, and every trial
        builds its problem's; checking the bounds of a 10^6-dimensional box takes a tenth of a second)."""
        return _box(cls, dim, float(lower), float(upper))

    @classmethod
    def bits(cls, dim: int) -> Space:
        """Bit strings of length ``dim`` (inputs are 0/1 tensors of any integer or bool dtype)."""
        return cls(SpaceKind.BITS, dim)

    @classmethod
    def params(cls, dim: int, scale: float = 1.0) -> Space:
        """Flattened module parameters; ``[-scale, scale]`` bounds sampling, not the search."""
        return cls(SpaceKind.PARAMS, dim, (-float(scale),) * dim, (float(scale),) * dim)

    @property
    def is_bounded(self) -> bool:
        """Whether candidates must stay inside ``[lower, upper]`` (true for boxes only)."""
        return self.kind is SpaceKind.CONTINUOUS

    def bounds(self, *, device: Any = None, dtype: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower and upper bounds as tensors of shape ``(d,)``."""
        import torch

        if self.lower is None or self.upper is None:
            raise Unsupported("a bit-string space has no continuous bounds")
        lo = torch.tensor(self.lower, device=device, dtype=dtype or torch.float64)
        hi = torch.tensor(self.upper, device=device, dtype=dtype or torch.float64)
        return lo, hi


@functools.lru_cache(maxsize=256)
def _box(cls: type[Space], dim: int, lower: float, upper: float) -> Space:
    return cls(SpaceKind.CONTINUOUS, dim, (lower,) * dim, (upper,) * dim)


# --------------------------------------------------------------------------- problems


LANDSCAPES = {
    "smooth": "smooth or convex: gradients and second-order methods should win",
    "rugged": "multimodal or rugged continuous: many local minima, global search pays",
    "deceptive": "discrete bit strings, from easy to deceptive: local gradients of fitness mislead",
    "crypto": "cryptographic-style: no signal to follow, nothing beats blind search by much",
    "training": "neural-network training: held-out generalization is the test metric",
    "other": "not classified by its author",
}


def _id_value(value: Any) -> str:
    """A parameter value as an id writes it: ``true``, ``1000000.0``, ``0.9x0.999``, no spaces."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return "x".join(_id_value(v) for v in value)
    return repr(value).replace(" ", "") if not isinstance(value, str) else value.replace(" ", "")


VALIDATION_FRACTION = 0.2  # of a problem's training examples that tuning holds out as its validation set


class Problem(ABC):
    """A batched objective to minimize, on one device.

    Subclasses set the class attributes ``family`` (the problem's name) and ``landscape`` (one of
    :data:`LANDSCAPES`: what kind of search it demands) and, in ``__init__``, the instance attributes
    ``space``, ``optimal_value`` (``None`` when unknown), ``target`` (the gap to the optimum
    that counts as success) and ``capabilities``; they implement ``_evaluate``.
    Data, shifts and rotations come from the instance seed alone, generated on the CPU and
    then moved, so one instance is the same data on every device.
    """

    family: ClassVar[str]
    landscape: ClassVar[str] = "other"
    space: Space
    optimal_value: float | None = None
    target: float = 1e-8
    capabilities: frozenset[Capability] = frozenset()
    n_examples: int | None = None  # for MINIBATCH problems
    instances_differ: ClassVar[bool] = True  # False: the instance seed does not change the function
    blind_search_evaluations: float | None = None  # expected evaluations for uniform guessing to hit the target

    def __init__(self, *, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        import torch

        self.instance = int(instance)
        self.device = torch.device(device)
        self.dtype = dtype or torch.float64

    # -- identity
    def params(self) -> dict[str, ParamValue]:
        """The constructor parameters that define this problem (for ids and reports)."""
        return {}

    @property
    def id(self) -> str:
        """A stable id in the COCO style, e.g. ``rastrigin_d10_i3``.

        Every parameter off its default that changes the function shows between the dimension
        and the instance, e.g. ``rastrigin_d10_rotate-true_i3``, so no two functions share an id.
        """
        extra = "".join(f"_{key}-{_id_value(value)}" for key, value in sorted(distinguishing_params(self).items()))
        return f"{self.family}_d{self.space.dim}{extra}_i{self.instance}"

    # -- evaluation
    def evaluate(self, X: torch.Tensor) -> torch.Tensor:
        """Objective values of a batch.

        Args:
            X: candidates, shape ``(n, d)``; moved to the problem's device and dtype.

        Returns:
            Objective values, shape ``(n,)``, on the problem's device.
        """
        X = self.prepare(X)
        y = self._evaluate(X)
        if y.shape != (X.shape[0],):
            raise RuntimeError(f"{self.family}._evaluate returned {tuple(y.shape)}, want ({X.shape[0]},)")
        if y.dtype != self.dtype:  # a float16 result would quantize every value the optimizer sees
            raise TypeError(f"{self.family}._evaluate returned {y.dtype} values; the problem computes in "
                            f"{self.dtype}, so return that")
        return y

    def prepare(self, X: torch.Tensor) -> torch.Tensor:
        """Validate the shape of ``X`` and move it to the problem's device and input dtype."""
        import torch

        if X.ndim != 2 or X.shape[1] != self.space.dim:
            raise ValueError(f"{self.id} expects a batch of shape (n, {self.space.dim}), got {tuple(X.shape)}")
        if self.space.kind is SpaceKind.BITS:
            if X.is_floating_point():
                raise TypeError(f"{self.id} takes bit strings as a bool or integer tensor, got {X.dtype}")
            dtype = torch.uint8
        else:
            dtype = self.dtype
        if X.dtype == dtype and X.device == self.device:
            return X  # `.to` is a no-op here but still costs a dispatch per call
        return X.to(device=self.device, dtype=dtype)

    @abstractmethod
    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        """Objective of a validated batch ``X`` of shape ``(n, d)``; returns shape ``(n,)``."""

    def loss(self, x: torch.Tensor, *, batch: torch.Tensor | None = None) -> torch.Tensor:
        """Differentiable objective of one point ``x`` of shape ``(d,)`` as a 0-d tensor.

        Args:
            x: the point, shape ``(d,)``, possibly requiring grad.
            batch: indices of the examples to average over (MINIBATCH problems); ``None`` for
                the full objective.
        """
        if batch is not None:
            raise Unsupported(f"{self.id} has no examples to sample minibatches from")
        return self._evaluate(x.unsqueeze(0)).squeeze(0)

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        """A random starting point of shape ``(d,)`` (gradient methods start here).

        Args:
            generator: a CPU ``torch.Generator``; the point is then moved to the device.
        """
        import torch

        space = self.space
        if space.kind is SpaceKind.BITS:
            raise Unsupported(f"{self.id} is a bit-string problem and has no continuous start")
        # (space, dtype, lower, width), made once and never handed out; kept in __dict__ directly, so a problem
        # written as a frozen dataclass keeps it too
        box = self.__dict__.get("_start_box")
        if box is None or box[0] is not space or box[1] != self.dtype:
            lo, hi = space.bounds(dtype=self.dtype)
            box = self.__dict__["_start_box"] = (space, self.dtype, lo, hi - lo)
        u = torch.rand(space.dim, generator=generator, dtype=self.dtype)
        return (box[2] + box[3] * u).to(self.device)

    def evaluate_uniform(self, n: int, *, seed: int, offset: int) -> torch.Tensor:
        """Values of ``n`` uniform points drawn and evaluated in one pass; the points are never stored.

        Only problems with :attr:`Capability.UNIFORM_KERNEL`. The points are those that
        :meth:`uniform_points` gives for rows ``0 .. n-1`` of the same ``seed`` and ``offset``.

        Args:
            n: how many points.
            seed: the draw's key (a counter-based generator such as Philox: no state).
            offset: the draw's first counter; row ``r`` depends on ``(seed, offset + r)`` alone, so
                consecutive batches use ``offset``, ``offset + n``, ... and never repeat a point.

        Returns:
            Objective values, shape ``(n,)``, on the problem's device.
        """
        raise Unsupported(f"{self.id} has no fused uniform kernel")

    def uniform_points(self, rows: torch.Tensor, *, seed: int, offset: int) -> torch.Tensor:
        """The points of rows ``rows`` (int64, shape ``(k,)``) of the draw ``(seed, offset)``; shape ``(k, d)``.

        Bit-exact with what :meth:`evaluate_uniform` evaluated: ``evaluate(uniform_points(r))``
        equals ``evaluate_uniform(...)[r]``.
        """
        raise Unsupported(f"{self.id} has no fused uniform kernel")

    def test_metric(self, x: torch.Tensor) -> float | None:
        """A held-out metric of the recommendation ``x`` (shape ``(d,)``), if the problem has one."""
        return None

    test_metric_name: str = "test"
    test_metric_higher_is_better: bool = False

    def least_squares(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, b)`` with ``f(x) = ||A x - b||^2 / m``; only with ``LINEAR_LEAST_SQUARES``."""
        raise Unsupported(f"{self.id} does not expose a linear least-squares structure")

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        """Bytes needed to build the problem from ``params`` (defaults filled in) and evaluate a point, estimated
        without building it; ``None`` when the family does not say. A need beyond the device's memory is
        refused before any allocation."""
        return None

    def validation_split(self, fraction: float = VALIDATION_FRACTION) -> None:
        """Carve a validation set out of the training data, in place, for tuning: the objective becomes
        the loss on the rest of the training data, and :meth:`test_metric` reads the validation set, so
        the test set is never seen. Problems with data implement it; others raise :class:`Unsupported`.
        """
        raise Unsupported(f"{self.id} has no training data to carve a validation set from")


# --------------------------------------------------------------------------- optimizers


@dataclass(frozen=True)
class Optimizer(ABC):
    """An optimizer: a frozen dataclass of hyperparameters and a ``minimize`` method.

    Class attributes declare what it runs on; the runner records a SKIPPED trial with the
    reason from :meth:`check` instead of running an optimizer on a problem it does not suit.
    """

    name: ClassVar[str]
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset(SpaceKind)
    requires: ClassVar[frozenset[Capability]] = frozenset()

    def check(self, space: Space, capabilities: frozenset[Capability]) -> str | None:
        """Why this optimizer cannot run on such a problem, or ``None`` when it can."""
        if space.kind not in self.spaces:
            kinds = " or ".join(sorted(self.spaces))
            return f"{self.name} does not run on {space.kind}; it needs {kinds}"
        missing = sorted(self.requires - capabilities)
        if missing:
            return f"{self.name} needs {', '.join(missing)}"
        return None

    def hyperparameters(self) -> dict[str, Any]:
        return asdict(self)

    def memory_need(self, dim: int) -> float | None:
        """Bytes the optimizer itself holds on a ``dim``-dimensional problem, estimated without running;
        ``None`` when it does not say. A need beyond the free memory is refused before any trial runs."""
        return None

    def memory_advice(self) -> str:
        """What the refusal of a need beyond the free memory suggests instead."""
        return "use a smaller problem"

    @abstractmethod
    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        """Minimize through ``evaluator`` and return the recommended point, shape ``(d,)``.

        Budget exhaustion surfaces as :class:`BudgetExhausted`; an optimizer may let it
        propagate, and the runner then takes the evaluator's best point as the recommendation.
        """


# --------------------------------------------------------------------------- trials


@dataclass(frozen=True)
class Budget:
    """What a trial may spend: evaluations (cost units, see module doc) and/or seconds."""

    evaluations: float | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.evaluations is None and self.seconds is None:
            raise ConfigError("a budget needs evaluations or seconds (or both)")
        for label, value in (("evaluations", self.evaluations), ("seconds", self.seconds)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"the {label} budget must be a positive number, got {value!r}")


def freeze_params(params: Mapping[str, Any] | None) -> Params:
    """Sorted, hashable, JSON-friendly form of a parameter mapping (lists become tuples)."""

    def freeze(v: Any) -> Any:
        return tuple(freeze(i) for i in v) if isinstance(v, list | tuple) else v

    return tuple(sorted((str(k), freeze(v)) for k, v in (params or {}).items()))


# ---------------------------------------------------------------------------- parameters

_SKIP = frozenset({"self", "instance", "device", "dtype"})  # set by the runner, never by a user


@dataclass(frozen=True)
class Parameter:
    """A settable keyword of a problem or optimizer.

    Attributes:
        name: the keyword.
        default: its default, or ``inspect.Parameter.empty`` when it must be given.
        annotation: the declared type (from the annotation, else the default's type); ``Any`` when unknown.
    """

    name: str
    default: Any
    annotation: Any


def type_hints(target: Any) -> dict[str, Any]:
    """``typing.get_type_hints(target)`` (a copy), evaluated once per class: every trial builds its
    problem and optimizer through :func:`declared_parameters`, and evaluating the annotations' strings
    was a third of a short trial's overhead."""
    return dict(_type_hints(target))


@functools.lru_cache(maxsize=1024)
def _type_hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:  # an annotation that names what its module never imports: fall back to defaults
        return {}


def _fallback(default: Any) -> Any:
    if default is inspect.Parameter.empty or default is None:
        return Any
    return type(default)


def declared_parameters(cls: type) -> dict[str, Parameter]:
    """Settable keyword parameters with defaults and declared types (dataclass fields or ``__init__``).

    Read once per class (``inspect.signature`` costs ~20 us, and every trial checks its problem's and its
    optimizer's parameters and names its problem through this); a ``default_factory`` runs on every call,
    so no caller shares a mutable default.
    """
    out = {}
    for p, factory in _declared(cls):
        out[p.name] = p if factory is None else Parameter(p.name, factory(), p.annotation)
    return out


@functools.lru_cache(maxsize=1024)
def _declared(cls: type) -> tuple[tuple[Parameter, Callable[[], Any] | None], ...]:
    """``(parameter, default factory or None)`` of :func:`declared_parameters`, in declaration order."""
    if dataclasses.is_dataclass(cls):
        hints = type_hints(cls)
        out = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            factory = None if f.default_factory is dataclasses.MISSING else f.default_factory
            default = f.default if f.default is not dataclasses.MISSING else (
                factory() if factory is not None else inspect.Parameter.empty)
            out.append((Parameter(f.name, default, hints.get(f.name, _fallback(default))), factory))
        return tuple(out)
    hints = type_hints(cls.__init__)
    sig = inspect.signature(cls.__init__)
    return tuple(
        (Parameter(p.name, p.default, hints.get(p.name, _fallback(p.default))), None)
        for p in sig.parameters.values()
        if p.name not in _SKIP and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same type (``True == 1`` and ``1 == 1.0`` do not count), tuples and lists alike."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def distinguishing_params(problem: Problem) -> dict[str, Any]:
    """The parameters of a problem that its id must show: those off their default, dimension aside."""
    declared = declared_parameters(type(problem))
    out = {}
    for key, value in problem.params().items():
        if key == "dim" or (key in ("n", "d") and value == problem.space.dim):
            continue  # the id's ``_d<dim>`` already says it
        if key in declared and same_value(value, declared[key].default):
            continue
        if key in declared and isinstance(declared[key].default, int | float) and not isinstance(value, bool) \
                and isinstance(value, int | float) and value == declared[key].default:
            continue  # cond=1e6 stored as a float against a default written as an int
        out[key] = value
    return out


def check_dtype(value: Any, where: str = "dtype") -> str:
    """``value`` as one of :data:`DTYPES`, or a :class:`ConfigError` naming the allowed values.

    Args:
        value: what a user wrote (``"float32"``; ``torch.float32`` is accepted too).
        where: how the error names the setting (``--dtype``, ``rastrigin: dtype``).
    """
    name = str(value).removeprefix("torch.")
    if isinstance(value, bool | int | float) or name not in DTYPES:
        raise ConfigError(f"{where}={value!r} is not a precision optbench runs in; choose one of {', '.join(DTYPES)}")
    return name


def format_call(name: str, params: Params) -> str:
    """``adam(lr=0.01)`` style label."""
    if not params:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in params)})"


@dataclass(frozen=True)
class TrialSpec:
    """Everything that defines one trial; ``key`` is a hash of its canonical JSON."""

    problem: str
    optimizer: str
    budget: Budget
    problem_params: Params = ()
    optimizer_params: Params = ()
    seed: int = 0
    instance: int = 0
    device: str = "cpu"
    # A task kind other than the optimizer loop (a study's training run or sample, a plugin's own):
    # the name of an entry point in the ``optbench.tasks`` group, whose ``run_task(spec)`` runs the
    # trial, and that kind's parameters. Empty fields stay out of the JSON, so plain trials keep their keys.
    task: str = ""
    task_params: Params = ()
    # The precision the trial computes in (one of DTYPES); empty: the problem's own (float64, or
    # float32 for networks). Kept out of the JSON when empty, so trials without one keep their keys.
    dtype: str = ""
    # The tuning ruleset that chose this trial's hyperparameters or budget (``random:8``, ``self:4``;
    # ``random`` for the tuning trials themselves); empty: the optimizer as given. Kept out of the JSON
    # when empty, so trials without one keep their keys.
    ruleset: str = ""

    @property
    def problem_label(self) -> str:
        return format_call(self.problem, self.problem_params)

    @property
    def optimizer_label(self) -> str:
        """``adam(lr=0.01)``; a tuned optimizer is named by its ruleset instead, ``adam [random:8]``
        (its hyperparameters differ by problem; the tuning table shows them)."""
        if self.ruleset:
            return f"{self.optimizer} [{self.ruleset}]"
        return format_call(self.optimizer, self.optimizer_params)

    @property
    def lane(self) -> str:
        """Where the trial ran, as reports group it: the device, with a chosen precision beside it.

        ``cpu`` for the problem's own precision, ``cuda float32`` for a chosen one, so trials that
        differ only in precision never share a table row, a significance test or a gate cell.
        """
        return f"{self.device} {self.dtype}" if self.dtype else self.device

    def to_json(self) -> dict[str, Any]:
        # the fields as they are (tuples of tuples and scalars: nothing to copy), not ``asdict``'s deep copy,
        # which cost more than the store's write of a short trial; the JSON and so the key are the same
        data = {f.name: getattr(self, f.name) for f in _SPEC_FIELDS}
        data["budget"] = asdict(self.budget)
        if not self.task:
            del data["task"], data["task_params"]
        if not self.dtype:
            del data["dtype"]
        if not self.ruleset:
            del data["ruleset"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialSpec:
        data = dict(data)
        data["budget"] = Budget(**data["budget"])
        for old, new in (("study", "task"), ("study_params", "task_params")):  # stores written before tasks
            if old in data:
                data[new] = data.pop(old)
        for name in ("problem_params", "optimizer_params", "task_params"):
            data[name] = freeze_params(dict(data.get(name) or ()))
        return cls(**data)

    @functools.cached_property
    def canonical(self) -> str:
        """The JSON text of the spec, keys sorted and no spaces: what :attr:`key` hashes and the store keeps.
        Computed once per spec (a campaign reads the key a dozen times a trial)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @functools.cached_property
    def key(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:24]


_SPEC_FIELDS = dataclasses.fields(TrialSpec)


class TrialState(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CRASHED = "crashed"  # the process running it died (segfault, os._exit, out of memory), after retries
    SKIPPED = "skipped"

    @property
    def is_finished(self) -> bool:
        return self is not TrialState.RUNNING

    @property
    def is_failure(self) -> bool:
        return self in (TrialState.FAILED, TrialState.TIMEOUT, TrialState.CRASHED)

    @property
    def has_result(self) -> bool:
        """Whether the trial produced objective values worth aggregating."""
        return self in (TrialState.COMPLETE, TrialState.TIMEOUT)


@dataclass(frozen=True)
class TracePoint:
    """Best-so-far objective after ``evaluations`` cost units and ``seconds`` of optimizer time."""

    evaluations: float
    seconds: float
    best: float


@dataclass(frozen=True)
class TrialResult:
    """What one trial produced. Non-finite values are kept as they are."""

    spec: TrialSpec
    state: TrialState
    final_value: float | None = None  # f(recommendation), evaluated outside the timed region
    optimal_value: float | None = None
    target: float | None = None
    test_metric: float | None = None
    evaluations: float = 0.0  # cost units (see module doc)
    gradient_evaluations: float = 0.0
    points: int = 0  # points evaluated by `evaluate`
    examples: int = 0  # examples processed by `loss_and_grad`
    seconds: float = 0.0  # optimizer wall time, CUDA synchronized
    trace: tuple[TracePoint, ...] = ()
    hit_evaluations: float | None = None  # cost spent when the target was first reached (None: never)
    hit_seconds: float | None = None
    blind_search_evaluations: float | None = None  # the problem's blind-search reference, if it has one
    problem_id: str = ""
    reason: str | None = None  # SKIPPED reason, or FAILED traceback
    device_name: str = ""
    problem_source: str = ""  # distribution and version that provided the problem
    optimizer_source: str = ""  # likewise for the optimizer (for bridges: the library)
    extra: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def gap(self) -> float | None:
        """``final_value - optimal_value`` when the optimum is known."""
        if self.final_value is None or self.optimal_value is None:
            return None
        return self.final_value - self.optimal_value

    @property
    def below_optimum(self) -> bool:
        """Whether the final value is below the declared optimum by more than the problem's tolerance.

        The tolerance is the target (the gap that counts as success) plus the rounding of the
        optimum itself (1e-9 relative, as :func:`optbench.testing.check_problem` allows). Such a
        result means ``optimal_value`` is wrong: it is never a success.
        """
        gap = self.gap
        if gap is None or self.optimal_value is None:
            return False
        slack = (self.target or 0.0) + 1e-9 * max(1.0, abs(self.optimal_value))
        return gap < -slack

    @property
    def success(self) -> bool:
        gap = self.gap
        return gap is not None and self.target is not None and gap <= self.target and not self.below_optimum

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in _RESULT_FIELDS}  # as TrialSpec.to_json: no deep copy
        data["spec"] = self.spec.to_json()
        data["trace"] = [[p.evaluations, p.seconds, p.best] for p in self.trace]
        data["state"] = str(self.state)
        data["extra"] = copy.deepcopy(self.extra) if self.extra else ()  # its values may be lists or dicts
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialResult:
        data = dict(data)
        data["spec"] = TrialSpec.from_json(data["spec"])
        data["state"] = TrialState(data["state"])
        data["trace"] = tuple(TracePoint(*p) for p in data.get("trace") or ())
        data["extra"] = tuple(tuple(kv) for kv in data.get("extra") or ())
        return cls(**data)


_RESULT_FIELDS = dataclasses.fields(TrialResult)
