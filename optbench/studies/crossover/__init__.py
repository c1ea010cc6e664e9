"""``optbench study crossover``: when is a closed form cheaper than descent for least squares?

Each task times one method on one system ``(n, d, cond)`` to every target accuracy ``eps``
(relative suboptimality) on one device; the systems come from a seeded SVD construction with a
prescribed condition number (:mod:`optbench.studies.crossover.methods`). The analysis names the fastest
method per ``(n, d, cond, eps)`` and its margin, fits the operation-count models
``t = a n d^2 + b d^3`` (Cholesky), ``c n d kappa ln(1/eps)`` (GD) and ``c n d min(d, sqrt(kappa) ln(1/eps))``
(CG) to the measured times, and draws the measured winners next to the predicted crossover.
"""
