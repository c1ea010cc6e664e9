"""The small data sets that scikit-learn ships, read from its files without importing scikit-learn.

``import sklearn`` costs about 3.5 s and 80 MB on the two-core machine, paid by every process that builds
a ``digits`` or ``cancer`` problem only to read a few hundred kilobytes of CSV. These readers open the
same files that :func:`sklearn.datasets.load_digits` and :func:`sklearn.datasets.load_breast_cancer`
read, parse them the same way (so the arrays are equal element for element, checked against
scikit-learn in ``tests/test_datasets.py``), and cache them per process. Where the files are not found
(another layout of a future scikit-learn) they fall back to scikit-learn's own loaders.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
from pathlib import Path

import numpy as np


def _data_file(name: str) -> Path | None:
    """``sklearn/datasets/data/NAME`` of the installed scikit-learn, located without importing it."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "datasets" / "data" / name
        if path.is_file():
            return path
    return None


def _read_only(arrays: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    for array in arrays:
        array.flags.writeable = False  # shared by every instance of the process
    return arrays


def _scikit_learn(loader: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's own ``loader(return_X_y=True)``: where its data file is not where we look."""
    import sklearn.datasets

    return getattr(sklearn.datasets, loader)(return_X_y=True)


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images (1797, 64) float64, labels (1797,) int)``, as ``load_digits(return_X_y=True)``."""
    path = _data_file("digits.csv.gz")
    if path is None:
        return _read_only(_scikit_learn("load_digits"))
    data = np.loadtxt(path, delimiter=",")
    return _read_only((data[:, :-1], data[:, -1].astype(int, copy=False)))


@functools.cache
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """``(features (569, 30) float64, labels (569,) int)``, as ``load_breast_cancer(return_X_y=True)``."""
    path = _data_file("breast_cancer.csv")
    if path is None:
        return _read_only(_scikit_learn("load_breast_cancer"))
    with path.open(newline="", encoding="utf-8") as file:
        rows = csv.reader(file)
        header = next(rows)
        features, labels = np.empty((int(header[0]), int(header[1]))), np.empty((int(header[0]),), dtype=int)
        for i, row in enumerate(rows):
            features[i] = np.asarray(row[:-1], dtype=np.float64)
            labels[i] = np.asarray(row[-1], dtype=int)
    return _read_only((features, labels))
