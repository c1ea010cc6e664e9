"""Cryptographic-style problems: landscapes where nothing beats blind search, or gradients carry no signal.

* ``pow``: SHA-256 proof-of-work partial preimage: a C kernel on the CPU (hashlib where it cannot be
  built, :mod:`optbench.kernels.sha256_native`), a Triton kernel on CUDA (the
  batched torch rounds where Triton is missing), all bit-exact with hashlib; on CUDA it also draws and
  hashes uniform candidates in one kernel (``Capability.UNIFORM_KERNEL``);
* ``parity``: find the hidden subset of a noisy sparse parity, searched as a bit mask;
* ``subsetsum``: subset sum at density near 1, a planted solution.

Each exposes ``blind_search_evaluations``: the expected number of uniform random guesses to hit
the target, the reference a report puts beside the optimizers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from optbench.api import Capability, ConfigError, Unsupported
from optbench.kernels.sha256 import H0, K
from optbench.problems.bits import BitProblem, positive_int
from optbench.seeding import instance_generator

MASK32 = 0xFFFFFFFF


def _rotr(x: torch.Tensor, n: int) -> torch.Tensor:
    return ((x >> n) | (x << (32 - n))) & MASK32


def sha256_single_block(blocks: torch.Tensor) -> torch.Tensor:
    """SHA-256 of padded one-block messages.

    Args:
        blocks: padded message blocks as bytes, shape ``(m, 64)``, any integer dtype.

    Returns:
        The digests as eight 32-bit words each, shape ``(m, 8)``, dtype int64.
    """
    b = blocks.to(torch.int64)
    W = [(b[:, 4 * i] << 24) | (b[:, 4 * i + 1] << 16) | (b[:, 4 * i + 2] << 8) | b[:, 4 * i + 3] for i in range(16)]
    for t in range(16, 64):
        s0 = _rotr(W[t - 15], 7) ^ _rotr(W[t - 15], 18) ^ (W[t - 15] >> 3)
        s1 = _rotr(W[t - 2], 17) ^ _rotr(W[t - 2], 19) ^ (W[t - 2] >> 10)
        W.append((W[t - 16] + s0 + W[t - 7] + s1) & MASK32)
    state = [torch.full_like(W[0], h) for h in H0]
    a, b_, c, d, e, f, g, h = state
    for t in range(64):
        S1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ ((~e) & MASK32 & g)
        t1 = (h + S1 + ch + K[t] + W[t]) & MASK32
        S0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = (a & b_) ^ (a & c) ^ (b_ & c)
        t2 = (S0 + maj) & MASK32
        h, g, f, e, d, c, b_, a = g, f, e, (d + t1) & MASK32, c, b_, a, (t1 + t2) & MASK32
    final = [a, b_, c, d, e, f, g, h]
    return torch.stack([(s + x) & MASK32 for s, x in zip(state, final, strict=True)], dim=1)


def leading_zero_bits(words: torch.Tensor, *, limit: int) -> torch.Tensor:
    """Leading zero bits of 256-bit digests ``(m, 8)``, counted up to ``limit``; shape ``(m,)``."""
    powers = 2 ** torch.arange(32, device=words.device, dtype=torch.int64)
    total = torch.zeros(words.shape[0], dtype=torch.int64, device=words.device)
    still_zero = torch.ones_like(total, dtype=torch.bool)
    for i in range(min(8, math.ceil(limit / 32) + 1)):
        lz = (words[:, i : i + 1] < powers).sum(dim=1)
        total = total + torch.where(still_zero, lz, 0)
        still_zero = still_zero & (words[:, i] == 0)
    return total.clamp(max=limit)


class ProofOfWork(BitProblem):
    """SHA-256 partial preimage: find ``n`` bits whose hash with a seeded prefix starts with ``k`` zero bits.

    ``f(x) = max(k - leading_zero_bits(sha256(prefix || x)), 0)``; optimum 0. A hash gives no
    gradient and no locality, so the expected cost of blind search, ``2^k``, is the bar.
    """

    family = "pow"
    landscape = "crypto"
    target = 0.0
    prefix_bytes = 16

    def __init__(self, *, n: int = 64, k: int = 10, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(n=n, instance=instance, device=device, dtype=dtype)
        if self.n % 8 or not 8 <= self.n <= 8 * (55 - self.prefix_bytes):
            raise ConfigError(f"pow: n must be a multiple of 8 between 8 and {8 * (55 - self.prefix_bytes)}, got {n}")
        self.k = positive_int("pow", "k", k)
        if self.k > 64:
            raise ConfigError(f"pow: k must be at most 64, got {k}")
        gen = instance_generator(self.family, instance)
        self.prefix = torch.randint(0, 256, (self.prefix_bytes,), generator=gen, dtype=torch.int64)
        length = self.prefix_bytes + self.n // 8
        template = torch.zeros(64, dtype=torch.int64)
        template[: self.prefix_bytes] = self.prefix
        template[length] = 0x80
        template[56:] = torch.tensor(list((8 * length).to_bytes(8, "big")), dtype=torch.int64)
        self.template = template.to(self.device)
        self.bit_weights = (2 ** torch.arange(7, -1, -1)).to(self.device)
        self.optimal_value = 0.0
        self.blind_search_evaluations = 2.0**self.k
        from optbench.kernels import fused, sha256

        # the same constants for the C kernel on the CPU (optbench.kernels.sha256_native)
        self.cpu_table = sha256.pow_table(bytes(self.prefix.tolist()), self.n)
        # the Triton kernels' constants (message words, prefix midstate, K, H0); None: no kernel runs here
        self.kernel_table = sha256.pow_table(bytes(self.prefix.tolist()), self.n, device=self.device) \
            if sha256.runs_on(self.device) else None
        if self.kernel_table is not None and fused.kernels_offered(self.device):  # CUDA (or OPTBENCH_KERNELS=triton)
            self.capabilities = frozenset({Capability.UNIFORM_KERNEL})

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k}

    def message_bytes(self, X: torch.Tensor) -> torch.Tensor:
        """The candidate part of the message as bytes, shape ``(m, n/8)``."""
        return (X.to(torch.int64).reshape(X.shape[0], -1, 8) * self.bit_weights).sum(dim=2)

    def digest(self, X: torch.Tensor) -> torch.Tensor:
        """SHA-256 of ``prefix || bytes(x)`` as words, shape ``(m, 8)``."""
        blocks = self.template.expand(X.shape[0], 64).clone()
        blocks[:, self.prefix_bytes : self.prefix_bytes + self.n // 8] = self.message_bytes(X)
        return sha256_single_block(blocks)

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        if X.device.type == "cpu":  # C over the whole batch, else hashlib's C SHA-256 per candidate
            from optbench.kernels import sha256_native

            values = sha256_native.pow_values(X, self.cpu_table, k=self.k, dtype=self.dtype)
            return values if values is not None else self._evaluate_hashlib(X)
        if self.kernel_table is not None:  # one Triton kernel where the torch rounds launch thousands
            from optbench.kernels import sha256

            return sha256.pow_values(X, self.kernel_table, k=self.k, dtype=self.dtype)
        return self.evaluate_torch(X)

    def evaluate_torch(self, X: torch.Tensor) -> torch.Tensor:
        """The batched torch path (any device; the reference of the CUDA kernel), ``(m, n) -> (m,)``."""
        zeros = leading_zero_bits(self.digest(X), limit=self.k)
        return (self.k - zeros).to(self.dtype)

    def evaluate_uniform(self, n: int, *, seed: int, offset: int) -> torch.Tensor:
        """Values of rows ``0 .. n-1`` of the Philox draw ``(seed, offset)``, drawn and hashed in one kernel."""
        if self.kernel_table is None:
            raise Unsupported(f"{self.id} has no fused uniform kernel on {self.device}")
        from optbench.kernels import sha256

        return sha256.pow_uniform_values(n, self.kernel_table, n_bits=self.n, k=self.k, seed=seed, offset=offset,
                                         dtype=self.dtype)

    def uniform_points(self, rows: torch.Tensor, *, seed: int, offset: int) -> torch.Tensor:
        """The candidates (uint8 ``(len(rows), n)``) of rows ``rows`` of the draw ``(seed, offset)``."""
        if self.kernel_table is None:
            raise Unsupported(f"{self.id} has no fused uniform kernel on {self.device}")
        from optbench.kernels import sha256

        return sha256.uniform_bits(rows.to(self.device), n_bits=self.n, seed=seed, offset=offset)

    def _evaluate_hashlib(self, X: torch.Tensor) -> torch.Tensor:
        """The CPU path: one C SHA-256 call per candidate on messages packed by NumPy, the leading zeros
        counted vectorized; bit-exact with the torch path and with ``hashlib`` (tests compare all three).

        The per-candidate work is what a Python loop over ``hashlib.sha256`` does, minus the loop: the
        messages become bytes objects in one ``tolist``, ``map`` chains constructor and ``digest``
        in C, and chunks of :data:`HASH_CHUNK` keep the digests in cache until their heads are read.
        """
        m, width = X.shape[0], self.prefix_bytes + self.n // 8
        messages = np.empty((m, width), dtype=np.uint8)
        messages[:, : self.prefix_bytes] = self.prefix.numpy()
        messages[:, self.prefix_bytes :] = np.packbits(X.numpy().astype(np.uint8, copy=False), axis=1)
        items = messages.view(f"V{width}").ravel()  # one opaque `width`-byte item per candidate
        heads = np.empty(m, dtype=">u8")  # the first 64 bits of each digest; k <= 64
        sha256, digest = _sha256_constructor()
        for lo in range(0, m, HASH_CHUNK):
            digests = b"".join(map(digest, map(sha256, items[lo : lo + HASH_CHUNK].tolist())))
            heads[lo : lo + HASH_CHUNK] = np.frombuffer(digests, dtype=">u8")[::4]
        values = np.maximum(self.k - leading_zeros64(heads), 0)
        try:  # converted by NumPy: a torch cast of this size starts its thread pool, which costs more on a busy CPU
            return torch.from_numpy(values.astype(torch.empty(0, dtype=self.dtype).numpy().dtype))
        except TypeError:  # a dtype NumPy lacks (bfloat16)
            return torch.from_numpy(values).to(self.dtype)


HASH_CHUNK = 4096


def _sha256_constructor() -> tuple[Any, Any]:
    """The cheapest SHA-256 per call for one-block messages, and its unbound ``digest``.

    CPython's own C implementation (``_sha2`` from 3.12, ``_sha256`` before) skips OpenSSL's EVP
    set-up, which costs more than the single compression; ``hashlib.sha256`` where it is missing.
    """
    import hashlib

    for name in ("_sha2", "_sha256"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        return module.sha256, type(module.sha256()).digest
    return hashlib.sha256, type(hashlib.sha256()).digest


def leading_zeros64(heads: np.ndarray) -> np.ndarray:
    """Leading zero bits of 64-bit words ``(m,)`` (64 for 0): from the binary exponents of their 32-bit
    halves, exact in float64, as ``frexp`` gives ``e`` with ``2^(e-1) <= x < 2^e``; int64 ``(m,)``."""
    words = heads.astype(np.uint64)
    high = np.frexp((words >> np.uint64(32)).astype(np.float64))[1]
    low = np.frexp((words & np.uint64(0xFFFFFFFF)).astype(np.float64))[1]
    return np.where(high > 0, 32 - high, 64 - low).astype(np.int64)


class SparseParity(BitProblem):
    """Noisy sparse parity: labels are the parity of a hidden ``k``-subset of ``n`` bits, flipped
    with probability ``noise``. Search over subset masks; ``f`` is the training error of a mask.

    Only the exact subset predicts better than chance, so the landscape is a plateau at 0.5
    with one hole. ``optimal_value`` is the training error of the hidden subset (the realised
    noise rate): the best-known value, the minimum with overwhelming probability for the sizes
    used. The test metric is held-out accuracy.
    """

    family = "parity"
    landscape = "crypto"
    test_metric_name = "test_accuracy"
    test_metric_higher_is_better = True

    def __init__(self, *, n: int = 20, k: int = 3, examples: int = 512, noise: float = 0.05, instance: int = 0,
                 device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(n=n, instance=0, device=device, dtype=dtype)  # the hidden subset is the instance
        self.instance = int(instance)
        self.k = positive_int("parity", "k", k)
        self.examples = positive_int("parity", "examples", examples, 16)
        if self.k > self.n or not 0 <= noise < 0.5:
            raise ConfigError(f"parity: need k <= n and 0 <= noise < 0.5, got k={k}, n={n}, noise={noise}")
        self.noise = float(noise)
        gen = instance_generator(self.family, instance)
        subset = torch.randperm(self.n, generator=gen)[: self.k]
        self.secret = torch.zeros(self.n, dtype=torch.uint8)
        self.secret[subset] = 1

        def sample(m: int) -> tuple[torch.Tensor, torch.Tensor]:
            inputs = torch.randint(0, 2, (m, self.n), generator=gen, dtype=torch.int64)
            flips = (torch.rand(m, generator=gen) < self.noise).to(torch.int64)
            return inputs, (inputs @ self.secret.to(torch.int64) + flips) % 2

        (self.inputs, self.labels), (self.test_inputs, self.test_labels) = sample(self.examples), sample(self.examples)
        for name in ("inputs", "labels", "test_inputs", "test_labels", "secret"):
            setattr(self, name, getattr(self, name).to(self.device))
        self.capabilities = frozenset({Capability.TEST_METRIC})
        self.optimal_value = float(self._evaluate(self.secret.unsqueeze(0))[0])
        self.target = 1e-12
        self.blind_search_evaluations = 2.0**self.n  # uniform masks until the secret one

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k, "examples": self.examples, "noise": self.noise}

    @property
    def optimum(self) -> torch.Tensor:
        return self.secret

    def _errors(self, X: torch.Tensor, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # float32 matmul counts exactly (sums stay below 2^24) and runs on every device; int64 does not on CUDA
        predictions = (X.to(torch.float32) @ inputs.T.to(torch.float32)).remainder(2).to(torch.int64)  # (m, examples)
        return (predictions != labels).to(self.dtype).mean(dim=1)

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        return self._errors(X, self.inputs, self.labels)

    def test_metric(self, x: torch.Tensor) -> float:
        return 1.0 - float(self._errors(self.prepare(x.reshape(1, -1)), self.test_inputs, self.test_labels)[0])


class SubsetSum(BitProblem):
    """Subset sum at density ``n / log2(max weight)`` near 1 with a planted solution.

    ``f(x) = |sum_i x_i w_i - T| / T``; optimum 0 at the planted subset (others may exist).
    """

    family = "subsetsum"
    landscape = "crypto"
    target = 0.0

    def __init__(self, *, n: int = 32, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(n=n, instance=0, device=device, dtype=dtype)
        self.instance = int(instance)
        if self.n > 48:
            raise ConfigError(f"subsetsum: n must be at most 48 (exact int64 sums), got {n}")
        gen = instance_generator(self.family, instance)
        self.weights = torch.randint(1, 2**self.n, (self.n,), generator=gen, dtype=torch.int64).to(self.device)
        self.planted = torch.randint(0, 2, (self.n,), generator=gen, dtype=torch.uint8).to(self.device)
        self.target_sum = int((self.planted.to(torch.int64) * self.weights).sum())
        self.optimal_value = 0.0
        self.blind_search_evaluations = 2.0**self.n

    @property
    def optimum(self) -> torch.Tensor:
        return self.planted

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        sums = (X.to(torch.int64) * self.weights).sum(dim=1)  # elementwise: int64 matmul is CPU-only
        return ((sums - self.target_sum).abs().to(torch.float64) / max(self.target_sum, 1)).to(self.dtype)
