"""optbench study connectivity: barriers, weight matching, the same-function check, the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from clirun import assert_one_line_exit_2, run

from optbench.api import ConfigError
from optbench.problems.nn import DigitsMLP, mlp
from optbench.registry import make_problem
from optbench.studies.connectivity.permutation import check_same_function, permute, weight_matching
from optbench.studies.paths import barrier, linear_path
from optbench.studies.training import stream, torch_optimizer, torch_threads, train


def _trained(problem, seed: int, epochs: int = 3) -> torch.Tensor:
    optimizer = torch_optimizer("sgd", {"lr": 0.1, "momentum": 0.9})
    x0 = problem.initial_point(stream(seed, "init"))
    with torch_threads(1):  # as the study's tasks do: small networks, one thread
        return train(problem, x0, optimizer=optimizer, epochs=epochs, order=stream(seed, "order"),
                     curve_epochs=[]).x


def _deep_digits() -> DigitsMLP:
    """Digits with two hidden layers (64 -> 12 -> 10 -> 10), so alignment sweeps over several layers."""
    problem = DigitsMLP(hidden=8)
    problem._finish(mlp([64, 12, 10, 10]), problem.inputs, problem.targets, problem.test_inputs,
                    problem.test_targets)
    return problem


def test_barrier_of_a_hand_made_path() -> None:
    alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
    # the chord from 1 to 2 is 1, 1.25, 1.5, 1.75, 2: excesses 0, 0.75, 1.5, 0.25, 0
    assert barrier(alphas, [1.0, 2.0, 3.0, 2.0, 2.0]) == pytest.approx(1.5, rel=1e-15)
    assert barrier(alphas, [1.0, 0.5, 0.2, 0.9, 2.0]) == 0.0  # below the chord everywhere: only the ends count
    with pytest.raises(ValueError):
        barrier([0.0, 0.5], [1.0, 2.0])  # does not reach alpha = 1


def test_barrier_of_a_solution_with_itself_is_zero() -> None:
    problem = make_problem("digits", {"hidden": 8})
    x = _trained(problem, 0, epochs=1)
    path = linear_path(problem, x, x, points=25)
    assert len(path.loss) == 25
    # every point is x itself (lerp with a zero difference); a batched mean of n losses may only round
    n_eps = problem.n_examples * torch.finfo(problem.dtype).eps
    assert 0.0 <= path.loss_barrier <= n_eps * abs(path.loss[0])
    assert path.metric_barrier == 0.0


def test_weight_matching_recovers_a_planted_permutation() -> None:
    problem = _deep_digits()
    x = problem.initial_point(stream(3, "init"))
    gen = torch.Generator().manual_seed(0)
    planted = [torch.randperm(12, generator=gen), torch.randperm(10, generator=gen)]
    shuffled = permute(problem, x, planted)
    assert not torch.equal(shuffled, x)
    perms, sweeps = weight_matching(problem, x, shuffled, generator=torch.Generator().manual_seed(1))
    assert torch.equal(permute(problem, shuffled, perms), x)  # indexing only: exact
    assert sweeps >= 2  # the last sweep changes nothing


@pytest.mark.parametrize("deep", [False, True])
def test_the_aligned_network_computes_the_same_function(deep: bool) -> None:
    problem = _deep_digits() if deep else make_problem("digits", {"hidden": 16})
    xa, xb = _trained(problem, 0), _trained(problem, 1)
    perms, _ = weight_matching(problem, xa, xb)
    aligned = permute(problem, xb, perms)
    check = check_same_function(problem, xb, aligned)
    assert check.same_function, check
    assert check.max_rel_diff <= check.tolerance_rel
    # alignment brings B closer to A in weight space (it maximizes their inner product; norms are unchanged)
    assert torch.dot(xa, aligned) >= torch.dot(xa, xb)


def test_the_check_catches_a_network_that_is_not_a_permutation() -> None:
    problem = make_problem("digits", {"hidden": 16})
    xb = _trained(problem, 1)
    params = {k: v.clone() for k, v in problem.unflatten(xb).items()}
    params["0.weight"] = params["0.weight"].flip(0)  # rows of layer 1 permuted, layer 2's columns not
    broken = torch.cat([params[name].reshape(-1) for name in problem.shapes])
    assert not check_same_function(problem, xb, broken).same_function


# the default problem (MNIST-1D) takes most of a minute even --quick: it runs outside CI (`make test-all`);
# CI runs the same command on the small digits network
@pytest.mark.parametrize("problem", [pytest.param([], marks=pytest.mark.slow, id="default"),
                                     pytest.param(["--problem", "digits(hidden=32)"], id="digits")])
def test_cli_quick_json_report_and_redraw(tmp_path: Path, problem: list[str]) -> None:
    store = tmp_path / "s.sqlite"
    proc = run("study", "connectivity", "--quick", *problem, "--store", str(store), "--format", "json", "--report",
                str(tmp_path / "rep"), "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["study"] == "connectivity" and out["failed_tasks"] == 0
    assert {"settings", "tables", "findings", "data", "question"} <= set(out)
    data = out["data"]
    assert len(data["alphas"]) >= 25 and data["alphas"][0] == 0 and data["alphas"][-1] == 1
    assert [w["width"] for w in data["widths"]] == out["settings"]["widths"]
    for w in data["widths"]:
        assert w["pairs"] and all(q["same_function"] for q in w["pairs"])
        for q in w["pairs"]:
            assert len(q["naive_loss"]) == len(q["aligned_loss"]) == len(data["alphas"])
            assert q["naive_barrier"] >= 0 and q["aligned_barrier"] >= 0
    assert [e["k"] for e in data["spawn"]] == out["settings"]["spawn_steps"]
    assert all(len(e["paths"]) == out["settings"]["seeds"] for e in data["spawn"])
    plots = {p.name for p in (tmp_path / "rep" / "plots").iterdir()}
    assert plots == {"connectivity-paths.png", "connectivity-width.png", "connectivity-spawn.png",
                     "connectivity-grokking.png"}
    assert out["schema"] == 3
    grok = data["grokking"]  # the grokking modadd runs, compared at --quick's steps 120 and 1000
    assert [e["step"] for e in grok["entries"]] == out["settings"]["grok_steps"] == [120, 1000]
    assert len(grok["runs"]) == out["settings"]["seeds"]
    for e in grok["entries"]:
        assert len(e["pairs"]) == 3 and all(q["same_function"] for q in e["pairs"])
        assert 0 <= e["grokked"] <= e["networks"] == 3
    assert grok["entries"][0]["train_accuracy"] > grok["entries"][0]["test_accuracy"]  # memorized, not generalized
    assert any(t["title"].startswith("Barriers of the loss and the error") for t in out["tables"])
    for w in data["widths"]:  # intervals over networks for every barrier, train and test
        assert set(w["barriers"]["aligned"]) == {"train_loss", "test_loss", "train_error", "test_error"}
    redraw = run("report", "--store", str(store), "-o", str(tmp_path / "again"), cwd=tmp_path)
    assert redraw.returncode == 0, redraw.stderr
    assert (tmp_path / "again" / "report.html").is_file()
    assert {p.name for p in (tmp_path / "again" / "plots").iterdir()} == plots
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["data"] == json.loads(
        (tmp_path / "rep" / "summary.json").read_text())["data"]


@pytest.mark.parametrize("flags, words", [
    (["--widths", "16,abc"], "--widths"),
    (["--spawn-steps", "100000"], "--spawn-steps"),
    (["--seeds", "1"], "--seeds"),
    (["--problem", "sphere"], "torch model"),
    (["--grok-steps", "120,abc"], "--grok-steps"),
    (["--grok-steps", "5000"], "grokking runs' 1000 steps"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path: Path, flags: list[str], words: str) -> None:
    from optbench.cli.study import main

    store = tmp_path / "s.sqlite"
    with pytest.raises(ConfigError, match=words):
        main(["connectivity", "--quick", "--store", str(store), *flags])
    assert not store.exists()


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run("study", "connectivity", "--quick", "--store", str(tmp_path / "s.sqlite"), "--spawn-steps", "100000",
               cwd=tmp_path)
    assert_one_line_exit_2(proc)


def test_barrier_intervals_are_over_networks_not_pairs() -> None:
    """One network far from the others makes every pair with it large: the interval over networks is wider than
    one that treats the pairs as independent, and the stability verdict says "cannot tell" when its CI straddles."""
    from optbench.studies.connectivity.analysis import mean_ci, network_ci
    from optbench.studies.connectivity.findings import stable_verdict

    pairs = [{"seeds": [a, b], "v": 1.0 + (3.0 if 0 in (a, b) else 0.0) + 0.01 * (a + b)}
             for a in range(5) for b in range(a + 1, 5)]
    mean, ci = network_ci(pairs, "v")
    _, naive = mean_ci([q["v"] for q in pairs])
    assert ci[0] <= mean <= ci[1] and (ci[1] - ci[0]) > (naive[1] - naive[0])
    assert stable_verdict({"metric_barrier_mean": 0.01, "metric_barrier_ci": [0.0, 0.05]}, 0.02) == "cannot tell"
    assert stable_verdict({"metric_barrier_mean": 0.01, "metric_barrier_ci": [0.0, 0.015]}, 0.02) is True
    assert stable_verdict({"metric_barrier_mean": 0.1, "metric_barrier_ci": [0.05, 0.15]}, 0.02) is False


def test_matching_recovers_a_permutation_planted_at_every_hidden_layer_of_the_deep_mlp() -> None:
    """MNIST-1D's MLP with 3 hidden layers (tiny widths): every layer shuffled, all recovered, distance 0."""
    from optbench.studies.connectivity.permutation import align, layer_distances, mlp_layers
    from optbench.studies.measures import relative_distance

    problem = make_problem("mnist1d", {"hidden": 6, "layers": 3, "train": 40, "test": 20})
    assert len(mlp_layers(problem)) == 4  # 3 hidden layers and the output
    x = problem.initial_point(stream(5, "init"))
    gen = torch.Generator().manual_seed(2)
    planted = [torch.randperm(6, generator=gen) for _ in range(3)]
    assert all(not torch.equal(p, torch.arange(6)) for p in planted)
    shuffled = permute(problem, x, planted)
    assert relative_distance(x, shuffled) > 0
    aligned, perms, _ = align(problem, x, shuffled, generator=torch.Generator().manual_seed(3))
    assert torch.equal(aligned, x) and relative_distance(x, aligned) == 0.0
    assert all(d == 0.0 for d in layer_distances(problem, x, aligned))
    assert all(torch.equal(p[q], torch.arange(6)) for p, q in zip(planted, perms, strict=True))


def test_the_four_barriers_of_two_identical_copies_are_zero_and_aligned_distance_is_no_larger() -> None:
    from optbench.studies.connectivity.permutation import align
    from optbench.studies.measures import relative_distance

    problem = make_problem("digits", {"hidden": 8})
    xa, xb = _trained(problem, 0, epochs=1), _trained(problem, 1, epochs=1)
    same = linear_path(problem, xa, xa.clone(), points=7)
    assert all(v == 0.0 for v in same.barriers().values())  # stability of two identical copies: exactly 0
    path = linear_path(problem, xa, xb, points=7)
    assert set(path.barriers()) == {"train_loss", "test_loss", "train_error", "test_error"}
    assert all(v is not None and v >= 0 for v in path.barriers().values())
    aligned, _, _ = align(problem, xa, xb)
    assert relative_distance(xa, aligned) <= relative_distance(xa, xb)
