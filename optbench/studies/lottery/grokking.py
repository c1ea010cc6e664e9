"""Is a rise of test accuracy grokking (plateau, then jump) or a gradual one? Read from one run's curves.

Power et al. 2022 call *grokking* the network reaching perfect training accuracy early and generalizing
much later, after a long plateau on which test accuracy stays near chance, with a sudden rise at the end.
On one run's recorded curves (training and test accuracy at the same steps) three steps measure it:

- ``m``, the **memorize step**: training accuracy first reaches the threshold (0.9);
- ``g``, the **grok step**: test accuracy first reaches the threshold;
- ``w``, the **rise width**: ``g`` minus the last recorded step before ``g`` at which test accuracy was still
  below ``LOW`` (0.1), the time its climb from below 0.1 to 0.9 took.

The verdict is taken on a logarithmic step axis, the one Power et al. 2022 (and Liu et al. 2022's Omnigrok)
plot grokking on: the growth of the generalizing features is exponential in time, so a delay and a climb
compare as ratios of steps, not differences. With ``r = g - w`` (the last step still below ``LOW``) it is
**plateau-then-jump** when ``g >= DELAY * m`` (generalization an order of magnitude after memorization) and
``log(g / r) <= log(r / m) / SHARP`` (on that axis the climb from below 0.1 to 0.9 is at most half as wide as
the plateau between memorizing and the climb's start); **gradual** when the run generalizes otherwise (test
accuracy climbs through the whole interval, or right after memorizing); **did not grok** when test accuracy
never reaches the threshold. On a linear axis the same runs are described by ``w`` against ``g - m``, which the
study prints next to the verdict. Steps are those recorded, so ``w`` is known to the recording interval; a run
that generalizes before it memorizes is gradual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

LOW = 0.1  # test accuracy below this has not started to rise (chance is 1/p: 0.021 at p = 47)
DELAY = 10.0  # plateau-then-jump: g >= DELAY * m
SHARP = 2.0  # plateau-then-jump: log(g / r) <= log(r / m) / SHARP, r = g - w
VERDICTS = ("plateau-then-jump", "gradual", "did not grok")

# The grokking setting that the lottery study gives ``--problem modadd`` where it is not given
# (docs/explanation/studies/lottery.md says how it was chosen):
# modular addition mod 47 from 30 % of the pairs,
# Gromov 2023's network (one hidden layer of 128 units with a square activation, squared-error loss) started
# at 3x PyTorch's initialization (Liu et al. 2022, Omnigrok), AdamW with weight decay 1 on minibatches of 166
# (4 steps an epoch, so two copies on different data orders differ). Memorized by step ~60, test accuracy
# near chance until step ~400, then 0.9 by step ~800.
GROK_PROBLEM: dict[str, Any] = {"p": 47, "hidden": 128, "train_fraction": 0.3, "activation": "square", "loss": "mse",
                                "init_scale": 3.0}
GROK_OPTIMIZER = "torch:AdamW(lr=0.01, weight_decay=1.0, batch_size=166)"
GROK_EPOCHS = 500  # 2,000 steps
GROK_REWIND = 120  # the lottery's rewind step: after memorization, before the climb


def grokking_defaults(problem: str, optimizer: str, default_optimizer: str) -> tuple[str, str, bool]:
    """``(problem, optimizer, is_modadd)``: ``modadd`` gets :data:`GROK_PROBLEM`'s parameters where they were not
    given, and :data:`GROK_OPTIMIZER` where the optimizer is the study's default."""
    from optbench.api import format_call, freeze_params
    from optbench.params import parse_call

    name, params = parse_call(problem)
    modadd = name == "modadd"
    if modadd:
        params = {**GROK_PROBLEM, **params}
        optimizer = GROK_OPTIMIZER if optimizer == default_optimizer else optimizer
    return format_call(name, freeze_params(params)), optimizer, modadd


def _first(steps: Sequence[int], values: Sequence[float] | None, threshold: float) -> int | None:
    if not values:
        return None
    return next((s for s, v in zip(steps, values, strict=True) if v >= threshold), None)


def classify(steps: Sequence[int], train_accuracy: Sequence[float] | None, test_accuracy: Sequence[float], *,
             threshold: float = 0.9, low: float = LOW) -> dict[str, Any]:
    """``{"m", "g", "w", "verdict"}`` of one run (see the module's text); ``m``, ``g``, ``w`` None where undefined.

    Args:
        steps: the recorded steps, increasing.
        train_accuracy: training accuracy at those steps (None: not a classifier, ``m`` undefined).
        test_accuracy: test accuracy at those steps.
        threshold: the accuracy that counts as memorized (train) and generalized (test).
        low: test accuracy below this has not started to rise.
    """
    m = _first(steps, train_accuracy, threshold)
    g = _first(steps, test_accuracy, threshold)
    if g is None:
        return {"m": m, "g": None, "w": None, "verdict": "did not grok"}
    below = [s for s, v in zip(steps, test_accuracy, strict=True) if s < g and v < low]
    r = below[-1] if below else steps[0]
    w = g - r
    jump = (m is not None and 0 < m < r and g >= DELAY * m
            and math.log(g / r) <= math.log(r / m) / SHARP)
    return {"m": m, "g": g, "w": w, "verdict": "plateau-then-jump" if jump else "gradual"}


def count(verdicts: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many runs got each verdict."""
    return {v: sum(r["verdict"] == v for r in verdicts) for v in VERDICTS}
