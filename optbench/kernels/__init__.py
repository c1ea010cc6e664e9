"""Fused and compiled problem kernels, each with the eager torch path as its reference.

A kernel here is an optimization only: every one is checked against the eager path (to float
tolerance, bit-exact for bit strings and hashes) in tests that run on the CPU — Triton kernels
through Triton's interpreter (``TRITON_INTERPRET=1``) — and on CUDA where a GPU is present.
Whether a kernel is used is decided at run time from the device, the batch and what is
installed; the eager path is always the fallback.
"""
