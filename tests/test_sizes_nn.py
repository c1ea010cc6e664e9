"""The network problems state their memory need from their parameters (issue 24): the estimate bounds
what torch really holds at small sizes, and a size that cannot fit is one line before any allocation."""

from __future__ import annotations

import pytest
import torch
from clirun import assert_one_line_exit_2, run

from optbench.registry import make_problem, problem_class

SMALL = [
    ("digits", {"hidden": 16}),
    ("digits", {"hidden": 200}),
    ("modadd", {"p": 11, "hidden": 40}),
    ("parity_mlp", {"n": 12, "k": 3, "examples": 256, "hidden": 24}),
    ("teacher", {"d": 6, "hidden": 10, "examples": 128}),
    ("mnist1d", {"train": 200, "test": 200, "hidden": 32, "layers": 2}),
    ("mnist1d", {"train": 200, "test": 200, "net": "cnn", "channels": 8}),
]


def _held_bytes(problem) -> int:
    """Bytes of every tensor a training step at one point holds, measured on the real objects: the module's
    parameters, the data, the point, the tensors autograd saves for the backward pass of the full-batch
    loss, the gradient, Adam's state after one step, and the held-out outputs."""
    held = sum(p.numel() * p.element_size() for p in problem.module.parameters())
    for name in ("inputs", "targets", "test_inputs", "test_targets", "teacher"):
        tensor = getattr(problem, name, None)
        held += 0 if tensor is None else tensor.numel() * tensor.element_size()
    x = problem.initial_point(torch.Generator().manual_seed(0)).requires_grad_(True)
    saved = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = problem.loss(x)
    loss.backward()
    adam = torch.optim.Adam([x])
    adam.step()
    state = sum(t.numel() * t.element_size() for s in adam.state.values() for t in s.values()
                if isinstance(t, torch.Tensor))
    outputs = problem.test_outputs(x.detach())
    return held + 2 * x.numel() * x.element_size() + sum(saved) + state + outputs.numel() * outputs.element_size()


@pytest.mark.parametrize(("name", "params"), SMALL, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SMALL)])
@pytest.mark.parametrize("dtype", [None, torch.float64])
def test_the_stated_need_bounds_what_torch_holds(name, params, dtype, tmp_path, monkeypatch):
    monkeypatch.setenv("OPTBENCH_CACHE", str(tmp_path))  # MNIST-1D's generated arrays stay in the test's folder
    cls = problem_class(name)
    need = cls.memory_need({**_defaults(cls), **params})
    held = _held_bytes(make_problem(name, params, device="cpu", dtype=dtype))
    assert need is not None and held <= need, (held, need)


def _defaults(cls) -> dict:
    import inspect

    from optbench.api import declared_parameters

    return {k: p.default for k, p in declared_parameters(cls).items() if p.default is not inspect.Parameter.empty}


def test_the_need_grows_with_every_size():
    digits = problem_class("digits")
    assert digits.memory_need({"hidden": 10**7}) > 90 * digits.memory_need({"hidden": 10**5})  # linear in hidden
    mnist = problem_class("mnist1d")
    base = {"net": "mlp", "hidden": 128, "layers": 3, "channels": 25, "train": 4000, "test": 10000}
    for key, big in (("hidden", 10**6), ("layers", 10**6), ("train", 10**9)):
        assert mnist.memory_need({**base, key: big}) > 1e12, key
    assert mnist.memory_need({**base, "net": "cnn", "channels": 10**5}) > 1e12
    assert problem_class("modadd").memory_need({"p": 10**5, "hidden": 64}) > 1e12
    assert problem_class("parity_mlp").memory_need({"n": 20, "examples": 10**10, "hidden": 32}) > 1e12
    assert problem_class("teacher").memory_need({"d": 8, "hidden": 10**8, "examples": 512}) > 1e12


def test_a_network_too_large_for_memory_is_one_line_before_any_allocation(tmp_path):
    store = tmp_path / "never.sqlite"
    for problem in ("digits(hidden=10000000)", "mnist1d(hidden=1000000)", "modadd(p=100000)",
                    "teacher(hidden=100000000)"):
        done = run("compare", "--problems", problem, "--optimizers", "adam", "--seeds", "1", "--budget", "10",
                   "--store", str(store), timeout=120)
        assert_one_line_exit_2(done, "of memory and cpu has")
        assert problem.split("(")[0] in done.stderr
    assert not store.exists()
