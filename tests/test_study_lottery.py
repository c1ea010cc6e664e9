"""optbench study lottery: mask sparsity, pruned weights staying zero, random-mask counts, the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from clirun import assert_one_line_exit_2, run

from optbench.api import ConfigError
from optbench.registry import make_problem
from optbench.studies.lottery.pruning import (
    dense_mask,
    layer_counts,
    linear_weights,
    magnitude_prune,
    random_mask,
    sparsity,
)
from optbench.studies.training import measure, stream, torch_optimizer, torch_threads, train


@pytest.fixture(scope="module")
def problem():
    return make_problem("digits", {"hidden": 24})


def _is_weight(problem) -> torch.Tensor:
    """(d,) bool: True at the entries of Linear weights (what pruning may remove)."""
    flags = torch.zeros(sum(problem.sizes), dtype=torch.bool)
    for s in linear_weights(problem).values():
        flags[s] = True
    return flags


def _biases_kept(problem, mask: torch.Tensor) -> bool:
    return bool((mask[~_is_weight(problem)] == 1).all())


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_masks_have_the_asked_sparsity(problem, scope: str) -> None:
    rate = 0.2
    x = problem.initial_point(stream(0, "init"))
    mask = dense_mask(problem)
    kept = {name: n for name, (n, _) in layer_counts(problem, mask).items()}
    for _ in range(6):
        before = mask.clone()
        mask = magnitude_prune(problem, x * mask, mask, rate=rate, scope=scope)
        counts = layer_counts(problem, mask)
        if scope == "layer":  # rate of each layer's remaining weights, rounded as torch.nn.utils.prune rounds
            kept = {name: n - round(rate * n) for name, n in kept.items()}
            assert {name: k for name, (k, _) in counts.items()} == kept
        else:
            total = sum(kept.values())
            kept = {"all": total - round(rate * total)}
            assert sum(k for k, _ in counts.values()) == kept["all"]
        assert bool((mask <= before).all())  # pruned weights stay pruned
        assert _biases_kept(problem, mask)
        newly = (before == 1) & (mask == 0)
        if scope == "global":  # one threshold: every newly pruned weight is no larger than every survivor
            survivors = (mask == 1) & _is_weight(problem)
            assert x[newly].abs().max() <= x[survivors].abs().min()
    total = sum(n for _, n in layer_counts(problem, mask).values())
    assert sparsity(problem, mask) == pytest.approx(1 - sum(k for k, _ in layer_counts(problem, mask).values()) / total)


def test_random_mask_has_the_same_per_layer_counts(problem) -> None:
    x = problem.initial_point(stream(0, "init"))
    mask = magnitude_prune(problem, x, dense_mask(problem), rate=0.7, scope="global")
    other = random_mask(problem, mask, torch.Generator().manual_seed(5))
    assert layer_counts(problem, other) == layer_counts(problem, mask)
    assert not torch.equal(other, mask)
    assert _biases_kept(problem, other)


def test_pruned_weights_stay_zero_through_training(problem) -> None:
    x0 = problem.initial_point(stream(1, "init"))
    mask = magnitude_prune(problem, x0, dense_mask(problem), rate=0.5, scope="layer")
    optimizer = torch_optimizer("adam", {"lr": 0.01})  # Adam moves every weight with a gradient: a strict test
    with torch_threads(1):
        run = train(problem, x0, optimizer=optimizer, epochs=2, order=stream(1, "order"), mask=mask,
                    snapshot_steps=range(0, 100), curve_epochs=[])
    off = mask == 0
    assert len(run.snapshots) > 10
    assert all(bool((x[off] == 0).all()) for x in run.snapshots.values())
    assert bool((run.x[~off] != x0[~off]).any())  # the kept weights did train
    assert measure(problem, run.snapshots, mask)["pruned_max_abs"] == 0.0


# the default problem (MNIST-1D) takes most of a minute even --quick: it runs outside CI (`make test-all`);
# CI runs the same command on the small digits network
@pytest.mark.parametrize("problem", [pytest.param([], marks=pytest.mark.slow, id="default"),
                                     pytest.param(["--problem", "digits(hidden=32)"], id="digits")])
def test_cli_quick_json_report_and_redraw(tmp_path: Path, problem: list[str]) -> None:
    store = tmp_path / "s.sqlite"
    proc = run("study", "lottery", "--quick", *problem, "--store", str(store), "--format", "json", "--report",
                str(tmp_path / "rep"), "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["study"] == "lottery" and out["failed_tasks"] == 0
    assert {"settings", "tables", "findings", "data", "question"} <= set(out)
    data, settings = out["data"], out["settings"]
    assert data["seeds"] == list(range(settings["seeds"]))
    levels = data["levels"]
    assert levels and levels[-1]["sparsity"] >= settings["target_sparsity"] > levels[-2]["sparsity"]
    rate = settings["prune_rate"]
    assert settings["scope"] == "global"
    kept = sum(t for _, t in levels[0]["counts"].values())  # the dense count, then rate of the rest each round
    for level in levels:
        counts = level["counts"]
        kept -= round(rate * kept)
        assert sum(k for k, _ in counts.values()) == kept
        total = sum(t for _, t in counts.values())
        assert level["sparsity"] == pytest.approx(1 - kept / total)
        assert level["random_counts_equal"]
        for kind in ("ticket", "reinit", "random"):
            assert level[kind]["pruned_max_abs"] == 0.0
            assert len(level[kind]["final"]) == settings["seeds"]
    assert {"mean", "sd", "final", "steps_to_dense"} <= set(data["dense"])
    plots = {p.name for p in (tmp_path / "rep" / "plots").iterdir()}
    assert plots == {"lottery-sparsity.png", "lottery-curves.png", "lottery-stability.png"}
    assert out["schema"] == 2 and data["dense"]["stability"]["n"] == settings["seeds"]
    for level in levels:  # the ticket's stability at its rewind step, measured in the same chains
        assert level["stability"]["test_error"]["mean"] >= 0 and level["stability"]["stable"] in (True, False,
                                                                                                   "cannot tell")
    redraw = run("report", "--store", str(store), "-o", str(tmp_path / "again"), cwd=tmp_path)
    assert redraw.returncode == 0, redraw.stderr
    assert {p.name for p in (tmp_path / "again" / "plots").iterdir()} == plots


@pytest.mark.parametrize("flags, words", [
    (["--prune-rate", "1.5"], "--prune-rate"),
    (["--prune-rate", "0.001", "--target-sparsity", "0.99"], "--target-sparsity"),
    (["--rewind-step", "100000"], "--rewind-step"),
    (["--scope", "row"], "--scope"),
    (["--points", "2"], "--points"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path: Path, flags: list[str], words: str) -> None:
    from optbench.cli.study import main

    store = tmp_path / "s.sqlite"
    with pytest.raises(ConfigError, match=words):
        main(["lottery", "--quick", "--store", str(store), *flags])
    assert not store.exists()


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run("study", "lottery", "--quick", "--store", str(tmp_path / "s.sqlite"), "--prune-rate", "1.5",
               cwd=tmp_path)
    assert_one_line_exit_2(proc)


@pytest.mark.slow
def test_cli_modadd_reports_grokking(tmp_path: Path) -> None:
    proc = run("study", "lottery", "--quick", "--problem", "modadd", "--seeds", "2", "--store",
                str(tmp_path / "s.sqlite"), "--format", "json", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["settings"]["problem"].startswith("modadd(") and "AdamW" in out["settings"]["optimizer"]
    assert out["data"]["grokking"] and any(t["title"].startswith("Grokking") for t in out["tables"])
    assert None not in out["data"]["dense"]["memorize_step"]  # modadd memorizes its training set early
