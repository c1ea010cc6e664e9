"""MNIST-1D (Greydanus 2020): a procedurally generated 1-D digit task, trained by an MLP or a small 1-D CNN.

Each example is a 40-sample signal made from one of ten digit templates by padding, dilation, scaling,
translation, correlated and i.i.d. noise and shear (the ``mnist1d`` package's ``make_dataset``). The data
is *generated* here from the package's templates with a seed, never downloaded, and cached as ``.npz``
arrays keyed by every generation argument, so the same instance is the same data on every machine.

The default split is 4,000 training and 10,000 test examples: one test example is 0.01 points of
accuracy, and the binomial standard error of a test accuracy near 0.9 is about 0.3 points.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optbench.api import ConfigError
from optbench.problems.nn import Classifier, check_loss, hidden_units, mlp, training_need, whole

NETS = ("mlp", "cnn")
SIGNAL_LENGTH = 40  # the package's final_seq_length
BASE_SEED = 42  # the package's default seed: instance i is generated with seed 42 + i
CACHE_ENV = "OPTBENCH_CACHE"
PACKAGE_HINT = "the package mnist1d (an optbench dependency): pip install 'mnist1d>=0.0.2'"
_LOCK = threading.Lock()  # make_dataset draws from NumPy's global generator: one generation at a time
_MEMORY: dict[str, dict[str, np.ndarray]] = {}


def cache_dir() -> Path:
    """Where generated arrays are kept: ``$OPTBENCH_CACHE/mnist1d``, else ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "optbench")
    return Path(root).expanduser() / "mnist1d"


def generation_args(*, seed: int, train: int, test: int) -> dict[str, Any]:
    """The ``mnist1d`` generation arguments (the package's defaults, our sizes and seed), without its URL.

    ``make_dataset`` makes ``num_samples // 10`` examples of each digit and splits at ``train_split``;
    ``train + test`` must be a multiple of 10 for the split to be exact.
    """
    total = train + test
    return {"num_samples": total, "train_split": train / total, "template_len": 12, "padding": [36, 60],
            "scale_coeff": 0.4, "max_translation": 48, "corr_noise_scale": 0.25, "iid_noise_scale": 2e-2,
            "shear_scale": 0.75, "shuffle_seq": False, "final_seq_length": SIGNAL_LENGTH, "seed": int(seed)}


def args_key(args: dict[str, Any]) -> str:
    """A stable name for one set of generation arguments (SHA-256 of their canonical JSON)."""
    return hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:20]


def generate(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run ``mnist1d``'s generator on ``args``: ``{"x": (n, 40) float64, "y": (n,) int64, "x_test", "y_test"}``.

    No network access: ``make_dataset`` builds the data from the package's templates (``get_dataset``,
    which may download, is never called). NumPy's and ``random``'s global states, which the package
    seeds, are restored afterwards, so library code leaves no global seed behind.
    """
    try:
        from mnist1d.data import get_templates, make_dataset
        from mnist1d.utils import ObjectView
    except ImportError as exc:
        raise ConfigError(f"mnist1d needs {PACKAGE_HINT} ({type(exc).__name__}: {exc})") from None
    with _LOCK:
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            data = make_dataset(ObjectView(dict(args)), get_templates())
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
    return {"x": np.asarray(data["x"], dtype=np.float64), "y": np.asarray(data["y"], dtype=np.int64),
            "x_test": np.asarray(data["x_test"], dtype=np.float64),
            "y_test": np.asarray(data["y_test"], dtype=np.int64)}


def load(args: dict[str, Any], *, directory: Path | None = None) -> dict[str, np.ndarray]:
    """The arrays of ``args``: from memory, from the cache folder, or generated and cached (atomically)."""
    key = args_key(args)
    if key in _MEMORY:
        return _MEMORY[key]
    folder = directory or cache_dir()
    path = folder / f"{key}.npz"
    arrays = None
    if path.exists():
        try:
            with np.load(path) as stored:
                arrays = {name: stored[name] for name in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            arrays = None  # a damaged cache file is regenerated
    if arrays is None:
        arrays = generate(args)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, path)  # two workers generating at once both write whole files
            (folder / f"{key}.json").write_text(json.dumps(args, sort_keys=True) + "\n", encoding="utf-8")
        except OSError:
            pass  # a read-only cache only costs the next process a regeneration
    _MEMORY[key] = arrays
    return arrays


def _cnn(channels: int) -> nn.Sequential:
    """Greydanus's CNN: three convolutions (kernel 5, stride 2, padding 1; 40 -> 19 -> 9 -> 4 positions)."""
    return nn.Sequential(
        nn.Unflatten(1, (1, SIGNAL_LENGTH)),
        nn.Conv1d(1, channels, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 5, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(channels * 4, 10))


class MNIST1D(Classifier):
    """MNIST-1D classification by an MLP (``net="mlp"``: 40 -> ``hidden`` x ``layers`` -> 10, ReLU) or a 1-D
    CNN (``net="cnn"``: three convolutions of ``channels`` channels, then a linear layer).

    Instance ``i`` generates its data with the package's generator and seed ``42 + i``; ``train`` and
    ``test`` examples (``train + test`` a multiple of 10). The optimum is unknown.
    """

    family = "mnist1d"
    landscape = "training"

    def __init__(self, *, net: str = "mlp", hidden: int = 128, layers: int = 3, channels: int = 25,
                 train: int = 4000, test: int = 10000, loss: str = "cross_entropy", instance: int = 0,
                 device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if net not in NETS:
            raise ConfigError(f"mnist1d: net must be one of {', '.join(NETS)}, got {net!r}")
        for name, value in (("layers", layers), ("channels", channels), ("train", train), ("test", test)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"mnist1d: {name} must be a positive integer, got {value!r}")
        if (train + test) % 10 or train < 10 or test < 10:
            raise ConfigError(f"mnist1d: train + test must be a multiple of 10 with at least 10 each, got "
                              f"train={train}, test={test}")
        self.net, self.hidden, self.layers, self.channels = net, hidden_units(self.family, hidden), layers, channels
        self.train, self.test = train, test
        self.loss_name = check_loss(self.family, loss)
        arrays = load(generation_args(seed=BASE_SEED + int(instance), train=train, test=test))
        module = mlp([SIGNAL_LENGTH, *[self.hidden] * layers, 10], nn.ReLU) if net == "mlp" else _cnn(channels)
        self._finish(module, torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"]),
                     torch.from_numpy(arrays["x_test"]), torch.from_numpy(arrays["y_test"]))

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"net": self.net, "train": self.train, "test": self.test, "loss": self.loss_name}
        if self.net == "mlp":
            out.update(hidden=self.hidden, layers=self.layers)
        else:
            out["channels"] = self.channels
        return out

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        train, test = params.get("train"), params.get("test")
        if not whole(train, test):
            return None
        examples = train + test
        if params.get("net", "mlp") == "cnn":
            channels = params.get("channels")
            if not whole(channels):
                return None
            parameters = (5 * channels + channels) + 2 * (5 * channels * channels + channels) + 40 * channels + 10
            # input, unflattened input, each convolution's and ReLU's outputs (19, 9, 4 positions), flat, logits
            activations = 2 * SIGNAL_LENGTH + 2 * channels * (19 + 9 + 4) + 4 * channels + 10
            need = training_need(parameters=parameters, activations=activations, examples=examples,
                                 features=SIGNAL_LENGTH)
        else:
            hidden, layers = params.get("hidden"), params.get("layers")
            if not whole(hidden, layers):
                return None
            if layers < 1:
                return None
            # as mlp_need of [40, hidden x layers, 10], without building a list of `layers` entries
            parameters = (SIGNAL_LENGTH + 1) * hidden + (layers - 1) * (hidden + 1) * hidden + (hidden + 1) * 10
            need = training_need(parameters=parameters, activations=SIGNAL_LENGTH + 2 * hidden * layers + 10,
                                 examples=examples, features=SIGNAL_LENGTH)
        return need + 8.0 * examples * (SIGNAL_LENGTH + 1)  # the generator's arrays, kept in the cache
