"""The study contract: options, tasks as trials, an analysis stored as a JSON payload, and figures.

A study is a class with a name, its own command-line flags, a ``tasks`` method that returns the
trial specs to run (each with ``spec.task`` set to the study's name, so the runner hands it to the
study's ``run_task``, registered in the entry point group ``optbench.tasks``), and an ``analyze``
method that turns the stored results into a :data:`Payload`: tables (raw numbers, the
renderers format them), findings (one sentence each) and ``data`` (every series the figures draw).
``figures`` draws from the payload alone, so ``optbench report`` redraws a study without rerunning.
"""

from __future__ import annotations

import argparse
import base64
import traceback
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.params import parse_call, split_top_level

if TYPE_CHECKING:
    import torch

    from optbench.report.document import Figure  # a study's figures are the report's (drawn only on demand)

Payload = dict[str, Any]  # JSON-ready: {"study", "settings", "tables", "findings", "data"}


@dataclass(frozen=True)
class StudyOptions:
    """The flags every study shares (``optbench study NAME --help`` lists them)."""

    problem: str  # "digits(hidden=32)" syntax
    optimizer: str  # "sgd(lr=0.1, momentum=0.9)"
    seeds: int
    device: str = "cpu"
    quick: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # the study's own flags, by dest name

    def get(self, name: str, default: Any = None) -> Any:
        """A study-specific flag's value (``default`` when it was not given)."""
        value = self.extra.get(name)
        return default if value is None else value


@dataclass(frozen=True)
class Table:
    """A table of raw values (numbers, strings, ``None``); renderers format them."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    notes: Sequence[str] = ()

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns), "rows": [list(r) for r in self.rows],
                "notes": list(self.notes)}


class Study(ABC):
    """A study: a grid of tasks plus their analysis.

    Subclasses set the class attributes and implement :meth:`tasks`, :meth:`execute`,
    :meth:`analyze` and :meth:`figures`; the runner calls :meth:`run_task`, which wraps :meth:`execute`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for the list of `optbench study --help`
    question: ClassVar[str]  # the user's question the study answers
    default_problem: ClassVar[str]
    default_optimizer: ClassVar[str] = "sgd(lr=0.1, momentum=0.9)"
    default_seeds: ClassVar[int] = 5
    quick_seeds: ClassVar[int] = 3
    needs_network: ClassVar[bool] = True  # the problem must expose a torch model (NetworkProblem)
    # torch threads while a task runs (None: leave as set). Small networks lose to threading: their
    # kernels are microseconds long, and with another process on the core OpenMP's spin-waiting made
    # one digits epoch 26x slower with 2 threads than with 1 here. Studies of training default to 1.
    task_threads: ClassVar[int | None] = None

    def __init__(self, options: StudyOptions) -> None:
        self.options = options

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add the study's own flags (default ``None``; ``options.get`` supplies the real default)."""
        del parser  # a study without flags of its own

    @abstractmethod
    def tasks(self) -> list[TrialSpec]:
        """Every task of the study as a trial spec with ``task=self.name``; raises ConfigError early."""

    @classmethod
    def run_task(cls, spec: TrialSpec) -> TrialResult:
        """The runner's entry (group ``optbench.tasks``): :meth:`execute` the task with the study's torch
        threads (:attr:`task_threads`; one for studies of training); an exception is a FAILED result."""
        threads = cls.task_threads if cls.task_threads is not None else (1 if cls.needs_network else None)
        try:
            from optbench.studies.training import torch_threads

            with torch_threads(threads):
                return cls.execute(spec)
        except Exception:
            return failed_result(spec)

    @classmethod
    @abstractmethod
    def execute(cls, spec: TrialSpec) -> TrialResult:
        """Run one task (in a worker process); return its result with the data in ``extra``."""

    @abstractmethod
    def analyze(self, results: Sequence[TrialResult]) -> Payload:
        """The study's answer from its tasks' stored results (failed tasks are left out and counted)."""

    @classmethod
    def figures(cls, payload: Payload) -> list[Figure]:
        """Plots drawn from a stored payload alone."""
        return []

    # ------------------------------------------------------------------ helpers for subclasses
    def settings(self, **more: Any) -> dict[str, Any]:
        """The options of this run, for the payload's ``settings``."""
        o = self.options
        return {"problem": o.problem, "optimizer": o.optimizer, "seeds": o.seeds, "device": o.device,
                "quick": o.quick, **more}

    def spec(self, *, problem: str | None = None, seed: int = 0, instance: int = 0, budget: float = 1.0,
             **params: Any) -> TrialSpec:
        """A task spec of this study: the problem and optimizer of the options, ``params`` as task params."""
        p_name, p_params = parse_call(problem or self.options.problem)
        o_name, o_params = parse_call(self.options.optimizer)
        return TrialSpec(problem=p_name, problem_params=freeze_params(p_params), optimizer=o_name,
                         optimizer_params=freeze_params(o_params), budget=Budget(evaluations=budget), seed=seed,
                         instance=instance, device=self.options.device, task=self.name,
                         task_params=freeze_params(params))


def payload(study: str, *, settings: Mapping[str, Any], tables: Sequence[Table], findings: Sequence[str] = (),
            data: Mapping[str, Any] | None = None, failed: int = 0, schema: int = 1) -> Payload:
    """Assemble a study's payload (the JSON schema documented in the README); ``schema`` is the study's own
    version of its ``data`` and tables, raised when their shape changes (figures read every version stored)."""
    return {"study": study, "schema": schema, "settings": dict(settings), "tables": [t.to_json() for t in tables],
            "findings": list(findings), "data": dict(data or {}), "failed_tasks": failed}


def completed(results: Sequence[TrialResult]) -> tuple[list[TrialResult], int]:
    """The results that completed, and how many did not."""
    done = [r for r in results if r.state is TrialState.COMPLETE]
    return done, len(results) - len(done)


def task_data(result: TrialResult) -> dict[str, Any]:
    """The ``data`` dictionary a task stored in its result."""
    return dict(result.extra).get("study", {})


def task_result(spec: TrialSpec, *, seconds: float, data: Mapping[str, Any], final_value: float | None = None,
                test_metric: float | None = None, evaluations: float = 0.0, gradient_evaluations: float = 0.0,
                points: int = 0, examples: int = 0, problem_id: str = "", device_name: str = "") -> TrialResult:
    """A COMPLETE result of a task, its data in ``extra['study']``."""
    return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=final_value, test_metric=test_metric,
                       evaluations=evaluations, gradient_evaluations=gradient_evaluations, points=points,
                       examples=examples, seconds=seconds, problem_id=problem_id, device_name=device_name,
                       problem_source="optbench", optimizer_source="optbench", extra=(("study", dict(data)),))


def failed_result(spec: TrialSpec) -> TrialResult:
    """A FAILED result carrying the current exception's traceback (call inside ``except``)."""
    return replace(TrialResult(spec=spec, state=TrialState.FAILED), reason=traceback.format_exc())


# ---------------------------------------------------------------------- tensors in JSON


def encode_tensor(x: torch.Tensor) -> dict[str, Any]:
    """A tensor as JSON: dtype, shape and the little-endian bytes in base64 (exact round trip)."""
    import numpy as np

    array = x.detach().cpu().contiguous().numpy()
    data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    assert isinstance(np.dtype(array.dtype).name, str)
    return {"dtype": array.dtype.name, "shape": list(array.shape), "b64": base64.b64encode(data).decode("ascii")}


def decode_tensor(obj: Mapping[str, Any]) -> torch.Tensor:
    """The tensor of :func:`encode_tensor` (on the CPU)."""
    import numpy as np
    import torch

    raw = base64.b64decode(obj["b64"])
    array = np.frombuffer(raw, dtype=np.dtype(obj["dtype"]).newbyteorder("<")).reshape(obj["shape"])
    return torch.from_numpy(array.astype(np.dtype(obj["dtype"]), copy=True))


def positive_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Validate an integer study flag (``ConfigError`` naming the flag)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum else f">= {minimum}"
        raise ConfigError(f"--{name.replace('_', '-')} must be an integer {bound}, got {value!r}")
    return value


def int_list(text: str, flag: str, *, minimum: int) -> list[int]:
    """``"0,10,50"`` -> ``[0, 10, 50]`` (sorted, unique); ConfigError naming the flag otherwise."""
    try:
        values = sorted({int(v) for v in split_top_level(text)})
    except ValueError:
        values = []
    if not values or values[0] < minimum:
        raise ConfigError(f"--{flag} takes integers >= {minimum} separated by commas, e.g. "
                          f"{'16,32,64' if minimum else '0,10,50'}; got {text!r}")
    return values
