"""COCO's bbob suite through its own ``cocoex`` (package ``coco-experiment``): ``bbob(fid=15, dim=10)``.

Every value comes from COCO's C code (``cocoex.BareProblem``), never from a re-implementation:
optbench numbers instances from 0 (its default), COCO from 1, so optbench's instance ``i`` is COCO's
instance ``i + 1`` (the bbob campaigns' instances 1–15 are optbench's 0–14; ``coco_id`` shows COCO's
number, and the exports write it). The optimum is COCO's ``f_opt`` and the target is
COCO's final target, a gap of ``1e-8``. ``cocoex`` evaluates on the CPU (one C call per batch,
looping inside), so a batch on a GPU is copied to the host and its values back.
"""

from __future__ import annotations

from typing import Any

import torch

from optbench.api import ConfigError, Problem, Space
from optbench.extras import require

# COCO's own function names (Hansen et al., "Real-parameter black-box optimization benchmarking 2009")
FUNCTIONS = (
    "Sphere", "Ellipsoid separable", "Rastrigin separable", "Skew Rastrigin-Bueche", "Linear slope",
    "Attractive sector", "Step-ellipsoid", "Rosenbrock original", "Rosenbrock rotated", "Ellipsoid",
    "Discus", "Bent cigar", "Sharp ridge", "Sum of different powers", "Rastrigin", "Weierstrass",
    "Schaffer F7 condition 10", "Schaffer F7 condition 1000", "Griewank-Rosenbrock F8F2", "Schwefel x*sin(x)",
    "Gallagher 101 peaks", "Gallagher 21 peaks", "Katsuura", "Lunacek bi-Rastrigin",
)
MAX_DIM = 40  # bbob's largest dimension; cocoex crashes the interpreter on some functions beyond ~50
FINAL_TARGET = 1e-8  # COCO's final target: a gap to f_opt of 1e-8 (the .info files' "Precision")


def coco_instance(instance: int) -> int:
    """COCO's instance number for optbench's ``instance``: one more (COCO counts from 1)."""
    return instance + 1


def _check(fid: Any, dim: Any, instance: Any) -> None:
    """Refuse what cocoex would answer by exiting the process (unknown function) or crashing (huge dim)."""
    if not isinstance(fid, int) or isinstance(fid, bool) or not 1 <= fid <= len(FUNCTIONS):
        raise ConfigError(f"bbob: fid must be an integer from 1 to {len(FUNCTIONS)}, got {fid!r}")
    if not isinstance(dim, int) or isinstance(dim, bool) or not 2 <= dim <= MAX_DIM:
        raise ConfigError(f"bbob: dim must be an integer from 2 to {MAX_DIM} (COCO's bbob uses 2, 3, 5, 10, 20, 40), "
                          f"got {dim!r}")
    if not isinstance(instance, int) or isinstance(instance, bool) or not 0 <= instance < 2**31 - 1:
        raise ConfigError(f"bbob: the instance must be an integer >= 0, got {instance!r}")


class BBOB(Problem):
    """One function of COCO's noiseless bbob suite: ``fid`` 1–24 in ``dim`` dimensions on ``[-5, 5]^dim``.

    f1–f14 (separable, moderately and ill-conditioned) count as ``smooth``, the multimodal f15–f24
    as ``rugged``.
    """

    family = "bbob"
    target = FINAL_TARGET

    def __init__(self, *, fid: int = 1, dim: int = 10, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        _check(fid, dim, self.instance)
        cocoex = require("cocoex", needed_by="bbob")
        self.fid, self.dim = fid, dim
        self.coco_instance = coco_instance(self.instance)
        self.landscape = "smooth" if fid <= 14 else "rugged"
        self.space = Space.box(dim, -5.0, 5.0)
        self._f = cocoex.BareProblem("bbob", fid, dim, self.coco_instance)
        self.optimal_value = float(self._f.best_value())
        self.coco_id = str(self._f.id)  # e.g. bbob_f015_i01_d10

    @property
    def name(self) -> str:
        """COCO's name of the function, e.g. ``Rastrigin``."""
        return FUNCTIONS[self.fid - 1]

    def params(self) -> dict[str, Any]:
        return {"fid": self.fid, "dim": self.dim}

    def best_parameter(self) -> torch.Tensor:
        """COCO's ``x_opt`` of this instance, shape ``(dim,)``, on the problem's device."""
        import numpy as np

        return torch.as_tensor(np.asarray(self._f.best_parameter(), dtype=np.float64)).to(self.device, self.dtype)

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        """COCO's values of ``X`` of shape ``(n, dim)``; returns shape ``(n,)``."""
        import numpy as np

        x = np.ascontiguousarray(X.detach().cpu().numpy(), dtype=np.float64)
        if not x.flags.writeable:  # cocoex takes a writable buffer; EvoTorch hands read-only views
            x = x.copy()
        values = np.asarray(self._f(x), dtype=np.float64).reshape(X.shape[0])
        return torch.from_numpy(values).to(device=self.device, dtype=self.dtype)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_f"]  # a C object: rebuilt from (fid, dim, instance) on the other side
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._f = require("cocoex", needed_by="bbob").BareProblem("bbob", self.fid, self.dim, self.coco_instance)
