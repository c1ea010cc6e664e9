"""Every Triton kernel compiles for a Hopper GPU (sm_90), on a machine without one.

Triton's interpreter (how the kernels' own tests run on the CPU) executes a kernel as Python and
skips the compiler, so it accepts code the compiler rejects: a module-level constant used inside a
kernel without being a ``tl.constexpr``, a type mismatch in a static branch. This test runs each
problem's kernel path in a child process whose ``JITFunction.run`` compiles the launch ahead of
time for ``sm_90`` through the whole pipeline (TTIR, TTGIR, LLVM IR, PTX and the ``ptxas`` that
ships with Triton) with the signature and constants of the real call, instead of launching it.
Every kernel defined in ``optbench.kernels`` must have been compiled at least once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("triton")

CHILD = textwrap.dedent(r"""
    import importlib, json, os, pkgutil, sys
    os.environ.pop("TRITON_INTERPRET", None)
    import torch
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.runtime.jit import JITFunction

    import optbench.kernels as package
    modules = [importlib.import_module(f"optbench.kernels.{m.name}") for m in pkgutil.iter_modules(package.__path__)]
    defined = sorted({obj.fn.__name__ for mod in modules for obj in vars(mod).values()
                      if isinstance(obj, JITFunction) and obj.fn.__name__.endswith("kernel")})
    TYPES = {torch.float32: "fp32", torch.float64: "fp64", torch.float16: "fp16", torch.uint8: "u8",
             torch.int8: "i8", torch.int16: "i16", torch.int32: "i32", torch.int64: "i64", torch.bool: "i1"}
    if hasattr(torch, "uint32"):
        TYPES[torch.uint32] = "u32"
    compiled = {}

    def kind(value):
        if isinstance(value, torch.Tensor):
            return "*" + TYPES[value.dtype]
        if isinstance(value, bool):
            return "i1"
        if isinstance(value, int):
            return "i32" if -2**31 <= value < 2**31 else "i64"
        if isinstance(value, float):
            return "fp32"
        raise TypeError(f"no Triton type for {type(value).__name__}")

    def compile_instead(self, *args, grid, warmup, **kwargs):
        bound = dict(zip(self.arg_names, args))
        bound.update({k: v for k, v in kwargs.items() if k in self.arg_names})
        signature, constants = {}, {}
        for param in self.params:
            value = bound.get(param.name, param.default)
            if param.is_constexpr:
                signature[param.name], constants[param.name] = "constexpr", value
            else:
                signature[param.name] = kind(value)
        options = {k: v for k, v in kwargs.items() if k in ("num_warps", "num_stages")}
        key = json.dumps([self.fn.__name__, signature, constants, options], sort_keys=True, default=str)
        if key not in compiled:
            triton.compile(ASTSource(self, signature, constexprs=constants), target=GPUTarget("cuda", 90, 32),
                           options=options)
            compiled[key] = self.fn.__name__

    JITFunction.run = compile_instead
    os.environ["TRITON_INTERPRET"] = "1"  # route CPU tensors to the kernels (the modules are imported: jit stays)
    os.environ["OPTBENCH_KERNELS"] = "triton"

    from optbench.api import Capability
    from optbench.kernels.fused import CODES
    from optbench.registry import make_problem

    gen = torch.Generator().manual_seed(0)
    cases = [(family, {"dim": 37}, dtype) for family in CODES for dtype in ("float32", "float64")]
    cases += [(family, {"n": 40}, None) for family in ("onemax", "leadingones", "needle", "trap")]
    cases += [("pow", {"n": 64, "k": 20}, None)]
    for family, params, dtype in cases:
        problem = make_problem(family, params, dtype=dtype)
        if problem.space.kind.value == "bits":
            X = torch.randint(0, 2, (300, problem.space.dim), generator=gen, dtype=torch.uint8)
        else:
            X = torch.stack([problem.initial_point(gen) for _ in range(300)])
        problem.evaluate(X)
        if Capability.UNIFORM_KERNEL in problem.capabilities:
            problem.evaluate_uniform(300, seed=12345, offset=7)
            problem.uniform_points(torch.arange(3), seed=12345, offset=7)
    # pow's stored-candidate kernels (on the CPU pow hashes with hashlib, so no problem path above reaches them)
    from optbench.kernels.sha256 import pow_table, pow_values
    from sha256_probes import leading_zero_values, pow_digests
    table = pow_table(bytes(range(16)), 64)
    bits = torch.randint(0, 2, (300, 64), generator=gen, dtype=torch.uint8)
    pow_values(bits, table, k=20, dtype=torch.float64)
    pow_digests(bits, table)
    leading_zero_values(torch.randint(0, 2**32, (300, 2), generator=gen), k=40)
    print(json.dumps({"defined": defined, "compiled": sorted(set(compiled.values())), "variants": len(compiled)}))
""")


def test_every_triton_kernel_compiles_for_sm90():
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "OPTBENCH_KERNELS")}
    here = str(Path(__file__).resolve().parent)  # the child imports the tests' own launchers (sha256_probes)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["defined"], "no Triton kernel found in optbench.kernels"
    missing = sorted(set(report["defined"]) - set(report["compiled"]))
    assert not missing, f"kernels no problem path launched (so never compiled here): {missing}"
