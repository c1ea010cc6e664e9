"""Styblinski–Tang as an optbench plugin, written with the `problem` helper."""

import torch

from optbench.plugins import problem

OPTIMUM_COORDINATE = -2.903534027771178


@problem("styblinski", dim=4, bounds=(-5.0, 5.0), optimal_value=lambda dim: -39.16616570377142 * dim,
         target=1e-4, differentiable=True, landscape="rugged", register=False)
def StyblinskiTang(X: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the entry point names a class
    """f(x) = sum(x^4 - 16 x^2 + 5 x) / 2; minimum -39.166... per coordinate at x_i = -2.9035."""
    return 0.5 * (X**4 - 16 * X**2 + 5 * X).sum(dim=1)
