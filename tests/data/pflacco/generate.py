"""Make the pflacco reference values that tests/test_study_landscape.py compares against.

Run ONCE in a separate virtual environment (pflacco pins old NumPy/pandas), from the repository root:

    python3 -m venv /tmp/pflacco-venv && /tmp/pflacco-venv/bin/pip install pflacco
    /tmp/pflacco-venv/bin/python tests/data/pflacco/generate.py

It writes samples.npz (the fixed samples X and their values y, per function) and reference.json
(pflacco's dispersion, information content and distribution features of each, with provenance).
Not imported by the test suite: optbench's environment does not have pflacco.
"""

import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from pflacco.classical_ela_features import (
    calculate_dispersion,
    calculate_ela_distribution,
    calculate_information_content,
)

HERE = Path(__file__).parent


def sphere(X):
    return (X * X).sum(axis=1)


def rastrigin(X):
    return 10 * X.shape[1] + (X * X - 10 * np.cos(2 * np.pi * X)).sum(axis=1)


def rosenbrock(X):
    return (100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2).sum(axis=1)


def ackley(X):
    d = X.shape[1]
    return (-20 * np.exp(-0.2 * np.sqrt((X * X).sum(axis=1) / d)) - np.exp(np.cos(2 * np.pi * X).sum(axis=1) / d)
            + 20 + np.e)


FUNCTIONS = {"sphere": (sphere, 5), "rastrigin": (rastrigin, 5), "rosenbrock": (rosenbrock, 4), "ackley": (ackley, 3)}


def main():
    rng = np.random.default_rng(20261126)
    samples, reference = {}, {}
    for name, (f, d) in FUNCTIONS.items():
        X = rng.uniform(-5, 5, size=(400, d))
        y = f(X)
        samples[f"{name}_X"], samples[f"{name}_y"] = X, y
        values = {}
        values.update(calculate_dispersion(X, y))
        values.update(calculate_information_content(X, y, ic_sorting="nn", ic_nn_start=0))
        values.update(calculate_ela_distribution(X, y))
        reference[name] = {k: (None if v is None else float(v)) for k, v in values.items() if "runtime" not in k}
    np.savez_compressed(HERE / "samples.npz", **samples)
    provenance = {
        "pflacco": version("pflacco"), "numpy": version("numpy"), "pandas": version("pandas"),
        "scipy": version("scipy"), "scikit-learn": version("scikit-learn"), "python": platform.python_version(),
        "command": "/tmp/pflacco-venv/bin/python tests/data/pflacco/generate.py",
        "calls": "calculate_dispersion(X, y); calculate_information_content(X, y, ic_sorting='nn', ic_nn_start=0); "
                 "calculate_ela_distribution(X, y)  (all other arguments at their defaults)",
        "samples": "samples.npz: <name>_X (400, d) uniform in [-5, 5]^d from numpy default_rng(20261126), <name>_y",
    }
    (HERE / "reference.json").write_text(json.dumps({"provenance": provenance, "features": reference}, indent=2,
                                                     sort_keys=True) + "\n")
    print(json.dumps(reference, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
