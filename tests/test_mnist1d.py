"""MNIST-1D: generated locally (never downloaded), identical from the same seed, cached by its arguments."""

from __future__ import annotations

import random
import socket

import numpy as np
import pytest
import torch

from optbench.problems import mnist1d


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network (any socket raises), an empty cache folder, nothing in memory."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv(mnist1d.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(mnist1d, "_MEMORY", {})
    return tmp_path


def test_the_same_seed_gives_identical_arrays_without_network(offline):
    args = mnist1d.generation_args(seed=7, train=200, test=100)
    a, b = mnist1d.generate(args), mnist1d.generate(args)
    for key in ("x", "y", "x_test", "y_test"):
        assert np.array_equal(a[key], b[key]), key
    assert a["x"].shape == (200, 40) and a["x_test"].shape == (100, 40)
    assert a["x"].dtype == np.float64 and a["y"].dtype == np.int64
    assert set(np.unique(np.concatenate([a["y"], a["y_test"]]))) == set(range(10))
    other = mnist1d.generate(mnist1d.generation_args(seed=8, train=200, test=100))
    assert not np.array_equal(a["x"], other["x"])


def test_generation_leaves_the_global_generators_as_they_were(offline):
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    mnist1d.generate(mnist1d.generation_args(seed=1, train=20, test=10))
    assert np.random.rand() == expected_np and random.random() == expected_py


def test_the_cache_is_keyed_by_the_generation_arguments(offline):
    args = mnist1d.generation_args(seed=3, train=50, test=30)
    first = mnist1d.load(args)
    path = offline / "mnist1d" / f"{mnist1d.args_key(args)}.npz"
    assert path.exists()
    mnist1d._MEMORY.clear()
    again = mnist1d.load(args)  # from the file
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert mnist1d.args_key(args) != mnist1d.args_key(mnist1d.generation_args(seed=3, train=60, test=20))
    path.write_bytes(b"damaged")
    mnist1d._MEMORY.clear()
    assert np.array_equal(mnist1d.load(args)["x"], first["x"])  # a damaged file is regenerated


def test_the_problem_builds_an_mlp_and_a_cnn_on_the_same_data(offline):
    from optbench.registry import make_problem

    mlp = make_problem("mnist1d", {"train": 200, "test": 100})
    cnn = make_problem("mnist1d", {"net": "cnn", "train": 200, "test": 100})
    linears = [m for m in mlp.module if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4  # three hidden layers
    assert any(isinstance(m, torch.nn.Conv1d) for m in cnn.module)
    assert torch.equal(mlp.test_inputs, cnn.test_inputs)
    assert mlp.id != cnn.id and "net-cnn" in cnn.id
    x = cnn.initial_point(torch.Generator().manual_seed(0))
    conv = cnn.unflatten(x)["1.weight"]  # Conv1d(1, 25, 5): fan-in 1 * 5
    assert float(conv.abs().max()) <= 1 / np.sqrt(5) and float(conv.abs().max()) > 1 / np.sqrt(6)
    assert cnn.evaluate(torch.stack([x, x])).shape == (2,)
    assert 0 <= cnn.test_metric(x) <= 1


def test_the_validation_split_holds_out_training_examples(offline):
    from optbench.registry import make_problem

    problem = make_problem("mnist1d", {"train": 200, "test": 100})
    problem.validation_split(0.25)
    assert problem.n_examples == 150 and problem.test_inputs.shape == (50, 40)


@pytest.mark.parametrize("bad", [{"net": "rnn"}, {"train": 105, "test": 100}, {"layers": 0}])
def test_bad_parameters_are_one_line_config_errors(offline, bad):
    from optbench.api import ConfigError
    from optbench.registry import make_problem

    with pytest.raises(ConfigError, match="mnist1d"):
        make_problem("mnist1d", {"train": 200, "test": 100, **bad})


def test_a_missing_package_names_it(offline, monkeypatch):
    import builtins

    from optbench.api import ConfigError

    real = builtins.__import__

    def no_mnist1d(name, *args, **kwargs):
        if name.startswith("mnist1d"):
            raise ImportError("No module named 'mnist1d'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mnist1d)
    with pytest.raises(ConfigError, match=r"pip install 'mnist1d"):
        mnist1d.generate(mnist1d.generation_args(seed=0, train=10, test=10))
