"""The crossover study's methods by name, their families and settings: plain data, without torch, so that the
command line (``optbench study --help``) lists them without importing the solvers (:mod:`.methods`)."""

from __future__ import annotations

CLOSED_FORMS = ("cholesky", "qr", "svd")
ITERATIVE = ("cg", "lsqr", "gd", "gd_est", "nesterov", "nesterov_est", "sgd", "adam")
METHODS = CLOSED_FORMS + ITERATIVE
SPARSE_METHODS = ("cholesky", "cg", "lsqr", "gd", "gd_est", "nesterov", "nesterov_est")
FAMILY = {"cholesky": "closed form", "qr": "closed form", "svd": "closed form", "cg": "Krylov", "lsqr": "Krylov",
          "gd": "gradient", "gd_est": "gradient", "nesterov": "gradient", "nesterov_est": "gradient",
          "sgd": "stochastic", "adam": "stochastic"}
# methods whose step (or momentum, or step grid) comes from the known spectrum L, mu of the system
ORACLE = ("gd", "nesterov", "sgd")
ESTIMATED = {"gd": "gd_est", "nesterov": "nesterov_est"}  # the same method with L estimated, its cost counted
NOISE = 0.1
BATCH = 64  # SGD / Adam minibatch size
POWER_ITERATIONS = 20  # of the estimated-step methods (each: one product with X and one with X^T)
