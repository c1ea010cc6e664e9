"""The plain script a campaign is measured against: the same grid, the same libraries, no harness.

``python grid.py SEEDS BUDGET OUT.csv [DIM]``: sphere and Rastrigin (shifted per instance, as optbench's
are) on the box [-5, 5]^d, pycma (bounded, one batch evaluation per generation) and uniform random
search (one batch of BUDGET points), SEEDS seeds each, evaluated with torch as optbench's problems are;
one CSV row per trial (problem, optimizer, seed, best value, evaluations).
"""

from __future__ import annotations

import csv
import math
import sys
import warnings

import numpy as np
import torch


def sphere(X: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    return ((X - shift) ** 2).sum(dim=1)


def rastrigin(X: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    Z = X - shift
    return 10 * Z.shape[1] + (Z * Z - 10 * torch.cos(2 * math.pi * Z)).sum(dim=1)


def cmaes(f, shift: torch.Tensor, dim: int, budget: int, seed: int) -> tuple[float, int]:
    import cma

    rng = np.random.default_rng(seed)
    options = {"seed": int(rng.integers(1, 2**31 - 1)), "verbose": -9, "verb_log": 0, "verb_disp": 0,
               "bounds": [[-5.0] * dim, [5.0] * dim], "maxfevals": budget}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = cma.CMAEvolutionStrategy(rng.uniform(-5, 5, dim), 2.5, options)
    best, used = math.inf, 0
    while not es.stop() and used < budget:
        population = es.ask()[: budget - used]
        values = f(torch.as_tensor(np.asarray(population)), shift).numpy()
        if len(population) == es.popsize:
            es.tell(population, values.tolist())
        used += len(population)
        best = min(best, float(values.min()))
    return best, used


def random_search(f, shift: torch.Tensor, dim: int, budget: int, seed: int) -> tuple[float, int]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(budget, dim, generator=gen, dtype=torch.float64) * 10 - 5
    return float(f(X, shift).min()), budget


def main(argv: list[str]) -> int:
    seeds, budget, out = int(argv[0]), int(argv[1]), argv[2]
    dim = int(argv[3]) if len(argv) > 3 else 5
    shift = torch.as_tensor(np.random.default_rng(0).uniform(-4, 4, dim))
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["problem", "optimizer", "seed", "best", "evaluations"])
        for name, f in (("sphere", sphere), ("rastrigin", rastrigin)):
            for opt_name, opt in (("cmaes", cmaes), ("random", random_search)):
                for seed in range(seeds):
                    best, used = opt(f, shift, dim, budget, seed)
                    writer.writerow([name, opt_name, seed, best, used])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
