"""Classic continuous test functions with a seeded shift per instance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from optbench.api import Capability, ConfigError, Problem, Space, Unsupported
from optbench.kernels import compiled, fused
from optbench.seeding import instance_generator


class FusedKernels:
    """The fused kernels of a classic function (:mod:`optbench.kernels.fused`), used where they run.

    The classes in ``_KERNEL_CLASSES`` evaluate large unrotated batches on CUDA in one fused pass
    (:func:`optbench.kernels.fused.use_kernel` decides per call); those with ``uniform_kernel`` also
    offer :attr:`Capability.UNIFORM_KERNEL` where a kernel runs. On the CPU every instance may switch
    to ``torch.compile`` of its eager path once that pays (:mod:`optbench.kernels.compiled`).
    """

    uniform_kernel: ClassVar[bool] = True
    _spec: fused.ClassicSpec | None = None
    _box_tensors: tuple[torch.Tensor, torch.Tensor] | None = None
    _compiled: compiled.CompiledPath | None = None

    def _kernel_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(shift, aux)`` of the kernel (see :class:`optbench.kernels.fused.ClassicSpec`)."""
        raise NotImplementedError

    def _kernel_ready(self) -> bool:
        """Unrotated, and the very function a kernel implements (a subclass that changes it stays eager)."""
        owner = _KERNEL_CLASSES.get(self.family)
        cls = type(self)
        return (owner is not None and getattr(self, "rotation", None) is None and cls._eager is owner._eager
                and getattr(cls, "_f", None) is getattr(owner, "_f", None)
                and cls._kernel_inputs is owner._kernel_inputs)

    def _uniform_capability(self) -> frozenset[Capability]:
        offered = self.uniform_kernel and self._kernel_ready() and fused.kernels_offered(self.device)
        return frozenset({Capability.UNIFORM_KERNEL}) if offered else frozenset()

    def _kernel(self) -> fused.ClassicSpec:
        if self._spec is None:
            shift, aux = self._kernel_inputs()
            self._spec = fused.classic_spec(self.family, dim=self.space.dim, shift=shift, aux=aux)
        return self._spec

    def _eager(self, X: torch.Tensor) -> torch.Tensor:
        """The eager path (the reference): shape ``(n, d)`` -> ``(n,)``."""
        raise NotImplementedError

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        if compiled.eager_only(X):  # the common case, decided by one read of the switch
            return self._eager(X)
        if self._kernel_ready() and fused.use_kernel(X):
            return self._kernel().evaluate(X)
        if X.device.type == "cpu":  # torch.compile of the eager path, once it pays (optbench.kernels.compiled)
            if self._compiled is None:
                self._compiled = compiled.CompiledPath(self._eager)
            values = self._compiled(X)
            if values is not None:
                return values
        return self._eager(X)

    def _box(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lower, upper - lower)``, shape ``(d,)`` each, built once (a host-to-device copy per batch costs)."""
        if self._box_tensors is None:
            lower, upper = self.space.bounds(device=self.device, dtype=self.dtype)
            self._box_tensors = lower, upper - lower
        return self._box_tensors

    def evaluate_uniform(self, n: int, *, seed: int, offset: int) -> torch.Tensor:
        """See :meth:`optbench.api.Problem.evaluate_uniform`; the draw is :mod:`optbench.kernels.fused_uniform`'s."""
        if Capability.UNIFORM_KERNEL not in self.capabilities:
            raise Unsupported(f"{self.id} has no fused uniform kernel here")
        from optbench.kernels import fused_uniform

        lower, width = self._box()
        return fused_uniform.evaluate_uniform(self._kernel(), int(n), seed=int(seed), offset=int(offset),
                                              lower=lower, width=width)

    def uniform_points(self, rows: torch.Tensor, *, seed: int, offset: int) -> torch.Tensor:
        """See :meth:`optbench.api.Problem.uniform_points`: the very coordinates the fused pass drew."""
        if Capability.UNIFORM_KERNEL not in self.capabilities:
            raise Unsupported(f"{self.id} has no fused uniform kernel here")
        from optbench.kernels import fused_uniform

        lower, width = self._box()
        return fused_uniform.uniform_points(rows, dim=self.space.dim, seed=int(seed), offset=int(offset),
                                            lower=lower, width=width)


class ShiftedFunction(FusedKernels, Problem):
    """A function of ``z = x - shift`` on a box, optimum at ``x = shift`` with value 0.

    Subclasses set ``family``, ``lower``/``upper`` bounds, ``shift_range`` and ``_f(Z)``.
    """

    lower: float = -5.0
    upper: float = 5.0
    shift_range: float = 2.0
    differentiable: bool = True

    def __init__(self, *, dim: int = 10, rotate: bool = False, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"{self.family}: dim must be a positive integer, got {dim!r}")
        if not isinstance(rotate, bool):  # a string such as 'false' is truthy: never guess
            raise ConfigError(f"{self.family}: rotate must be True or False, got {rotate!r}")
        self.dim = dim
        self.rotate = rotate
        self.space = Space.box(dim, self.lower, self.upper)
        gen = instance_generator(self.family, instance)
        shift = (torch.rand(dim, generator=gen, dtype=torch.float64) * 2 - 1) * self.shift_range
        self.shift = shift.to(device=self.device, dtype=self.dtype)
        # a seeded orthogonal matrix (QR of a Gaussian) couples the coordinates where asked; built only then
        # (it is the last draw of the generator, so an unrotated instance is the same function either way)
        self.rotation = None
        if self.rotate:
            rotation = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))[0]
            self.rotation = rotation.to(device=self.device, dtype=self.dtype)
        self.optimal_value = 0.0
        self.capabilities = frozenset({Capability.DIFFERENTIABLE} if self.differentiable else ())
        self.capabilities |= self._uniform_capability()

    def params(self) -> dict[str, Any]:
        return {"dim": self.dim, "rotate": self.rotate}

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        dim, rotate = params.get("dim"), params.get("rotate")
        if not isinstance(dim, int) or isinstance(dim, bool):
            return None
        # shift and per-coordinate terms; a rotation is dim x dim, and its QR needs about three of them
        return 8.0 * dim * (16 + (4 * dim if rotate else 0))

    def _kernel_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.shift, None

    @property
    def optimum(self) -> torch.Tensor:
        """The minimizer, shape ``(d,)``."""
        return self.shift

    def _eager(self, X: torch.Tensor) -> torch.Tensor:
        Z = X - self.shift
        return self._f(Z if self.rotation is None else Z @ self.rotation.T)

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Sphere(ShiftedFunction):
    """``f(z) = sum z_i^2``: the smooth, separable baseline."""

    family = "sphere"
    landscape = "smooth"
    target = 1e-8

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        return (Z * Z).sum(dim=1)


class Rosenbrock(ShiftedFunction):
    """``f(z) = sum 100 (z_{i+1} - z_i^2)^2 + (1 - z_i)^2`` of ``z = x - shift + 1``: a curved valley."""

    family = "rosenbrock"
    landscape = "smooth"
    target = 1e-6
    uniform_kernel = False  # its terms pair neighbouring coordinates, which the draw makes in separate groups

    def __init__(self, *, dim: int = 10, rotate: bool = False, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        if isinstance(dim, int) and dim < 2:
            raise ConfigError(f"rosenbrock: dim must be at least 2, got {dim}")
        super().__init__(dim=dim, rotate=rotate, instance=instance, device=device, dtype=dtype)

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        Z = Z + 1.0
        head, tail = Z[:, :-1], Z[:, 1:]
        return (100.0 * (tail - head * head) ** 2 + (1.0 - head) ** 2).sum(dim=1)


class Rastrigin(ShiftedFunction):
    """``f(z) = 10 d + sum z_i^2 - 10 cos(2 pi z_i)``: a bowl under a regular grid of local minima."""

    family = "rastrigin"
    landscape = "rugged"
    lower, upper = -5.12, 5.12
    target = 1e-6

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        return 10.0 * Z.shape[1] + (Z * Z - 10.0 * torch.cos(2 * math.pi * Z)).sum(dim=1)


class Ellipsoid(ShiftedFunction):
    """``f(z) = sum cond^((i-1)/(d-1)) z_i^2`` of a rotated ``z``: ill-conditioned, non-separable.

    ``cond`` (up to 1e6 and beyond) is the condition number of the Hessian.
    """

    family = "ellipsoid"
    landscape = "smooth"
    target = 1e-8

    def __init__(self, *, dim: int = 10, cond: float = 1e6, rotate: bool = True, instance: int = 0,
                 device: Any = "cpu", dtype: Any = None) -> None:
        if not (isinstance(cond, int | float) and 1 <= cond <= 1e12):
            raise ConfigError(f"ellipsoid: cond must be in [1, 1e12], got {cond!r}")
        super().__init__(dim=dim, rotate=rotate, instance=instance, device=device, dtype=dtype)
        self.cond = float(cond)
        exponents = torch.arange(dim, dtype=torch.float64) / max(dim - 1, 1)
        self.weights = (self.cond**exponents).to(device=self.device, dtype=self.dtype)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "cond": self.cond}

    def _kernel_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.shift, self.weights

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        return (Z * Z) @ self.weights


class Ackley(ShiftedFunction):
    """Ackley: a nearly flat outer region around one deep funnel with many shallow local minima."""

    family = "ackley"
    landscape = "rugged"
    lower, upper = -32.768, 32.768
    shift_range = 10.0
    target = 1e-6

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        d = Z.shape[1]
        rms = torch.sqrt((Z * Z).sum(dim=1) / d + 1e-300)  # the tiny term keeps the gradient finite at 0
        return -20.0 * torch.exp(-0.2 * rms) - torch.exp(torch.cos(2 * math.pi * Z).sum(dim=1) / d) + 20.0 + math.e


class Griewank(ShiftedFunction):
    """Griewank: ``1 + sum z^2/4000 - prod cos(z_i / sqrt(i))``, regular local minima on a wide bowl."""

    family = "griewank"
    landscape = "rugged"
    lower, upper = -600.0, 600.0
    shift_range = 100.0
    target = 1e-6

    def _kernel_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.shift, torch.sqrt(torch.arange(1, self.dim + 1, device=self.device, dtype=self.dtype))

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        scale = torch.sqrt(torch.arange(1, Z.shape[1] + 1, device=Z.device, dtype=Z.dtype))
        return 1.0 + (Z * Z).sum(dim=1) / 4000.0 - torch.cos(Z / scale).prod(dim=1)


class Weierstrass(ShiftedFunction):
    """Weierstrass: continuous and nowhere differentiable (``a=0.5, b=3, k <= 20``); minimum 0 at ``z=0``."""

    family = "weierstrass"
    landscape = "rugged"
    lower, upper = -0.5, 0.5
    shift_range = 0.2
    target = 1e-4
    differentiable = False
    # no fused kernel (not in _KERNEL_CLASSES): 21 cosines of arguments up to 3**20 a coordinate, compute-bound

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        k = torch.arange(21, device=Z.device, dtype=Z.dtype)
        a_k, b_k = 0.5**k, 3.0**k
        inner = (a_k * torch.cos(2 * math.pi * b_k * (Z.unsqueeze(-1) + 0.5))).sum(dim=-1).sum(dim=1)
        return inner - Z.shape[1] * float((a_k * torch.cos(math.pi * b_k)).sum())


class RuggedBowl(ShiftedFunction):
    """A smooth bowl plus seeded high-frequency ripples: ``||z||^2 + A * mean_j (1 - cos(w_j . z))``.

    The ``m`` ripple directions ``w_j`` are seeded with length ``frequency``; every term is
    non-negative and zero at ``z = 0``, so the optimum stays known while ``amplitude`` and
    ``frequency`` tune how rugged the landscape is (``amplitude=0`` is the sphere).
    """

    family = "rugged"
    landscape = "rugged"
    target = 1e-6
    # no fused kernel (not in _KERNEL_CLASSES): its ripples are a (n, d) x (d, m) matmul, left to cuBLAS

    def __init__(self, *, dim: int = 10, amplitude: float = 10.0, frequency: float = 10.0, ripples: int = 32,
                 rotate: bool = False, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        if not (amplitude >= 0 and frequency > 0 and isinstance(ripples, int) and ripples >= 1):
            raise ConfigError("rugged: need amplitude >= 0, frequency > 0 and an integer ripples >= 1")
        super().__init__(dim=dim, rotate=rotate, instance=instance, device=device, dtype=dtype)
        self.amplitude, self.frequency, self.ripples = float(amplitude), float(frequency), ripples
        gen = instance_generator("rugged-ripples", instance)
        directions = torch.randn(ripples, dim, generator=gen, dtype=torch.float64)
        directions = directions / directions.norm(dim=1, keepdim=True) * self.frequency
        self.directions = directions.to(device=self.device, dtype=self.dtype)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "amplitude": self.amplitude, "frequency": self.frequency,
                "ripples": self.ripples}

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        ripples = (1.0 - torch.cos(Z @ self.directions.T)).mean(dim=1)
        return (Z * Z).sum(dim=1) + self.amplitude * ripples


SCHWEFEL_OPTIMUM = 420.9687462275036


class Schwefel(FusedKernels, Problem):
    """Schwefel 2.26: ``418.98 d - sum x_i sin(sqrt|x_i|)`` on ``[-500, 500]^d``; deceptive.

    The global minimum sits near a corner, far from the next best local minima. Instances flip
    the sign of seeded coordinates (a shift would push the optimum out of the box).
    """

    family = "schwefel"
    landscape = "rugged"
    target = 1e-4

    def __init__(self, *, dim: int = 10, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"schwefel: dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self.space = Space.box(dim, -500.0, 500.0)
        gen = instance_generator(self.family, instance)
        signs = torch.where(torch.rand(dim, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
        self.signs = signs.to(device=self.device, dtype=self.dtype)
        self.capabilities = frozenset({Capability.DIFFERENTIABLE}) | self._uniform_capability()
        self.optimal_value = float(self._evaluate(self.optimum.unsqueeze(0))[0])

    def params(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @property
    def optimum(self) -> torch.Tensor:
        return self.signs * SCHWEFEL_OPTIMUM

    def _kernel_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.zeros_like(self.signs), self.signs  # z = (x - 0) * signs

    def _eager(self, X: torch.Tensor) -> torch.Tensor:
        Z = X * self.signs
        return 418.9828872724339 * X.shape[1] - (Z * torch.sin(torch.sqrt(Z.abs() + 1e-300))).sum(dim=1)


# the classes whose functions the fused kernels implement (optbench.kernels.fused.CODES), by family
_KERNEL_CLASSES: dict[str, type[FusedKernels]] = {
    cls.family: cls for cls in (Sphere, Rastrigin, Rosenbrock, Ellipsoid, Ackley, Griewank, Schwefel)}
