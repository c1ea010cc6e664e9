"""The shipped data sets read without scikit-learn equal what scikit-learn's loaders return."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from optbench.problems import datasets


@pytest.mark.parametrize(("ours", "theirs"), [(datasets.digits, "load_digits"),
                                              (datasets.breast_cancer, "load_breast_cancer")])
def test_the_arrays_equal_scikit_learns(ours, theirs):
    import sklearn.datasets

    X, y = ours()
    X_ref, y_ref = getattr(sklearn.datasets, theirs)(return_X_y=True)
    assert X.dtype == X_ref.dtype and y.dtype == y_ref.dtype
    np.testing.assert_array_equal(X, X_ref)  # the same text parsed the same way: equal, not close
    np.testing.assert_array_equal(y, y_ref)
    assert ours() is ours() and not X.flags.writeable  # one read-only copy per process


def test_building_the_problems_does_not_import_scikit_learn():
    code = ("import sys; from optbench.registry import make_problem; "
            "make_problem('digits', {}, instance=1); make_problem('cancer', {}, instance=1); "
            "print('sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_missing_file_falls_back_to_scikit_learn(monkeypatch):
    monkeypatch.setattr(datasets, "_data_file", lambda name: None)
    datasets.digits.cache_clear()
    try:
        X, y = datasets.digits()
        assert X.shape == (1797, 64) and y.shape == (1797,) and set(np.unique(y)) == set(range(10))
    finally:
        datasets.digits.cache_clear()
